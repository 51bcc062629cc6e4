#!/usr/bin/env python
"""The backup tier's figures on a running lab (issue 14, "Figures"): backup throughput and size, the primary's
write latency with and without a backup running, archive lag under the drill write load, and (opt-in) restore
time per GB and the PITR binlog replay rate. Medians over --runs; figures are printed, never asserted.

  python benchmarks/bench_backup.py [--runs 3] [--seconds 30] [--rate 50] [--lag-rate 20]
                                    [--dataset-size 1GiB] [--only backup,latency,lag] [--restore]
                                    [--inventory inventories/lab] [--small]

Run it as root on the lab host (the controller) with the venv's Python (PyMySQL), after `./labctl up` with a
`backup` host; it needs sysbench. It refuses an inventory without `ha_lamp_lab: true`, reads every address and
password from the inventory, and every load and loop is bounded in count and time.

dataset   Not with --small (nor for --only lag): tools/make_dataset.py's dataset is made first when absent
          (--dataset-size, default 1 GiB of InnoDB data in the application schema's sbtest*; idempotent: a dataset already
          there is kept). Its size is printed in any case.
backup    `ha-lamp-backup take full` on the backup host (podman exec), --runs times in a row. From each run's
          JSON log line "backup done": bytes (the mbstream read from the source), added (new data after
          deduplication, before compression: restic's data_added) and seconds (the stream, from the first byte
          to restic's snapshot) -> MB/s (1 MB = 10^6 bytes), median. "added" of the first run and the median of the
          later ones show deduplication (the first is not a first-ever backup when the repository already held
          backups: the count is printed). Then the repository: `restic stats --mode raw-data` (what is stored,
          after deduplication and compression), `--mode restore-size` (what the snapshots hold) and `du -sb`.
          The timers run the same command under Nice=10 and IOSchedulingClass=idle; this measures it un-niced,
          as playbooks/backup.yml runs it.
latency   A paced writer (PyMySQL, the application account through the writer VIP, one INSERT per
          autocommit into the application schema's drill_writes, the drill probe's table, created if missing) at --rate
          writes/s for --seconds with no backup, then while a `take full` streams (from its "backup started"
          line until --seconds pass or the backup ends); p50/p99/max of each, median over --runs.
lag       The writer at --lag-rate writes/s (the drill load) for --seconds while the backup host's
          /var/lib/ha-lamp-backup/binlog-archive.json is read every 0.5 s: median/p90/max of its lag_seconds
          (as the archiver published it, the exported metric) and of now - caught_up_at (the lag at the moment
          of reading: includes up to one archiver tick). Target: median <= 5 s.
restore   Only with --restore: REWRITES THE WHOLE DATABASE TIER. A fresh `take full` (the restore's base), then
          sysbench oltp_write_only on the sbtest tables for --replay-load-seconds (binlog to replay), then
          `ansible-playbook -i inventories/lab playbooks/restore.yml -e ha_lamp_restore_confirm=<cluster>`
          (whole tier, latest) with the profile_tasks callback (log in drill-reports/bench-backup-<time>/).
          Restore time per GB = the playbook's wall time / the user data's GB (information_schema data + index
          of every non-system schema). Replay rate = the archived binlog bytes written after the base backup
          (growth of the archive's files between the backup and the restore, caught up both times) / the
          seconds of the task "Replay the archived binlogs up to the target" (one mariadb-binlog on the backup
          host feeding every node at once over SSH): MB/s per node, each node replaying the same range.

--small is the CI-sized run: 1 backup run, 10 s phases, no dataset generation, 5 s of replay load.

The writer's rows (run ids bench-backup-<token>-...) are deleted at the end, also when a section fails.
Do not run it during failure drills or while another backup or restore runs: `take full` refuses while the
backup lock is held, and this benchmark reports that refusal as an error.
"""
import argparse
import contextlib
import dataclasses
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import threading
import time

TOOLS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools")
if TOOLS not in sys.path:
    sys.path.insert(0, TOOLS)

import labkit  # noqa: E402  benchmarks/labkit.py: inventory, podman and figures shared by the benchmarks
import make_dataset  # noqa: E402  tools/make_dataset.py: the dataset, the primary, sysbench through the VIP
from labkit import REPO, fmt, podman  # noqa: E402

SECTIONS = ("backup", "latency", "lag", "restore")
DEFAULT_SECTIONS = ("backup", "latency", "lag")
# The backup host's layout: roles/backup/vars/main.yml.
BACKUP_CLI = "/usr/local/sbin/ha-lamp-backup"
STATE_DIR = "/var/lib/ha-lamp-backup"
REPOSITORY = STATE_DIR + "/repo"
RESTIC_CACHE = STATE_DIR + "/cache"
PASSWORD_FILE = "/etc/ha-lamp-backup/repository.password"
ARCHIVE_DIR = STATE_DIR + "/binlogs"
ARCHIVE_STATE = STATE_DIR + "/binlog-archive.json"
BACKUP_TAG = "ha-lamp-backup"               # the backups' snapshots (the manifests are tagged ha-lamp-manifest)
REPLAY_TASK = "Replay the archived binlogs up to the target"   # playbooks/tasks/restore_tier.yml
RESTORE_TASKS = ("Send the backups to every node", "Prepare the full backup, then apply each incremental",
                 "Move the prepared files into an empty datadir", REPLAY_TASK, "Wait for a primary to hold the lease")
# The drill probe's table and account (plugins/module_utils/drill_probe.py; roles/mysql: mysql_app_drill_table).
APP_USER = labkit.CONTRACT["ha_lamp_db_app_user"]
APP_SCHEMA = labkit.CONTRACT["ha_lamp_db_app_database"]
DRILL_TABLE = "drill_writes"
CREATE_DRILL_TABLE = (f"CREATE TABLE IF NOT EXISTS `{DRILL_TABLE}` (run_id VARCHAR(64) NOT NULL, "
                      "seq INT UNSIGNED NOT NULL, db_node VARCHAR(255) NOT NULL, ts DATETIME(6) NOT NULL, "
                      "PRIMARY KEY (run_id, seq)) ENGINE=InnoDB")
INSERT_WRITE = f"INSERT INTO `{DRILL_TABLE}` (run_id, seq, db_node, ts) VALUES (%s, %s, @@hostname, NOW(6))"
SYSTEM_SCHEMAS = ("mysql", "information_schema", "performance_schema", "sys")
SAMPLE_INTERVAL_S = 0.5
START_TIMEOUT_S = 120        # from `take full` to its "backup started" line (repository and space checks)
CATCH_UP_TIMEOUT_S = 180     # the archive catching up after a load
SMALL = {"runs": 1, "seconds": 10, "replay_load_seconds": 5}
LIMITS = {"runs": (1, 10), "seconds": (5, 600), "rate": (1, 500), "lag_rate": (1, 500),
          "replay_load_seconds": (0, 600), "backup_timeout": (60, 7200), "restore_timeout": (300, 14400)}
# profile_tasks' recap line: the task name, a space, a dash filler (none when the name is long), the seconds.
_RECAP_LINE = re.compile(r"^(?P<name>.+?) [- ]*?(?P<seconds>\d+\.\d\d)s\s*$")


# -- pure functions (unit-tested in tests/unit/test_bench_backup.py) ------------------------------------------

def parse_sections(text, restore):
    """'backup,lag' -> ['backup', 'lag'] in the canonical order, plus 'restore' when --restore is given.
    Unknown names raise ValueError, and so does 'restore' without --restore (it rewrites the cluster)."""
    wanted = {part.strip() for part in text.split(",") if part.strip()}
    unknown = wanted - set(SECTIONS)
    if unknown or not wanted:
        raise ValueError(f"--only takes a comma-separated subset of {','.join(SECTIONS)}, got {text!r}")
    if "restore" in wanted and not restore:
        raise ValueError("the restore section rewrites the whole database tier: add --restore to run it")
    if restore:
        wanted.add("restore")
    return [name for name in SECTIONS if name in wanted]


def parse_log_lines(text):
    """ha-lamp-backup's JSON log lines (one object per line, with "msg") -> list of dicts; other lines skipped."""
    events = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and "msg" in event:
            events.append(event)
    return events


def parse_backup_log(text):
    """`take full`'s output -> {id, kind, source, reason, bytes, added, seconds, gtid} of its "backup done" line
    (kind, source and reason from "backup started"). ValueError when the run has no complete "backup done"."""
    events = parse_log_lines(text)
    done = next((e for e in reversed(events) if e["msg"] == "backup done"), None)
    if done is None:
        raise ValueError("no 'backup done' line in ha-lamp-backup's output")
    for key in ("bytes", "seconds"):
        if not isinstance(done.get(key), (int, float)) or isinstance(done.get(key), bool):
            raise ValueError(f"the 'backup done' line has no numeric {key}: {done}")
    started = next((e for e in events if e["msg"] == "backup started" and e.get("id") == done.get("id")), {})
    return {"id": done.get("id"), "kind": started.get("kind"), "source": started.get("source"),
            "reason": started.get("reason"), "bytes": int(done["bytes"]),
            "added": int(done["added"]) if isinstance(done.get("added"), (int, float)) else None,
            "seconds": float(done["seconds"]), "gtid": done.get("gtid")}


def mb_per_s(nbytes, seconds):
    """Throughput in MB/s (10^6 bytes); None without a positive duration."""
    if nbytes is None or not seconds or seconds <= 0:
        return None
    return nbytes / seconds / 1e6


def backup_figures(runs):
    """Medians of a series of parse_backup_log results, and the deduplication view: what the first run added,
    and the median of what the later ones added (None with a single run)."""
    if not runs:
        return {"runs": 0, "mb_s": None, "seconds": None, "bytes": None, "first_added": None, "later_added": None}
    return {"runs": len(runs),
            "mb_s": labkit.median_or_none(mb_per_s(r["bytes"], r["seconds"]) for r in runs),
            "seconds": labkit.median_or_none(r["seconds"] for r in runs),
            "bytes": labkit.median_or_none(r["bytes"] for r in runs),
            "first_added": runs[0]["added"],
            "later_added": labkit.median_or_none(r["added"] for r in runs[1:]) if len(runs) > 1 else None}


def parse_restic_stats(text):
    """`restic stats --json` -> its object (the last JSON line; restic 0.14 prints total_size,
    total_blob_count, total_file_count, snapshots_count; 0.15+ adds total_uncompressed_size in raw-data mode)."""
    for line in reversed(text.strip().splitlines()):
        if line.strip().startswith("{"):
            return json.loads(line)
    raise ValueError("no JSON object in restic stats' output")


def parse_du_bytes(text):
    """`du -sb PATH` -> bytes."""
    first = text.split()
    if not first or not first[0].isdigit():
        raise ValueError(f"not du -sb output: {text!r}")
    return int(first[0])


def sum_sizes(text):
    """`find ... -printf '%s\\n'` -> the sum of the sizes."""
    return sum(int(line) for line in text.split() if line.isdigit())


def latency_figures(latencies_ms, errors=0):
    """{n, errors, p50, p99, max} (ms) of one writer phase: nearest-rank percentiles of the acknowledged writes."""
    return {"n": len(latencies_ms), "errors": errors, "p50": labkit.percentile(latencies_ms, 50),
            "p99": labkit.percentile(latencies_ms, 99), "max": max(latencies_ms) if latencies_ms else None}


def median_phase(phases):
    """Medians over runs of latency_figures results; writes and errors are summed."""
    return {"runs": len(phases), "n": sum(p["n"] for p in phases), "errors": sum(p["errors"] for p in phases),
            "p50": labkit.median_or_none(p["p50"] for p in phases),
            "p99": labkit.median_or_none(p["p99"] for p in phases),
            "max": max((p["max"] for p in phases if p["max"] is not None), default=None)}


def parse_archive_state(text):
    """binlog-archive.json -> its dict; ValueError when it is not the archiver's state document."""
    state = json.loads(text)
    if not isinstance(state, dict) or "lag_seconds" not in state or "caught_up_at" not in state:
        raise ValueError("not the binlog archiver's state file (no lag_seconds / caught_up_at)")
    return state


def lag_at(state, now):
    """Seconds since the archive last held everything the primary had written, at `now` (same clock: the lab's
    containers share the host's); None when it never caught up."""
    caught_up_at = float(state.get("caught_up_at") or 0)
    if caught_up_at <= 0:
        return None
    return max(0.0, now - caught_up_at)


def parse_profile_tasks(text):
    """The TASKS RECAP of ansible.posix.profile_tasks -> {task name: seconds} (a name seen twice is summed).
    {} when the output has no recap (the playbook did not get that far)."""
    if "TASKS RECAP" not in text:
        return {}
    tasks = {}
    for line in text.rsplit("TASKS RECAP", 1)[1].splitlines():
        match = _RECAP_LINE.match(line.rstrip())
        if match and not line.startswith(("=", "*")) and not re.match(r"^\w+day \d", line):
            name = match.group("name").strip()
            tasks[name] = tasks.get(name, 0.0) + float(match.group("seconds"))
    return tasks


def per_gb(seconds, nbytes):
    """Seconds per GB (10^9 bytes); None without data."""
    if seconds is None or not nbytes or nbytes <= 0:
        return None
    return seconds / (nbytes / 1e9)


def replay_rate(bytes_per_node, seconds):
    """MB/s of binlog replayed per node: every node replays the same range, all at once, in the one task."""
    if not seconds or seconds <= 0 or bytes_per_node is None:
        return None
    return bytes_per_node / seconds / 1e6


def mb(nbytes):
    """Bytes -> MB (10^6) for a table; None stays None."""
    return None if nbytes is None else nbytes / 1e6


# -- the lab -------------------------------------------------------------------------------------------------

@dataclasses.dataclass
class Lab:
    data: make_dataset.Lab      # databases, internal VIP, cluster, schema owner's password, PKI directory
    backup_name: str
    backup: str                 # the backup host's address (its container's name)
    app_password: str


def read_lab(inventory):
    """Every address and password the benchmark needs, from the inventory; refuses anything but the lab."""
    data = make_dataset.read_lab(inventory)
    backups = labkit.group_hosts(data.inventory, "backup")
    if not backups:
        sys.exit(f"{inventory} has no `backup` group: the backup tier is not part of this lab (roles/backup)")
    name, address = next(iter(backups.items()))
    hostvars = data.inventory["_meta"]["hostvars"][name]
    return Lab(data=data, backup_name=name, backup=address, app_password=hostvars["ha_lamp_db_app_password"])


def check_lab(lab):
    """Clear errors when the lab or the backup host is absent, before anything runs."""
    for name, address in {**lab.data.dbs, lab.backup_name: lab.backup}.items():
        state = labkit.podman_run("inspect", "--format", "{{.State.Running}}", address, check=False)
        if state.returncode != 0 or state.stdout.strip() != "true":
            sys.exit(f"the lab is not up: container {address} ({name}) is missing or stopped (./labctl up)")
    if labkit.podman_run("exec", lab.backup, "test", "-x", BACKUP_CLI, check=False).returncode != 0:
        sys.exit(f"{BACKUP_CLI} is missing on {lab.backup_name} ({lab.backup}): the backup tier is not deployed "
                 "(ansible-playbook -i inventories/lab playbooks/site.yml)")


def restic_env_flags():
    # The repository's location and the key's file, not the key: it never leaves the backup host.
    return ["-e", f"RESTIC_REPOSITORY={REPOSITORY}", "-e", f"RESTIC_PASSWORD_FILE={PASSWORD_FILE}",
            "-e", f"RESTIC_CACHE_DIR={RESTIC_CACHE}"]


def backup_count(lab):
    """Backups in the catalogue (ha-lamp-backup status --json)."""
    return len(json.loads(podman("exec", lab.backup, BACKUP_CLI, "status", "--json")).get("backups") or [])


def read_archive_state(lab):
    return parse_archive_state(podman("exec", lab.backup, "cat", ARCHIVE_STATE, timeout=10))


def archive_bytes(lab):
    """Bytes of every archived binlog file (index.json excluded: it sits at the archive's top level)."""
    return sum_sizes(podman("exec", lab.backup, "find", ARCHIVE_DIR, "-mindepth", "2", "-type", "f",
                            "-printf", "%s\\n"))


def wait_archive_caught_up(lab, after, timeout=CATCH_UP_TIMEOUT_S):
    """Until the archiver found the archive caught up at a moment later than `after` (epoch seconds)."""
    deadline = time.monotonic() + timeout
    state = {}
    while time.monotonic() < deadline:
        state = read_archive_state(lab)
        if float(state.get("caught_up_at") or 0) > after:
            return state
        time.sleep(SAMPLE_INTERVAL_S)
    raise RuntimeError(f"the binlog archive did not catch up within {timeout} s (state: {state}); "
                       f"see journalctl -u ha-lamp-binlog-archive on {lab.backup_name}")


def user_data_bytes(primary_address):
    """information_schema data + index bytes of every table outside the system schemas."""
    out = make_dataset.mariadb(primary_address, "SELECT COALESCE(SUM(data_length + index_length), 0) "
                                                "FROM information_schema.tables WHERE table_schema NOT IN "
                                                f"({', '.join(repr(s) for s in SYSTEM_SCHEMAS)});")
    return int(out.strip() or 0)


# -- backups -------------------------------------------------------------------------------------------------

def take_full(lab, timeout):
    """One `ha-lamp-backup take full` on the backup host; its parsed log, plus the command's wall time."""
    started = time.monotonic()
    try:
        done = labkit.podman_run("exec", lab.backup, BACKUP_CLI, "take", "full", timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"`take full` did not end within {timeout} s (--backup-timeout). It may still run on "
                           f"{lab.backup_name} and hold the backup lock: podman exec {lab.backup} {BACKUP_CLI} "
                           "lock show") from None
    return backup_result(done.returncode, done.stdout, done.stderr, time.monotonic() - started)


def backup_result(returncode, stdout, stderr, wall_seconds):
    if returncode != 0:
        tail = " | ".join((stderr or stdout or "").strip().splitlines()[-3:])
        raise RuntimeError(f"`ha-lamp-backup take full` failed with exit {returncode}: {tail}")
    result = parse_backup_log(stdout)
    result["wall_seconds"] = wall_seconds
    return result


class BackgroundBackup:
    """`take full` running while the caller measures something else; its output read as it comes."""

    def __init__(self, lab, timeout):
        self.lab, self.timeout = lab, timeout
        self.stdout, self.stderr = [], []
        self.started = threading.Event()
        self.proc, self.readers, self.began = None, [], None

    def start(self):
        self.began = time.monotonic()
        self.proc = subprocess.Popen(["podman", "exec", self.lab.backup, BACKUP_CLI, "take", "full"],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=labkit.podman_env())
        for stream, sink in ((self.proc.stdout, self.stdout), (self.proc.stderr, self.stderr)):
            reader = threading.Thread(target=self._read, args=(stream, sink), daemon=True)
            reader.start()
            self.readers.append(reader)

    def _read(self, stream, sink):
        for line in stream:
            sink.append(line)
            if '"backup started"' in line:
                self.started.set()

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_started(self, timeout=START_TIMEOUT_S):
        """True once the stream began; False when the command ended first or the time ran out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.running():
            if self.started.wait(0.2):
                return True
        return self.started.is_set()

    def finish(self):
        """Wait (bounded) for the end; the parsed log. Raises when it failed or did not end in time."""
        remaining = max(1.0, self.timeout - (time.monotonic() - self.began))
        try:
            self.proc.wait(timeout=remaining)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"`take full` did not end within {self.timeout} s (--backup-timeout)") from None
        for reader in self.readers:
            reader.join(5)
        return backup_result(self.proc.returncode, "".join(self.stdout), "".join(self.stderr),
                             time.monotonic() - self.began)

    def close(self):
        """In a finally block: never leave the podman client behind; say so when the backup may still run."""
        if self.running():
            self.proc.kill()
            self.proc.wait(10)
            print(f"warning: `take full` was interrupted on the controller side; it may still run on "
                  f"{self.lab.backup_name} and hold the backup lock until it ends "
                  f"(podman exec {self.lab.backup} {BACKUP_CLI} lock show)", file=sys.stderr)


def restic_stats(lab, mode):
    out = podman("exec", *restic_env_flags(), lab.backup, "restic", "--no-lock", "--quiet", "stats", "--mode", mode,
                 "--json", "--tag", BACKUP_TAG, timeout=600)
    return parse_restic_stats(out)


def measure_backups(lab, args):
    before = backup_count(lab)
    print(f"\n== backup throughput: `take full` x {args.runs} on {lab.backup_name}; the catalogue held {before} "
          "backup(s) before", flush=True)
    runs = []
    for run in range(args.runs):
        result = take_full(lab, args.backup_timeout)
        runs.append(result)
        rate = mb_per_s(result["bytes"], result["seconds"])
        print(f"run {run + 1}/{args.runs}: {result['id']} from {result['source']}: "
              f"{fmt(mb(result['bytes']), '.1f')} MB in {result['seconds']:.1f} s = {fmt(rate, '.1f')} MB/s, "
              f"added {fmt(mb(result['added']), '.1f')} MB (command {result['wall_seconds']:.1f} s)", flush=True)
    raw = restic_stats(lab, "raw-data")
    logical = restic_stats(lab, "restore-size")
    disk = parse_du_bytes(podman("exec", lab.backup, "du", "-sb", REPOSITORY, timeout=120))
    figures = backup_figures(runs)
    print(f"\n{'runs':>4} {'MB/s':>8} {'stream MB':>10} {'stream s':>9} {'added 1st MB':>13} {'added later MB':>15}")
    print(f"{figures['runs']:>4} {fmt(figures['mb_s'], '.1f'):>8} {fmt(mb(figures['bytes']), '.1f'):>10} "
          f"{fmt(figures['seconds'], '.1f'):>9} {fmt(mb(figures['first_added']), '.1f'):>13} "
          f"{fmt(mb(figures['later_added']), '.1f'):>15}")
    ratio = logical.get("total_size", 0) / raw["total_size"] if raw.get("total_size") else None
    print(f"\nrepository ({raw.get('snapshots_count')} backup snapshots): stored (raw-data, deduplicated and "
          f"compressed) {fmt(mb(raw.get('total_size')), '.1f')} MB; the snapshots hold (restore-size) "
          f"{fmt(mb(logical.get('total_size')), '.1f')} MB = {fmt(ratio, '.1f')} x; "
          f"on disk (du -sb {REPOSITORY}) {fmt(mb(disk), '.1f')} MB")
    if raw.get("total_uncompressed_size"):
        print(f"raw-data before compression: {fmt(mb(raw['total_uncompressed_size']), '.1f')} MB")
    return [("backup throughput, median (MB/s)", fmt(figures["mb_s"], ".1f")),
            ("full backup stream, median (MB)", fmt(mb(figures["bytes"]), ".1f")),
            ("added to the repository: first / later fulls (MB)",
             f"{fmt(mb(figures['first_added']), '.1f')} / {fmt(mb(figures['later_added']), '.1f')}"),
            ("repository stored (raw-data) / snapshots' size (MB)",
             f"{fmt(mb(raw.get('total_size')), '.1f')} / {fmt(mb(logical.get('total_size')), '.1f')}")]


# -- the paced writer ----------------------------------------------------------------------------------------

class PacedWriter(threading.Thread):
    """One INSERT per autocommit at a fixed rate through the writer VIP, for at most `seconds` and `rate x
    seconds` writes, or until stop(). Records the latency of every acknowledged write and every error; a failed
    write closes the connection and the next one reconnects (its latency then includes the connect)."""

    def __init__(self, connect, rate, seconds, run_id):
        super().__init__(name=f"writer-{run_id}", daemon=True)
        self.connect, self.rate, self.seconds, self.run_id = connect, rate, seconds, run_id
        self.max_writes = int(rate * seconds) + 1
        self.latencies_ms, self.errors = [], []
        self.active_seconds = 0.0
        self._stop_event = threading.Event()

    def stop(self):
        self._stop_event.set()

    def run(self):
        began = time.monotonic()
        deadline, interval = began + self.seconds, 1.0 / self.rate
        slot, seq, conn = began, 0, None
        try:
            while seq < self.max_writes and not self._stop_event.is_set():
                now = time.monotonic()
                slot = max(slot, now)  # never a backlog burst after a slow write
                if slot >= deadline or self._stop_event.wait(slot - now):
                    break
                seq += 1
                slot += interval
                conn = self._write(conn, seq)
        finally:
            self.active_seconds = time.monotonic() - began
            if conn is not None:
                with contextlib.suppress(Exception):
                    conn.close()

    def _write(self, conn, seq):
        sent = time.monotonic()
        try:
            if conn is None:
                conn = self.connect()
            with conn.cursor() as cur:
                cur.execute(INSERT_WRITE, (self.run_id, seq))
            self.latencies_ms.append((time.monotonic() - sent) * 1000.0)
            return conn
        except Exception as exc:  # pylint: disable=broad-except  # every failure is a data point here
            self.errors.append(f"{type(exc).__name__}: {str(exc)[:120]}")
            if conn is not None:
                with contextlib.suppress(Exception):
                    conn.close()
            return None

    def figures(self):
        return latency_figures(self.latencies_ms, len(self.errors))


class Writers:
    """The writer's connections and rows: the table is created on entry; every row this benchmark wrote (run
    ids bench-backup-<token>-...) is deleted on exit."""

    def __init__(self, lab):
        try:
            import pymysql  # pylint: disable=import-outside-toplevel  # only the writer sections need it
        except ImportError:
            sys.exit("PyMySQL is missing: run the benchmark with the venv's Python (.venv/bin/python)")
        self.pymysql, self.lab = pymysql, lab
        self.prefix = f"bench-backup-{secrets.token_hex(4)}"
        self.count = 0

    def connect(self):
        return self.pymysql.connect(host=self.lab.data.internal_vip, port=make_dataset.DB_PORT, user=APP_USER,
                                    password=self.lab.app_password, database=APP_SCHEMA, connect_timeout=2,
                                    read_timeout=5, write_timeout=5, autocommit=True)

    def writer(self, rate, seconds, label):
        self.count += 1
        return PacedWriter(self.connect, rate, seconds, f"{self.prefix}-{label}-{self.count}")

    def __enter__(self):
        try:
            conn = self.connect()
            try:
                with conn.cursor() as cur:
                    cur.execute(CREATE_DRILL_TABLE)
            finally:
                conn.close()
        except self.pymysql.MySQLError as exc:
            raise RuntimeError(f"the writer cannot reach {APP_SCHEMA} as {APP_USER} through "
                               f"{self.lab.data.internal_vip}:{make_dataset.DB_PORT}: {exc}") from None
        return self

    def __exit__(self, *exc):
        try:
            conn = self.connect()
            try:
                with conn.cursor() as cur:
                    deleted = cur.execute(f"DELETE FROM `{DRILL_TABLE}` WHERE run_id LIKE %s", (self.prefix + "-%",))
            finally:
                conn.close()
            print(f"(deleted the writer's {deleted} rows from {APP_SCHEMA}.{DRILL_TABLE})")
        except Exception as error:  # pylint: disable=broad-except  # clean-up must not hide the real failure
            print(f"ERROR: could not delete the writer's rows ({error}); by hand, on the primary: DELETE FROM "
                  f"{APP_SCHEMA}.{DRILL_TABLE} WHERE run_id LIKE '{self.prefix}-%';", file=sys.stderr)
        return False


def run_phase(writer, until=None):
    """Start the writer and wait (bounded by its own duration) until it ends or until() turns true."""
    writer.start()
    try:
        while writer.is_alive() and not (until and until()):
            writer.join(0.2)
    finally:
        writer.stop()
        writer.join(10)
    return writer.figures()


# -- the primary's write latency with and without a backup ---------------------------------------------------

def measure_latency(lab, writers, args):
    print(f"\n== the primary's write latency through the writer VIP {lab.data.internal_vip}:{make_dataset.DB_PORT}: "
          f"{args.rate} writes/s for {args.seconds} s idle, then while `take full` streams; {args.runs} run(s)",
          flush=True)
    phases = {"idle": [], "backup": []}
    backups = []
    for run in range(args.runs):
        phases["idle"].append(run_phase(writers.writer(args.rate, args.seconds, "idle")))
        figures, backup, covered = latency_during_backup(lab, writers, args)
        phases["backup"].append(figures)
        backups.append(backup)
        print(f"run {run + 1}/{args.runs}: idle p50 {fmt(phases['idle'][-1]['p50'])} ms p99 "
              f"{fmt(phases['idle'][-1]['p99'])} ms; during the backup ({covered:.1f} s of writes, backup "
              f"{backup['seconds']:.1f} s from {backup['source']}) p50 {fmt(figures['p50'])} ms p99 "
              f"{fmt(figures['p99'])} ms", flush=True)
    print(f"\n{'phase':<8} {'runs':>4} {'writes':>7} {'errors':>7} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    medians = {name: median_phase(runs) for name, runs in phases.items()}
    for name, m in medians.items():
        print(f"{name:<8} {m['runs']:>4} {m['n']:>7} {m['errors']:>7} {fmt(m['p50']):>8} {fmt(m['p99']):>8} "
              f"{fmt(m['max']):>8}")
    idle, busy = medians["idle"], medians["backup"]
    return [("write latency p50 / p99, no backup (ms)", f"{fmt(idle['p50'])} / {fmt(idle['p99'])}"),
            ("write latency p50 / p99, during a full backup (ms)", f"{fmt(busy['p50'])} / {fmt(busy['p99'])}"),
            ("failed writes, no backup / during a backup", f"{idle['errors']} / {busy['errors']}")]


def latency_during_backup(lab, writers, args):
    """The writer from the backup's "backup started" line until --seconds pass or the backup ends."""
    backup = BackgroundBackup(lab, args.backup_timeout)
    try:
        backup.start()
        if not backup.wait_started():
            if not backup.running():
                backup.finish()  # raises with the command's own message (refused: lock held, no source...)
            raise RuntimeError(f"`take full` did not start streaming within {START_TIMEOUT_S} s")
        writer = writers.writer(args.rate, args.seconds, "backup")
        figures = run_phase(writer, until=lambda: not backup.running())
        return figures, backup.finish(), writer.active_seconds
    finally:
        backup.close()


# -- archive lag under the drill write load ------------------------------------------------------------------

def measure_lag(lab, writers, args):
    print(f"\n== binlog archive lag: {args.lag_rate} writes/s for {args.seconds} s; {ARCHIVE_STATE} on "
          f"{lab.backup_name} read every {SAMPLE_INTERVAL_S} s", flush=True)
    writer = writers.writer(args.lag_rate, args.seconds, "lag")
    published, at_read, not_streaming, errors = [], [], 0, []
    max_samples = int(args.seconds / SAMPLE_INTERVAL_S) + 5
    writer.start()
    try:
        next_sample = time.monotonic()
        while writer.is_alive() and len(published) + len(errors) < max_samples:
            try:
                state = read_archive_state(lab)
                published.append(float(state["lag_seconds"]))
                at_read.append(lag_at(state, time.time()))
                not_streaming += 0 if state.get("streaming") else 1
            except (ValueError, subprocess.SubprocessError) as exc:
                errors.append(str(exc)[:120])
            next_sample += SAMPLE_INTERVAL_S
            time.sleep(max(0.0, next_sample - time.monotonic()))
    finally:
        writer.stop()
        writer.join(10)
    load = writer.figures()
    rows = {"published": labkit.summarize(published), "at read": labkit.summarize(at_read)}
    print(f"\n{'lag_seconds':<12} {'samples':>8} {'median s':>9} {'p90 s':>7} {'max s':>7}")
    for name, s in rows.items():
        print(f"{name:<12} {s['n']:>8} {fmt(s['median']):>9} {fmt(s['p90']):>7} {fmt(s['max']):>7}")
    print(f"\nwrites {load['n']} acknowledged, {load['errors']} failed; samples not streaming: {not_streaming}; "
          f"unreadable samples: {len(errors)}{' (' + errors[-1] + ')' if errors else ''}")
    median = rows["published"]["median"]
    print(f"archive lag median {fmt(median)} s (target <= 5 s, issue 14)")
    return [("archive lag under the drill load: median / p90 / max (s)",
             f"{fmt(median)} / {fmt(rows['published']['p90'])} / {fmt(rows['published']['max'])}"),
            ("  the same, read at the moment of sampling (s)",
             f"{fmt(rows['at read']['median'])} / {fmt(rows['at read']['p90'])} / {fmt(rows['at read']['max'])}")]


# -- restore -------------------------------------------------------------------------------------------------

def replay_load(lab, found, seconds):
    """sysbench oltp_write_only on the dataset's tables for `seconds`: binlog for the restore to replay."""
    names = sorted(found.counts, key=make_dataset.table_number)
    expected = make_dataset.table_names(len(names))
    if seconds <= 0 or not names or names != expected or min(found.counts.values()) <= 0:
        print("no replay load (no complete sbtest dataset, or --replay-load-seconds 0): the replay rate is measured "
              "on the little binlog the writers left")
        return
    primary_address = lab.data.dbs[found.primary]
    tls = make_dataset.schema_account_needs_tls(primary_address)
    print(f"replay load: sysbench oltp_write_only on {len(names)} sbtest tables for {seconds} s", flush=True)
    with make_dataset.sysbench_workdir(lab.data, tls) as workdir:
        argv = make_dataset.sysbench_argv("oltp_write_only", "run", lab.data.internal_vip, len(names),
                                          min(found.counts.values()), threads=4,
                                          extra=[f"--time={seconds}", "--forced-shutdown=10"])
        make_dataset.run_sysbench(workdir, argv, timeout=seconds + 120, quiet=True)


def run_restore_playbook(lab, log_path, timeout):
    """restore.yml, whole tier, latest, with profile_tasks; (return code, wall seconds, the log's text)."""
    venv_tool = os.path.join(REPO, ".venv", "bin", "ansible-playbook")
    tool = venv_tool if os.path.exists(venv_tool) else (shutil.which("ansible-playbook") or "ansible-playbook")
    env = dict(labkit.podman_env(), ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks", PROFILE_TASKS_TASK_OUTPUT_LIMIT="all",
               PROFILE_TASKS_SORT_ORDER="none")
    argv = [tool, "-i", os.path.join(REPO, "inventories", "lab"), os.path.join(REPO, "playbooks", "restore.yml"),
            "-e", f"ha_lamp_restore_confirm={lab.data.cluster}"]
    started = time.monotonic()
    with open(log_path, "w", encoding="utf-8") as log:
        try:
            rc = subprocess.run(argv, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=timeout,
                                check=False).returncode
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"restore.yml did not end within {timeout} s (--restore-timeout); the tier may be "
                               f"half restored: see {log_path}") from None
    with open(log_path, encoding="utf-8") as log:
        return rc, time.monotonic() - started, log.read()


def measure_restore(lab, args, found):
    nodes = len(lab.data.dbs)
    out_dir = os.path.join(REPO, "drill-reports", time.strftime("bench-backup-%Y%m%dT%H%M%SZ", time.gmtime()))
    os.makedirs(out_dir, exist_ok=True)
    print(f"\n== restore (REWRITES the database tier: {', '.join(lab.data.dbs)}): base backup, replay load, then "
          f"restore.yml (whole tier, latest); log in {out_dir}", flush=True)
    base = take_full(lab, args.backup_timeout)
    print(f"base backup {base['id']}: {fmt(mb(base['bytes']), '.1f')} MB at GTID {base['gtid']}", flush=True)
    # The archive's growth from here to the restore is the binlog written after the base backup (nothing else
    # writes meanwhile): measured with the archive caught up both times.
    wait_archive_caught_up(lab, after=time.time())
    archived_before = archive_bytes(lab)
    replay_load(lab, found, args.replay_load_seconds)
    wait_archive_caught_up(lab, after=time.time())
    replayed = max(0, archive_bytes(lab) - archived_before)
    data_bytes = user_data_bytes(make_dataset.find_primary(lab.data.dbs)[1])
    log_path = os.path.join(out_dir, "restore.log")
    rc, wall, text = run_restore_playbook(lab, log_path, args.restore_timeout)
    if rc != 0:
        tail = "\n".join(text.strip().splitlines()[-15:])
        raise RuntimeError(f"restore.yml failed (exit {rc}); log: {log_path}\n{tail}")
    tasks = parse_profile_tasks(text)
    replay_seconds = tasks.get(REPLAY_TASK)
    rate = replay_rate(replayed, replay_seconds)
    print(f"\n{'restore s':>10} {'user data GB':>13} {'s per GB':>9} {'base backup MB':>15} {'binlog MB':>10} "
          f"{'replay s':>9} {'replay MB/s':>12}")
    print(f"{wall:>10.1f} {data_bytes / 1e9:>13.3f} {fmt(per_gb(wall, data_bytes), '.1f'):>9} "
          f"{fmt(mb(base['bytes']), '.1f'):>15} {fmt(mb(replayed), '.2f'):>10} {fmt(replay_seconds, '.1f'):>9} "
          f"{fmt(rate, '.2f'):>12}")
    print(f"(the {nodes} nodes are restored from the backup host at once: each backup and the binlogs are read once "
          "and streamed to every node; binlog MB: archived after the base backup, replayed on each node; replay s: "
          "the whole task)")
    print("\nrestore.yml's longest steps (profile_tasks):")
    for name in RESTORE_TASKS:
        print(f"  {name:<60} {fmt(tasks.get(name), '.1f'):>8} s")
    if not tasks:
        print("  (no TASKS RECAP in the log: is ansible.posix installed in the venv?)")
    return [("restore.yml, whole tier, latest (s)", f"{wall:.1f}"),
            ("restore time per GB of user data (s/GB)", fmt(per_gb(wall, data_bytes), ".1f")),
            ("PITR binlog replay rate (MB/s)", fmt(rate, ".2f"))]


# -- main ----------------------------------------------------------------------------------------------------

def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--inventory", default="inventories/lab")
    parser.add_argument("--only", default=",".join(DEFAULT_SECTIONS),
                        help="comma-separated subset of " + ",".join(SECTIONS))
    parser.add_argument("--restore", action="store_true",
                        help="also measure a whole-tier restore: REWRITES every database node")
    parser.add_argument("--small", action="store_true", help="CI-sized quick run that still takes every code path")
    parser.add_argument("--runs", type=int, default=3, help="full backups, and latency run pairs (default 3)")
    parser.add_argument("--seconds", type=int, default=30, help="duration of each writer phase (default 30)")
    parser.add_argument("--rate", type=int, default=50, help="writes/s of the latency writer (default 50)")
    parser.add_argument("--lag-rate", type=int, default=20, help="writes/s while the lag is sampled (default 20)")
    parser.add_argument("--dataset-size", default=make_dataset.DEFAULT_SIZE,
                        help="the dataset made first when absent (not with --small); default %(default)s")
    parser.add_argument("--replay-load-seconds", type=int, default=30,
                        help="sysbench writes before the restore, for the binlog replay (default 30)")
    parser.add_argument("--backup-timeout", type=int, default=1800, help="seconds one `take full` may take")
    parser.add_argument("--restore-timeout", type=int, default=3600, help="seconds restore.yml may take")
    parser.add_argument("--pki-dir", default="", help="the services CA's directory on the controller "
                        "(ca.crt, controller.crt, controller.key), for sysbench's TLS; default from the inventory")
    args = parser.parse_args(argv)
    if args.small:
        for key, value in SMALL.items():
            setattr(args, key, value)
    try:
        args.sections = parse_sections(args.only, args.restore)
        args.dataset_bytes = make_dataset.parse_size(args.dataset_size)
    except ValueError as exc:
        parser.error(str(exc))
    for key, (low, high) in LIMITS.items():
        if not low <= getattr(args, key) <= high:
            parser.error(f"--{key.replace('_', '-')} must be {low}..{high}")
    return args


def prepare_dataset(lab, args):
    """The dataset (made when absent, except with --small or when only the lag is measured) and its size."""
    if not args.small and {"backup", "latency", "restore"} & set(args.sections):
        print(f"\n== dataset: {make_dataset.human_bytes(args.dataset_bytes)} in {APP_SCHEMA}.sbtest* "
              "(tools/make_dataset.py)", flush=True)
        make_dataset.ensure(lab.data, args.dataset_bytes, tables=8, threads=4)
    found = make_dataset.measure(*make_dataset.find_primary(lab.data.dbs))
    make_dataset.print_measurement(found, None if args.small else args.dataset_bytes)
    return found


def print_figures(figures):
    if not figures:
        return
    print("\n== figures")
    width = max(len(label) for label, _value in figures)
    for label, value in figures:
        print(f"{label:<{width}}  {value}")


def main(argv=None):
    args = parse_args(argv)
    if not shutil.which("sysbench") and ("restore" in args.sections or not args.small):
        sys.exit("sysbench is missing: apt-get install sysbench (./labctl up installs it)")
    lab = read_lab(args.inventory)
    if args.pki_dir:
        lab.data.pki_dir = os.path.expanduser(args.pki_dir)
    check_lab(lab)
    figures = []
    try:
        found = prepare_dataset(lab, args)
        figures.append(("dataset: sbtest tables, data + index (information_schema)",
                        f"{len(found.counts)} tables, {make_dataset.human_bytes(found.info_bytes)}"))
        if "backup" in args.sections:
            figures += measure_backups(lab, args)
        if {"latency", "lag"} & set(args.sections):
            with Writers(lab) as writers:
                if "latency" in args.sections:
                    figures += measure_latency(lab, writers, args)
                if "lag" in args.sections:
                    figures += measure_lag(lab, writers, args)
        if "restore" in args.sections:
            figures += measure_restore(lab, args, found)
    except (RuntimeError, ValueError, subprocess.SubprocessError) as exc:
        print(f"\nbench_backup: {exc}", file=sys.stderr)
        print_figures(figures)
        return 1
    print_figures(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
