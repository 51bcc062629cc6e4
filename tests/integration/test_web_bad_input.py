"""Proof that the web role refuses bad input with a clear message, without the lab (issue 19).

A copy of the lab inventory with `ha_lamp_lab: false`, no `storage` group and every host on
`ansible_connection: local`. A small playbook runs, on web1 only, the web role's task files that
come before any change, in the order and with the `when` of roles/web/tasks/main.yml:
vars, validate, release_plan, source, release_check (and uploads for the uploads cases). Each case
must fail at its own check, with the message naming the host or variable and the value, and no
task may report a change before it:

- a `path` source that does not exist;
- an `archive` source that is not an archive, and one that is truncated;
- web_app_source without web_app_release_id;
- web_app_release_id alone, naming a release that is not deployed;
- web_uploads_backend mount on a plain directory (and on a missing one);
- the local uploads backend outside the lab (web_uploads_unshared fail, the default there);
- and, as a control, a good `path` source that goes through the same steps with no change.

The uploads refusals live in tasks/uploads_check.yml, which the role runs right after the release
checks, before it installs or changes anything.

The controller is this machine, so every run is --check, and every path the role reads or writes
(web_app_root, the uploads path, web_config_dir, the packing directory through TMPDIR) is in a
temporary directory. Run from the repository root:

    python -m pytest tests/integration/test_web_bad_input.py
"""

import io
import os
import re
import shutil
import subprocess
import sys
import tarfile

import pytest
from conftest import ansible_playbook
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAB = os.path.join(ROOT, "inventories", "lab")

# The pre-change steps of roles/web/tasks/main.yml, with the same conditions (secrets.yml is left
# out: test_secrets_guard.py covers it, and the copied lab secrets would stop every run there).
DEPLOY_STEPS = [
    ("vars", None),
    ("validate", None),
    ("release_plan", None),
    ("source", "__web_release_mode in ['deploy', 'demo']"),
    ("release_check", None),
]
# tasks/main.yml runs uploads_check.yml right after the release checks, before any change.
UPLOADS_STEPS = [
    ("vars", None),
    ("validate", None),
    ("uploads_check", "web_app_uploads_link | length > 0"),
]


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """A production-like copy of the lab inventory, and scratch space for the role's paths."""
    work = tmp_path_factory.mktemp("web-bad-input")
    inventory = work / "inventory"
    shutil.copytree(LAB, inventory)
    hosts_file = inventory / "hosts.yml"
    hosts = yaml.safe_load(hosts_file.read_text(encoding="utf-8"))
    # No shared storage: web_uploads_backend then defaults to local.
    hosts["all"]["children"].pop("storage", None)
    hosts_file.write_text(yaml.safe_dump(hosts), encoding="utf-8")
    # Loaded after every other group_vars/all file (alphabetical order), so these win.
    (inventory / "group_vars" / "all" / "zz_not_the_lab.yml").write_text(
        "---\n"
        "ha_lamp_lab: false\n"
        "ansible_connection: local\n"
        "ansible_python_interpreter: %s\n" % sys.executable,
        encoding="utf-8",
    )
    for name in ("tmp", "app_root", "config"):
        (work / name).mkdir()
    return work


def write_playbook(work, name, steps):
    tasks = []
    for step, when in steps:
        task = {
            "name": "Run tasks/%s.yml of the web role" % step,
            "ansible.builtin.include_role": {"name": "onprem.ha_lamp.web", "tasks_from": step, "public": True},
        }
        if when:
            task["when"] = when
        tasks.append(task)
    play = [{"name": "Web role checks (%s)" % name, "hosts": "web1", "gather_facts": False, "tasks": tasks}]
    path = work / ("%s.yml" % name)
    path.write_text("---\n" + yaml.safe_dump(play, sort_keys=False, width=1000), encoding="utf-8")
    return str(path)


def run(work, playbook, extra_vars):
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_RETRY_FILES_ENABLED="0",
        ANSIBLE_CALLBACK_RESULT_FORMAT="yaml",
        ANSIBLE_LOCAL_TEMP=str(work / "tmp"),
        ANSIBLE_REMOTE_TEMP=str(work / "tmp"),
        # The controller-side packing directory (ansible.builtin.tempfile) lands here too.
        TMPDIR=str(work / "tmp"),
    )
    # Every path the role might touch, in the scratch space.
    extra = {
        "web_app_root": str(work / "app_root"),
        "web_config_dir": str(work / "config"),
        "web_drain_file": str(work / "config" / "drain"),
    }
    extra.update(extra_vars)
    argv = [ansible_playbook(), "-i", str(work / "inventory"), playbook, "--check"]
    for key, value in extra.items():
        argv += ["-e", "%s=%s" % (key, value)]
    proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    return proc.returncode, proc.stdout + proc.stderr


def changed_tasks(out):
    """The names of the tasks that reported a change (check mode: would have changed)."""
    names, current = [], None
    for line in out.splitlines():
        header = re.match(r"^TASK \[(.*)\] \**$", line)
        if header:
            current = header.group(1)
        elif line.startswith("changed: ") and current not in names:
            names.append(current)
    return names


def assert_refused_before_any_change(rc, out, task, *needles):
    """The run fails at `task`, prints every needle, and nothing reported a change."""
    assert rc != 0, out
    at = out.find("TASK [onprem.ha_lamp.web : %s]" % task)
    assert at >= 0, "task %r not reached:\n%s" % (task, out)
    # The failure is the first one, and it is this task's.
    first_failure = re.search(r"^fatal: \[web1\]", out, flags=re.MULTILINE)
    assert first_failure and first_failure.start() > at, out
    assert out.find("TASK [", at + 1) == -1 or out.find("TASK [", at + 1) > first_failure.start(), out
    # The callback may wrap a long message: compare with whitespace collapsed.
    flat = " ".join(out.split())
    for needle in needles:
        assert needle in flat, "%r not in output:\n%s" % (needle, out)
    assert not changed_tasks(out[:first_failure.start()]), out
    recap = [line for line in out.splitlines() if re.search(r"\bchanged=\d+", line)]
    assert recap, out
    for line in recap:
        assert re.search(r"\bchanged=0\b", line), line


@pytest.fixture
def path_source(work, request):
    """Case-specific files for the application source, in the scratch space."""
    base = work / ("src-" + re.sub(r"[^A-Za-z0-9]+", "-", request.node.name))
    base.mkdir()
    return base


def make_tar_gz(path):
    with tarfile.open(path, "w:gz") as archive:
        for index in range(20):
            # Incompressible content, so that cutting the file loses members, not only padding.
            data = os.urandom(8192)
            info = tarfile.TarInfo("app/file%02d.bin" % index)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


def test_path_source_that_does_not_exist(work, path_source):
    missing = path_source / "no-such-app"
    rc, out = run(work, write_playbook(work, "missing_path", DEPLOY_STEPS),
                  {"web_app_source_type": "path", "web_app_source": str(missing), "web_app_release_id": "1.0"})
    resolved = os.path.realpath(str(missing))
    assert_refused_before_any_change(
        rc, out, "Refuse an application source that does not exist on the controller",
        "web role: web_app_source (%s, i.e. %s on the controller) is not a directory, as web_app_source_type "
        "path requires: it does not exist. Nothing was changed on the web nodes." % (missing, resolved))


@pytest.mark.parametrize("kind", ["garbage", "truncated"])
def test_archive_that_does_not_unpack(work, path_source, kind):
    archive = path_source / "app.tar.gz"
    if kind == "garbage":
        archive.write_bytes(b"this is not an archive\n" + bytes(range(256)) * 8)
    else:
        make_tar_gz(str(archive))
        whole = archive.read_bytes()
        # Sanity: the whole file is a good archive, so only the cut makes it bad.
        with tarfile.open(str(archive)) as good:
            assert len(good.getmembers()) == 20
        archive.write_bytes(whole[: len(whole) // 2])
    rc, out = run(work, write_playbook(work, "bad_archive", DEPLOY_STEPS),
                  {"web_app_source_type": "archive", "web_app_source": str(archive), "web_app_release_id": "1.0"})
    assert_refused_before_any_change(
        rc, out, "Refuse an archive that does not unpack",
        "web role: web_app_source (%s) does not unpack: not a readable tar or zip archive:"
        % os.path.realpath(str(archive)),
        "Nothing was changed on the web nodes.")
    # The archive exists: the earlier check passed and said nothing.
    assert "it does not exist" not in out, out


def test_source_without_release_id(work, path_source):
    (path_source / "index.php").write_text("<?php echo 'ok';\n", encoding="utf-8")
    rc, out = run(work, write_playbook(work, "no_release_id", DEPLOY_STEPS),
                  {"web_app_source_type": "path", "web_app_source": str(path_source)})
    assert_refused_before_any_change(
        rc, out, "Check the application release variables",
        "web role on web1: web_app_release_id ('') must be a plain name",
        "and web_app_source ('%s') needs one: a release id names the code it was built from, for good "
        "(set web_app_release_id, e.g. the application's version, with web_app_source)." % path_source)


def test_release_id_alone_not_deployed(work):
    rc, out = run(work, write_playbook(work, "switch_missing", DEPLOY_STEPS), {"web_app_release_id": "9.9"})
    assert_refused_before_any_change(
        rc, out, "Refuse to switch to a release that is not deployed here",
        "web role on web1: web_app_release_id is '9.9' and web_app_source is empty, which switches to an "
        "already deployed release, but %s/releases/9.9 is not a complete release on this host (live: nothing)."
        % (work / "app_root"))


def test_uploads_mount_that_is_not_shared(work, path_source):
    where = subprocess.run(["findmnt", "--noheadings", "--output", "TARGET,FSTYPE", "--target", str(path_source)],
                           capture_output=True, text=True, check=True).stdout.split()
    rc, out = run(work, write_playbook(work, "uploads_mount", UPLOADS_STEPS),
                  {"web_uploads_backend": "mount", "web_app_shared_uploads_path": str(path_source)})
    assert_refused_before_any_change(
        rc, out, "Refuse an uploads directory that is not a shared mount",
        "web role on web1: web_app_shared_uploads_path (%s) is not a shared mount: it is on %s (%s, "
        % (path_source, where[0], where[1]),
        "web_uploads_backend is mount: mount shared storage there first")


def test_uploads_mount_that_does_not_exist(work, path_source):
    missing = path_source / "not-mounted"
    rc, out = run(work, write_playbook(work, "uploads_mount", UPLOADS_STEPS),
                  {"web_uploads_backend": "mount", "web_app_shared_uploads_path": str(missing)})
    assert_refused_before_any_change(
        rc, out, "Refuse an uploads directory that is not a shared mount",
        "web role on web1: web_app_shared_uploads_path (%s) is not a shared mount: it does not exist." % missing)


def test_local_uploads_outside_the_lab(work, path_source):
    # Defaults: no storage group, so web_uploads_backend local; not the lab, so web_uploads_unshared fail.
    # The parent of the uploads path does not exist yet, as /srv/ha-lamp/shared on a fresh node.
    uploads = path_source / "shared" / "uploads"
    rc, out = run(work, write_playbook(work, "uploads_local", UPLOADS_STEPS),
                  {"web_app_shared_uploads_path": str(uploads)})
    assert_refused_before_any_change(
        rc, out, "Refuse uploads that are not shared",
        "web role on web1: web_uploads_backend is local, so a file uploaded to one web node is missing on the "
        "others (404 for part of the requests).",
        "or mount your own shared storage on %s and set web_uploads_backend: mount" % uploads)


def test_good_source_passes_the_same_checks(work, path_source):
    """Control: the same steps with good input go through, and change nothing (the tree is packed
    into the run's scratch directory, which reports no change)."""
    (path_source / "index.php").write_text("<?php echo 'ok';\n", encoding="utf-8")
    rc, out = run(work, write_playbook(work, "good_source", DEPLOY_STEPS),
                  {"web_app_source_type": "path", "web_app_source": str(path_source), "web_app_release_id": "1.0"})
    assert rc == 0, out
    assert "TASK [onprem.ha_lamp.web : Pack the application tree once on the controller]" in out, out
    assert not changed_tasks(out), out
    assert re.search(r"^web1 +: ok=\d+ +changed=0 +unreachable=0 +failed=0", out, flags=re.MULTILINE), out
