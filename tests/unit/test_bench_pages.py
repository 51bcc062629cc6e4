"""Pure logic of benchmarks/bench_pages.py (no lab, no wrk): parsers, medians, tables, the sampler's GET.
The helpers it shares with the other benchmarks are tested in test_bench_labkit.py.

    .venv/bin/python -m pytest -q tests/unit/test_bench_pages.py
"""

import argparse
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

BENCHMARKS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "benchmarks")
if BENCHMARKS not in sys.path:
    sys.path.insert(0, BENCHMARKS)  # bench_pages imports labkit by name, as when run as a script

import bench_pages  # noqa: E402
import labkit  # noqa: E402
from bench_pages import Sample, WrkRun  # noqa: E402

# What index.php and page.php send (PhaseClock::send).
INDEX_TIMING = ("db-connect;dur=3.07, session-connect;dur=2.50, session-lock;dur=0.50, session-read;dur=2.09, "
                "session-write;dur=4.00, insert;dur=5.25, select;dur=1.00, total;dur=18.50")


def test_parse_server_timing_reads_every_phase_in_order():
    phases = bench_pages.parse_server_timing(INDEX_TIMING)
    assert list(phases) == ["db-connect", "session-connect", "session-lock", "session-read", "session-write",
                            "insert", "select", "total"]
    assert phases["db-connect"] == 3.07
    assert phases["insert"] == 5.25
    assert phases["total"] == 18.5


def test_parse_server_timing_other_forms():
    value = 'cache;desc="a, b; c";dur=2.5, missedCache, db;dur=53, app;dur="47.2", db;dur=1, bad;dur=x'
    assert bench_pages.parse_server_timing(value) == {"cache": 2.5, "db": 54.0, "app": 47.2}
    assert bench_pages.parse_server_timing("") == {}
    assert bench_pages.parse_server_timing(None) == {}


def test_cookie_pair_takes_the_first_cookie():
    assert bench_pages.cookie_pair(["PHPSESSID=k3j4h5; path=/; HttpOnly; SameSite=Lax"]) == "PHPSESSID=k3j4h5"
    assert bench_pages.cookie_pair(["", "sid=a1,b2-c3; path=/"]) == "sid=a1,b2-c3"
    assert bench_pages.cookie_pair([]) is None


def sample(**phases):
    return Sample(200, phases, True)


def test_phase_medians_per_phase_over_the_samples_that_carry_it():
    samples = [sample(**{"db-connect": 1.0, "select": 4.0, "total": 6.0}),
               sample(**{"db-connect": 3.0, "total": 8.0}),
               sample(**{"session-read": 2.0, "db-connect": 2.0, "select": 6.0, "total": 12.0}),
               Sample(None, {}, False)]
    assert bench_pages.phase_medians(samples) == {"db-connect": 2.0, "select": 5.0, "total": 8.0, "session-read": 2.0}
    assert bench_pages.phase_medians([]) == {}


def test_phase_columns_keeps_first_seen_order_and_total_last():
    medians = [{"total": 1.0, "a": 1.0, "b": 1.0}, {"c": 1.0, "a": 1.0}]
    assert bench_pages.phase_columns(medians) == ["a", "b", "c", "total"]
    assert bench_pages.phase_columns([]) == ["total"]


def test_dominant_phase():
    assert bench_pages.dominant_phase({"db-connect": 2.0, "insert": 6.0, "select": 1.0, "total": 12.0}) == (
        "insert", 6.0, 0.5)
    assert bench_pages.dominant_phase({"select": 3.0}) == ("select", 3.0, None)
    assert bench_pages.dominant_phase({"total": 3.0}) is None
    assert bench_pages.dominant_phase({}) is None


def test_format_load_table():
    results = {
        "static.txt": [WrkRun(2000.0, 1.0, 4.0, 0), WrkRun(3000.0, 2.0, 5.0, 0), WrkRun(2500.0, 1.5, 6.0, 1)],
        "index.php": [WrkRun(60.4, 40.0, 120.0, 2), WrkRun(80.6, None, None, 0)],
    }
    assert bench_pages.format_load_table(results) == (
        "page                   req/s   p50 ms   p99 ms  errors\n"
        "static.txt              2500     1.50     5.00       1\n"
        "index.php                 70    40.00   120.00       2")


def test_format_phase_table():
    rows = [
        ("page.php", "idle", [sample(**{"db-connect": 1.0, "select": 0.5, "total": 2.0})]),
        ("index.php", "load", [sample(**{"db-connect": 3.0, "insert": 10.0, "total": 20.0}),
                               Sample(503, {"db-connect": 5.0, "total": 6.0}, False)]),
    ]
    assert bench_pages.format_phase_table(rows) == (
        "page               when    n bad db-connect select insert  total\n"
        "page.php           idle    1   0       1.00   0.50      -   2.00\n"
        "index.php          load    2   1       4.00      -  10.00  13.00")


def test_format_dominant():
    rows = [("index.php", [sample(**{"db-connect": 3.0, "insert": 10.0, "total": 20.0})]),
            ("page.php", [])]
    assert bench_pages.format_dominant(rows) == (
        "  index.php          insert           10.00 ms of 20.00 ms (50%)\n"
        "  page.php           no Server-Timing samples")


def settings(**given):
    values = {"runs": None, "seconds": None, "connections": None, "samples": None, "small": False}
    values.update(given)
    return bench_pages.resolve_settings(argparse.Namespace(**values))


def test_resolve_settings_defaults_small_and_bounds():
    normal = settings()
    assert (normal.runs, normal.seconds, normal.connections, normal.samples) == (5, 5, 8, 50)
    small = settings(small=True, connections=4)
    assert (small.runs, small.seconds, small.connections, small.samples) == (1, 2, 4, 10)
    with pytest.raises(SystemExit, match="--seconds must be 1..60"):
        settings(seconds=61)
    with pytest.raises(SystemExit, match="--runs must be 1..20"):
        settings(runs=0)


def test_samples_per_run():
    assert bench_pages.samples_per_run(50, 5) == 10
    assert bench_pages.samples_per_run(50, 3) == 17
    assert bench_pages.samples_per_run(10, 1) == 10


class _Page(BaseHTTPRequestHandler):
    # /ok: the demo page with its Server-Timing; /down: index.php without a writer.
    def do_GET(self):
        if self.path == "/ok":
            status, body, cookie_ok = 200, b"web_node=web1\nsession=read\n", self.headers.get("Cookie") == "sid=1"
            if not cookie_ok:
                body = b"web_node=web1\nsession=none\n"
        else:
            status, body = 503, b"error=database writer unavailable, retry\n"
        self.send_response(status)
        self.send_header("Server-Timing", "db-connect;dur=1.50, total;dur=4.00")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def local_page():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_fetch_reads_server_timing_and_checks_the_answer(local_page):
    opener = labkit.http_opener()
    assert bench_pages.fetch(opener, local_page + "/ok", "sid=1", "session=read") == Sample(
        200, {"db-connect": 1.5, "total": 4.0}, True)
    assert bench_pages.fetch(opener, local_page + "/ok", None, "session=read").ok is False
    assert bench_pages.fetch(opener, local_page + "/down", None, None) == Sample(
        503, {"db-connect": 1.5, "total": 4.0}, False)


def test_fetch_without_an_answer():
    closed = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    port = closed.server_address[1]
    closed.server_close()  # nothing listens there any more
    assert bench_pages.fetch(labkit.http_opener(), f"http://127.0.0.1:{port}/ok") == Sample(None, {}, False)
