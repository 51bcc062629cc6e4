#!/usr/bin/env python
"""HTTP figures of a running lab, measured with wrk (Debian package), medians over several runs.

  python benchmarks/bench_http.py [--runs 5] [--seconds 5] [--connections 8] [--inventory inventories/lab]

Per run, the same load (connections, threads, duration) is sent in turn to:
  static-direct  a static file straight to one web node
  static-vip     the same file through the VIP (HAProxy)
  app-vip        the demo PHP page through the VIP (PHP-FPM + a database write and read per request)
and the script prints the median requests/s and latency p50/p99 of each, with the ratios the issues ask
for: HAProxy overhead (static-vip / static-direct, target >= 0.9) and the PHP/DB cost per request
(app-vip / static-vip). Every load is bounded by --seconds and only targets the lab's own addresses.

On one machine the load generator, both load balancers and the web nodes share the same cores, so the
hop through HAProxy costs CPU the direct path does not pay. --web-cpus N adds the comparison that
stands for separate hardware: the first web node alone is capped at N CPUs (podman update --cpus, so it
is the bottleneck, as a web node is behind a real load balancer), every other web node is put in
maintenance on every load balancer (runtime API), and the same static file is loaded directly and
through the VIP, both served by that one node:
  static-direct-capped / static-vip-capped   (target >= 0.9)
The cap and the maintenance are undone afterwards, also when a run fails.
"""
import argparse
import contextlib
import shutil
import sys

import labkit  # benchmarks/labkit.py: inventory, podman, wrk and figures shared by the benchmarks


def lab_addresses(inventory):
    """The addresses this benchmark loads: the public VIP, the first web node and the others, the LBs."""
    inv = labkit.read_inventory(inventory)
    webs = labkit.group_hosts(inv, "webservers")
    names = list(webs)
    return {
        "vip": labkit.lab_vips(inv)["public"],
        "web": webs[names[0]],
        "other_webs": names[1:],
        "lbs": list(labkit.group_hosts(inv, "loadbalancers").values()),
    }


@contextlib.contextmanager
def one_capped_web_node(lab, cpus):
    """The first web node capped at `cpus` CPUs and the only one in rotation, for the duration."""
    try:
        labkit.podman("update", "--cpus", str(cpus), lab["web"])
        for lb in lab["lbs"]:
            for host in lab["other_webs"]:
                labkit.haproxy_command(lb, f"set server {labkit.WEB_BACKEND}/{host} state maint")
        yield
    finally:
        for lb in lab["lbs"]:
            for host in lab["other_webs"]:
                labkit.haproxy_command(lb, f"set server {labkit.WEB_BACKEND}/{host} state ready")
        labkit.podman("update", "--cpus", "0", lab["web"])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--inventory", default="inventories/lab")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=5, help="duration of each load (max 60)")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--web-cpus", type=float, default=0.0,
                        help="also measure one web node capped at this many CPUs, direct vs through the VIP (0: skip)")
    args = parser.parse_args(argv)
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: apt-get install wrk (./labctl up installs it)")
    if not 1 <= args.seconds <= 60 or not 1 <= args.runs <= 20:
        sys.exit("--seconds must be 1..60 and --runs 1..20: every load stays bounded")
    if not 0 <= args.web_cpus <= 2:
        sys.exit("--web-cpus must be between 0 (skip) and 2")

    lab = lab_addresses(args.inventory)
    targets = {
        "static-direct": f"http://{lab['web']}/static.txt",
        "static-vip": f"http://{lab['vip']}/static.txt",
        "app-vip": f"http://{lab['vip']}/",
    }
    median = load_series(targets, args)
    print(f"\nHAProxy overhead, static through VIP / direct: {median['static-vip'] / median['static-direct']:.2f} (target >= 0.9)")
    print(f"PHP + DB cost, demo app / static through VIP:  {median['app-vip'] / median['static-vip']:.2f}")

    if args.web_cpus:
        print(f"\nweb node {lab['web']} alone, capped at {args.web_cpus} CPUs (the other web nodes in maintenance):")
        capped = {
            "static-direct-capped": f"http://{lab['web']}/static.txt",
            "static-vip-capped": f"http://{lab['vip']}/static.txt",
        }
        with one_capped_web_node(lab, args.web_cpus):
            median = load_series(capped, args)
        ratio = median["static-vip-capped"] / median["static-direct-capped"]
        print(f"\nHAProxy overhead with the web node as the bottleneck, through VIP / direct: {ratio:.2f} (target >= 0.9)")
    return 0


def load_series(targets, args):
    """Each target loaded in turn, --runs times; prints every run and the medians; returns median req/s."""
    samples = {name: [] for name in targets}
    for run in range(args.runs):
        for name, url in targets.items():  # interleaved, so a noisy moment hits every target alike
            samples[name].append(labkit.run_wrk(url, args.seconds, args.connections))
        print(f"run {run + 1}/{args.runs}: " + ", ".join(f"{n} {s[-1]['rps']:.0f} req/s" for n, s in samples.items()))

    print(f"\nmedian of {args.runs} runs, {args.seconds} s each, {args.connections} connections:")
    print(f"{'target':<22} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    median = {}
    for name, runs in samples.items():
        median[name] = labkit.median_or_none(r["rps"] for r in runs)
        p50 = labkit.median_or_none(r["p50_ms"] for r in runs)
        p99 = labkit.median_or_none(r["p99_ms"] for r in runs)
        print(f"{name:<22} {median[name]:>9.0f} {labkit.fmt(p50):>8} {labkit.fmt(p99):>8} "
              f"{sum(r['errors'] for r in runs):>7}")
    return median


if __name__ == "__main__":
    sys.exit(main())
