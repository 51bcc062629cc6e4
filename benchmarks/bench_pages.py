#!/usr/bin/env python
"""What bounds the demo's pages: requests/s, latency and Server-Timing phases per page, through the VIP.

  python benchmarks/bench_pages.py [--runs 5] [--seconds 5] [--connections 8] [--samples 50]
                                   [--inventory inventories/lab] [--small]

Run from the repository with the venv active (ansible-inventory reads the lab's addresses); needs wrk.
Each run loads these pages in turn with wrk (interleaved, so a noisy moment hits every page alike):

  static.txt         a static file: what Apache and HAProxy alone cost
  read.php           the read-only page: no session, the readers port
  page.php           the read-mostly page, anonymous: no session, the readers port
  page.php+session   the same with a session cookie (taken from index.php before each run): the session
                     is read from the writer port and closed at once (read_and_close), never written
  index.php          the write page: session read + write and one visits row (semi-sync commits)

and prints the median requests/s, p50 and p99 of each page over the runs.

wrk keeps no response headers, so for the pages that send Server-Timing (page.php and index.php) a Python
sampler GETs each page one request at a time: --samples requests before any load ("idle": what each phase
costs alone) and --samples requests spread over the wrk runs ("load": one more client beside wrk's
--connections). The median of each phase, idle and under load, shows where a request's time goes; the phase
that dominates under load, or grows most from idle to load, is what bounds the page.

--small: a CI-sized quick run (1 run of 2 s, 2 connections, 10 samples) unless those options are given.
Every load is bounded by --seconds, every sampler by its request count and a time limit, and every request
goes to the lab's VIP, read from the inventory.
"""
import argparse
import http.cookies
import math
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import NamedTuple, Optional

import labkit  # benchmarks/labkit.py: inventory, wrk and figures shared by the benchmarks

NORMAL = {"runs": 5, "seconds": 5, "connections": 8, "samples": 50}
SMALL = {"runs": 1, "seconds": 2, "connections": 2, "samples": 10}
LIMITS = {"runs": (1, 20), "seconds": (1, 60), "connections": (1, 256), "samples": (1, 200)}
REQUEST_TIMEOUT = 5.0  # s, one sampler request
IDLE_SAMPLING_LIMIT = 60.0  # s, the idle sampler of one page


class Page(NamedTuple):
    name: str
    path: str
    session: bool  # send a session cookie taken from index.php
    timed: bool  # the page sends Server-Timing
    expect: Optional[str]  # a line a good answer contains


PAGES = (
    Page("static.txt", "/static.txt", session=False, timed=False, expect=None),
    Page("read.php", "/read.php", session=False, timed=False, expect="read_via="),
    Page("page.php", "/page.php", session=False, timed=True, expect="session=none"),
    Page("page.php+session", "/page.php", session=True, timed=True, expect="session=read"),
    Page("index.php", "/index.php", session=False, timed=True, expect="visit_read_back=ok"),
)


class WrkRun(NamedTuple):
    rps: float
    p50_ms: Optional[float]
    p99_ms: Optional[float]
    errors: int  # socket errors and non-2xx/3xx answers


class Sample(NamedTuple):
    status: Optional[int]  # None: no HTTP answer
    phases: dict  # Server-Timing, ms by phase name
    ok: bool  # 200 and the expected line


# --- pure functions (tests/unit/test_bench_pages.py) ---------------------------------------------

def resolve_settings(args):
    """Fill the options left unset from --small or the normal defaults; refuse values out of bounds."""
    defaults = SMALL if args.small else NORMAL
    for name, default in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, default)
        low, high = LIMITS[name]
        if not low <= getattr(args, name) <= high:
            raise SystemExit(f"--{name} must be {low}..{high}: every load and sampler stays bounded")
    return args


def parse_server_timing(value):
    """A Server-Timing header value -> {metric: dur in ms}, in header order.

    Metrics without a dur are left out (they carry no time); a metric named twice is summed.
    Commas and semicolons inside quoted desc values do not split.
    """
    phases = {}
    for metric in _split_unquoted(value or "", ","):
        parts = [p.strip() for p in _split_unquoted(metric, ";")]
        name = parts[0]
        if not name:
            continue
        for param in parts[1:]:
            key, _equals, raw = param.partition("=")
            if key.strip().lower() == "dur":
                try:
                    dur = float(raw.strip().strip('"'))
                except ValueError:
                    break
                phases[name] = phases.get(name, 0.0) + dur
                break
    return phases


def _split_unquoted(text, separator):
    """Split on `separator` outside double quotes."""
    pieces, current, quoted = [], [], False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == separator and not quoted:
            pieces.append("".join(current))
            current = []
        else:
            current.append(char)
    pieces.append("".join(current))
    return pieces


def cookie_pair(set_cookie_values):
    """The first cookie of Set-Cookie header values as "name=value" for a Cookie header, or None."""
    for value in set_cookie_values:
        jar = http.cookies.SimpleCookie()
        try:
            jar.load(value)
        except http.cookies.CookieError:
            continue
        for name, morsel in jar.items():
            return f"{name}={morsel.value}"
    return None


def phase_medians(samples):
    """Median ms of each Server-Timing phase over the samples that carried it, in first-seen order."""
    names = []
    for sample in samples:
        names += [name for name in sample.phases if name not in names]
    return {name: labkit.median_or_none(s.phases.get(name) for s in samples) for name in names}


def phase_columns(medians_list):
    """Every phase name seen, in first-seen order, `total` last."""
    names = []
    for medians in medians_list:
        names += [name for name in medians if name not in names and name != "total"]
    return names + ["total"]


def dominant_phase(medians):
    """(phase, ms, share of total) of the longest phase other than total, or None."""
    phases = {n: ms for n, ms in medians.items() if n != "total" and ms is not None}
    if not phases:
        return None
    name = max(phases, key=phases.get)
    total = medians.get("total")
    return name, phases[name], (phases[name] / total if total else None)


def _ms(value, width):
    return f"{labkit.fmt(value):>{width}}"


def format_load_table(results):
    """{page: [WrkRun per run]} -> the requests/s and latency table (medians over the runs)."""
    lines = [f"{'page':<18} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}"]
    for page, runs in results.items():
        rps = labkit.median_or_none(r.rps for r in runs)
        lines.append(f"{page:<18} {rps:>9.0f} {_ms(labkit.median_or_none(r.p50_ms for r in runs), 8)}"
                     f" {_ms(labkit.median_or_none(r.p99_ms for r in runs), 8)} {sum(r.errors for r in runs):>7}")
    return "\n".join(lines)


def format_phase_table(rows):
    """[(page, when, [Sample])] -> the Server-Timing table: median ms of each phase, samples, bad answers."""
    medians = [phase_medians(samples) for _page, _when, samples in rows]
    columns = phase_columns(medians)
    widths = [max(len(c), 6) for c in columns]
    head = f"{'page':<18} {'when':<5} {'n':>3} {'bad':>3} " + " ".join(f"{c:>{w}}" for c, w in zip(columns, widths))
    lines = [head]
    for (page, when, samples), median in zip(rows, medians):
        bad = sum(1 for s in samples if not s.ok)
        cells = " ".join(_ms(median.get(c), w) for c, w in zip(columns, widths))
        lines.append(f"{page:<18} {when:<5} {len(samples):>3} {bad:>3} {cells}")
    return "\n".join(lines)


def format_dominant(rows):
    """[(page, [Sample])] -> one line per page: its longest phase and its share of the total."""
    lines = []
    for page, samples in rows:
        medians = phase_medians(samples)
        found = dominant_phase(medians)
        if found is None:
            lines.append(f"  {page:<18} no Server-Timing samples")
            continue
        name, ms, share = found
        of_total = f" of {medians['total']:.2f} ms ({share:.0%})" if share is not None else ""
        lines.append(f"  {page:<18} {name:<16} {ms:.2f} ms{of_total}")
    return "\n".join(lines)


def samples_per_run(total, runs):
    return math.ceil(total / runs)


# --- talking to the lab ------------------------------------------------------------------------

def fetch(opener, url, cookie=None, expect=None):
    """One GET -> Sample (a 503 is an answer too: its Server-Timing still counts)."""
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    try:
        with opener.open(request, timeout=REQUEST_TIMEOUT) as response:
            status, headers, body = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, headers, body = error.code, error.headers, error.read()
    except (urllib.error.URLError, OSError):
        return Sample(None, {}, False)
    timing = ", ".join(headers.get_all("Server-Timing") or [])
    text = body.decode("utf-8", "replace")
    ok = status == 200 and (expect is None or any(line == expect for line in text.splitlines()))
    return Sample(status, parse_server_timing(timing), ok)


def session_cookie(opener, vip):
    """A fresh session cookie: index.php starts a session (and writes its row) for a client without one."""
    request = urllib.request.Request(f"http://{vip}/index.php")
    with opener.open(request, timeout=REQUEST_TIMEOUT) as response:
        cookie = cookie_pair(response.headers.get_all("Set-Cookie") or [])
    if cookie is None:
        raise SystemExit("index.php set no session cookie: is the demo deployed (and sessions enabled)?")
    return cookie


def sample_idle(opener, url, cookie, expect, count):
    """`count` GETs one after the other, stopping early at IDLE_SAMPLING_LIMIT seconds."""
    samples, deadline = [], time.monotonic() + IDLE_SAMPLING_LIMIT
    for _sample in range(count):
        if time.monotonic() >= deadline:
            break
        samples.append(fetch(opener, url, cookie, expect))
    return samples


def load(url, args, cookie=None, sampling=None):
    """One wrk load; with sampling=(opener, expect, count), GETs spread over it. Returns (WrkRun, [Sample])."""
    # wrk needs at least one connection per thread.
    command = labkit.wrk_command(url, args.seconds, args.connections, min(2, args.connections), cookie=cookie)
    proc = subprocess.Popen(command,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    samples = []
    try:
        if sampling:
            opener, expect, count = sampling
            deadline = time.monotonic() + args.seconds
            gap = args.seconds / (count + 1)
            for _sample in range(count):
                time.sleep(gap)
                if proc.poll() is not None or time.monotonic() >= deadline:
                    break
                samples.append(fetch(opener, url, cookie, expect))
        out, err = proc.communicate(timeout=args.seconds + 30)
    finally:
        if proc.poll() is None:  # only on an error above: never leave this wrk behind
            proc.kill()
            proc.wait()
    if proc.returncode != 0:
        raise SystemExit(f"wrk failed on {url}: {err.strip()}")
    figures = labkit.parse_wrk(out, strict=True)
    return WrkRun(figures["rps"], figures["p50_ms"], figures["p99_ms"], figures["errors"]), samples


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--inventory", default="inventories/lab")
    parser.add_argument("--runs", type=int, help=f"loads per page (default {NORMAL['runs']})")
    parser.add_argument("--seconds", type=int, help=f"duration of each load (default {NORMAL['seconds']}, max 60)")
    parser.add_argument("--connections", type=int, help=f"wrk connections (default {NORMAL['connections']})")
    parser.add_argument("--samples", type=int,
                        help=f"Server-Timing samples per page, idle and under load each (default {NORMAL['samples']})")
    parser.add_argument("--small", action="store_true", help="CI-sized quick run (1 x 2 s, 2 connections, 10 samples)")
    args = resolve_settings(parser.parse_args(argv))
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: apt-get install wrk (./labctl up installs it)")

    vip = labkit.lab_vips(labkit.read_inventory(args.inventory))["public"]
    opener = labkit.http_opener()
    timed = [page for page in PAGES if page.timed]

    print(f"idle Server-Timing samples through the VIP {vip} ({args.samples} per page)...")
    idle = {}
    for page in timed:
        cookie = session_cookie(opener, vip) if page.session else None
        idle[page.name] = sample_idle(opener, f"http://{vip}{page.path}", cookie, page.expect, args.samples)

    results = {page.name: [] for page in PAGES}
    loaded = {page.name: [] for page in timed}
    per_run = samples_per_run(args.samples, args.runs)
    for run in range(args.runs):
        for page in PAGES:
            cookie = session_cookie(opener, vip) if page.session else None
            sampling = (opener, page.expect, per_run) if page.timed else None
            wrk_run, samples = load(f"http://{vip}{page.path}", args, cookie, sampling)
            results[page.name].append(wrk_run)
            if page.timed:
                loaded[page.name] += samples
        print(f"run {run + 1}/{args.runs}: " + ", ".join(f"{n} {r[-1].rps:.0f} req/s" for n, r in results.items()))

    print(f"\nmedian of {args.runs} runs, {args.seconds} s each, {args.connections} connections,"
          f" through the VIP {vip}:")
    print(format_load_table(results))
    rows = []
    for page in timed:
        rows += [(page.name, "idle", idle[page.name]), (page.name, "load", loaded[page.name])]
    print("\nServer-Timing, median ms per phase (idle: one request at a time; load: sampled during the runs;"
          " bad: not 200 or not the expected answer):")
    print(format_phase_table(rows))
    print("\nlongest phase under load (what bounds each page):")
    print(format_dominant([(page.name, loaded[page.name]) for page in timed]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
