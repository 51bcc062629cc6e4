# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests for the binlog archiver daemon (roles/backup/files/ha_lamp_binlog_archive.py) with a
fake PyMySQL (servers held in memory) and a fake subprocess.Popen (no mariadb-binlog is run)."""

import importlib.util
import json
import os
import stat
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
os.environ.setdefault("HA_LAMP_LIB", os.path.join(ROOT, ".collections"))
sys.path.insert(0, os.path.join(ROOT, ".collections"))

_SPEC = importlib.util.spec_from_file_location(
    "ha_lamp_binlog_archive", os.path.join(ROOT, "roles", "backup", "files", "ha_lamp_binlog_archive.py"))
arch = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(arch)


# --- fakes --------------------------------------------------------------------------------------------

class FakeServer:
    """What one MariaDB node answers."""

    def __init__(self, server_id, read_only=True, replica=True, binlogs=None, pos="", state=""):
        self.server_id, self.read_only, self.replica = server_id, read_only, replica
        self.binlogs = dict(binlogs or {})          # name -> start state ("" = [])
        self.pos, self.state = pos, state
        self.position = 4                           # SHOW MASTER STATUS Position of the newest file
        self.down = False
        self.queries = []

    def promote(self):
        self.read_only, self.replica = False, False

    def fence(self):
        self.read_only = True

    def answer(self, sql, args):
        self.queries.append(sql)
        if sql.startswith("SELECT @@global.read_only"):
            return [{"read_only": 1 if self.read_only else 0, "server_id": self.server_id,
                     "gtid_binlog_pos": self.pos, "gtid_binlog_state": self.state}]
        if sql == "SHOW SLAVE STATUS":
            return [{"Master_Host": "10.0.0.31", "Slave_IO_Running": "Yes"}] if self.replica else []
        if sql == "SHOW BINARY LOGS":
            return [{"Log_name": n, "File_size": 100} for n in self.binlogs]
        if sql.startswith("SHOW BINLOG EVENTS IN"):
            name = args[0]
            if name not in self.binlogs:
                raise FakeError("Could not find target log")
            return [{"Event_type": "Format_desc", "Info": "Server ver: 10.11.19"},
                    {"Event_type": "Gtid_list", "Info": "[%s]" % self.binlogs[name]}]
        if sql.startswith("SELECT @@global.gtid_binlog_pos AS pos"):
            return [{"pos": self.pos, "state": self.state}]
        if sql == "SHOW MASTER STATUS":
            return [{"File": max(self.binlogs), "Position": self.position}]
        raise AssertionError("unexpected SQL %r" % sql)


class FakeError(Exception):
    pass


class FakeCursor:
    def __init__(self, server):
        self.server, self.rows = server, []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def execute(self, sql, args=None):
        if self.server.down:
            raise FakeError("(2013, 'Lost connection to MySQL server during query')")
        self.rows = self.server.answer(sql, args)

    def fetchall(self):
        return self.rows


class FakeConnection:
    def __init__(self, server):
        self.server = server

    def cursor(self):
        return FakeCursor(self.server)

    def close(self):
        pass


class FakePyMySQL:
    """Stands in for the pymysql module: connect() by address."""

    class cursors:  # noqa: N801 - mirrors pymysql.cursors
        DictCursor = object

    def __init__(self, servers):
        self.servers = servers            # address -> FakeServer
        self.connects = []

    def connect(self, host, **kwargs):
        self.connects.append(dict(kwargs, host=host))
        server = self.servers[host]
        if server.down:
            raise FakeError("(2003, \"Can't connect to MySQL server on '%s' (timed out)\")" % host)
        return FakeConnection(server)


class FakePopen:
    """Stands in for the mariadb-binlog child: records its command, runs until told otherwise."""

    started = []

    def __init__(self, cmd, **kwargs):
        self.cmd, self.kwargs = cmd, kwargs
        self.returncode = None
        self.signals = []
        defaults = cmd[1].split("=", 1)[1]
        with open(defaults, encoding="utf-8") as handle:
            self.defaults_text = handle.read()
        self.defaults_mode = stat.S_IMODE(os.stat(defaults).st_mode)
        self.dir_mode = stat.S_IMODE(os.stat(os.path.dirname(defaults)).st_mode)
        FakePopen.started.append(self)

    def poll(self):
        return self.returncode

    def terminate(self):
        self.signals.append("TERM")
        self.returncode = -15

    def kill(self):
        self.signals.append("KILL")
        self.returncode = -9

    def wait(self, timeout=None):
        return self.returncode

    # test helpers
    def arg(self, name):
        return [a.split("=", 1)[1] for a in self.cmd if a.startswith(name + "=")][0]

    def write(self, name, size):
        """Archive `size` bytes of `name`, as mariadb-binlog --raw would."""
        path = os.path.join(self.arg("--result-file"), name)
        with open(path, "wb") as handle:
            handle.write(b"\xfebin" + b"x" * (size - 4))


class Clock:
    def __init__(self, now=1000.0):
        self.now = now

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


@pytest.fixture(name="env")
def fixture_env(tmp_path, monkeypatch):
    FakePopen.started = []
    db1 = FakeServer(1, read_only=False, replica=False, pos="0-1-100", state="0-1-100",
                     binlogs={"mysql-bin.000001": "", "mysql-bin.000002": "0-1-50"})
    db2 = FakeServer(2, binlogs={"db2-bin.000001": "", "db2-bin.000002": "0-1-60"}, pos="0-1-100", state="0-1-100")
    fake = FakePyMySQL({"10.0.0.31": db1, "10.0.0.32": db2})
    monkeypatch.setattr(arch, "pymysql", fake)
    monkeypatch.setattr(arch.subprocess, "Popen", FakePopen)
    journal = open(tmp_path / "journal.log", "a", encoding="utf-8")  # pylint: disable=consider-using-with
    monkeypatch.setattr(arch, "LOG_STREAM", journal)
    monkeypatch.setenv("RUNTIME_DIRECTORY", str(tmp_path))
    (tmp_path / "db.password").write_text('s3cr"et\\\n')
    cfg = arch.ba.check_config({
        "nodes": {"db1": "10.0.0.31", "db2": "10.0.0.32"}, "port": 3306, "user": "ha_lamp_backup",
        "password_file": str(tmp_path / "db.password"), "tls_ca": "", "archive_dir": str(tmp_path / "binlogs"),
        "state_file": str(tmp_path / "state.json"), "textfile": str(tmp_path / "metrics" / "binlog_archive.prom"),
        "replica_server_id": 4001, "tick": 1.0, "connect_timeout": 2})
    arch.prepare_dirs(cfg)
    clock = Clock()

    class Env:
        pass

    env = Env()
    env.tmp, env.cfg, env.db1, env.db2, env.fake, env.clock = tmp_path, cfg, db1, db2, fake, clock
    env.password = arch.read_password(cfg["password_file"])
    env.new_archiver = lambda: arch.Archiver(cfg, arch.Servers(cfg, env.password), arch.Stream(cfg, env.password), clock)
    env.index = lambda: json.loads((tmp_path / "binlogs" / "index.json").read_text())
    env.journal = lambda: [json.loads(line) for line in (tmp_path / "journal.log").read_text().splitlines()]
    yield env
    journal.close()


def events(env, name):
    return [e for e in env.journal() if e["msg"] == name]


# --- streaming from the primary -----------------------------------------------------------------------

def test_first_run_streams_the_primary_from_its_oldest_file(env):
    archiver = env.new_archiver()
    state = archiver.tick()
    child = FakePopen.started[-1]
    assert child.cmd[0] == "/usr/bin/mariadb-binlog"
    assert child.cmd[1].startswith("--defaults-extra-file=")          # must be the first option
    assert child.cmd[2:] == ["--read-from-remote-server", "--raw", "--stop-never",
                             "--stop-never-slave-server-id=4001", "--host=10.0.0.31", "--port=3306",
                             "--user=ha_lamp_backup", "--result-file=%s/000001-db1/" % env.cfg["archive_dir"],
                             "mysql-bin.000001"]
    assert not any("s3cr" in a for a in child.cmd)                     # the password never on the command line
    assert child.defaults_text == '[client]\npassword="s3cr\\"et\\\\"\nskip-ssl\n'
    assert (child.defaults_mode, child.dir_mode) == (0o600, 0o700)
    assert env.index()["segments"] == [{"id": "000001-db1", "host": "db1", "server_id": 1, "started_at": 1000.0,
                                        "gap_before": False, "files": []}]
    assert state["source"] == "db1" and state["segment"] == "000001-db1" and state["streaming"] is True


def test_tls_goes_to_pymysql_and_the_defaults_file(env):
    cfg = dict(env.cfg, tls_ca="/etc/ha-lamp-backup/pki/ca.crt")
    archiver = arch.Archiver(cfg, arch.Servers(cfg, "pw"), arch.Stream(cfg, "pw"), env.clock)
    archiver.tick()
    assert env.fake.connects[-1]["ssl"] == {"ca": "/etc/ha-lamp-backup/pki/ca.crt", "check_hostname": True}
    assert FakePopen.started[-1].defaults_text == (
        '[client]\npassword="pw"\nssl-ca="/etc/ha-lamp-backup/pki/ca.crt"\nssl-verify-server-cert\n')


def test_new_files_get_their_start_state_in_the_index(env):
    archiver = env.new_archiver()
    archiver.tick()
    child = FakePopen.started[-1]
    child.write("mysql-bin.000001", 300)
    child.write("mysql-bin.000002", 200)
    archiver.tick()
    assert env.index()["segments"][0]["files"] == [{"name": "mysql-bin.000001", "start_state": ""},
                                                   {"name": "mysql-bin.000002", "start_state": "0-1-50"}]
    assert [e["file"] for e in events(env, "file_archived")] == ["mysql-bin.000001", "mysql-bin.000002"]
    leftovers = [n for n in os.listdir(env.cfg["archive_dir"]) if n.endswith(".tmp")]
    assert leftovers == []


def test_a_file_whose_start_state_is_unknown_stops_the_indexing_in_order(env, monkeypatch):
    archiver = env.new_archiver()
    archiver.tick()
    child = FakePopen.started[-1]
    child.write("mysql-bin.000001", 300)
    child.write("mysql-bin.000002", 200)
    env.db1.binlogs = {"mysql-bin.000002": "0-1-50"}        # 000001 purged meanwhile: state unknown
    monkeypatch.setattr(arch, "local_start_state", lambda binary, path: None)
    archiver.tick()
    assert env.index()["segments"][0]["files"] == []       # 000002 is not recorded before 000001
    assert events(env, "start_state_unknown")[0]["file"] == "mysql-bin.000001"


def test_the_local_fallback_indexes_files_of_a_dead_source(env, monkeypatch):
    archiver = env.new_archiver()
    archiver.tick()
    FakePopen.started[-1].write("mysql-bin.000002", 300)
    env.db1.down = True
    runs = []

    def fake_run(cmd, **kwargs):
        runs.append(cmd)
        return subprocess.CompletedProcess(cmd, 0, stdout="#x \tGtid list [0-1-50]\n# at 285\n", stderr="")

    monkeypatch.setattr(arch.subprocess, "run", fake_run)
    archiver.tick()
    assert runs[0][:3] == ["/usr/bin/mariadb-binlog", "--no-defaults", "--stop-position=4096"]
    assert env.index()["segments"][0]["files"] == [{"name": "mysql-bin.000002", "start_state": "0-1-50"}]


# --- lag ------------------------------------------------------------------------------------------------

def test_lag_is_zero_when_the_archive_holds_the_primarys_position(env):
    archiver = env.new_archiver()
    archiver.tick()
    FakePopen.started[-1].write("mysql-bin.000002", 500)
    env.db1.position = 500
    env.clock.advance(1)
    state = archiver.tick()
    assert state["caught_up_at"] == 1001.0 and state["lag_seconds"] == 0.0
    assert state["caught_up_gtid"] == "0-1-100" and state["primary_gtid"] == "0-1-100"
    # the GTID state is read before SHOW MASTER STATUS
    queries = env.db1.queries
    assert queries.index("SHOW MASTER STATUS") > queries.index(
        "SELECT @@global.gtid_binlog_pos AS pos, @@global.gtid_binlog_state AS state")


def test_lag_grows_while_the_archive_is_behind(env):
    archiver = env.new_archiver()
    archiver.tick()
    child = FakePopen.started[-1]
    child.write("mysql-bin.000002", 500)
    env.db1.position = 500
    archiver.tick()
    env.db1.position, env.db1.pos, env.db1.state = 900, "0-1-105", "0-1-105"
    env.clock.advance(7.5)
    state = archiver.tick()
    assert state["lag_seconds"] == 7.5 and state["caught_up_gtid"] == "0-1-100"
    assert state["primary_gtid"] == "0-1-105"
    child.write("mysql-bin.000002", 900)
    env.clock.advance(0.5)
    assert archiver.tick()["lag_seconds"] == 0.0


def test_lag_counts_when_the_primarys_file_is_missing_locally(env):
    archiver = env.new_archiver()
    archiver.tick()
    env.db1.position = 4
    env.clock.advance(5)
    state = archiver.tick()                                  # mysql-bin.000002 not archived yet
    assert state["caught_up_at"] == 0.0 and state["lag_seconds"] == 5.0    # since the archive started


def test_state_file_and_textfile_are_published(env):
    archiver = env.new_archiver()
    state = arch.tick_and_publish(archiver)
    saved = json.loads((env.tmp / "state.json").read_text())
    assert saved == state
    assert set(saved) == {"source", "segment", "streaming", "caught_up_at", "caught_up_gtid", "caught_up_state",
                          "lag_seconds", "primary_gtid", "updated_at", "gap", "error", "witnessed_gtid", "refused"}
    text = (env.tmp / "metrics" / "binlog_archive.prom").read_text()
    assert "ha_lamp_binlog_archive_streaming 1\n" in text
    assert 'ha_lamp_binlog_archive_info{source="db1",gtid=""} 1' in text


# --- following failovers -------------------------------------------------------------------------------

def failover(env):
    env.db1.fence()
    env.db1.replica = True
    env.db2.promote()


def test_failover_opens_a_segment_on_the_new_primary_at_a_contained_file(env):
    archiver = env.new_archiver()
    archiver.tick()
    first = FakePopen.started[-1]
    first.write("mysql-bin.000002", 500)
    env.db1.position = 500
    archiver.tick()                                         # caught up at 0-1-100
    failover(env)
    env.db2.binlogs["db2-bin.000003"] = "0-1-100,0-2-101"   # not contained: 0-2-101 is not archived
    env.clock.advance(3)
    state = archiver.tick()
    assert first.signals == ["TERM"]
    second = FakePopen.started[-1]
    assert second.cmd[-1] == "db2-bin.000002" and "--host=10.0.0.32" in second.cmd
    assert second.arg("--result-file") == "%s/000002-db2/" % env.cfg["archive_dir"]
    seg = env.index()["segments"][1]
    assert (seg["id"], seg["host"], seg["server_id"], seg["gap_before"]) == ("000002-db2", "db2", 2, False)
    assert state["source"] == "db2" and state["segment"] == "000002-db2" and state["streaming"]
    assert not events(env, "archive_gap")


def test_failover_without_a_contained_file_records_a_gap(env):
    archiver = env.new_archiver()
    archiver.tick()
    FakePopen.started[-1].write("mysql-bin.000002", 500)
    env.db1.position = 500
    archiver.tick()
    failover(env)
    env.db2.binlogs = {"db2-bin.000007": "0-1-200", "db2-bin.000008": "0-1-250"}
    state = arch.tick_and_publish(archiver)
    assert FakePopen.started[-1].cmd[-1] == "db2-bin.000007"
    assert env.index()["segments"][1]["gap_before"] is True
    assert state["gap"] is True and "ha_lamp_binlog_archive_gap 1" in (env.tmp / "metrics" / "binlog_archive.prom").read_text()
    gap = events(env, "archive_gap")
    assert gap and gap[0]["level"] == "error" and gap[0]["reason"].startswith("GAP:")


def test_no_primary_keeps_the_child_but_reports_not_streaming(env):
    archiver = env.new_archiver()
    archiver.tick()
    env.db1.fence()
    env.clock.advance(4)
    state = archiver.tick()
    assert FakePopen.started[-1].signals == [] and len(FakePopen.started) == 1
    assert state["streaming"] is False and state["error"].startswith("no primary: db1 read-only")
    assert state["lag_seconds"] == 4.0
    assert events(env, "no_decision")[0]["reason"].startswith("no primary")
    archiver.tick()
    assert len(events(env, "no_decision")) == 1                # a lasting condition is logged once


def test_two_writable_nodes_keep_the_current_source(env):
    archiver = env.new_archiver()
    archiver.tick()
    env.db2.promote()
    state = archiver.tick()
    assert len(FakePopen.started) == 1 and FakePopen.started[0].signals == []
    assert state["source"] == "db1" and state["streaming"] is True
    assert state["error"] == "several writable primaries: db1, db2; keeping db1"


def test_an_unreachable_node_is_ignored(env):
    env.db2.down = True
    archiver = env.new_archiver()
    state = archiver.tick()
    assert state["source"] == "db1" and state["streaming"]


def test_a_server_id_clash_stops_streaming(env):
    archiver = env.new_archiver()
    archiver.tick()
    env.db2.server_id = 4001
    state = archiver.tick()
    assert FakePopen.started[0].signals == ["TERM"] and len(FakePopen.started) == 1
    assert state["streaming"] is False and "replica_server_id 4001 is db2's server_id" in state["error"]


# --- child and daemon restarts -------------------------------------------------------------------------

def test_an_exited_child_is_restarted_from_its_last_file_after_a_backoff(env):
    archiver = env.new_archiver()
    archiver.tick()
    child = FakePopen.started[-1]
    child.write("mysql-bin.000001", 300)
    child.write("mysql-bin.000002", 200)
    archiver.tick()
    child.returncode = 1
    env.clock.advance(0.5)
    archiver.tick()
    assert len(FakePopen.started) == 1                         # backoff: not restarted at once
    exited = events(env, "stream_exited")[0]
    assert exited["exit_status"] == 1 and exited["restart_in"] == 1
    env.clock.advance(1)
    archiver.tick()
    restarted = FakePopen.started[-1]
    assert len(FakePopen.started) == 2 and restarted.cmd[-1] == "mysql-bin.000002"
    assert restarted.arg("--result-file").endswith("/000001-db1/")
    assert len(env.index()["segments"]) == 1


def test_a_daemon_restart_continues_the_segment(env):
    archiver = env.new_archiver()
    archiver.tick()
    child = FakePopen.started[-1]
    child.write("mysql-bin.000002", 500)
    env.db1.position = 500
    arch.tick_and_publish(archiver)
    archiver.close(archiver.state(env.clock(), "db1"))
    assert child.signals == ["TERM"]
    assert json.loads((env.tmp / "state.json").read_text())["streaming"] is False
    again = env.new_archiver()
    assert again.caught_up_state == "0-1-100"                   # carried over by the state file
    again.tick()
    assert FakePopen.started[-1].cmd[-1] == "mysql-bin.000002"
    assert [s["id"] for s in env.index()["segments"]] == ["000001-db1"]


def test_a_stalled_stream_is_restarted(env):
    archiver = env.new_archiver()
    archiver.tick()
    FakePopen.started[-1].write("mysql-bin.000002", 100)
    env.db1.position = 500
    env.clock.advance(arch.STALL_RESTART + 1)
    archiver.tick()
    assert FakePopen.started[0].signals == ["TERM"] and len(FakePopen.started) == 2


def test_a_missing_mariadb_binlog_is_retried_with_a_backoff(env, monkeypatch):
    def no_binary(cmd, **kwargs):
        raise FileNotFoundError(2, "No such file or directory")

    monkeypatch.setattr(arch.subprocess, "Popen", no_binary)
    archiver = env.new_archiver()
    state = archiver.tick()
    assert state["streaming"] is False and state["error"].startswith("cannot run /usr/bin/mariadb-binlog")
    assert archiver.next_start_at == env.clock() + 1


# --- index atomicity --------------------------------------------------------------------------------------

def test_a_failed_index_write_leaves_the_old_index_whole(env, monkeypatch):
    archiver = env.new_archiver()
    archiver.tick()
    before = (env.tmp / "binlogs" / "index.json").read_text()
    FakePopen.started[-1].write("mysql-bin.000001", 300)

    def crash(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(arch.os, "replace", crash)
    state = arch.tick_and_publish(archiver)
    assert (env.tmp / "binlogs" / "index.json").read_text() == before
    assert [n for n in os.listdir(env.tmp / "binlogs") if n.endswith(".tmp")] == []
    assert state["error"].startswith("tick failed: OSError")
    assert events(env, "tick_failed") and events(env, "publish_failed")


def test_write_atomic_replaces_the_whole_file(tmp_path):
    path = tmp_path / "index.json"
    arch.write_atomic(str(path), "old\n")
    arch.write_atomic(str(path), "new\n", mode=0o600)
    assert path.read_text() == "new\n" and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert os.listdir(tmp_path) == ["index.json"]


def test_a_corrupt_index_stops_the_daemon(env):
    (env.tmp / "binlogs" / "index.json").write_text('{"segments": [{"id": "x"}]}')
    servers = arch.Servers(env.cfg, env.password)
    assert arch.run(env.cfg, servers, arch.Stream(env.cfg, env.password), max_ticks=1) == 1
    assert events(env, "fatal")[0]["error"].startswith("index.json: segment 0")
    assert (env.tmp / "binlogs" / "index.json").read_text() == '{"segments": [{"id": "x"}]}'


def test_run_is_bounded_and_cleans_up(env):
    servers = arch.Servers(env.cfg, env.password)
    stream = arch.Stream(env.cfg, env.password)
    assert arch.run(env.cfg, servers, stream, max_ticks=2) == 0
    assert FakePopen.started[0].signals == ["TERM"]
    assert stream.private_dir is None
    assert not [n for n in os.listdir(env.tmp) if n.startswith("ha-lamp-binlog-archive.")]
    assert [e["msg"] for e in env.journal()][-2:] == ["stopped", "stream_stopped"]


# --- --once and the command line ---------------------------------------------------------------------------

def write_config(env, **changes):
    raw = {"nodes": env.cfg["nodes"], "port": 3306, "user": "ha_lamp_backup", "password_file": env.cfg["password_file"],
           "tls_ca": "", "archive_dir": env.cfg["archive_dir"], "state_file": env.cfg["state_file"],
           "textfile": env.cfg["textfile"], "replica_server_id": 4001, "tick": 1.0, "connect_timeout": 2}
    raw.update(changes)
    path = env.tmp / "archive.json"
    path.write_text(json.dumps(raw))
    return str(path)


def test_once_prints_the_state_and_changes_nothing(env, capsys):
    path = write_config(env)
    assert arch.main(["--config", path, "--once"]) == 0
    state = json.loads(capsys.readouterr().out)
    assert state["source"] == "db1" and state["streaming"] is False and state["segment"] == ""
    assert FakePopen.started == []
    assert not os.path.exists(os.path.join(env.cfg["archive_dir"], "index.json"))
    assert not os.path.exists(env.cfg["state_file"])


@pytest.mark.parametrize("changes,line", [
    ({"port": "x"}, 'key "port": expected an integer 1..65535, got "x"'),
    ({"nodes": []}, 'key "nodes": expected a non-empty object {name: address}, got []'),
    ({"password_file": "/nonexistent/db.password"},
     'key "password_file": cannot read "/nonexistent/db.password": No such file or directory'),
    ({"replica_server_id": -1}, 'key "replica_server_id": expected an integer 1..4294967295, got -1'),
])
def test_a_bad_config_is_one_line_and_exit_2(env, capsys, changes, line):
    path = write_config(env, **changes)
    assert arch.main(["--config", path]) == 2
    err = capsys.readouterr().err
    assert err == "ha-lamp-binlog-archive: bad config %s: %s\n" % (path, line)


def test_a_config_that_is_not_json_is_one_line(env, capsys):
    path = env.tmp / "archive.json"
    path.write_text("{nodes: ")
    assert arch.main(["--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ha-lamp-binlog-archive: bad config %s: not valid JSON: " % path) and err.count("\n") == 1


def test_an_empty_password_file_is_refused(env, capsys):
    (env.tmp / "db.password").write_text("\n")
    assert arch.main(["--config", write_config(env)]) == 2
    assert 'must hold the password on one line' in capsys.readouterr().err


# --- a rebuilt or restored tier ------------------------------------------------------------------------

def archived_then_rebuilt(env):
    """db1 archived up to 0-1-100 (db2 replicated it), then both servers rebuilt empty, db1 writable again."""
    archiver = env.new_archiver()
    archiver.tick()
    FakePopen.started[-1].write("mysql-bin.000002", 500)
    env.db1.position = 500
    archiver.tick()
    env.db1.down = True
    FakePopen.started[-1].returncode = 1                    # the stream ends with its server
    archiver.tick()
    env.db1.down = False
    env.db1.pos = env.db1.state = env.db2.pos = env.db2.state = "0-1-30"
    env.db1.binlogs = {"mysql-bin.000001": ""}
    env.db1.position = 300
    env.clock.advance(5)                                    # past the restart backoff
    return archiver


def test_a_history_reset_under_a_running_stream_stops_it(env):
    archiver = env.new_archiver()
    archiver.tick()
    child = FakePopen.started[-1]
    env.db1.pos = env.db1.state = "0-1-30"                  # RESET MASTER, new writes; db2 held 0-1-100
    state = archiver.tick()
    assert child.signals == ["TERM"] and len(FakePopen.started) == 1 and state["refused"] is True


def test_a_rebuilt_tier_behind_the_archive_is_not_archived(env):
    archiver = archived_then_rebuilt(env)
    before = env.index()
    env.clock.advance(40)
    state = arch.tick_and_publish(archiver)
    assert len(FakePopen.started) == 1 and env.index() == before
    assert state["refused"] is True and not state["streaming"] and state["lag_seconds"] == 45.0
    assert state["error"].startswith("REFUSED: db1 at [0-1-30] is behind what the archive saw replicated "
                                     "(domain 0 at 30 where 100 was replicated)")
    assert state["caught_up_gtid"] == "0-1-100" and state["witnessed_gtid"] == "0-1-100"
    assert "ha_lamp_binlog_archive_history_refused 1" in (env.tmp / "metrics" / "binlog_archive.prom").read_text()
    refused = events(env, "history_refused")
    assert len(refused) == 1 and refused[0]["level"] == "error"
    arch.tick_and_publish(archiver)
    assert len(events(env, "history_refused")) == 1            # logged once while it lasts


def test_a_same_named_file_on_a_rebuilt_server_is_not_continued(env):
    archiver = archived_then_rebuilt(env)
    env.db1.binlogs = {"mysql-bin.000001": "", "mysql-bin.000002": "0-1-50"}   # the very names and states archived
    started = len(FakePopen.started)
    state = archiver.tick()
    assert state["refused"] is True and len(FakePopen.started) == started


def test_a_restored_tier_is_followed_once_the_restore_declares_it(env):
    archiver = archived_then_rebuilt(env)
    archiver.tick()
    # restore.yml: the tier restored to 0-1-80 (before a DROP at 0-1-81); its binlog starts at the backup's 0-1-40.
    env.db1.pos = env.db1.state = env.db2.pos = env.db2.state = "0-1-80"
    env.db1.binlogs = {"mysql-bin.000001": "0-1-40"}
    (env.tmp / "binlogs" / "accepted_history.json").write_text('{"gtid": "0-1-80", "by": "restore-x"}')
    state = archiver.tick()
    assert state["refused"] is False and state["streaming"] and state["witnessed_gtid"] == "0-1-80"
    assert FakePopen.started[-1].cmd[-1] == "mysql-bin.000001"
    assert [s["id"] for s in env.index()["segments"]][-1] == "000002-db1"
    assert not (env.tmp / "binlogs" / "accepted_history.json").exists()
    assert events(env, "history_accepted")[0]["source"] == "db1"


def test_an_acceptance_the_primary_has_not_reached_accepts_nothing(env):
    archiver = archived_then_rebuilt(env)
    (env.tmp / "binlogs" / "accepted_history.json").write_text('{"gtid": "0-1-80"}')
    state = archiver.tick()
    assert state["refused"] is True and (env.tmp / "binlogs" / "accepted_history.json").exists()


def test_the_witnessed_position_survives_a_daemon_restart(env):
    archiver = archived_then_rebuilt(env)
    arch.tick_and_publish(archiver)
    archiver.close(archiver.state(env.clock(), None))
    restarted = env.new_archiver()
    assert restarted.witnessed == "0-1-100"
    assert restarted.tick()["refused"] is True


def test_a_replica_read_after_the_primary_may_be_ahead_of_it_in_the_same_tick(env):
    archiver = env.new_archiver()
    archiver.tick()
    child = FakePopen.started[-1]
    env.db1.pos, env.db2.pos = "0-1-165", "0-1-166"          # db2 read a moment after db1, one commit later
    state = archiver.tick()
    assert state["refused"] is False and child.signals == []
    env.db1.pos = "0-1-170"
    assert archiver.tick()["refused"] is False and child.signals == []
