# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests for the database node's backup agent (roles/backup/files/ha_lamp_backup_agent.py): the
closed list of commands (parse_request), the arming check of the commands that write (require_armed),
the LSN/GTID read from mariabackup's lsndir (read_lsndir) and main()'s exit code and stderr line.
No MariaDB, no mariabackup, no SSH: the functions that would reach them are replaced.

Run: .venv/bin/python -m pytest tests/unit/roles/test_backup_agent.py -q
"""

import importlib.util
import os
import signal
import sys

import pymysql
import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
os.environ.setdefault("HA_LAMP_LIB", os.path.join(ROOT, ".collections"))
sys.path.insert(0, os.path.join(ROOT, ".collections"))

_SPEC = importlib.util.spec_from_file_location(
    "ha_lamp_backup_agent", os.path.join(ROOT, "roles", "backup", "files", "ha_lamp_backup_agent.py"))
agent = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(agent)

# What the command sudo runs (ha-lamp-backup-agent) starts: the program name in its messages.
AGENT_PATH = "/usr/local/lib/ha-lamp/ha_lamp_backup_agent.py"
BACKUP_ID = "20261203T033051Z-full-db2"


@pytest.fixture(autouse=True)
def agent_argv0(monkeypatch):
    """parse_request names sys.argv[0] in its refusal; under pytest that would be pytest's path."""
    monkeypatch.setattr(sys, "argv", [AGENT_PATH])


@pytest.fixture
def keep_signal_handlers():
    """main() installs SIGHUP/SIGTERM handlers: give pytest its own back afterwards."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGHUP, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def unknown(text):
    return "unknown command %r (see %s's docstring for the commands served)" % (text, AGENT_PATH)


# --- parse_request: the closed list ---------------------------------------------------------------

@pytest.mark.parametrize("text,words", [
    ("stream full %s" % BACKUP_ID, ["stream", "full", BACKUP_ID]),
    ("stream incremental 20261203T041500Z-incremental-db2 44760",
     ["stream", "incremental", "20261203T041500Z-incremental-db2", "44760"]),
    ("stream incremental X 0", ["stream", "incremental", "X", "0"]),
    ("resume", ["resume"]),
    ("size", ["size"]),
    ("receive restore-20261203T0400 0", ["receive", "restore-20261203T0400", "0"]),
    ("receive restore-20261203T0400 12", ["receive", "restore-20261203T0400", "12"]),
    ("replay restore-20261203T0400", ["replay", "restore-20261203T0400"]),
    ("import restore-20261203T0400 ha_lamp_app_before_drop",
     ["import", "restore-20261203T0400", "ha_lamp_app_before_drop"]),
    # shell-style quoting and spacing are parsed, not rejected
    ("  size  ", ["size"]),
    ("'stream' full %s" % BACKUP_ID, ["stream", "full", BACKUP_ID]),
    # the longest id and schema names allowed: 80 and 64 characters
    ("replay " + "r" * 80, ["replay", "r" * 80]),
    ("import R " + "s" * 64, ["import", "R", "s" * 64]),
])
def test_parse_request_accepts_every_command_shape(text, words):
    assert agent.parse_request(text) == words


@pytest.mark.parametrize("text", [
    "",                                      # ssh without a command (SSH_ORIGINAL_COMMAND unset)
    "stream",
    "stream full",                           # no id
    "stream full X extra",
    "stream incremental X",                  # no LSN
    "stream incremental X 1 2",
    "stream differential X",
    "resume now",
    "size /var/lib/mysql",
    "receive R",                             # no step
    "receive R 1 2",
    "replay",
    "replay R extra",
    "import R",                              # no schema
    "import R s extra",
    "SIZE",                                  # commands are case-sensitive
    "size; id",                              # no shell: one unknown word
    "sh -c id",
    "rm -rf /",
    "mariabackup --backup",
])
def test_parse_request_refuses_unknown_shapes(text):
    with pytest.raises(agent.Refused) as info:
        agent.parse_request(text)
    assert str(info.value) == unknown(text)


def test_parse_request_refuses_none_like_an_empty_command():
    with pytest.raises(agent.Refused) as info:
        agent.parse_request(None)
    assert str(info.value) == unknown(None)


@pytest.mark.parametrize("text,message", [
    ("stream full 'unterminated", "cannot parse the command: No closing quotation"),
    ("replay \"R", "cannot parse the command: No closing quotation"),
    ("stream full ../../etc/shadow", "bad argument '../../etc/shadow'"),
    ("stream full -rf", "bad argument '-rf'"),                  # no option injection
    ("stream full .hidden", "bad argument '.hidden'"),
    ("stream full _x", "bad argument '_x'"),                    # first character alphanumeric
    ("stream full a/b", "bad argument 'a/b'"),
    ("stream full " + "a" * 81, "bad argument '%s'" % ("a" * 81)),
    ("replay 'a b'", "bad argument 'a b'"),
    ("replay 'R;id'", "bad argument 'R;id'"),
    ("receive R '1$(id)'", "bad argument '1$(id)'"),
    ("stream incremental X -5", "bad argument '-5'"),
    ("stream incremental X ２", "bad argument '２'"),          # a non-ASCII digit fails the id check first
    ("stream incremental X 12ab", "the LSN must be a number, got '12ab'"),
    ("stream incremental X 1.5", "the LSN must be a number, got '1.5'"),
    ("receive R x1", "the step must be a number, got 'x1'"),
    ("receive R '1\n'", "bad argument '1\\n'"),
    ("import R ha-lamp", "bad schema name 'ha-lamp'"),
    ("import R a.b", "bad schema name 'a.b'"),
    ("import R " + "s" * 65, "bad schema name '%s'" % ("s" * 65)),
    ("import ../R app", "bad argument '../R'"),
])
def test_parse_request_refuses_bad_arguments(text, message):
    with pytest.raises(agent.Refused) as info:
        agent.parse_request(text)
    assert str(info.value) == message


@pytest.mark.parametrize("text,message", [
    ("stream full 'X\n'", "bad argument 'X\\n'"),
    ("receive 'R\n' 1", "bad argument 'R\\n'"),
    ("import R 'app\n'", "bad argument 'app\\n'"),
])
def test_parse_request_refuses_a_trailing_newline(text, message):
    with pytest.raises(agent.Refused) as info:
        agent.parse_request(text)
    assert str(info.value) == message


# --- require_armed ---------------------------------------------------------------------------------

@pytest.fixture
def arm_dir(tmp_path, monkeypatch):
    path = tmp_path / "armed"
    path.mkdir(mode=0o700)
    monkeypatch.setattr(agent, "ARM_DIR", str(path))
    return path


def test_require_armed_passes_when_the_restore_is_armed(arm_dir):
    (arm_dir / "restore-1").write_text("")
    assert agent.require_armed("restore-1") is None


@pytest.mark.parametrize("setup", ["nothing", "other restore", "directory"])
def test_require_armed_refuses_otherwise(arm_dir, setup):
    if setup == "other restore":
        (arm_dir / "restore-2").write_text("")
    elif setup == "directory":
        (arm_dir / "restore-1").mkdir()          # only a file arms
    with pytest.raises(agent.Refused) as info:
        agent.require_armed("restore-1")
    assert str(info.value) == "no restore restore-1 is armed on this node (playbooks/restore.yml arms it)"


def test_require_armed_refuses_when_the_arm_directory_is_missing(tmp_path, monkeypatch):
    monkeypatch.setattr(agent, "ARM_DIR", str(tmp_path / "never-created"))
    with pytest.raises(agent.Refused, match="no restore restore-1 is armed"):
        agent.require_armed("restore-1")


@pytest.mark.parametrize("call", [
    lambda: agent.receive("restore-1", "0"),
    lambda: agent.replay("restore-1"),
    lambda: agent.import_schema("restore-1", "app_copy"),
])
def test_writing_commands_check_the_arm_before_touching_anything(arm_dir, monkeypatch, call):
    def forbidden(*_args, **_kwargs):
        raise AssertionError("ran although the restore is not armed")
    monkeypatch.setattr(agent.subprocess, "run", forbidden)
    monkeypatch.setattr(agent, "connect", forbidden)
    monkeypatch.setattr(agent.os, "makedirs", forbidden)
    with pytest.raises(agent.Refused, match="no restore restore-1 is armed"):
        call()


# --- read_lsndir -----------------------------------------------------------------------------------

CHECKPOINTS_FULL = """backup_type = full-backuped
from_lsn = 0
to_lsn = 44760
last_lsn = 44760
recover_binlog_info = 0
"""

CHECKPOINTS_INCREMENTAL = """backup_type = incremental
from_lsn = 44760
to_lsn = 1677553
last_lsn = 1677562
recover_binlog_info = 0
"""

# mariabackup 10.11's xtrabackup_info as the lab's nodes have it, binlog_pos line parametrised.
INFO = """uuid = f10a913a-eec9-11f1-be79-7a364b17250a
name = {blank}
tool_name = mariabackup
tool_command = --backup --user=root --socket=/run/mysqld/mysqld.sock --stream=mbstream \
--target-dir=/var/lib/ha-lamp-backup-agent/stream-{id} --extra-lsndir=/var/lib/ha-lamp-backup-agent/stream-{id}
tool_version = 10.11.18-MariaDB
ibbackup_version = 10.11.18-MariaDB
server_version = 10.11.18-MariaDB-0+deb12u1-log
start_time = 2026-12-03 03:30:51
end_time = 2026-12-03 03:30:52
lock_time = 0
{binlog_pos}innodb_from_lsn = {from_lsn}
innodb_to_lsn = {to_lsn}
partial = N
incremental = {incremental}
format = mbstream
compressed = N
"""


def binlog_pos_line(gtid, name="mariadb-bin.000003", position=1234):
    return "binlog_pos = filename '%s', position '%d', GTID of the last change '%s'\n" % (name, position, gtid)


def write_lsndir(directory, checkpoints, binlog_pos=None, from_lsn=0, to_lsn=44760, incremental="N",
                 names=("xtrabackup_checkpoints", "xtrabackup_info")):
    directory.mkdir(exist_ok=True)
    (directory / names[0]).write_text(checkpoints, encoding="utf-8")
    if binlog_pos is not None:
        (directory / names[1]).write_text(
            INFO.format(blank="", id=BACKUP_ID, binlog_pos=binlog_pos, from_lsn=from_lsn, to_lsn=to_lsn,
                        incremental=incremental), encoding="utf-8")
    return str(directory)


def test_read_lsndir_full_backup(tmp_path):
    lsndir = write_lsndir(tmp_path / "full", CHECKPOINTS_FULL, binlog_pos_line("0-2-63"))
    assert agent.read_lsndir(lsndir) == {"backup_type": "full-backuped", "from_lsn": "0", "to_lsn": "44760",
                                         "binlog_gtid": "0-2-63"}


def test_read_lsndir_incremental_backup(tmp_path):
    lsndir = write_lsndir(tmp_path / "inc", CHECKPOINTS_INCREMENTAL,
                          binlog_pos_line("0-2-97", "mariadb-bin.000004", 88211),
                          from_lsn=44760, to_lsn=1677553, incremental="Y")
    assert agent.read_lsndir(lsndir) == {"backup_type": "incremental", "from_lsn": "44760", "to_lsn": "1677553",
                                         "binlog_gtid": "0-2-97"}


def test_read_lsndir_keeps_every_gtid_domain(tmp_path):
    lsndir = write_lsndir(tmp_path / "d", CHECKPOINTS_FULL, binlog_pos_line("0-2-63,1-3-7"))
    assert agent.read_lsndir(lsndir)["binlog_gtid"] == "0-2-63,1-3-7"


def test_read_lsndir_empty_gtid_of_a_server_that_never_logged(tmp_path):
    lsndir = write_lsndir(tmp_path / "d", CHECKPOINTS_FULL, binlog_pos_line(""))
    assert agent.read_lsndir(lsndir)["binlog_gtid"] == ""


def test_read_lsndir_without_binlog_pos_line(tmp_path):
    """binlog off on the node: xtrabackup_info has no binlog_pos, the caller falls back to gtid_at_start."""
    lsndir = write_lsndir(tmp_path / "d", CHECKPOINTS_FULL, binlog_pos="")
    assert agent.read_lsndir(lsndir) == {"backup_type": "full-backuped", "from_lsn": "0", "to_lsn": "44760",
                                         "binlog_gtid": ""}


def test_read_lsndir_without_info_file(tmp_path):
    lsndir = write_lsndir(tmp_path / "d", CHECKPOINTS_FULL)
    assert agent.read_lsndir(lsndir)["binlog_gtid"] == ""
    assert agent.read_lsndir(lsndir)["to_lsn"] == "44760"


def test_read_lsndir_without_checkpoints_raises_oserror(tmp_path):
    """main() turns an OSError into exit 2 with its message."""
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError):
        agent.read_lsndir(str(tmp_path / "empty"))


def test_read_lsndir_reads_the_mariadb_11_file_names(tmp_path):
    lsndir = write_lsndir(tmp_path / "d11", CHECKPOINTS_FULL, binlog_pos_line("0-2-63"),
                          names=("mariadb_backup_checkpoints", "mariadb_backup_info"))
    assert agent.read_lsndir(lsndir) == {"backup_type": "full-backuped", "from_lsn": "0", "to_lsn": "44760",
                                         "binlog_gtid": "0-2-63"}


# --- main ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("argv,text", [
    ([AGENT_PATH, "drop database ha_lamp_app"], "drop database ha_lamp_app"),
    ([AGENT_PATH, ""], ""),
    ([AGENT_PATH], ""),                      # no argument at all
])
def test_main_refused_command_exits_2_with_one_stderr_line(argv, text, capsys, keep_signal_handlers):
    assert agent.main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == "ha-lamp-backup-agent: %s\n" % unknown(text)


def test_main_bad_argument_line(capsys, keep_signal_handlers):
    assert agent.main([AGENT_PATH, "stream full ../x"]) == 2
    assert capsys.readouterr().err == "ha-lamp-backup-agent: bad argument '../x'\n"


def test_main_unarmed_restore_exits_2_without_running_anything(arm_dir, monkeypatch, capsys, keep_signal_handlers):
    monkeypatch.setattr(agent.subprocess, "run", lambda *a, **k: pytest.fail("mariadb was started"))
    assert agent.main([AGENT_PATH, "replay restore-1"]) == 2
    assert capsys.readouterr().err == ("ha-lamp-backup-agent: no restore restore-1 is armed on this node "
                                       "(playbooks/restore.yml arms it)\n")


def test_main_database_error_exits_2(monkeypatch, capsys, keep_signal_handlers):
    def down():
        raise pymysql.err.OperationalError(2002, "Can't connect to local server through socket")
    monkeypatch.setattr(agent, "datadir_size", down)
    assert agent.main([AGENT_PATH, "size"]) == 2
    assert capsys.readouterr().err == ("ha-lamp-backup-agent: (2002, \"Can't connect to local server "
                                       "through socket\")\n")


def test_main_size_prints_bytes_and_exits_0(monkeypatch, capsys, keep_signal_handlers):
    monkeypatch.setattr(agent, "datadir_size", lambda: 1073741824)
    assert agent.main([AGENT_PATH, "size"]) == 0
    assert capsys.readouterr() == ("1073741824\n", "")


def test_main_resume_without_pause_mark_connects_to_nothing(tmp_path, monkeypatch, keep_signal_handlers):
    """resume restarts the SQL thread only when this agent stopped it (the mark exists)."""
    monkeypatch.setattr(agent, "PAUSE_MARK", str(tmp_path / "sql-thread-paused"))
    monkeypatch.setattr(agent, "connect", lambda: pytest.fail("connected although nothing was paused"))
    assert agent.main([AGENT_PATH, "resume"]) == 0


def test_main_installs_handlers_that_unwind(keep_signal_handlers, capsys):
    """SIGHUP (dropped SSH connection) and SIGTERM exit through the finally blocks: SystemExit(128+n)."""
    agent.main([AGENT_PATH, "nothing"])
    capsys.readouterr()
    for sig in (signal.SIGHUP, signal.SIGTERM):
        handler = signal.getsignal(sig)
        with pytest.raises(SystemExit) as info:
            handler(sig, None)
        assert info.value.code == 128 + sig
