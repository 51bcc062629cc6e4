# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests for the backup host's CLI (roles/backup/files/ha_lamp_backup.py): configuration, source
choice, the lock, the space check, the mariadb-binlog command line, the GTID header regex, status,
metrics, the freshness alarm and the "latest" restore plan. Everything runs on tmp directories with
the SSH agent, MariaDB and the clock replaced: no restic, mariabackup, mariadb-binlog or network.

Run: .venv/bin/python -m pytest tests/unit/roles/test_backup_cli.py -q
"""

import collections
import importlib.util
import json
import os
import stat
import subprocess
import sys
import time
import types
import urllib.error

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
os.environ.setdefault("HA_LAMP_LIB", os.path.join(ROOT, ".collections"))
sys.path.insert(0, os.path.join(ROOT, ".collections"))

CLI_PATH = os.path.join(ROOT, "roles", "backup", "files", "ha_lamp_backup.py")
_SPEC = importlib.util.spec_from_file_location("ha_lamp_backup", CLI_PATH)
cli = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(cli)
bp = cli.bp
# The folder that holds ansible_collections/onprem/ha_lamp in this run, for the CLI run as a program: the
# checkout's .collections link under pytest, the copy of the tree under ansible-test units (which has no
# .collections).
COLLECTIONS_ROOT = os.path.abspath(os.path.join(os.path.dirname(bp.__file__), *[".."] * 5))

HOST = os.uname().nodename
REQUIRED_KEYS = ("cluster", "nodes", "repository", "repository_password_file", "state_dir", "archive_dir",
                 "archive_state", "ssh_key", "ssh_user", "known_hosts", "keep")


def at(text):
    """Epoch of a 'YYYY-MM-DD HH:MM:SS' UTC time."""
    return bp.parse_utc(text)


NOW = at("2026-12-03 06:00:00")


# --- fixtures and builders -------------------------------------------------------------------------

def make_cfg(tmp_path, **overrides):
    """The configuration roles/backup/templates/backup.json.j2 writes, pointing into tmp_path."""
    state = tmp_path / "state"
    state.mkdir(exist_ok=True)
    cfg = {
        "cluster": "lab",
        "nodes": {"db1": "10.0.0.31", "db2": "10.0.0.32", "db3": "10.0.0.33"},
        "port": 3306, "user": "ha_lamp_backup", "password_file": str(tmp_path / "db.pass"), "tls_ca": "",
        "repository": str(tmp_path / "repo"),
        "repository_password_file": str(tmp_path / "repo.pass"),
        "state_dir": str(state),
        "archive_dir": str(tmp_path / "archive"),
        "archive_state": str(tmp_path / "archive-state.json"),
        "ssh_key": str(tmp_path / "id_ed25519"), "ssh_user": "ha-lamp-backup",
        "known_hosts": str(tmp_path / "known_hosts"),
        "keep": {"daily": 7, "weekly": 4, "monthly": 6},
        "max_lag": 10, "space_factor": 1.2, "verify_read_data": "10%",
        "full_max_age": 93600, "any_max_age": 7800, "webhook_url": "",
        "textfile": str(tmp_path / "metrics" / "backup.prom"),
    }
    cfg.update(overrides)
    return cfg


def write_cfg(tmp_path, cfg):
    path = tmp_path / "backup.json"
    path.write_text(json.dumps(cfg), encoding="utf-8")
    return str(path)


@pytest.fixture
def cfg(tmp_path):
    return make_cfg(tmp_path)


@pytest.fixture
def frozen(monkeypatch):
    """cli.time.time() is NOW (only the CLI's view of the clock)."""
    monkeypatch.setattr(cli, "time", types.SimpleNamespace(time=lambda: NOW))


def replica(io="Yes", sql="Yes", lag=0, read_only=True):
    return {"read_only": read_only, "gtid": "0-1-80", "replica": {"io": io, "sql": sql, "lag": lag}}


def primary():
    return {"read_only": False, "gtid": "0-1-80", "replica": None}


def down(error="(2003, \"Can't connect to MySQL server on '10.0.0.33' ([Errno 113] No route to host)\")"):
    return {"error": error}


def backup(bid, kind, when, gtid, from_lsn, to_lsn, parent=None, source="db2", verified=None, **extra):
    """A catalogue entry as take() saves it (manifest + restic summary)."""
    entry = {"id": bid, "kind": kind, "source": source, "parent": parent, "time": at(when), "gtid": gtid,
             "gtid_at_start": gtid, "from_lsn": from_lsn, "to_lsn": to_lsn, "role": "replica",
             "server_version": "10.11.18-MariaDB-0+deb12u1-log", "counts": {"ha_lamp_app.sessions": 12},
             "snapshot": "%08x" % (abs(hash(bid)) % 0xffffffff), "bytes": 54525952, "added": 524288,
             "seconds": 4.2, "verified": verified, "source_reason": "replica %s (healthy, 0s behind)" % source}
    entry.update(extra)
    return entry


def catalogue():
    full1 = backup("20261202T013000Z-full-db2", "full", "2026-12-02 01:30:02", "0-1-40", 0, 40000,
                   bytes=52428800, added=1048576, verified=True,
                   verification={"ok": True, "at": at("2026-12-02 04:00:00"), "seconds": 40.1, "problems": [],
                                 "chain": ["20261202T013000Z-full-db2"]})
    full2 = backup("20261203T013000Z-full-db2", "full", "2026-12-03 01:30:02", "0-1-60", 0, 44760,
                   verified=False,
                   verification={"ok": False, "at": at("2026-12-03 04:00:00"), "seconds": 38.7,
                                 "problems": ["ha_lamp_app.sessions: 10 rows restored, the manifest says 12"],
                                 "chain": ["20261203T013000Z-full-db2"]})
    inc = backup("20261203T031500Z-incremental-db2", "incremental", "2026-12-03 03:15:01", "0-1-64", 44760,
                 52000, parent=full2["id"], bytes=1048576, added=65536)
    return [full1, full2, inc]


def save_catalogue(cfg, entries):
    for entry in entries:
        cli.save_entry(cfg, entry)


ARCHIVE_STATE = {"source": "db1", "segment": "000001-db1", "streaming": True, "caught_up_at": NOW - 2,
                 "caught_up_gtid": "0-1-80", "caught_up_state": "0-1-80,0-2-61", "lag_seconds": 2.0,
                 "primary_gtid": "0-1-80", "updated_at": NOW - 1, "gap": False, "error": ""}


def write_archive_state(cfg, **changes):
    with open(cfg["archive_state"], "w", encoding="utf-8") as fh:
        json.dump(dict(ARCHIVE_STATE, **changes), fh)


# --- load_config -----------------------------------------------------------------------------------

def test_load_config_returns_the_document(tmp_path, cfg):
    assert cli.load_config(write_cfg(tmp_path, cfg)) == cfg


@pytest.mark.parametrize("key", REQUIRED_KEYS)
def test_load_config_names_the_missing_key(tmp_path, cfg, key):
    del cfg[key]
    path = write_cfg(tmp_path, cfg)
    with pytest.raises(cli.Refused) as info:
        cli.load_config(path)
    assert str(info.value) == "%s: the key %r is missing (re-run playbooks/site.yml)" % (path, key)


def test_load_config_missing_file(tmp_path):
    path = str(tmp_path / "absent.json")
    with pytest.raises(cli.Refused) as info:
        cli.load_config(path)
    assert str(info.value) == ("cannot read the configuration %s: [Errno 2] No such file or directory: '%s'"
                               % (path, path))


def test_load_config_not_json(tmp_path):
    path = tmp_path / "backup.json"
    path.write_text("{cluster: lab", encoding="utf-8")
    with pytest.raises(cli.Refused, match=r"^cannot read the configuration .*backup\.json: Expecting property name"):
        cli.load_config(str(path))


def test_main_reports_a_bad_configuration_as_refused(tmp_path, capsys):
    path = str(tmp_path / "absent.json")
    assert cli.main(["--config", path, "status"]) == 2
    assert capsys.readouterr().err.startswith("REFUSED: cannot read the configuration %s: " % path)


# --- primary_of, describe_views, choose_source ---------------------------------------------------

@pytest.mark.parametrize("views,expected", [
    ({"db1": primary(), "db2": replica(), "db3": replica()}, "db1"),
    ({"db1": down(), "db2": primary(), "db3": replica()}, "db2"),
    ({"db1": replica(), "db2": replica()}, None),                      # no writer (failover under way)
    ({"db1": primary(), "db2": primary(), "db3": replica()}, None),    # two writers: trust neither
    ({"db1": replica(read_only=False), "db2": replica()}, None),       # writable but replicating
    ({"db1": {"read_only": True, "gtid": "", "replica": None}}, None),  # fenced, not replicating
    ({}, None),
])
def test_primary_of(views, expected):
    assert cli.primary_of(views) == expected


def test_describe_views_every_form_sorted_by_host():
    views = {"db3": down("x" * 100), "db1": primary(), "db2": replica(io="No", lag=None),
             "db4": {"read_only": True, "gtid": "", "replica": None}}
    assert cli.describe_views(views) == ("db1 primary; db2 replica io=No sql=Yes lag=None; "
                                         "db3 unreachable (%s); db4 read-only, not replicating" % ("x" * 80))


def test_choose_source_least_lagging_healthy_replica(cfg):
    views = {"db1": primary(), "db2": replica(lag=3), "db3": replica(lag=1)}
    assert cli.choose_source(cfg, views) == ("db3", "replica db3 (healthy, 1s behind)")


def test_choose_source_equal_lag_takes_the_first_name(cfg):
    views = {"db1": primary(), "db3": replica(lag=0), "db2": replica(lag=0)}
    assert cli.choose_source(cfg, views) == ("db2", "replica db2 (healthy, 0s behind)")


@pytest.mark.parametrize("unfit", [
    replica(lag=11),                  # beyond max_lag
    replica(io="No", lag=0),          # IO thread stopped: not receiving
    replica(io="Connecting", lag=0),
    replica(sql="No", lag=None),      # SQL thread stopped
    replica(lag=None),
    replica(lag=0, read_only=False),  # a writable replica is not a safe source
    down(),
])
def test_choose_source_skips_unfit_replicas(cfg, unfit):
    views = {"db1": primary(), "db2": unfit, "db3": replica(lag=7)}
    assert cli.choose_source(cfg, views) == ("db3", "replica db3 (healthy, 7s behind)")


def test_choose_source_lag_equal_to_max_lag_qualifies(cfg):
    views = {"db1": primary(), "db2": replica(lag=10)}
    assert cli.choose_source(cfg, views) == ("db2", "replica db2 (healthy, 10s behind)")


def test_choose_source_max_lag_defaults_to_10(cfg):
    del cfg["max_lag"]
    views = {"db1": primary(), "db2": replica(lag=11), "db3": replica(lag=10)}
    assert cli.choose_source(cfg, views)[0] == "db3"


def test_choose_source_prefers_the_chains_source(cfg):
    views = {"db1": primary(), "db2": replica(lag=0), "db3": replica(lag=4)}
    assert cli.choose_source(cfg, views, prefer="db3") == ("db3", "replica db3 (the incremental chain's source)")


def test_choose_source_ignores_a_preferred_source_that_does_not_qualify(cfg):
    views = {"db1": primary(), "db2": replica(lag=0), "db3": replica(io="No", lag=None)}
    assert cli.choose_source(cfg, views, prefer="db3") == ("db2", "replica db2 (healthy, 0s behind)")
    assert cli.choose_source(cfg, views, prefer="db1") == ("db2", "replica db2 (healthy, 0s behind)")


def test_choose_source_only_the_primary(cfg):
    views = {"db1": primary(), "db2": replica(io="No", lag=None), "db3": down("timed out")}
    assert cli.choose_source(cfg, views) == (
        "db1", "no replica is healthy and within 10s (db1 primary; db2 replica io=No sql=Yes lag=None; "
               "db3 unreachable (timed out)): backing up the primary db1")


@pytest.mark.parametrize("views,described", [
    ({"db1": down("timed out"), "db2": replica(lag=120), "db3": replica(sql="No", lag=None)},
     "db1 unreachable (timed out); db2 replica io=Yes sql=Yes lag=120; db3 replica io=Yes sql=No lag=None"),
    ({"db1": primary(), "db2": primary()}, "db1 primary; db2 primary"),
    ({}, ""),
])
def test_choose_source_nothing_qualifies(cfg, views, described):
    with pytest.raises(cli.Refused) as info:
        cli.choose_source(cfg, views)
    assert str(info.value) == "no database node can be backed up: %s" % described


# --- the lock --------------------------------------------------------------------------------------

def lock_file(cfg):
    return os.path.join(cfg["state_dir"], "lock.json")


def write_lock(cfg, **doc):
    with open(lock_file(cfg), "w", encoding="utf-8") as fh:
        json.dump(doc, fh)


def dead_pid():
    """A pid above the kernel's pid_max: no /proc entry can ever exist for it."""
    with open("/proc/sys/kernel/pid_max", encoding="ascii") as fh:
        return int(fh.read()) + 1


def held_message(cfg, holder, since):
    return ("%s holds the backup lock since %s UTC (%s); wait for it to finish. If it is certain nothing runs, "
            "clear it on %s with: ha-lamp-backup lock release --holder '%s'"
            % (holder, since, lock_file(cfg), HOST, holder))


def test_lock_acquire_writes_the_holder(cfg):
    cli.lock_acquire(cfg, "backup full", os.getpid())
    doc = cli.lock_show(cfg)
    assert doc["holder"] == "backup full" and doc["host"] == HOST and doc["pid"] == os.getpid()
    assert abs(doc["since"] - time.time()) < 60
    assert stat.S_IMODE(os.stat(lock_file(cfg)).st_mode) == 0o600


def test_locked_records_this_process(cfg):
    with cli.locked(cfg, "verify"):
        assert cli.lock_show(cfg)["pid"] == os.getpid()


def test_lock_without_pid_has_none(cfg):
    """A restore or an operator spans many CLI runs: its lock must not look like a crashed process."""
    cli.lock_acquire(cfg, "restore r-20261203")
    assert cli.lock_show(cfg)["pid"] is None


def test_second_acquire_is_refused_with_holder_and_release_command(cfg):
    write_lock(cfg, holder="backup full", since=at("2026-12-03 01:30:00"), host=HOST, pid=os.getpid())
    with pytest.raises(cli.Refused) as info:
        cli.lock_acquire(cfg, "verify")
    assert str(info.value) == held_message(cfg, "backup full", "2026-12-03 01:30:00")
    assert cli.lock_show(cfg)["holder"] == "backup full"


def test_acquire_after_acquire_in_one_process(cfg):
    cli.lock_acquire(cfg, "prune")
    with pytest.raises(cli.Refused, match=r"^prune holds the backup lock since \d{4}-\d\d-\d\d .* --holder 'prune'$"):
        cli.lock_acquire(cfg, "backup incremental")


def test_stale_local_lock_is_cleared(cfg):
    write_lock(cfg, holder="backup full", since=at("2026-12-03 01:30:00"), host=HOST, pid=dead_pid())
    cli.lock_acquire(cfg, "verify", os.getpid())
    assert cli.lock_show(cfg)["holder"] == "verify"


def test_lock_that_replaced_a_stale_one_records_its_own_pid(cfg):
    write_lock(cfg, holder="backup full", since=at("2026-12-03 01:30:00"), host=HOST, pid=dead_pid())
    cli.lock_acquire(cfg, "verify", os.getpid())
    assert cli.lock_show(cfg)["pid"] == os.getpid()
    with pytest.raises(cli.Refused):
        cli.lock_acquire(cfg, "backup incremental", os.getpid())


def test_dead_pid_on_another_host_is_not_cleared(cfg):
    """Its process lives in another host's pid space: /proc here says nothing about it."""
    write_lock(cfg, holder="backup full", since=at("2026-12-03 01:30:00"), host="backup2", pid=dead_pid())
    with pytest.raises(cli.Refused) as info:
        cli.lock_acquire(cfg, "verify")
    assert "clear it on %s with: ha-lamp-backup lock release --holder 'backup full'" % HOST in str(info.value)


def test_restore_lock_is_never_cleared_as_stale(cfg):
    write_lock(cfg, holder="restore r1", since=at("2026-12-03 05:00:00"), host=HOST, pid=None)
    with pytest.raises(cli.Refused) as info:
        cli.lock_acquire(cfg, "backup incremental")
    assert str(info.value) == held_message(cfg, "restore r1", "2026-12-03 05:00:00")


def test_unreadable_lock_is_refused_and_released_by_the_printed_command(cfg):
    """A lock file left empty (crash between create and write) blocks, and the message's command clears it."""
    open(lock_file(cfg), "w", encoding="utf-8").close()
    with pytest.raises(cli.Refused) as info:
        cli.lock_acquire(cfg, "verify")
    assert str(info.value) == held_message(cfg, "None", "1970-01-01 00:00:00")
    cli.lock_release(cfg, "None")
    assert not os.path.exists(lock_file(cfg))


def test_release_by_the_wrong_holder_is_refused(cfg):
    cli.lock_acquire(cfg, "restore r1")
    with pytest.raises(cli.Refused) as info:
        cli.lock_release(cfg, "backup full")
    assert str(info.value) == "the lock is held by restore r1, not backup full"
    assert cli.lock_show(cfg)["holder"] == "restore r1"


def test_release_by_the_holder_and_release_without_lock(cfg):
    cli.lock_acquire(cfg, "restore r1")
    cli.lock_release(cfg, "restore r1")
    assert cli.lock_show(cfg) is None
    cli.lock_release(cfg, "restore r1")  # nothing held: nothing to do


def test_locked_releases_after_an_error(cfg):
    with pytest.raises(cli.Failed):
        with cli.locked(cfg, "verify"):
            assert cli.lock_show(cfg)["holder"] == "verify"
            raise cli.Failed("scratch server did not start")
    assert cli.lock_show(cfg) is None


def test_main_lock_needs_a_holder(tmp_path, cfg, capsys):
    assert cli.main(["--config", write_cfg(tmp_path, cfg), "lock", "acquire"]) == 2
    assert capsys.readouterr().err == "REFUSED: lock acquire needs --holder\n"


def test_lock_taken_from_the_command_line_holds_after_the_command_exits(tmp_path, cfg):
    """restore.yml takes the lock with one CLI run and releases it with another."""
    subprocess.run([sys.executable, CLI_PATH, "--config", write_cfg(tmp_path, cfg), "lock", "acquire",
                    "--holder", "maintenance"], check=True, timeout=60, capture_output=True,
                   env=dict(os.environ, HA_LAMP_LIB=COLLECTIONS_ROOT))
    assert cli.lock_show(cfg)["holder"] == "maintenance"
    with pytest.raises(cli.Refused):
        cli.lock_acquire(cfg, "backup full")


# --- check_space -----------------------------------------------------------------------------------

DiskUsage = collections.namedtuple("DiskUsage", "total used free")


def fake_agent(calls, returncode=0, stdout="", stderr=""):
    def run(cfg, host, remote, **_kwargs):
        calls.append((host, remote))
        return subprocess.CompletedProcess(["ssh"], returncode, stdout=stdout, stderr=stderr)
    return run


def fake_disk(paths, free_mib):
    def usage(path):
        paths.append(path)
        return DiskUsage(100 << 30, (100 << 30) - (free_mib << 20), free_mib << 20)
    return usage


def test_check_space_refuses_with_mib_figures(cfg, monkeypatch):
    calls, paths = [], []
    monkeypatch.setattr(cli, "agent", fake_agent(calls, stdout="1073741824\n"))      # 1 GiB datadir
    monkeypatch.setattr(cli.shutil, "disk_usage", fake_disk(paths, 1000))
    with pytest.raises(cli.Refused) as info:
        cli.check_space(cfg, "db2", [])
    assert str(info.value) == ("the repository's disk on %s has 1000 MiB free, a backup of db2 needs up to 1228 MiB "
                               "(datadir size x 1.2): free space or move the repository (backup_repository)" % HOST)
    assert calls == [("db2", "size")]
    assert paths == [cfg["repository"]]


def test_check_space_passes_with_enough_room(cfg, monkeypatch):
    monkeypatch.setattr(cli, "agent", fake_agent([], stdout="1073741824\n"))
    monkeypatch.setattr(cli.shutil, "disk_usage", fake_disk([], 1229))
    assert cli.check_space(cfg, "db2", []) is None


def test_check_space_uses_the_configured_factor(cfg, monkeypatch):
    cfg["space_factor"] = 2.0
    monkeypatch.setattr(cli, "agent", fake_agent([], stdout="1073741824\n"))
    monkeypatch.setattr(cli.shutil, "disk_usage", fake_disk([], 1229))
    with pytest.raises(cli.Refused, match=r"has 1229 MiB free, a backup of db2 needs up to 2048 MiB \(datadir size x 2.0\)"):
        cli.check_space(cfg, "db2", [])


@pytest.mark.parametrize("returncode,stdout,stderr,shown", [
    (255, "", "ssh: connect to host 10.0.0.32 port 22: No route to host\n",
     "ssh: connect to host 10.0.0.32 port 22: No route to host"),
    (2, "", "ha-lamp-backup-agent: (2002, \"Can't connect to local server through socket\")\n",
     "ha-lamp-backup-agent: (2002, \"Can't connect to local server through socket\")"),
    (0, "Welcome to db2\n", "", "Welcome to db2"),               # not a number: never guess
    (0, "", "", ""),
])
def test_check_space_refuses_when_the_size_cannot_be_read(cfg, monkeypatch, returncode, stdout, stderr, shown):
    monkeypatch.setattr(cli, "agent", fake_agent([], returncode, stdout, stderr))
    monkeypatch.setattr(cli.shutil, "disk_usage", lambda path: pytest.fail("disk looked at before the size"))
    with pytest.raises(cli.Refused) as info:
        cli.check_space(cfg, "db2", [])
    assert str(info.value) == "cannot read the data size on db2 through its backup agent: %s" % shown


# --- binlog_command and the GTID header regex -----------------------------------------------------

def test_binlog_command_options_then_files_in_order():
    step = {"segment": "000002-db2", "files": ["/a/000002-db2/mariadb-bin.000005", "/a/000002-db2/mariadb-bin.000006"],
            "start_position": "0-1-80", "stop_position": "0-2-95", "stop_datetime": "2026-12-03 03:36:59"}
    assert cli.binlog_command(step) == [
        "mariadb-binlog", "--start-position=0-1-80", "--stop-position=0-2-95", "--stop-datetime=2026-12-03 03:36:59",
        "/a/000002-db2/mariadb-bin.000005", "/a/000002-db2/mariadb-bin.000006"]


@pytest.mark.parametrize("step,expected", [
    ({"files": ("f1",), "start_position": "0-1-64", "stop_position": None, "stop_datetime": None},
     ["mariadb-binlog", "--start-position=0-1-64", "f1"]),
    ({"files": ["f1"], "start_position": "", "stop_position": None, "stop_datetime": "2026-12-03 03:36:59"},
     ["mariadb-binlog", "--stop-datetime=2026-12-03 03:36:59", "f1"]),   # empty start: from the file's start
    ({"files": ["f1", "f2"], "start_position": "0-1-64,1-3-7", "stop_position": "0-1-70,1-3-9"},
     ["mariadb-binlog", "--start-position=0-1-64,1-3-7", "--stop-position=0-1-70,1-3-9", "f1", "f2"]),
])
def test_binlog_command_leaves_out_empty_options(step, expected):
    assert cli.binlog_command(step) == expected


def test_binlog_command_of_a_planned_step():
    index = {"segments": [{"id": "000001-db1", "host": "db1", "server_id": 1, "started_at": NOW - 86400,
                           "gap_before": False,
                           "files": [{"name": "mariadb-bin.000001", "start_state": "0-2-61"},
                                     {"name": "mariadb-bin.000002", "start_state": "0-1-70,0-2-61"}]}]}
    steps = bp.replay_plan(index, "0-1-64", to_gtid="0-1-68", archive_dir="/var/lib/ha-lamp-backup/archive")
    assert [cli.binlog_command(s) for s in steps] == [[
        "mariadb-binlog", "--start-position=0-1-64", "--stop-position=0-1-68",
        "/var/lib/ha-lamp-backup/archive/000001-db1/mariadb-bin.000001"]]


# Header lines as mariadb-binlog 10.11 prints them with TZ=UTC (the lab's db1, decoded with
# --base64-output=decode-rows --verbose); the space-padded hour is how it prints hours before 10.
GTID_LINES = [
    ("#261203  3:34:51 server id 1  end_log_pos 995 CRC32 0xc550f9c0 \tGTID 0-1-64 trans",
     ("261203", "3:34:51", "0-1-64")),
    ("#261203  3:30:53 server id 2  end_log_pos 386 CRC32 0x1bc17276 \tGTID 0-2-62 trans",
     ("261203", "3:30:53", "0-2-62")),
    ("#261203  3:36:59 server id 2  end_log_pos 112376 CRC32 0xf0e45343 \tGTID 0-2-902 ddl",
     ("261203", "3:36:59", "0-2-902")),
    ("#261203 13:05:17 server id 3  end_log_pos 2107 CRC32 0xc4307f27 \tGTID 1-3-10045 cid=8677 trans",
     ("261203", "13:05:17", "1-3-10045")),
    ("#261203 23:59:59 server id 4001  end_log_pos 4 CRC32 0x00000000 \tGTID 0-4001-18446744073709551615 trans",
     ("261203", "23:59:59", "0-4001-18446744073709551615")),
]

NOT_GTID_LINES = [
    "#261203  3:32:10 server id 1  end_log_pos 256 CRC32 0x2d49ac66 \tStart: binlog v 4, server v "
    "10.11.18-MariaDB-0+deb12u1-log created 261203  3:32:10 at startup",
    "#261203  3:32:10 server id 1  end_log_pos 299 CRC32 0x89ff3723 \tGtid list [0-2-61]",
    "#261203  3:32:10 server id 1  end_log_pos 344 CRC32 0x205c58e4 \tBinlog checkpoint mariadb-bin.000001",
    "#261203  3:36:59 server id 2  end_log_pos 112522 CRC32 0x14ae9a4b \tQuery\tthread_id=111\texec_time=0\t"
    "error_code=0\txid=3027",
    "#261203  3:34:51 server id 1  end_log_pos 1231 CRC32 0xcaf926b8 \tXid = 8673",
    "#Q> INSERT INTO notes (body) VALUES ('GTID 0-1-5')",
    "/*M!100001 SET @@session.gtid_seq_no=64*//*!*/;",
    "# at 995",
]


@pytest.mark.parametrize("line,groups", GTID_LINES)
def test_gtid_event_matches_real_headers(line, groups):
    match = cli.GTID_EVENT.match(line)
    assert match is not None and match.groups() == groups


@pytest.mark.parametrize("line", NOT_GTID_LINES)
def test_gtid_event_ignores_other_lines(line):
    assert cli.GTID_EVENT.match(line) is None


# The DROP TABLE event of the lab's db2 as mariadb-binlog decodes it, and the row event before it.
DECODED = """# at 953
#261203  3:34:51 server id 1  end_log_pos 995 CRC32 0xc550f9c0 \tGTID 0-1-64 trans
/*M!100001 SET @@session.gtid_seq_no=64*//*!*/;
START TRANSACTION
/*!*/;
# at 995
# at 1077
#261203  3:34:51 server id 1  end_log_pos 1077 CRC32 0xf673bcd0 \tAnnotate_rows:
#Q> INSERT INTO backup_proof (run, seq) VALUES ('load68891', 1)
#261203  3:34:51 server id 1  end_log_pos 1144 CRC32 0x1f7d0b86 \tTable_map: `ha_lamp_app`.`backup_proof` mapped to number 426
### INSERT INTO `ha_lamp_app`.`backup_proof`
#261203  3:36:59 server id 2  end_log_pos 112376 CRC32 0xf0e45343 \tGTID 0-2-902 ddl
/*M!100001 SET @@session.gtid_seq_no=902*//*!*/;
# at 112376
#261203  3:36:59 server id 2  end_log_pos 112522 CRC32 0x14ae9a4b \tQuery\tthread_id=111\texec_time=0\terror_code=0\txid=3027
SET TIMESTAMP=1796269019/*!*/;
SET @@session.pseudo_thread_id=111/*!*/;
DROP TABLE IF EXISTS `ha_lamp_app`.`backup_bulk` /* generated by server */
/*!*/;
"""


def test_find_reports_gtid_and_utc_time_of_matching_transactions(cfg, monkeypatch):
    seg = os.path.join(cfg["archive_dir"], "000001-db1")
    os.makedirs(seg)
    open(os.path.join(seg, "mariadb-bin.000001"), "wb").close()
    with open(os.path.join(cfg["archive_dir"], "index.json"), "w", encoding="utf-8") as fh:
        json.dump({"segments": [{"id": "000001-db1", "files": [{"name": "mariadb-bin.000001",
                                                                "start_state": "0-2-61"}]}]}, fh)
    runs = []

    def fake_run(cmd, **kwargs):
        runs.append((cmd, kwargs.get("env", {}).get("TZ")))
        return types.SimpleNamespace(stdout=DECODED, returncode=0)
    monkeypatch.setattr(cli.subprocess, "run", fake_run)
    assert cli.find(cfg, "drop table") == [{
        "gtid": "0-2-902", "logged": "2026-12-03 03:36:59", "segment": "000001-db1",
        "sql": "DROP TABLE IF EXISTS `ha_lamp_app`.`backup_bulk` /* generated by server */"}]
    assert cli.find(cfg, "backup_proof")[0]["gtid"] == "0-1-64"         # one hit per transaction
    assert len(cli.find(cfg, "backup_proof")) == 1
    assert runs[0] == (["mariadb-binlog", "--base64-output=decode-rows", "--verbose",
                        os.path.join(seg, "mariadb-bin.000001")], "UTC")


# --- status and render_status --------------------------------------------------------------------

EXPECTED_LINES = [
    "20261202T013000Z-full-db2                    full        db2   2026-12-02 01:30:02 UTC  age 102598s"
    "      52428800 bytes  GTID 0-1-40         verified",
    "20261203T013000Z-full-db2                    full        db2   2026-12-03 01:30:02 UTC  age  16198s"
    "      54525952 bytes  GTID 0-1-60         VERIFICATION FAILED",
    "20261203T031500Z-incremental-db2             incremental db2   2026-12-03 03:15:01 UTC  age   9899s"
    "       1048576 bytes  GTID 0-1-64         not verified yet",
]


def test_status_on_a_catalogue(cfg, frozen):
    save_catalogue(cfg, catalogue())
    write_archive_state(cfg)
    report = cli.status(cfg)
    assert report["cluster"] == "lab" and report["now"] == NOW and report["lock"] is None
    lines = [b.pop("line") for b in report["backups"]]
    assert report["backups"] == [
        {"id": "20261202T013000Z-full-db2", "kind": "full", "source": "db2", "time": "2026-12-02 01:30:02",
         "age_s": 102598, "bytes": 52428800, "added": 1048576, "gtid": "0-1-40", "verified": True, "problems": []},
        {"id": "20261203T013000Z-full-db2", "kind": "full", "source": "db2", "time": "2026-12-03 01:30:02",
         "age_s": 16198, "bytes": 54525952, "added": 524288, "gtid": "0-1-60", "verified": False,
         "problems": ["ha_lamp_app.sessions: 10 rows restored, the manifest says 12"]},
        {"id": "20261203T031500Z-incremental-db2", "kind": "incremental", "source": "db2",
         "time": "2026-12-03 03:15:01", "age_s": 9899, "bytes": 1048576, "added": 65536, "gtid": "0-1-64",
         "verified": None, "problems": []},
    ]
    assert lines == EXPECTED_LINES
    assert report["last_full_age_s"] == 16198 and report["last_backup_age_s"] == 9899
    assert report["archive"] == {"source": "db1", "lag_seconds": 2.0, "caught_up_gtid": "0-1-80", "gap": False,
                                 "streaming": True, "updated_at": NOW - 1, "refused": False, "error": ""}


def test_status_shows_the_lock(cfg, frozen):
    cli.lock_acquire(cfg, "restore r1")
    assert cli.status(cfg)["lock"]["holder"] == "restore r1"


def test_status_of_an_empty_catalogue_without_archive(cfg, frozen):
    report = cli.status(cfg)
    assert report["backups"] == [] and report["last_full_age_s"] is None and report["last_backup_age_s"] is None
    assert report["archive"] == {"source": None, "lag_seconds": None, "caught_up_gtid": None, "gap": None,
                                 "streaming": None, "updated_at": None, "refused": False, "error": ""}


def test_render_status(cfg, frozen):
    save_catalogue(cfg, catalogue())
    write_archive_state(cfg)
    assert cli.render_status(cli.status(cfg)).splitlines() == [
        "cluster lab; binlog archive: source db1, lag 2.0s, archived up to 0-1-80"] + EXPECTED_LINES


def test_render_status_flags_an_archive_gap(cfg, frozen):
    write_archive_state(cfg, gap=True, lag_seconds=340.5, source="db2", caught_up_gtid="0-2-130")
    assert cli.render_status(cli.status(cfg)) == ("cluster lab; binlog archive: source db2, lag 340.5s, "
                                                  "archived up to 0-2-130, GAP")


def test_render_status_says_why_the_archive_does_not_follow(cfg, frozen):
    write_archive_state(cfg, refused=True, error="REFUSED: db1 at [0-1-30] is behind what the archive saw replicated")
    assert cli.render_status(cli.status(cfg)).splitlines()[1] == (
        "binlog archive NOT FOLLOWING: REFUSED: db1 at [0-1-30] is behind what the archive saw replicated")


def test_main_status_json(tmp_path, cfg, capsys):
    save_catalogue(cfg, catalogue())
    assert cli.main(["--config", write_cfg(tmp_path, cfg), "status", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [b["id"] for b in report["backups"]] == [b["id"] for b in catalogue()]


# --- write_metrics ---------------------------------------------------------------------------------

def expected_metrics(full_time, inc_time, last_bytes, verification_ok, verification_at, count):
    lines = ["# HELP ha_lamp_backup_last_timestamp_seconds Consistent point of the newest backup, by kind.",
             "# TYPE ha_lamp_backup_last_timestamp_seconds gauge"]
    if full_time is not None:
        lines.append('ha_lamp_backup_last_timestamp_seconds{kind="full"} %.3f' % full_time)
    if inc_time is not None:
        lines.append('ha_lamp_backup_last_timestamp_seconds{kind="incremental"} %.3f' % inc_time)
    lines += ["# HELP ha_lamp_backup_last_bytes Bytes read from the source by the newest full backup.",
              "# TYPE ha_lamp_backup_last_bytes gauge",
              "ha_lamp_backup_last_bytes %d" % last_bytes,
              "# HELP ha_lamp_backup_verification_ok 1 when the newest verification passed, 0 when it failed.",
              "# TYPE ha_lamp_backup_verification_ok gauge"]
    if verification_ok is not None:
        lines += ["ha_lamp_backup_verification_ok %d" % verification_ok,
                  "# HELP ha_lamp_backup_verification_timestamp_seconds When the newest verification ran.",
                  "# TYPE ha_lamp_backup_verification_timestamp_seconds gauge",
                  "ha_lamp_backup_verification_timestamp_seconds %.3f" % verification_at]
    lines += ["# HELP ha_lamp_backup_count Backups in the catalogue.", "# TYPE ha_lamp_backup_count gauge",
              "ha_lamp_backup_count %d" % count]
    return "\n".join(lines) + "\n"


def read_metrics(cfg):
    with open(cfg["textfile"], encoding="utf-8") as fh:
        return fh.read()


def test_write_metrics_text(cfg):
    save_catalogue(cfg, catalogue())
    cli.write_metrics(cfg)
    assert read_metrics(cfg) == expected_metrics(at("2026-12-03 01:30:02"), at("2026-12-03 03:15:01"), 54525952,
                                                 0, at("2026-12-03 04:00:00"), 3)
    assert stat.S_IMODE(os.stat(cfg["textfile"]).st_mode) == 0o644      # node exporter reads it
    assert os.listdir(os.path.dirname(cfg["textfile"])) == ["backup.prom"]  # no temporary file left


def test_write_metrics_takes_the_newest_verification_not_the_newest_backup(cfg):
    entries = catalogue()
    entries[0]["verification"]["at"] = at("2026-12-03 05:00:00")          # the older full re-verified later
    save_catalogue(cfg, entries)
    cli.write_metrics(cfg)
    assert "ha_lamp_backup_verification_ok 1\n" in read_metrics(cfg)
    assert "ha_lamp_backup_verification_timestamp_seconds %.3f\n" % at("2026-12-03 05:00:00") in read_metrics(cfg)


def test_write_metrics_empty_catalogue(cfg):
    cli.write_metrics(cfg)
    assert read_metrics(cfg) == expected_metrics(None, None, 0, None, None, 0)


def test_write_metrics_full_without_bytes(cfg):
    save_catalogue(cfg, [backup("F", "full", "2026-12-03 01:30:02", "0-1-60", 0, 44760, bytes=None)])
    cli.write_metrics(cfg)
    assert "ha_lamp_backup_last_bytes 0\n" in read_metrics(cfg)


def test_write_metrics_every_sample_has_help_and_type(cfg):
    save_catalogue(cfg, catalogue())
    cli.write_metrics(cfg)
    text = read_metrics(cfg)
    names = {line.split("{")[0].split(" ")[0] for line in text.splitlines() if not line.startswith("#")}
    for name in names:
        assert "# HELP %s " % name in text and "# TYPE %s gauge" % name in text


def test_write_metrics_without_textfile_writes_nothing(cfg, tmp_path):
    del cfg["textfile"]
    save_catalogue(cfg, catalogue())
    assert cli.write_metrics(cfg) is None
    assert not (tmp_path / "metrics").exists()


# --- check_fresh -----------------------------------------------------------------------------------

def alerts(out):
    return [json.loads(line) for line in out.splitlines() if '"ALERT ' in line]


def test_check_fresh_all_fresh(cfg, monkeypatch, capsys):
    save_catalogue(cfg, catalogue())
    monkeypatch.setattr(cli, "time", types.SimpleNamespace(time=lambda: at("2026-12-03 03:30:00")))
    assert cli.check_fresh(cfg) == 0
    assert alerts(capsys.readouterr().out) == []


def test_check_fresh_stale_any(cfg, frozen, capsys):
    save_catalogue(cfg, catalogue())                    # newest backup 9899 s old, newest full 16198 s
    assert cli.check_fresh(cfg) == 1
    assert alerts(capsys.readouterr().out) == [{"msg": "ALERT backup_stale", "at": NOW,
                                                "problems": ["no backup within 7800s"]}]


def test_check_fresh_stale_full(cfg, frozen, capsys):
    entries = catalogue()[:1] + [backup("I", "incremental", "2026-12-03 05:15:01", "0-1-70", 40000, 60000,
                                        parent="20261202T013000Z-full-db2")]
    save_catalogue(cfg, entries)                        # full 102598 s old, an incremental 45 min ago
    assert cli.check_fresh(cfg) == 1
    assert alerts(capsys.readouterr().out)[0]["problems"] == ["no full backup within 93600s"]


def test_check_fresh_empty_catalogue(cfg, frozen, capsys):
    assert cli.check_fresh(cfg) == 1
    assert alerts(capsys.readouterr().out)[0]["problems"] == ["no full backup within 93600s",
                                                              "no backup within 7800s"]


def test_check_fresh_thresholds_from_the_configuration(cfg, frozen):
    save_catalogue(cfg, catalogue())
    cfg.update(full_max_age=20000, any_max_age=10000)
    assert cli.check_fresh(cfg) == 0
    cfg.update(full_max_age=16000)
    assert cli.check_fresh(cfg) == 1


def test_check_fresh_posts_the_alert_to_the_webhook(cfg, frozen, monkeypatch):
    cfg["webhook_url"] = "https://hooks.example.invalid/backup"
    posted = []

    def urlopen(req, timeout):
        posted.append((req.full_url, req.get_method(), req.get_header("Content-type"), json.loads(req.data), timeout))
        return types.SimpleNamespace(close=lambda: None)
    monkeypatch.setattr(cli.urllib.request, "urlopen", urlopen)
    assert cli.check_fresh(cfg) == 1
    assert posted == [("https://hooks.example.invalid/backup", "POST", "application/json",
                       {"event": "backup_stale", "cluster": "lab", "host": HOST, "at": NOW,
                        "problems": ["no full backup within 93600s", "no backup within 7800s"]}, 5)]


def test_check_fresh_survives_a_dead_webhook(cfg, frozen, monkeypatch, capsys):
    cfg["webhook_url"] = "https://hooks.example.invalid/backup"

    def urlopen(req, timeout):
        raise urllib.error.URLError("Name or service not known")
    monkeypatch.setattr(cli.urllib.request, "urlopen", urlopen)
    assert cli.check_fresh(cfg) == 1
    assert '"msg": "webhook failed"' in capsys.readouterr().out


def test_main_check_fresh_writes_metrics_and_exits_1_when_stale(tmp_path, cfg, capsys):
    two_days_ago = time.time() - 2 * 86400          # main() reads the real clock
    save_catalogue(cfg, [dict(b, time=two_days_ago) for b in catalogue()])
    assert cli.main(["--config", write_cfg(tmp_path, cfg), "check-fresh"]) == 1
    assert "ha_lamp_backup_count 3\n" in read_metrics(cfg)
    assert alerts(capsys.readouterr().out)[0]["msg"] == "ALERT backup_stale"


# --- make_plan: "latest" ---------------------------------------------------------------------------

CHAIN = [backup("20261203T013000Z-full-db2", "full", "2026-12-03 01:30:02", "0-1-60", 0, 44760, verified=True),
         backup("20261203T031500Z-incremental-db2", "incremental", "2026-12-03 03:15:01", "0-1-64", 44760, 52000,
                parent="20261203T013000Z-full-db2")]
VIEWS = {"db1": primary(), "db2": replica(lag=0), "db3": replica(lag=1)}
INDEX = {"segments": [{"id": "000001-db1", "host": "db1", "server_id": 1, "started_at": NOW - 86400,
                       "gap_before": False,
                       "files": [{"name": "mariadb-bin.000001", "start_state": "0-2-61"},
                                 {"name": "mariadb-bin.000002", "start_state": "0-1-70,0-2-61"}]}]}
# After a failover to db2: its segment starts at the first transaction db1's segment did not hold.
FAILOVER_INDEX = {"segments": INDEX["segments"] + [
    {"id": "000002-db2", "host": "db2", "server_id": 2, "started_at": NOW - 600, "gap_before": False,
     "files": [{"name": "mariadb-bin.000007", "start_state": "0-1-80,0-2-61"}]}]}


@pytest.fixture
def plan_inputs(monkeypatch, frozen):
    """make_plan's I/O replaced: the catalogue, the archive's state and index, and the nodes' views."""
    inputs = {"catalog": [dict(b) for b in CHAIN], "state": dict(ARCHIVE_STATE), "index": INDEX}
    monkeypatch.setattr(cli, "catalog", lambda cfg: inputs["catalog"])
    monkeypatch.setattr(cli, "archive_state", lambda cfg: inputs["state"])
    monkeypatch.setattr(cli, "read_index", lambda cfg: inputs["index"])
    monkeypatch.setattr(cli, "observe", lambda cfg, host: VIEWS[host])
    return inputs


def test_make_plan_latest_replays_everything_archived(cfg, plan_inputs):
    plan = cli.make_plan(cfg)
    archive = cfg["archive_dir"]
    assert [b["id"] for b in plan["chain"]] == [b["id"] for b in CHAIN]
    assert plan["from_gtid"] == "0-1-64" and plan["to_gtid"] == "0-1-80" and plan["to_time"] is None
    assert plan["steps"] == [{"segment": "000001-db1",
                              "files": [archive + "/000001-db1/mariadb-bin.000001",
                                        archive + "/000001-db1/mariadb-bin.000002"],
                              "start_position": "0-1-64", "stop_position": "0-1-80", "stop_datetime": None}]
    assert plan["primary"] == "db1"
    assert plan["nodes"] == "db1 primary; db2 replica io=Yes sql=Yes lag=0; db3 replica io=Yes sql=Yes lag=1"
    assert plan["lines"] == [
        "restore target: GTID 0-1-80 (up to and including it)",
        "backups to restore, in order (2):",
        "  1. 20261203T013000Z-full-db2: full from db2, consistent at 2026-12-03 01:30:02 UTC, GTID 0-1-60, verified",
        "  2. 20261203T031500Z-incremental-db2: incremental from db2, consistent at 2026-12-03 03:15:01 UTC, "
        "GTID 0-1-64, not verified yet",
        "binlog replay (1 step):",
        "  1. segment 000001-db1, 2 files (mariadb-bin.000001 .. mariadb-bin.000002): after GTID 0-1-64 "
        "up to GTID 0-1-80 inclusive",
        "warning: 1 of these backups has not been verified yet (20261203T031500Z-incremental-db2)",
    ]


def test_make_plan_latest_across_a_failover(cfg, plan_inputs):
    plan_inputs["index"] = FAILOVER_INDEX
    plan_inputs["state"].update(caught_up_gtid="0-1-80,0-2-95", source="db2")   # a Gtid_list-style value
    plan = cli.make_plan(cfg)
    assert plan["to_gtid"] == "0-2-95"
    assert [(s["segment"], s["start_position"], s["stop_position"]) for s in plan["steps"]] == [
        ("000001-db1", "0-1-64", "0-1-80"), ("000002-db2", "0-1-80", "0-2-95")]


BEHIND = ("the binlog archive (up to '%s', following %s) is behind the newest backup 20261203T031500Z-incremental-db2 "
          "(GTID 0-1-64): it follows a rebuilt or rewound database tier, or it lags. Restore to an explicit target "
          "(ha_lamp_restore_to_gtid=0-1-64 restores that backup alone; ha-lamp-backup find and status show the "
          "archived transactions), or wait until the archive has caught up")


def test_make_plan_latest_with_nothing_archived_is_refused(cfg, plan_inputs):
    plan_inputs["state"] = {}
    with pytest.raises(cli.Refused) as info:
        cli.make_plan(cfg)
    assert str(info.value) == BEHIND % ("", None)


def test_make_plan_latest_when_the_archive_is_behind_the_backup_is_refused(cfg, plan_inputs):
    # A rebuilt or rewound tier: the archive follows a history that does not reach the newest backup.
    plan_inputs["state"].update(caught_up_gtid="0-1-62")
    with pytest.raises(cli.Refused) as info:
        cli.make_plan(cfg)
    assert str(info.value) == BEHIND % ("0-1-62", "db1")


def test_make_plan_latest_when_the_archive_is_at_the_backup_replays_nothing(cfg, plan_inputs):
    plan_inputs["state"].update(caught_up_gtid="0-1-64")
    plan = cli.make_plan(cfg)
    assert plan["steps"] == [] and plan["to_gtid"] is None and plan["from_gtid"] == "0-1-64"


def test_make_plan_ignores_entries_without_a_snapshot(cfg, plan_inputs):
    plan_inputs["catalog"].append(backup("20261203T050000Z-full-db3", "full", "2026-12-03 05:00:00", "0-1-79", 0,
                                         70000, source="db3", snapshot=None))
    assert cli.make_plan(cfg)["chain"][-1]["id"] == "20261203T031500Z-incremental-db2"


def test_make_plan_latest_stops_at_an_archive_gap(cfg, plan_inputs):
    gap = {"segments": [dict(INDEX["segments"][0], end_state="0-1-75"),
                        dict(FAILOVER_INDEX["segments"][1], gap_before=True)]}
    plan_inputs["index"] = gap
    plan_inputs["state"].update(caught_up_gtid="0-2-95")
    with pytest.raises(bp.ArchiveGapError, match="the binlog archive has a gap"):
        cli.make_plan(cfg)


def test_main_plan_with_an_empty_catalogue_is_refused(tmp_path, cfg, capsys):
    assert cli.main(["--config", write_cfg(tmp_path, cfg), "plan"]) == 2
    assert capsys.readouterr().err == "REFUSED: no backups in the catalogue: take one first (playbooks/backup.yml)\n"


def test_main_refuses_a_host_outside_the_cluster(tmp_path, cfg, capsys):
    assert cli.main(["--config", write_cfg(tmp_path, cfg), "send", "--restore-id", "r1", "--host", "web1"]) == 2
    assert capsys.readouterr().err == "REFUSED: --host web1 is not a database node of lab (db1, db2, db3)\n"


# --- accept-history --------------------------------------------------------------------------------

def test_accept_history_declares_the_position_for_the_archiver(tmp_path, cfg, frozen):
    os.makedirs(cfg["archive_dir"])
    assert cli.main(["--config", write_cfg(tmp_path, cfg), "accept-history", "--gtid", "1-3-7,0-2-90",
                     "--by", "restore-r1"]) == 0
    path = os.path.join(cfg["archive_dir"], "accepted_history.json")
    with open(path, encoding="utf-8") as fh:
        doc = json.load(fh)
    assert doc == {"gtid": "0-2-90,1-3-7", "at": NOW, "by": "restore-r1"}
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    assert cli.ba.accepted_history(doc) == "0-2-90,1-3-7"


def test_accept_history_refuses_a_malformed_position(tmp_path, cfg, capsys):
    os.makedirs(cfg["archive_dir"])
    assert cli.main(["--config", write_cfg(tmp_path, cfg), "accept-history", "--gtid", "0-1"]) == 2
    assert capsys.readouterr().err.startswith("REFUSED: accept-history --gtid: ")
    assert not os.listdir(cfg["archive_dir"])


# --- fan-out to several nodes ----------------------------------------------------------------------

def test_fanout_copies_one_stream_to_every_receiver(tmp_path):
    data = os.urandom(3 * cli.Fanout.CHUNK + 17)
    source = tmp_path / "source"
    source.write_bytes(data)
    outs = [tmp_path / "a", tmp_path / "b"]
    fan = cli.Fanout([(o.name, ["sh", "-c", "cat > %s" % o]) for o in outs])
    with open(source, "rb") as fh:
        fan.pump(fh)
    assert fan.close() == []
    assert [o.read_bytes() for o in outs] == [data, data]


def test_fanout_names_a_receiver_that_failed_and_feeds_the_others(tmp_path):
    data = os.urandom(2 * cli.Fanout.CHUNK)
    source = tmp_path / "source"
    source.write_bytes(data)
    fan = cli.Fanout([("db1", ["sh", "-c", "echo 'disk full' >&2; exit 3"]),
                      ("db2", ["sh", "-c", "cat > %s" % (tmp_path / "db2")])])
    fan.sinks[0]["proc"].wait(timeout=10)             # db1 is gone before the first chunk
    with open(source, "rb") as fh:
        fan.pump(fh)
    assert fan.close() == [("db1", 3, "disk full")]
    assert (tmp_path / "db2").read_bytes() == data


def test_replay_into_feeds_every_step_in_order_to_every_node(tmp_path, monkeypatch):
    monkeypatch.setattr(cli, "binlog_command", lambda step: ["printf", "%s;" % step["segment"]])
    steps = [{"segment": "000001-db1"}, {"segment": "000002-db2"}]
    cli.replay_into(steps, [(h, ["sh", "-c", "cat > %s" % (tmp_path / h)]) for h in ("db1", "db2", "db3")])
    assert [(tmp_path / h).read_text() for h in ("db1", "db2", "db3")] == ["000001-db1;000002-db2;"] * 3


def test_replay_into_reports_the_failed_node(tmp_path, monkeypatch):
    monkeypatch.setattr(cli, "binlog_command", lambda step: ["printf", "x"])
    with pytest.raises(cli.Failed, match=r"^binlog replay failed: db2 exit 1 \(ERROR 1062\)$"):
        sources = [("db1", ["sh", "-c", "cat >/dev/null"]),
                   ("db2", ["sh", "-c", "cat >/dev/null; echo 'ERROR 1062' >&2; exit 1"])]
        cli.replay_into([{"segment": "000001-db1"}], sources)


def test_main_send_refuses_any_host_outside_the_cluster(tmp_path, cfg, capsys):
    assert cli.main(["--config", write_cfg(tmp_path, cfg), "send", "--restore-id", "r1", "--host", "db1",
                     "--host", "lb1"]) == 2
    assert capsys.readouterr().err == "REFUSED: --host lb1 is not a database node of lab (db1, db2, db3)\n"


def fake_restic(tmp_path, monkeypatch, script):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "restic").write_text("#!/bin/sh\n" + script + "\n")
    (bindir / "restic").chmod(0o755)
    monkeypatch.setenv("PATH", "%s:%s" % (bindir, os.environ["PATH"]))


def test_dump_into_streams_one_restic_read_to_every_node(tmp_path, cfg, monkeypatch):
    fake_restic(tmp_path, monkeypatch, 'echo "$3 $4"')
    entry = {"id": "b1", "snapshot": "abc123"}
    cli.dump_into(cfg, entry, [(h, ["sh", "-c", "cat > %s" % (tmp_path / h)]) for h in ("db1", "db2")])
    assert [(tmp_path / h).read_text() for h in ("db1", "db2")] == ["abc123 /b1.mbstream\n"] * 2


def test_dump_into_reports_restic_and_the_failed_node(tmp_path, cfg, monkeypatch):
    fake_restic(tmp_path, monkeypatch, 'echo partial; echo "decrypting blob failed" >&2; exit 2')
    receivers = [("db1", ["sh", "-c", "cat >/dev/null"]), ("db2", ["sh", "-c", "cat >/dev/null; exit 5"])]
    with pytest.raises(cli.Failed) as failed:
        cli.dump_into(cfg, {"id": "b1", "snapshot": "abc"}, receivers)
    assert str(failed.value) == ("restoring b1: restic dump exit 2 (decrypting blob failed); receivers failed: "
                                 "db2 exit 5 ()")
