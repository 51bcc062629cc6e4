"""Proof that the secrets guard cannot be bypassed, without the lab.

A copy of the lab inventory with `ha_lamp_lab: false` (so its published lab secrets, root and VRRP
included, must be refused) and every host on `ansible_connection: local`. Each entry point must fail
at the guard, naming the variable, with no changed task before it:

- site.yml --limit web1 (the early site-wide gate, although localhost is not in the limit);
- lb_rollout.yml (documented as a standalone entry point);
- each role on its own, and with a role-level override that hides the inventory value.

Belt and braces, since the hosts are this machine: every run is --check, and the guard is the
first task that could change anything. Run from the repository root:

    python -m pytest tests/integration/test_secrets_guard.py
"""

import os
import re
import shutil
import subprocess
import sys

import pytest
from conftest import ansible_playbook

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAB = os.path.join(ROOT, "inventories", "lab")


@pytest.fixture(scope="module")
def copied_lab(tmp_path_factory):
    """The lab inventory as an operator might copy it to production: lab flag off, secrets kept."""
    work = tmp_path_factory.mktemp("copied-lab")
    inventory = work / "inventory"
    shutil.copytree(LAB, inventory)
    # Loaded after every other group_vars/all file (alphabetical order), so these win.
    (inventory / "group_vars" / "all" / "zz_not_the_lab.yml").write_text(
        "---\n"
        "ha_lamp_lab: false\n"
        "ansible_connection: local\n"
        "ansible_python_interpreter: %s\n" % sys.executable,
        encoding="utf-8",
    )
    return work


def run(work, playbook, *extra):
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_RETRY_FILES_ENABLED="0",
        ANSIBLE_CALLBACK_RESULT_FORMAT="yaml",
    )
    proc = subprocess.run(
        [ansible_playbook(), "-i", str(work / "inventory"), playbook, "--check", *extra],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    return proc.returncode, proc.stdout + proc.stderr


def assert_refused_before_any_change(rc, out, *needles):
    assert rc != 0, out
    guard = out.find("Refuse missing, placeholder and published secrets")
    assert guard >= 0, out
    for needle in needles:
        assert needle in out, "%r not in output:\n%s" % (needle, out)
    assert not re.search(r"^changed: ", out[:guard], flags=re.MULTILINE), out
    # The recap: no host changed anything in the whole run.
    for line in out.splitlines():
        match = re.search(r"changed=(\d+)", line)
        if match:
            assert match.group(1) == "0", line
    # No secret value is ever printed.
    for value in ("lab-only-root", "lab-only-app", "lab-only-repl", "lab-only-monitor", "lab-only-stats"):
        assert value not in out, value


def role_playbook(work, name, hosts, role, role_vars=None):
    lines = ["---", "- name: %s on its own" % role, "  hosts: %s" % hosts, "  gather_facts: false", "  roles:",
             "    - role: onprem.ha_lamp.%s" % role]
    if role_vars:
        lines.append("      vars:")
        lines += ["        %s: %s" % item for item in role_vars.items()]
    path = work / ("%s.yml" % name)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


ROOT_MSG = ("host db1: ha_lamp_db_root_password holds a value published in this repository (it starts with "
            "'lab-only' or 'example-only') and the inventory does not set ha_lamp_lab: true")
STATS_MSG = ("host lb1: ha_lamp_haproxy_stats_password holds a value published in this repository (it starts "
             "with 'lab-only' or 'example-only') and the inventory does not set ha_lamp_lab: true")


def test_site_with_limit_web1(copied_lab):
    rc, out = run(copied_lab, os.path.join(ROOT, "playbooks", "site.yml"), "--limit", "web1")
    assert_refused_before_any_change(rc, out, ROOT_MSG, STATS_MSG)
    assert "PLAY [Prepare every cluster host]" not in out, out


def test_lb_rollout(copied_lab):
    rc, out = run(copied_lab, os.path.join(ROOT, "playbooks", "lb_rollout.yml"))
    # The rollout's first play checks every load balancer's secrets before any node is changed.
    assert_refused_before_any_change(rc, out, "haproxy_stats_password (from ha_lamp_haproxy_stats_password) holds")
    assert re.search(r"host lb[12]: haproxy_stats_password", out), out


@pytest.mark.parametrize(
    "role,hosts,role_vars,needle",
    [
        ("mysql", "databases", None,
         "host db1: mysql_admin_password (from ha_lamp_db_root_password) holds a value published"),
        ("haproxy", "loadbalancers", None,
         "host lb1: haproxy_stats_password (from ha_lamp_haproxy_stats_password) holds"),
        # The VRRP password is only sent (and so only checked) with VRRPv2; v3 has no authentication.
        ("keepalived", "loadbalancers", {"keepalived_vrrp_version": 2},
         "host lb1: keepalived_auth_pass (from ha_lamp_vrrp_auth_pass) holds a value"),
        ("web", "webservers", None,
         "host web1: web_db_password (from ha_lamp_db_app_password) holds a value published"),
    ],
)
def test_each_role_on_its_own(copied_lab, role, hosts, role_vars, needle):
    rc, out = run(copied_lab, role_playbook(copied_lab, "only_" + role, hosts, role, role_vars))
    assert_refused_before_any_change(rc, out, needle)


def test_role_level_override_is_checked(copied_lab):
    # A good-looking inventory value does not hide a published value set on the role itself.
    book = role_playbook(copied_lab, "override_keepalived", "loadbalancers", "keepalived",
                         {"keepalived_auth_pass": "lab-only", "keepalived_vrrp_version": 2})
    rc, out = run(copied_lab, book, "-e", "ha_lamp_vrrp_auth_pass=Zq8.x-Rt")
    assert_refused_before_any_change(rc, out, "host lb1: keepalived_auth_pass (from ha_lamp_vrrp_auth_pass) holds")
