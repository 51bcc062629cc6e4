"""Pure parts of benchmarks/bench_backup.py and tools/make_dataset.py: log and output parsers, percentile
tables, the dataset's sizing arithmetic, and the paced writer's bounds (against a fake connection). No lab.

    .venv/bin/python -m pytest -q tests/unit/test_bench_backup.py

The samples are the lab's real outputs (restic 0.14.0 stats --json, the archiver's state file, `mariadb -N -B`,
find -printf, ansible.posix.profile_tasks' recap), trimmed; ha-lamp-backup's log lines are built the way its
log() writes them (json.dumps with sort_keys, one object per line).
"""

import importlib.util
import json
import math
import os
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCHMARKS = os.path.join(ROOT, "benchmarks")
TOOLS = os.path.join(ROOT, "tools")
for path in (BENCHMARKS, TOOLS):
    if path not in sys.path:
        sys.path.insert(0, path)  # the scripts import labkit and make_dataset by name, as when run


def load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


dataset = load("make_dataset", os.path.join(TOOLS, "make_dataset.py"))
bench = load("bench_backup", os.path.join(BENCHMARKS, "bench_backup.py"))


def log_line(msg, **fields):
    """A line as ha_lamp_backup.py's log() prints it."""
    return json.dumps(dict(fields, msg=msg, at=1796268605.123), sort_keys=True)


TAKE_FULL = "\n".join([
    log_line("backup started", id="20261203T033005Z-full-db2", kind="full", source="db2",
             reason="replica db2 (healthy, 0s behind)"),
    log_line("backup done", id="20261203T033005Z-full-db2", bytes=1288490188, added=104857600, seconds=25.5,
             gtid="0-1-4711"),
]) + "\n"

RESTIC_RAW = '{"total_size":6007852,"total_file_count":0,"total_blob_count":115,"snapshots_count":9}\n'
RESTIC_RESTORE = '{"total_size":119031089,"total_file_count":9,"snapshots_count":9}\n'
ARCHIVE_STATE = ('{"caught_up_at": 1796269324.433, "caught_up_gtid": "0-2-949", "caught_up_state": "0-1-899,0-2-949", '
                 '"error": "", "gap": false, "lag_seconds": 0.0, "primary_gtid": "0-2-949", "segment": "000004-db2", '
                 '"source": "db2", "streaming": true, "updated_at": 1796269324.434}\n')
PROFILE_TASKS = """
PLAY RECAP *********************************************************************
backup1                    : ok=31   changed=12   unreachable=0    failed=0    skipped=3    rescued=0    ignored=0

TASKS RECAP ********************************************************************
Thursday 03 December 2026  03:42:29 +0000 (0:00:00.509)       0:00:04.382 *****
===============================================================================
Send the backups to every node ------------------------------------------ 41.87s
Replay the archived binlogs up to the target ---------------------------- 1.98s
Wait until the old leader lease has expired ----------------------------- 0.00s
A very long task name that goes well past the seventy columns of the recap line of profile_tasks --- 0.51s
Disarm the database nodes' agents - with a dash ------------------------ 123.45s
"""


# -- make_dataset: sizing ------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("1GiB", 1 << 30), ("1G", 1 << 30), ("512MiB", 512 << 20), ("512m", 512 << 20), ("2GB", 2 * 10 ** 9),
    ("1073741824", 1 << 30), ("1.5GiB", 3 << 29), (" 10 KiB ", 10240), ("100MB", 10 ** 8),
])
def test_parse_size(text, expected):
    assert dataset.parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "GiB", "1TiB", "-1G", "1 G B", "abc"])
def test_parse_size_refuses_what_it_cannot_read(text):
    with pytest.raises(ValueError):
        dataset.parse_size(text)


def test_rows_per_table_reaches_the_target():
    rows = dataset.rows_per_table(1 << 30, 8)
    assert rows == math.ceil((1 << 30) / (8 * 230)) == 583556
    assert rows * 8 * 230 >= 1 << 30 > (rows - 1) * 8 * 230


def test_rows_per_table_other_rules():
    assert dataset.rows_per_table(1000, 1, bytes_per_row=100) == 10
    assert dataset.rows_per_table(1001, 1, bytes_per_row=100) == 11
    assert dataset.rows_per_table(1, 4) == 1
    for bad in ((0, 8), (1 << 30, 0)):
        with pytest.raises(ValueError):
            dataset.rows_per_table(*bad)


def test_table_names_and_numbers():
    assert dataset.table_names(3) == ["sbtest1", "sbtest2", "sbtest3"]
    assert [dataset.table_number(n) for n in ("sbtest1", "sbtest12", "sbtest", "sbtest01", "sbtest_x", "t1")] == \
        [1, 12, None, None, None, None]


def test_dataset_state():
    assert dataset.dataset_state({}, 2, 10)[0] == "absent"
    assert dataset.dataset_state({"sbtest1": 10, "sbtest2": 10}, 2, 10) == ("present", "2 tables of 10 rows")
    state, why = dataset.dataset_state({"sbtest1": 10}, 2, 10)
    assert state == "mismatch" and "sbtest1..sbtest2" in why
    state, why = dataset.dataset_state({"sbtest1": 10, "sbtest2": 7}, 2, 10)
    assert state == "mismatch" and "sbtest2 7" in why
    state, _why = dataset.dataset_state({"sbtest1": 10, "sbtest2": 10, "sbtest3": 10}, 2, 10)
    assert state == "mismatch"


def test_parse_rows_and_count_sql():
    # `mariadb -N -B` as the lab prints it.
    assert dataset.parse_rows("visits\t4\nt1\t3\n\nbroken line\n") == {"visits": 4, "t1": 3}
    assert dataset.parse_rows("sbtest1\t16384\nsbtest2\tNULL\n") == {"sbtest1": 16384}
    assert dataset.count_sql(["sbtest1", "sbtest2"]) == (
        "SELECT 'sbtest1', COUNT(*) FROM `ha_lamp_app`.`sbtest1`;\n"
        "SELECT 'sbtest2', COUNT(*) FROM `ha_lamp_app`.`sbtest2`;\n")


def test_parse_file_sizes():
    out = "147456 backup_proof.ibd\n81920 php_sessions.ibd\n65536 t1.ibd\n\n"
    assert dataset.parse_file_sizes(out) == {"backup_proof.ibd": 147456, "php_sessions.ibd": 81920, "t1.ibd": 65536}


def test_human_bytes():
    assert dataset.human_bytes(None) == "-"
    assert dataset.human_bytes(512) == "512 B"
    assert dataset.human_bytes(1536) == "1.50 KiB"
    assert dataset.human_bytes(1 << 30) == "1.00 GiB"


def test_sysbench_argv_reads_the_options_file_and_targets_the_vip():
    argv = dataset.sysbench_argv("oltp_common", "prepare", "10.213.77.101", 8, 583550, 4)
    assert argv[:3] == ["sysbench", "oltp_common", "--config-file=options"]
    assert "--mysql-host=10.213.77.101" in argv and "--mysql-port=3306" in argv
    assert "--tables=8" in argv and "--table_size=583550" in argv and "--threads=4" in argv
    assert argv[-1] == "prepare"
    assert not any("password" in word for word in argv)
    cleanup = dataset.sysbench_argv("oltp_common", "cleanup", "vip", 3)
    assert not any(word.startswith("--table_size") for word in cleanup)


# -- bench_backup: sections and backup logs ------------------------------------------------------------------

def test_parse_sections():
    assert bench.parse_sections("lag,backup", False) == ["backup", "lag"]
    assert bench.parse_sections("backup", True) == ["backup", "restore"]
    assert bench.parse_sections("restore", True) == ["restore"]
    for text, restore in (("restore", False), ("nope", False), ("", False)):
        with pytest.raises(ValueError):
            bench.parse_sections(text, restore)


def test_parse_backup_log():
    result = bench.parse_backup_log("some warning\n" + TAKE_FULL)
    assert result == {"id": "20261203T033005Z-full-db2", "kind": "full", "source": "db2",
                      "reason": "replica db2 (healthy, 0s behind)", "bytes": 1288490188, "added": 104857600,
                      "seconds": 25.5, "gtid": "0-1-4711"}


def test_parse_backup_log_without_done_or_numbers():
    with pytest.raises(ValueError):
        bench.parse_backup_log(log_line("backup started", id="x", kind="full", source="db2", reason="r"))
    with pytest.raises(ValueError):
        bench.parse_backup_log(log_line("backup done", id="x", bytes=None, added=None, seconds=1.0, gtid=""))
    # restic may not report data_added: the run still counts, without a dedup figure.
    assert bench.parse_backup_log(log_line("backup done", id="x", bytes=10, added=None, seconds=1.0))["added"] is None


def test_backup_result_raises_with_the_commands_message():
    with pytest.raises(RuntimeError, match="lock"):
        bench.backup_result(2, "", "REFUSED: restore r1 holds the backup lock since ...\n", 0.5)
    assert bench.backup_result(0, TAKE_FULL, "", 30.0)["wall_seconds"] == 30.0


def test_throughput_and_dedup_figures():
    assert bench.mb_per_s(100e6, 4.0) == 25.0
    assert bench.mb_per_s(100e6, 0) is None and bench.mb_per_s(None, 1.0) is None
    runs = [{"bytes": 1000e6, "seconds": 10.0, "added": 900e6},
            {"bytes": 1000e6, "seconds": 20.0, "added": 50e6},
            {"bytes": 1000e6, "seconds": 40.0, "added": 30e6}]
    figures = bench.backup_figures(runs)
    assert figures["mb_s"] == 50.0 and figures["seconds"] == 20.0 and figures["runs"] == 3
    assert figures["first_added"] == 900e6 and figures["later_added"] == 40e6
    assert bench.backup_figures(runs[:1])["later_added"] is None
    assert bench.backup_figures([])["mb_s"] is None


def test_restic_stats_and_du():
    assert bench.parse_restic_stats("scanning...\n" + RESTIC_RAW)["total_size"] == 6007852
    assert bench.parse_restic_stats(RESTIC_RESTORE)["snapshots_count"] == 9
    with pytest.raises(ValueError):
        bench.parse_restic_stats("Fatal: wrong password\n")
    assert bench.parse_du_bytes("7108714\t/var/lib/ha-lamp-backup/repo\n") == 7108714
    with pytest.raises(ValueError):
        bench.parse_du_bytes("du: cannot access\n")
    assert bench.sum_sizes("17126\n292772\n111832\n") == 421730


# -- bench_backup: latency and lag tables --------------------------------------------------------------------

def test_latency_figures_nearest_rank():
    values = [float(v) for v in range(1, 101)]  # 1..100 ms
    figures = bench.latency_figures(values, errors=2)
    assert figures == {"n": 100, "errors": 2, "p50": 50.0, "p99": 99.0, "max": 100.0}
    assert bench.latency_figures([]) == {"n": 0, "errors": 0, "p50": None, "p99": None, "max": None}
    assert bench.latency_figures([7.0])["p99"] == 7.0


def test_median_phase():
    phases = [{"n": 10, "errors": 0, "p50": 1.0, "p99": 5.0, "max": 6.0},
              {"n": 10, "errors": 1, "p50": 3.0, "p99": 9.0, "max": 12.0},
              {"n": 0, "errors": 4, "p50": None, "p99": None, "max": None}]
    assert bench.median_phase(phases) == {"runs": 3, "n": 20, "errors": 5, "p50": 2.0, "p99": 7.0, "max": 12.0}


def test_archive_state_and_lag_at():
    state = bench.parse_archive_state(ARCHIVE_STATE)
    assert state["lag_seconds"] == 0.0 and state["streaming"] is True
    assert bench.lag_at(state, 1796269325.433) == pytest.approx(1.0)
    assert bench.lag_at(state, 1796269300.0) == 0.0  # a reading older than the catch-up: no negative lag
    assert bench.lag_at({"caught_up_at": 0}, time.time()) is None
    for bad in ('{"source": "db1"}', "[]"):
        with pytest.raises(ValueError):
            bench.parse_archive_state(bad)


# -- bench_backup: restore figures ---------------------------------------------------------------------------

def test_parse_profile_tasks():
    tasks = bench.parse_profile_tasks(PROFILE_TASKS)
    assert tasks == {
        "Send the backups to every node": 41.87,
        "Replay the archived binlogs up to the target": 1.98,
        "Wait until the old leader lease has expired": 0.0,
        "A very long task name that goes well past the seventy columns of the recap line of profile_tasks": 0.51,
        "Disarm the database nodes' agents - with a dash": 123.45,
    }
    assert bench.parse_profile_tasks("PLAY RECAP\nlocalhost : ok=1\n") == {}


def test_parse_profile_tasks_sums_a_repeated_name():
    text = "TASKS RECAP ****\n=====\nStop MariaDB ------ 1.00s\nStop MariaDB ------ 2.50s\n"
    assert bench.parse_profile_tasks(text) == {"Stop MariaDB": 3.5}


def test_per_gb_and_replay_rate():
    assert bench.per_gb(120.0, 2e9) == 60.0
    assert bench.per_gb(None, 1e9) is None and bench.per_gb(10.0, 0) is None
    # 30 MB replayed on every node at once in a 3 s task: 10 MB/s per node.
    assert bench.replay_rate(30e6, 3.0) == pytest.approx(10.0)
    assert bench.replay_rate(30e6, None) is None and bench.replay_rate(None, 3.0) is None
    assert bench.mb(None) is None and bench.mb(2.5e6) == 2.5


# -- bench_backup: the paced writer is bounded (fake connection, no database) -------------------------------

class FakeCursor:
    def __init__(self, conn):
        self.conn = conn

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def execute(self, sql, args=None):
        self.conn.executed.append(args)
        if self.conn.fail_on and len(self.conn.executed) in self.conn.fail_on:
            raise ConnectionError("lost connection")


class FakeConnection:
    def __init__(self, fail_on=()):
        self.executed, self.fail_on, self.closed = [], set(fail_on), 0

    def cursor(self):
        return FakeCursor(self)

    def close(self):
        self.closed += 1


def test_paced_writer_stops_at_its_count_and_time():
    conn = FakeConnection()
    connects = []
    writer = bench.PacedWriter(lambda: connects.append(1) or conn, rate=200, seconds=0.2, run_id="r")
    started = time.monotonic()
    writer.start()
    writer.join(5)
    assert not writer.is_alive() and time.monotonic() - started < 2
    assert 1 <= len(conn.executed) <= writer.max_writes == 41
    assert [seq for _run, seq in conn.executed] == list(range(1, len(conn.executed) + 1))
    assert len(connects) == 1 and conn.closed == 1 and not writer.errors
    assert writer.figures()["n"] == len(conn.executed)


def test_paced_writer_reconnects_after_a_failure_and_counts_it():
    conn = FakeConnection(fail_on={2})
    connects = []
    writer = bench.PacedWriter(lambda: connects.append(1) or conn, rate=20, seconds=0.5, run_id="r")
    writer.run()  # in this thread: deterministic
    assert len(writer.errors) == 1 and writer.errors[0].startswith("ConnectionError")
    assert len(connects) == 2  # the failed write dropped the connection; the next one reconnected
    assert writer.figures()["n"] == len(conn.executed) - 1


def test_paced_writer_stop_ends_it_early():
    writer = bench.PacedWriter(FakeConnection, rate=1, seconds=60, run_id="r")
    writer.start()
    time.sleep(0.1)
    writer.stop()
    writer.join(2)
    assert not writer.is_alive() and writer.active_seconds < 2
