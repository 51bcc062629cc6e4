#!/usr/bin/env python
"""Bounded WordPress benchmark against the lab: page views/s with p50/p99, and upload-then-read latency.

    benchmarks/bench_wordpress.py views URL [-n 2000] [-c 8] [--max-seconds 120]
    WP_ADMIN_PASSWORD=... benchmarks/bench_wordpress.py upload --site http://VIP \\
        --node web1=http://10.213.77.21 --node web2=http://10.213.77.22 [-n 10]

``views``: N GETs of URL at concurrency C (each worker one request at a time, a new connection per
request, like the drill probe); prints requests, failures (non-2xx or no answer), req/s, p50, p99.
``upload``: N times, upload a new PNG through the VIP (tools/wp_client.py), then read it from every
node; prints p50/p99 of the upload and of "upload done -> 200 from every node".
Both stop by themselves (count and --max-seconds). Only point it at the lab's own addresses.
Output: one JSON document.
"""

import argparse
import json
import os
import statistics
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import wp_client  # noqa: E402  (tools/wp_client.py: the same client as the Molecule stage)


def percentile(values, pct):
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, int(round(pct / 100.0 * len(ordered) + 0.5)) - 1))
    return round(ordered[index], 4)


def views(args):
    deadline = time.monotonic() + args.max_seconds
    lock = threading.Lock()
    state = {"next": 0}
    latencies, failures = [], {}

    def worker():
        while True:
            with lock:
                if state["next"] >= args.requests or time.monotonic() > deadline:
                    return
                state["next"] += 1
            started = time.monotonic()
            req = urllib.request.Request(args.url, headers={"User-Agent": "ha-lamp-bench-wordpress/1",
                                                            "Connection": "close"})
            try:
                with urllib.request.urlopen(req, timeout=args.timeout) as resp:
                    resp.read()
                    error = None if 200 <= resp.status < 300 else "HTTP%d" % resp.status
            except urllib.error.HTTPError as exc:
                error = "HTTP%d" % exc.code
            except OSError as exc:
                error = type(exc).__name__
            with lock:
                if error:
                    failures[error] = failures.get(error, 0) + 1
                else:
                    latencies.append(time.monotonic() - started)

    started = time.monotonic()
    threads = [threading.Thread(target=worker, daemon=True) for _worker in range(args.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    done = len(latencies) + sum(failures.values())
    return {"url": args.url, "requests": done, "ok": len(latencies), "failed": sum(failures.values()),
            "failures": failures, "concurrency": args.concurrency, "seconds": round(elapsed, 2),
            "req_per_s": round(done / elapsed, 1) if elapsed else None,
            "p50_s": percentile(latencies, 50), "p99_s": percentile(latencies, 99),
            "mean_s": round(statistics.fmean(latencies), 4) if latencies else None}


def upload(args):
    password = os.environ.get("WP_ADMIN_PASSWORD", "")
    if not password:
        raise SystemExit("WP_ADMIN_PASSWORD must be set")
    nodes = dict(n.split("=", 1) for n in args.node)
    client = wp_client.Client(args.site, timeout=args.timeout)
    nonce = client.login(args.user, password)
    deadline = time.monotonic() + args.max_seconds
    uploads, visible, failed = [], [], 0
    for i in range(args.requests):
        if time.monotonic() > deadline:
            break
        media, png, seconds = wp_client.upload_image(client, nonce, "bench%d" % i)
        uploads.append(seconds)
        path = urllib.parse.urlsplit(media["source_url"]).path
        started = time.monotonic()
        reads = wp_client.read_from_nodes(client, nodes, path, expect_bytes=png)
        if all(r["ok"] for r in reads.values()):
            visible.append(time.monotonic() - started)
        else:
            failed += 1
    return {"site": args.site, "nodes": list(nodes), "uploads": len(uploads), "read_failures": failed,
            "upload_p50_s": percentile(uploads, 50), "upload_p99_s": percentile(uploads, 99),
            "read_all_nodes_p50_s": percentile(visible, 50), "read_all_nodes_p99_s": percentile(visible, 99)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    sub = parser.add_subparsers(dest="command", required=True)
    v = sub.add_parser("views", help="page views: req/s, p50, p99, failures")
    v.add_argument("url")
    v.add_argument("-n", "--requests", type=int, default=2000)
    v.add_argument("-c", "--concurrency", type=int, default=8)
    u = sub.add_parser("upload", help="upload through the VIP, then read from every node")
    u.add_argument("--site", required=True)
    u.add_argument("--node", action="append", required=True, metavar="NAME=URL")
    u.add_argument("--user", default="admin")
    u.add_argument("-n", "--requests", type=int, default=10)
    for p in (v, u):
        p.add_argument("--timeout", type=float, default=10.0, help="seconds per HTTP request")
        p.add_argument("--max-seconds", type=float, default=120.0, help="hard bound of the run")
    args = parser.parse_args(argv)
    if not 1 <= args.requests <= 100000 or (args.command == "views" and not 1 <= args.concurrency <= 256):
        parser.error("requests must be 1..100000 and concurrency 1..256")
    result = views(args) if args.command == "views" else upload(args)
    print(json.dumps(result, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
