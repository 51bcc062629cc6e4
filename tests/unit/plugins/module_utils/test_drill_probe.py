# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The probe against a local HTTP server and a fake MySQL driver: bounds, events, verification."""

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.onprem.ha_lamp.plugins.module_utils import drill_probe
from ansible_collections.onprem.ha_lamp.plugins.module_utils.drill_probe import (
    ProbeConfig,
    ProbeError,
    acknowledged_from_events,
    load_events,
    run_probe,
    verify_events_file,
    verify_writes,
)
from ansible_collections.onprem.ha_lamp.plugins.module_utils.drill_report import build_report

EVENT_KEYS = {"kind", "run_id", "seq", "t_sent", "t_answered", "latency_ms", "outcome", "error_class",
              "error", "node"}


class _Handler(BaseHTTPRequestHandler):
    # /fail answers 503 (a draining web node); everything else is the demo page.
    def do_GET(self):
        if self.path.startswith("/fail"):
            body, status = b"draining\n", 503
        elif self.path.startswith("/read.php"):
            body, status = b"web_node=web1\ndb_node=db3\nread_via=reader\nrelease=r1\n", 200
        elif self.path.startswith("/read-down"):
            body, status = b"web_node=web1\nerror=database readers unavailable, retry\n", 503
        else:
            body, status = b"<pre>\nweb_node=web2\ndb_node=db1\nrelease=r1\n</pre>\n", 200
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def web():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d" % server.server_address[1]
    server.shutdown()
    server.server_close()


def _closed_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def _of(events, kind):
    return [e for e in events if e["kind"] == kind]


# ------------------------------------------------------------------ configuration
@pytest.mark.parametrize("kwargs,message", [
    ({}, "give url (HTTP requests), db_host (database writes) or both"),
    ({"url": "ftp://x/"}, "url must be an http:// or https:// URL with a host"),
    ({"url": "http://x/", "duration": 0}, "duration must be in (0, 3600] seconds"),
    ({"url": "http://x/", "duration": 7200}, "duration must be in (0, 3600] seconds"),
    ({"url": "http://x/", "max_requests": 0}, "max_requests must be in [1, 1000000]"),
    ({"url": "http://x/", "concurrency": 0}, "concurrency must be in [1, 64]"),
    ({"url": "http://x/", "rate": -1}, "rate must be in (0, 1000] requests/s"),
    ({"db_host": "x", "db_table": "t; DROP TABLE y"}, "db_table must match [A-Za-z0-9_]{1,64}"),
    ({"read_url": "ftp://x/"}, "read_url must be an http:// or https:// URL with a host"),
    ({"read_url": "http://x/", "read_rate": 0}, "read_rate must be in (0, 1000] requests/s"),
    ({"read_url": "http://x/", "read_concurrency": 65}, "read_concurrency must be in [1, 64]"),
    ({"read_url": "http://x/", "max_read_requests": 0}, "max_read_requests must be in [1, 1000000]"),
])
def test_config_rejects_unbounded_or_unsafe_values(tmp_path, kwargs, message):
    with pytest.raises(ProbeError) as err:
        ProbeConfig(events_path=str(tmp_path / "e.jsonl"), **kwargs)
    assert message in str(err.value)


def test_public_params_never_hold_the_password(tmp_path):
    cfg = ProbeConfig(events_path=str(tmp_path / "e"), db_host="x", db_password="s3cret")
    assert "s3cret" not in json.dumps(cfg.public())


# ------------------------------------------------------------------ HTTP
def test_http_probe_stops_at_max_requests_and_parses_the_node(tmp_path, web):
    path = tmp_path / "e.jsonl"
    result = run_probe(ProbeConfig(events_path=str(path), url=web + "/", duration=10, max_requests=7,
                                   rate=100, concurrency=3, run_id="run1"))
    events = load_events(str(path))
    http = _of(events, "http")
    assert len(http) == 7
    assert sorted(e["seq"] for e in http) == list(range(1, 8))
    assert result["http_ok"] == 7 and result["http_error"] == 0
    assert result["duration_s"] < 5  # stopped by the count, not the duration
    assert result["stragglers"] == []
    for event in http:
        assert EVENT_KEYS <= set(event)
        assert event["run_id"] == "run1"
        assert (event["outcome"], event["status"], event["node"], event["db_node"]) == ("ok", 200, "web2", "db1")
        assert event["t_answered"] >= event["t_sent"]
    assert events[0]["kind"] == "run_start" and events[0]["params"]["max_requests"] == 7
    assert events[-1]["kind"] == "run_end" and events[-1]["http_ok"] == 7


def test_http_probe_stops_at_the_duration_and_keeps_the_rate(tmp_path, web):
    path = tmp_path / "e.jsonl"
    result = run_probe(ProbeConfig(events_path=str(path), url=web + "/", duration=1.0, max_requests=1000,
                                   rate=20, concurrency=2))
    http = _of(load_events(str(path)), "http")
    # 20/s for 1 s: slots at 0, 0.05, ... 0.95, so never more than 20 (+1 at the edge). Missed slots are
    # skipped, so a loaded machine sends fewer: only the upper bound is a property; the lower one is "some".
    assert 1 <= len(http) <= 21
    # It stops by itself at the duration; the generous upper bound only catches a probe that never stops.
    assert 0.95 <= result["duration_s"] < 10.0


def test_http_errors_are_recorded_with_their_class(tmp_path, web):
    path = tmp_path / "e.jsonl"
    run_probe(ProbeConfig(events_path=str(path), url=web + "/fail", duration=5, max_requests=2, rate=50))
    http = _of(load_events(str(path)), "http")
    assert [(e["outcome"], e["status"], e["error_class"]) for e in http] == [("error", 503, "HTTP503")] * 2

    path2 = tmp_path / "e2.jsonl"
    run_probe(ProbeConfig(events_path=str(path2), url="http://127.0.0.1:%d/" % _closed_port(),
                          duration=5, max_requests=3, rate=50, http_timeout=0.5))
    http = _of(load_events(str(path2)), "http")
    assert [e["error_class"] for e in http] == ["ConnectionRefusedError"] * 3
    assert all(e["node"] is None and e["outcome"] == "error" for e in http)


def test_stop_file_ends_the_run_early(tmp_path, web):
    stop = tmp_path / "stop"
    stop.write_text("")
    result = run_probe(ProbeConfig(events_path=str(tmp_path / "e"), url=web + "/", duration=30,
                                   rate=5, stop_file=str(stop)))
    assert result["duration_s"] < 2


# ------------------------------------------------------------------ writes (fake driver)
class _FakeCursor:
    def __init__(self, conn):
        self.conn = conn
        self._rows = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def execute(self, sql, args=None):
        db = self.conn.db
        if sql.startswith("SELECT @@hostname"):
            self._rows = [(db.node,)]
        elif sql.startswith("CREATE TABLE"):
            db.ddl.append(sql)
        elif sql.startswith("INSERT"):
            seq = args[1]
            if seq in db.fail_seqs:
                # Lost connection mid-statement: the client cannot know whether it committed.
                if seq in db.commit_anyway:
                    db.rows.add(seq)
                raise drill_probe.pymysql.err.OperationalError(2013, "Lost connection to server during query")
            db.rows.add(seq)
        elif sql.startswith("SELECT seq"):
            self._rows = [(s,) for s in sorted(db.rows)]

    def fetchone(self):
        return self._rows[0]

    def fetchall(self):
        return list(self._rows)


class _FakeConn:
    def __init__(self, db):
        self.db = db
        self.closed = False

    def cursor(self):
        return _FakeCursor(self)

    def close(self):
        self.closed = True


class _FakeDB:
    def __init__(self, node="db1", fail_seqs=(), commit_anyway=(), refuse_connects=0):
        self.node = node
        self.fail_seqs = set(fail_seqs)
        self.commit_anyway = set(commit_anyway)
        self.refuse_connects = refuse_connects
        self.rows = set()
        self.ddl = []
        self.connects = []

    def connect(self, **kwargs):
        self.connects.append(kwargs)
        if self.refuse_connects > 0:
            self.refuse_connects -= 1
            raise drill_probe.pymysql.err.OperationalError(2003, "Can't connect to MySQL server")
        return _FakeConn(self)


@pytest.fixture
def fake_db(monkeypatch):
    if not drill_probe.HAS_PYMYSQL:
        pytest.skip("PyMySQL not installed")
    db = _FakeDB(fail_seqs={3, 5}, commit_anyway={5})
    monkeypatch.setattr(drill_probe.pymysql, "connect", db.connect)
    return db


def test_writes_reconnect_after_failures_and_record_the_node(tmp_path, fake_db):
    path = tmp_path / "e.jsonl"
    result = run_probe(ProbeConfig(events_path=str(path), db_host="vip", db_password="pw", duration=10,
                                   write_rate=200, max_writes=6, run_id="w1"))
    writes = _of(load_events(str(path)), "write")
    assert [(e["seq"], e["outcome"], e["reconnect"]) for e in writes] == [
        (1, "ok", True), (2, "ok", False), (3, "error", False), (4, "ok", True), (5, "error", False),
        (6, "ok", True)]
    assert writes[2]["error_class"] == "OperationalError(2013)"
    assert all(e["node"] == "db1" for e in writes)
    assert len(fake_db.connects) == 3
    kwargs = fake_db.connects[0]
    assert (kwargs["autocommit"], kwargs["connect_timeout"], kwargs["read_timeout"]) == (True, 2.0, 2.0)
    assert "CREATE TABLE IF NOT EXISTS `drill_writes`" in fake_db.ddl[0]
    assert result["writes_acknowledged"] == 4
    assert acknowledged_from_events(load_events(str(path))) == ("w1", [1, 2, 4, 6])


def test_refused_connections_are_write_errors(tmp_path, fake_db):
    fake_db.refuse_connects = 2
    fake_db.fail_seqs = set()
    path = tmp_path / "e.jsonl"
    run_probe(ProbeConfig(events_path=str(path), db_host="vip", duration=10, write_rate=200, max_writes=3))
    writes = _of(load_events(str(path)), "write")
    assert [(e["outcome"], e["error_class"]) for e in writes] == [
        ("error", "OperationalError(2003)"), ("error", "OperationalError(2003)"), ("ok", None)]


def test_verify_finds_lost_and_unacknowledged_rows(tmp_path, fake_db):
    path = tmp_path / "e.jsonl"
    run_probe(ProbeConfig(events_path=str(path), db_host="vip", duration=10, write_rate=200, max_writes=6,
                          run_id="w2"))
    fake_db.rows.discard(4)  # the failover lost an acknowledged row
    fake_db.node = "db2"
    result = verify_events_file(str(path), db_host="vip", db_password="pw", attempts=1)
    assert result["verified"] is True
    assert (result["node"], result["acknowledged"], result["present"]) == ("db2", 4, 4)
    assert result["lost"] == [4]
    assert result["unacknowledged_present"] == [5]  # seq 5 committed although its client saw an error
    last = load_events(str(path))[-1]
    assert last["kind"] == "verify" and last["lost"] == [4]
    report = build_report("x", load_events(str(path)))
    assert (report["lost_writes"], report["rpo_rows"], report["unacknowledged_present"]) == (1, 1, 1)


def test_verify_retries_then_reports_unverified(fake_db):
    fake_db.refuse_connects = 5
    result = verify_writes("w3", [1, 2], "vip", attempts=3, retry_delay=0)
    assert result["verified"] is False
    assert result["lost"] is None
    assert result["attempts"] == 3
    assert result["error"].startswith("OperationalError(2003)")
    fake_db.refuse_connects = 1
    fake_db.rows = {1, 2}
    result = verify_writes("w3", [1, 2], "vip", attempts=3, retry_delay=0)
    assert (result["verified"], result["attempts"], result["lost"]) == (True, 2, [])


# ------------------------------------------------------------------ events file
def test_load_events_tolerates_a_truncated_last_line(tmp_path):
    path = tmp_path / "e.jsonl"
    path.write_text('{"kind":"run_start","run_id":"a"}\n\n{"kind":"write","run_id":"a","seq":1,"outcome":"ok"}\n'
                    '{"kind":"write","run_id":"a","se')
    events = load_events(str(path))
    assert len(events) == 2
    assert acknowledged_from_events(events) == ("a", [1])


def test_acknowledged_refuses_mixed_runs():
    with pytest.raises(ProbeError):
        acknowledged_from_events([{"kind": "write", "run_id": "a", "seq": 1, "outcome": "ok"},
                                  {"kind": "write", "run_id": "b", "seq": 1, "outcome": "ok"}])


# ------------------------------------------------------------------ read-only page stream
def test_read_stream_runs_beside_the_main_stream(tmp_path, web):
    path = tmp_path / "e.jsonl"
    result = run_probe(ProbeConfig(events_path=str(path), url=web + "/", duration=10, max_requests=4,
                                   rate=100, read_url=web + "/read.php", read_rate=100,
                                   max_read_requests=5, read_concurrency=2, run_id="run1"))
    events = load_events(str(path))
    reads = _of(events, "read")
    assert len(_of(events, "http")) == 4
    assert len(reads) == 5
    assert sorted(e["seq"] for e in reads) == list(range(1, 6))
    assert (result["read_ok"], result["read_error"], result["http_ok"]) == (5, 0, 4)
    for event in reads:
        assert EVENT_KEYS <= set(event)
        assert (event["outcome"], event["status"], event["node"], event["db_node"], event["via"]) == (
            "ok", 200, "web1", "db3", "reader")
    assert events[0]["params"]["read_url"] == web + "/read.php"
    assert events[-1]["read_ok"] == 5
    rep = build_report("db_kill", events, read_gate=True)
    assert (rep["read_requests_total"], rep["read_success_ratio"], rep["read_via"]) == (5, 1.0, {"reader": 5})
    assert rep["read_gate_breaches"] == []


def test_read_stream_alone_and_its_failures(tmp_path, web):
    path = tmp_path / "e.jsonl"
    result = run_probe(ProbeConfig(events_path=str(path), read_url=web + "/read-down", duration=5,
                                   read_rate=50, max_read_requests=3))
    reads = _of(load_events(str(path)), "read")
    assert [(e["outcome"], e["status"], e["error_class"], e["via"]) for e in reads] == [
        ("error", 503, "HTTP503", None)] * 3
    assert (result["read_error"], result["http_ok"], result["http_error"]) == (3, 0, 0)


def test_without_read_url_no_read_events(tmp_path, web):
    path = tmp_path / "e.jsonl"
    result = run_probe(ProbeConfig(events_path=str(path), url=web + "/", duration=5, max_requests=2, rate=50))
    assert _of(load_events(str(path)), "read") == []
    assert (result["read_ok"], result["read_error"]) == (0, 0)
