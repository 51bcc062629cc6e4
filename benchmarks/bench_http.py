#!/usr/bin/env python3
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
import json
import os
import re
import shutil
import statistics
import subprocess
import sys

UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def lab_addresses(inventory):
    out = subprocess.run(["ansible-inventory", "-i", inventory, "--list"], check=True, capture_output=True, text=True)
    inv = json.loads(out.stdout)
    hostvars = inv["_meta"]["hostvars"]
    lb = inv["loadbalancers"]["hosts"][0]
    vip = hostvars[lb]["ha_lamp_vips"][0]["address"].split("/")[0]
    webs = inv["webservers"]["hosts"]
    return {
        "vip": vip,
        "web": hostvars[webs[0]]["ansible_host"],
        "other_webs": webs[1:],
        "lbs": [hostvars[h]["ansible_host"] for h in inv["loadbalancers"]["hosts"]],
    }


REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def podman(*args, stdin=None):
    # The lab's podman configuration (runc, cgroupfs, ulimits), wherever the script is run from.
    env = dict(os.environ, CONTAINERS_CONF=os.environ.get("CONTAINERS_CONF", os.path.join(REPO, "lab", "containers.conf")))
    return subprocess.run(["podman", *args], input=stdin, check=True, capture_output=True, text=True,
                          env=env, timeout=30).stdout


def haproxy_command(lb_address, command):
    """One runtime API command on a lab load balancer (the container is named by its address)."""
    out = podman("exec", "-i", lb_address, "socat", "stdio", "unix-connect:/run/haproxy/admin.sock",
                 stdin=command + "\n")
    if out.strip():
        raise RuntimeError(f"HAProxy on {lb_address} refused '{command}': {out.strip()}")


@contextlib.contextmanager
def one_capped_web_node(lab, cpus):
    """The first web node capped at `cpus` CPUs and the only one in rotation, for the duration."""
    try:
        podman("update", "--cpus", str(cpus), lab["web"])
        for lb in lab["lbs"]:
            for host in lab["other_webs"]:
                haproxy_command(lb, f"set server web/{host} state maint")
        yield
    finally:
        for lb in lab["lbs"]:
            for host in lab["other_webs"]:
                haproxy_command(lb, f"set server web/{host} state ready")
        podman("update", "--cpus", "0", lab["web"])


def wrk(url, seconds, connections):
    """Run one bounded wrk load; return requests/s, p50 ms, p99 ms and the error count."""
    cmd = ["wrk", "--latency", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--timeout", "2s", url]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=seconds + 30).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    latency = {m.group(1): float(m.group(2)) * UNITS[m.group(3)]
               for m in re.finditer(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)}
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, latency.get("50"), latency.get("99"), errors + (int(non_2xx.group(1)) if non_2xx else 0)


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
            samples[name].append(wrk(url, args.seconds, args.connections))
        print(f"run {run + 1}/{args.runs}: " + ", ".join(f"{n} {s[-1][0]:.0f} req/s" for n, s in samples.items()))

    print(f"\nmedian of {args.runs} runs, {args.seconds} s each, {args.connections} connections:")
    print(f"{'target':<22} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    median = {}
    for name, runs in samples.items():
        median[name] = statistics.median(r[0] for r in runs)
        p50 = statistics.median(r[1] for r in runs if r[1] is not None)
        p99 = statistics.median(r[2] for r in runs if r[2] is not None)
        print(f"{name:<22} {median[name]:>9.0f} {p50:>8.2f} {p99:>8.2f} {sum(r[3] for r in runs):>7}")
    return median


if __name__ == "__main__":
    sys.exit(main())
