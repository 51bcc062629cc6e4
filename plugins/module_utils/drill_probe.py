# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Drill probe: bounded, steady HTTP + database write load with one event per request.

The probe is what the failure drills measure with. For a bounded time and a bounded number of
requests it

* sends HTTP GETs to a URL (normally the VIP) at a target rate from a few worker threads, one new
  TCP connection per request (so every request is balanced afresh, like a new client would be);
* optionally sends a second, independent stream of GETs to a read-only page (``read_url``,
  normally ``http://VIP/read.php``, served from the readers port), recorded as ``kind: "read"``
  events with the same fields as ``http`` ones plus ``via`` (the page's ``read_via=`` line): it
  shows whether reads survive a database writer gap;
* in one separate thread writes numbered rows (seq 1..N, one run id) through a MySQL endpoint
  (normally VIP:3306, the writer port), autocommit, reconnecting after any failure;

and records every request and every write as one JSON object per line (JSONL). Every event holds
``t_sent``/``t_answered`` as epoch seconds derived from the monotonic clock (see ``_Clock``), so
events line up with fault marks taken by the playbook while staying immune to clock steps.

Only the standard library is needed for HTTP; PyMySQL is needed only for writes and verification.
This file deliberately imports nothing from Ansible so that tools/ha_lamp_probe.py can run it
standalone on any host with Python 3.
"""

from __future__ import absolute_import, division, print_function

import http.client
import json
import os
import re
import socket
import ssl
import threading
import time
import uuid
from urllib.parse import urlsplit

try:
    import pymysql

    HAS_PYMYSQL = True
except ImportError:  # only writes and verification need it
    pymysql = None
    HAS_PYMYSQL = False

__metaclass__ = type

EVENTS_SCHEMA = 1

# Hard ceilings so a typo can never turn a drill probe into a load test.
MAX_DURATION_S = 3600.0
MAX_REQUESTS = 1000000
MAX_RATE = 1000.0
MAX_CONCURRENCY = 64

_WEB_NODE_RE = re.compile(r"^web_node=(\S+)", re.MULTILINE)
_DB_NODE_RE = re.compile(r"^db_node=(\S+)", re.MULTILINE)
_READ_VIA_RE = re.compile(r"^read_via=(\S+)", re.MULTILINE)
_TABLE_RE = re.compile(r"^[A-Za-z0-9_]{1,64}$")
# How much of an error text goes into an event: enough to diagnose, small enough for 100k lines.
_ERROR_TEXT_LIMIT = 160
# Bodies are only read to find the node name; the demo page is tiny.
_BODY_LIMIT = 65536

PYMYSQL_MISSING_MSG = (
    "The PyMySQL Python library is required for database writes and verification; "
    "install python3-pymysql (Debian) or 'pip install PyMySQL' on the host running the probe"
)


class ProbeError(Exception):
    """Invalid probe configuration or an environment that cannot run it."""


class _Clock:
    """Epoch timestamps that advance with the monotonic clock.

    time.time() can jump (NTP step, chrony makestep) in the middle of a drill, which would bend
    RTO figures; time.monotonic() cannot, but means nothing outside this process. Anchoring the
    monotonic clock to the wall clock once, at start, gives both: comparable with the fault marks
    the playbook takes with its own wall clock, and monotonic within the run.
    """

    def __init__(self):
        self.wall0 = time.time()
        self.mono0 = time.monotonic()

    def epoch(self, mono=None):
        if mono is None:
            mono = time.monotonic()
        return round(self.wall0 + (mono - self.mono0), 6)


def _error_text(exc):
    text = str(exc).strip().replace("\n", " ")
    return text[:_ERROR_TEXT_LIMIT]


def _error_class(exc):
    # socket.timeout is TimeoutError since 3.10, but name it the same on older Pythons too.
    if isinstance(exc, socket.timeout):
        return "TimeoutError"
    if HAS_PYMYSQL and isinstance(exc, pymysql.err.MySQLError) and exc.args and isinstance(exc.args[0], int):
        # Keep the server/client error number: 2003 (cannot connect), 2013 (lost connection),
        # 1290 (read-only) mean very different things in a drill.
        return "%s(%d)" % (type(exc).__name__, exc.args[0])
    return type(exc).__name__


class ProbeConfig:
    """Validated probe parameters. Every bound is explicit; none is unlimited."""

    def __init__(self, events_path, url=None, duration=60.0, max_requests=20000, rate=20.0,
                 concurrency=4, http_timeout=2.0, validate_certs=True, host_header=None,
                 db_host=None, db_port=3306, db_user="ha_lamp_app", db_password=None,
                 db_name="ha_lamp_app", db_table="drill_writes", write_rate=5.0, max_writes=5000,
                 db_timeout=2.0, run_id=None, stop_file=None, read_url=None, read_rate=10.0,
                 read_concurrency=2, max_read_requests=10000):
        self.events_path = events_path
        self.url = url
        self.duration = float(duration)
        self.max_requests = int(max_requests)
        self.rate = float(rate)
        self.concurrency = int(concurrency)
        self.http_timeout = float(http_timeout)
        self.validate_certs = bool(validate_certs)
        self.host_header = host_header
        self.db_host = db_host
        self.db_port = int(db_port)
        self.db_user = db_user
        self.db_password = db_password
        self.db_name = db_name
        self.db_table = db_table
        self.write_rate = float(write_rate)
        self.max_writes = int(max_writes)
        self.db_timeout = float(db_timeout)
        self.run_id = run_id or uuid.uuid4().hex[:12]
        self.stop_file = stop_file
        self.read_url = read_url or None
        self.read_rate = float(read_rate)
        self.read_concurrency = int(read_concurrency)
        self.max_read_requests = int(max_read_requests)
        self.validate()

    def validate(self):
        errors = []
        if not self.url and not self.db_host and not self.read_url:
            errors.append("give url (HTTP requests), db_host (database writes) or both")
        if not self.events_path:
            errors.append("events_path is required")
        if not 0 < self.duration <= MAX_DURATION_S:
            errors.append("duration must be in (0, %d] seconds" % MAX_DURATION_S)
        if self.url:
            parts = urlsplit(self.url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                errors.append("url must be an http:// or https:// URL with a host, got %r" % self.url)
            if not 0 < self.max_requests <= MAX_REQUESTS:
                errors.append("max_requests must be in [1, %d]" % MAX_REQUESTS)
            if not 0 < self.rate <= MAX_RATE:
                errors.append("rate must be in (0, %d] requests/s" % MAX_RATE)
            if not 0 < self.concurrency <= MAX_CONCURRENCY:
                errors.append("concurrency must be in [1, %d]" % MAX_CONCURRENCY)
        if self.url or self.read_url:
            if self.http_timeout <= 0:
                errors.append("http_timeout must be > 0")
        if self.read_url:
            parts = urlsplit(self.read_url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                errors.append("read_url must be an http:// or https:// URL with a host, got %r" % self.read_url)
            if not 0 < self.max_read_requests <= MAX_REQUESTS:
                errors.append("max_read_requests must be in [1, %d]" % MAX_REQUESTS)
            if not 0 < self.read_rate <= MAX_RATE:
                errors.append("read_rate must be in (0, %d] requests/s" % MAX_RATE)
            if not 0 < self.read_concurrency <= MAX_CONCURRENCY:
                errors.append("read_concurrency must be in [1, %d]" % MAX_CONCURRENCY)
        if self.db_host:
            if not HAS_PYMYSQL:
                errors.append(PYMYSQL_MISSING_MSG)
            if not 0 < self.max_writes <= MAX_REQUESTS:
                errors.append("max_writes must be in [1, %d]" % MAX_REQUESTS)
            if not 0 < self.write_rate <= MAX_RATE:
                errors.append("write_rate must be in (0, %d] writes/s" % MAX_RATE)
            if self.db_timeout <= 0:
                errors.append("db_timeout must be > 0")
            # The table name is interpolated into SQL (identifiers cannot be bound parameters).
            for label, ident in (("db_name", self.db_name), ("db_table", self.db_table)):
                if not _TABLE_RE.match(ident or ""):
                    errors.append("%s must match [A-Za-z0-9_]{1,64}, got %r" % (label, ident))
        if errors:
            raise ProbeError("; ".join(errors))

    def public(self):
        """Parameters as recorded in the events file (never the password)."""
        return {
            "url": self.url, "duration": self.duration, "max_requests": self.max_requests,
            "rate": self.rate, "concurrency": self.concurrency, "http_timeout": self.http_timeout,
            "db_host": self.db_host, "db_port": self.db_port, "db_user": self.db_user,
            "db_name": self.db_name, "db_table": self.db_table, "write_rate": self.write_rate,
            "max_writes": self.max_writes, "db_timeout": self.db_timeout,
            "read_url": self.read_url, "read_rate": self.read_rate,
            "read_concurrency": self.read_concurrency, "max_read_requests": self.max_read_requests,
        }


class _EventWriter:
    """Thread-safe JSONL writer; flushes every line so a killed probe still leaves its events."""

    def __init__(self, path, mode="w"):
        self._fh = open(path, mode, encoding="utf-8")
        self._lock = threading.Lock()

    def write(self, event):
        line = json.dumps(event, sort_keys=True, separators=(",", ":"))
        with self._lock:
            self._fh.write(line + "\n")
            self._fh.flush()

    def close(self):
        with self._lock:
            self._fh.close()


class _Pacer:
    """Hands out send slots at a fixed rate to any number of worker threads.

    Slots never fall into the past: when every worker was stuck in timeouts the next slot is
    'now', not a backlog. A backlog would fire a burst right after recovery and make the
    requests/s curve lie about what steady clients experience.
    """

    def __init__(self, rate, limit, deadline):
        self._interval = 1.0 / rate
        self._limit = limit
        self._deadline = deadline
        self._next = time.monotonic()
        self._issued = 0
        self._lock = threading.Lock()

    def next_slot(self, stop_event):
        with self._lock:
            now = time.monotonic()
            if self._issued >= self._limit or now >= self._deadline or stop_event.is_set():
                return None
            slot = max(self._next, now)
            if slot >= self._deadline:
                return None
            self._next = slot + self._interval
            self._issued += 1
            seq = self._issued
        delay = slot - time.monotonic()
        if delay > 0 and stop_event.wait(delay):
            return None
        return seq


class Probe:
    """Runs the HTTP workers and the writer thread for one bounded run."""

    def __init__(self, config):
        self.cfg = config
        self.clock = _Clock()
        self._stop = threading.Event()
        self._counts_lock = threading.Lock()
        self.counts = {"http_ok": 0, "http_error": 0, "write_ok": 0, "write_error": 0,
                       "read_ok": 0, "read_error": 0}
        self.acknowledged = []
        self._writer = None
        self._deadline = None

    # ----------------------------------------------------------------- HTTP
    def _http_once(self, url=None):
        parts = urlsplit(url or self.cfg.url)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        if parts.scheme == "https":
            ctx = ssl.create_default_context()
            if not self.cfg.validate_certs:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            conn = http.client.HTTPSConnection(parts.hostname, parts.port or 443,
                                               timeout=self.cfg.http_timeout, context=ctx)
        else:
            conn = http.client.HTTPConnection(parts.hostname, parts.port or 80,
                                              timeout=self.cfg.http_timeout)
        headers = {"Connection": "close", "User-Agent": "ha-lamp-drill-probe/1",
                   "Cache-Control": "no-cache"}
        if self.cfg.host_header:
            headers["Host"] = self.cfg.host_header
        try:
            conn.request("GET", path, headers=headers)
            resp = conn.getresponse()
            body = resp.read(_BODY_LIMIT).decode("utf-8", "replace")
            return resp.status, body
        finally:
            conn.close()

    def _http_worker(self, worker, pacer, kind="http"):
        """One HTTP worker; kind "http" requests cfg.url, kind "read" the read-only cfg.read_url."""
        url = self.cfg.read_url if kind == "read" else self.cfg.url
        while True:
            seq = pacer.next_slot(self._stop)
            if seq is None:
                return
            m_sent = time.monotonic()
            event = {"kind": kind, "run_id": self.cfg.run_id, "seq": seq, "worker": worker,
                     "t_sent": self.clock.epoch(m_sent)}
            if kind == "read":
                event["via"] = None
            try:
                status, body = self._http_once(url)
                event["status"] = status
                web = _WEB_NODE_RE.search(body)
                db = _DB_NODE_RE.search(body)
                event["node"] = web.group(1) if web else None
                event["db_node"] = db.group(1) if db else None
                if kind == "read":
                    via = _READ_VIA_RE.search(body)
                    event["via"] = via.group(1) if via else None
                if 200 <= status < 300:
                    event.update(outcome="ok", error_class=None, error=None)
                else:
                    event.update(outcome="error", error_class="HTTP%d" % status,
                                 error="HTTP status %d" % status)
            except Exception as exc:  # every failure is data here, never a crash
                event.update(outcome="error", status=None, node=None, db_node=None,
                             error_class=_error_class(exc), error=_error_text(exc))
            self._finish(event, m_sent, kind)

    # ---------------------------------------------------------------- writes
    def _db_connect(self):
        conn = pymysql.connect(host=self.cfg.db_host, port=self.cfg.db_port, user=self.cfg.db_user,
                               password=self.cfg.db_password or "", database=self.cfg.db_name,
                               connect_timeout=self.cfg.db_timeout, read_timeout=self.cfg.db_timeout,
                               write_timeout=self.cfg.db_timeout, autocommit=True)
        try:
            with conn.cursor() as cur:
                # A connection through HAProxy stays on one backend for its whole life, so the
                # node is captured once per connection, not once per write.
                cur.execute("SELECT @@hostname")
                node = cur.fetchone()[0]
                cur.execute(
                    "CREATE TABLE IF NOT EXISTS `%s` ("
                    " run_id VARCHAR(64) NOT NULL,"
                    " seq INT UNSIGNED NOT NULL,"
                    " db_node VARCHAR(255) NOT NULL,"
                    " ts DATETIME(6) NOT NULL,"
                    " PRIMARY KEY (run_id, seq)"
                    ") ENGINE=InnoDB" % self.cfg.db_table)
        except Exception:
            conn.close()
            raise
        return conn, node

    def _write_loop(self):
        pacer = _Pacer(self.cfg.write_rate, self.cfg.max_writes, self._deadline)
        conn = node = None
        sql = ("INSERT INTO `%s` (run_id, seq, db_node, ts) VALUES (%%s, %%s, @@hostname, NOW(6))"
               % self.cfg.db_table)
        while True:
            seq = pacer.next_slot(self._stop)
            if seq is None:
                break
            m_sent = time.monotonic()
            event = {"kind": "write", "run_id": self.cfg.run_id, "seq": seq,
                     "t_sent": self.clock.epoch(m_sent), "reconnect": conn is None}
            try:
                if conn is None:
                    conn, node = self._db_connect()
                with conn.cursor() as cur:
                    cur.execute(sql, (self.cfg.run_id, seq))
                # autocommit: execute() returning means the server acknowledged the commit
                # (with semi-sync, after a replica has the transaction).
                event.update(outcome="ok", node=node, error_class=None, error=None)
            except Exception as exc:
                # Outcome unknown to the client (the commit may or may not have happened):
                # it is not acknowledged, so it can never count as a lost write.
                event.update(outcome="error", node=node, error_class=_error_class(exc),
                             error=_error_text(exc))
                if conn is not None:
                    try:
                        conn.close()
                    except Exception:
                        pass
                conn = node = None
            self._finish(event, m_sent, "write")
            if event["outcome"] == "ok":
                self.acknowledged.append(seq)
        if conn is not None:
            try:
                conn.close()
            except Exception:
                pass

    # ---------------------------------------------------------------- common
    def _finish(self, event, m_sent, kind):
        m_answered = time.monotonic()
        event["t_answered"] = self.clock.epoch(m_answered)
        event["latency_ms"] = round((m_answered - m_sent) * 1000.0, 3)
        with self._counts_lock:
            self.counts["%s_%s" % (kind, event["outcome"])] += 1
        self._writer.write(event)

    def _watch_stop_file(self):
        while not self._stop.wait(0.2):
            if os.path.exists(self.cfg.stop_file):
                self._stop.set()
            if time.monotonic() >= self._deadline:
                return

    def run(self):
        """Run until the duration ends, the counts are reached or the stop file appears."""
        cfg = self.cfg
        self._writer = _EventWriter(cfg.events_path)
        started = self.clock.epoch()
        self._deadline = time.monotonic() + cfg.duration
        self._writer.write({"kind": "run_start", "run_id": cfg.run_id, "schema": EVENTS_SCHEMA,
                            "t": started, "params": cfg.public()})
        threads = []
        if cfg.url:
            pacer = _Pacer(cfg.rate, cfg.max_requests, self._deadline)
            for worker in range(cfg.concurrency):
                threads.append(threading.Thread(target=self._http_worker, args=(worker, pacer),
                                                name="probe-http-%d" % worker, daemon=True))
        if cfg.read_url:
            read_pacer = _Pacer(cfg.read_rate, cfg.max_read_requests, self._deadline)
            for worker in range(cfg.read_concurrency):
                threads.append(threading.Thread(target=self._http_worker, args=(worker, read_pacer, "read"),
                                                name="probe-read-%d" % worker, daemon=True))
        if cfg.db_host:
            threads.append(threading.Thread(target=self._write_loop, name="probe-writes", daemon=True))
        if cfg.stop_file:
            threads.append(threading.Thread(target=self._watch_stop_file, name="probe-stop", daemon=True))
        for thread in threads:
            thread.start()
        # Workers end at the deadline; a request in flight adds at most its own timeouts.
        grace = max(cfg.http_timeout, 3 * cfg.db_timeout) + 5.0
        hard_end = time.monotonic() + cfg.duration + grace
        try:
            for thread in threads:
                thread.join(max(0.0, hard_end - time.monotonic()))
        except KeyboardInterrupt:
            self._stop.set()
            for thread in threads:
                thread.join(grace)
        self._stop.set()
        stragglers = [t.name for t in threads if t.is_alive()]
        ended = self.clock.epoch()
        summary = {"kind": "run_end", "run_id": cfg.run_id, "t": ended,
                   "duration_s": round(ended - started, 3),
                   "acknowledged_seqs": list(self.acknowledged), "stragglers": stragglers}
        summary.update(self.counts)
        self._writer.write(summary)
        self._writer.close()
        # Not 'started'/'finished': async_status reads those keys of a module result as job state.
        result = {"run_id": cfg.run_id, "events_path": cfg.events_path, "probe_start": started,
                  "probe_end": ended, "duration_s": summary["duration_s"], "stragglers": stragglers,
                  "writes_acknowledged": len(self.acknowledged)}
        result.update(self.counts)
        return result


def run_probe(config):
    """Run one bounded probe and return its summary (counts, run id, times)."""
    return Probe(config).run()


# ------------------------------------------------------------------- verify
def load_events(path):
    """Read a probe events file; tolerate a truncated last line (probe killed mid-write)."""
    events = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                events.append(json.loads(line))
            except ValueError:
                continue
    return events


def acknowledged_from_events(events):
    """(run_id, sorted acknowledged write seqs) from the write events themselves.

    The per-write events are the source of truth, not the run_end summary: a probe killed before
    it wrote run_end still has every acknowledgement on disk.
    """
    run_ids = {e.get("run_id") for e in events if e.get("kind") == "run_start"}
    run_ids |= {e.get("run_id") for e in events if e.get("kind") == "write"}
    run_ids.discard(None)
    if len(run_ids) > 1:
        raise ProbeError("events file mixes several run ids: %s" % ", ".join(sorted(run_ids)))
    seqs = sorted({e["seq"] for e in events if e.get("kind") == "write" and e.get("outcome") == "ok"})
    return (run_ids.pop() if run_ids else None), seqs


def verify_writes(run_id, acknowledged, db_host, db_port=3306, db_user="ha_lamp_app",
                  db_password=None, db_name="ha_lamp_app", db_table="drill_writes", db_timeout=5.0,
                  attempts=10, retry_delay=2.0, clock=time.time):
    """Read back this run's rows and compare with the acknowledged seqs.

    Retries the connection because verification usually runs seconds after a failover, while the
    writer port may still be converging. Returns a dict; 'lost' lists acknowledged seqs that are
    missing, 'unacknowledged_present' lists seqs whose client saw an error but which did commit
    (harmless, but it shows where an acknowledgement was lost in flight).
    """
    if not HAS_PYMYSQL:
        raise ProbeError(PYMYSQL_MISSING_MSG)
    if not _TABLE_RE.match(db_table or "") or not _TABLE_RE.match(db_name or ""):
        raise ProbeError("db_name/db_table must match [A-Za-z0-9_]{1,64}")
    last_error = None
    for attempt in range(1, int(attempts) + 1):
        try:
            conn = pymysql.connect(host=db_host, port=int(db_port), user=db_user,
                                   password=db_password or "", database=db_name,
                                   connect_timeout=db_timeout, read_timeout=db_timeout,
                                   write_timeout=db_timeout, autocommit=True)
            try:
                with conn.cursor() as cur:
                    cur.execute("SELECT @@hostname")
                    node = cur.fetchone()[0]
                    cur.execute("SELECT seq FROM `%s` WHERE run_id = %%s" % db_table, (run_id,))
                    present = {int(row[0]) for row in cur.fetchall()}
            finally:
                conn.close()
            acked = set(int(s) for s in acknowledged)
            return {
                "kind": "verify", "run_id": run_id, "t": round(clock(), 6), "verified": True,
                "node": node, "attempts": attempt, "acknowledged": len(acked),
                "present": len(present), "lost": sorted(acked - present),
                "unacknowledged_present": sorted(present - acked), "error": None,
            }
        except Exception as exc:
            last_error = "%s: %s" % (_error_class(exc), _error_text(exc))
            if attempt < attempts:
                time.sleep(retry_delay)
    return {
        "kind": "verify", "run_id": run_id, "t": round(clock(), 6), "verified": False,
        "node": None, "attempts": int(attempts), "acknowledged": len(set(acknowledged)),
        "present": None, "lost": None, "unacknowledged_present": None, "error": last_error,
    }


def verify_events_file(events_path, **db):
    """Verify the acknowledged writes recorded in an events file and append the result to it."""
    run_id, acked = acknowledged_from_events(load_events(events_path))
    if run_id is None:
        raise ProbeError("no run id in %s: not a probe events file?" % events_path)
    result = verify_writes(run_id, acked, **db)
    with open(events_path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(result, sort_keys=True, separators=(",", ":")) + "\n")
    return result
