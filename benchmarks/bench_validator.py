#!/usr/bin/env python
"""Benchmark of the inventory redundancy validator.

Generates valid inventories of N hosts spread over many racks and sites, then measures
  * the rule core: validate() on the plain dict, CPU time, median of --runs runs;
  * the whole gate: `ansible-playbook -i <generated inventory> playbooks/validate.yml`
    (inventory parsing, hostvars, templating, the action plugin), one run per size, next to
    a no-op play on the same inventory: the difference is what the gate itself costs.
and prints the time per host and its ratio to the smallest size (1.0 everywhere = linear).

    python benchmarks/bench_validator.py                     # sizes 100,1000 (quick, used by the test suite)
    python benchmarks/bench_validator.py --sizes 100,1000,10000
    python benchmarks/bench_validator.py --sizes 10000 --no-playbook --runs 9

Target: the core validates 10,000 hosts in under 1 s on one core, growing linearly.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, ".collections"))

from ansible_collections.onprem.ha_lamp.plugins.module_utils.redundancy import validate  # noqa: E402

VIPS = [{"name": "public", "address": "10.255.255.200/8", "vrid": 51}, {"name": "internal", "address": "10.255.255.201/8", "vrid": 52, "purpose": "internal"}]


def generate(size):
    """A valid inventory of ``size`` hosts: 4% LBs, 56% web, 40% DB over size/20 racks in odd-numbered sites.

    The etcd members (dcs) are the first 3 databases, which sit in 3 different sites.
    """
    sites = max(3, size // 500) | 1  # odd, so databases never span an even number of sites
    racks_per_site = max(1, size // 20 // sites)
    counts = {"loadbalancers": max(2, size * 4 // 100), "databases": max(3, size * 40 // 100)}
    counts["webservers"] = max(2, size - counts["loadbalancers"] - counts["databases"])
    groups, hostvars = {}, {}
    serial = 0
    for tier, count in counts.items():
        prefix = {"loadbalancers": "lb", "webservers": "web", "databases": "db"}[tier]
        members = []
        for index in range(count):
            name = "%s%05d" % (prefix, index)
            site = serial % sites
            rack = (serial // sites) % racks_per_site
            serial += 1
            variables = {
                "ansible_host": "10.%d.%d.%d" % (serial >> 16 & 255, serial >> 8 & 255, serial & 255),
                "rack": "rack%03d" % rack,
                "site": "site%02d" % site,
                "ha_lamp_vips": VIPS,
                "ha_lamp_db_primary": "db00000",
                "ha_lamp_failure_domain": "rack",
            }
            if tier == "databases":
                variables["mysql_server_id"] = index + 1
            members.append(name)
            hostvars[name] = variables
        groups[tier] = members
    groups["dcs"] = groups["databases"][:3]
    return {"groups": groups, "hostvars": hostvars}


def time_core(inventory, runs):
    # CPU time of this process: the target is about one core, and wall-clock time on a shared
    # machine also counts the time other processes hold the CPU.
    timings = []
    for _run in range(runs):
        start = time.process_time()
        report = validate(inventory)
        timings.append(time.process_time() - start)
    if not report["ok"]:
        raise SystemExit("generated inventory is not valid: %s" % report["findings"][:3])
    return statistics.median(timings), report


def write_inventory(inventory, directory):
    """hosts.yml with host vars inline, cluster vars in group_vars/all.yml (like a real inventory)."""
    os.makedirs(os.path.join(directory, "group_vars"), exist_ok=True)
    with open(os.path.join(directory, "group_vars", "all.yml"), "w", encoding="utf-8") as handle:
        handle.write("---\nha_lamp_failure_domain: rack\nha_lamp_db_primary: db00000\nha_lamp_vips:\n")
        for vip in VIPS:
            handle.write("  - {name: %s, address: %s, vrid: %d, purpose: %s}\n"
                         % (vip["name"], vip["address"], vip["vrid"], vip.get("purpose", "public")))
    with open(os.path.join(directory, "hosts.yml"), "w", encoding="utf-8") as handle:
        handle.write("---\nall:\n  children:\n")
        for tier, members in inventory["groups"].items():
            handle.write("    %s:\n      hosts:\n" % tier)
            if tier == "dcs":  # members defined with their variables in databases
                handle.write("".join("        %s: {}\n" % name for name in members))
                continue
            for name in members:
                variables = inventory["hostvars"][name]
                extra = ", mysql_server_id: %d" % variables["mysql_server_id"] if "mysql_server_id" in variables else ""
                handle.write(
                    "        %s: {ansible_host: %s, rack: %s, site: %s%s}\n"
                    % (name, variables["ansible_host"], variables["rack"], variables["site"], extra)
                )


NOOP_PLAY = """---
- name: No-op baseline (inventory loading only)
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Nothing
      ansible.builtin.meta: noop
"""


def time_playbook(inventory):
    """Seconds for validate.yml and for a no-op play, both on the generated inventory."""
    playbook = shutil.which("ansible-playbook", path=os.path.dirname(sys.executable)) or shutil.which("ansible-playbook")
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"))
    timings = []
    with tempfile.TemporaryDirectory(prefix="bench-validator-") as directory:
        inventory_dir = os.path.join(directory, "inventory")
        write_inventory(inventory, inventory_dir)
        noop = os.path.join(directory, "noop.yml")
        with open(noop, "w", encoding="utf-8") as handle:
            handle.write(NOOP_PLAY)
        for play in (os.path.join(ROOT, "playbooks", "validate.yml"), noop):
            start = time.perf_counter()
            proc = subprocess.run([playbook, "-i", inventory_dir, play], cwd=ROOT, env=env, capture_output=True, text=True, check=False)
            timings.append(time.perf_counter() - start)
            if proc.returncode != 0:
                raise SystemExit("%s failed on the generated inventory:\n%s" % (play, (proc.stdout + proc.stderr)[-3000:]))
    return timings


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--sizes", default="100,1000", help="comma-separated host counts (default: 100,1000)")
    parser.add_argument("--runs", type=int, default=5, help="core runs per size; the median is reported (default: 5)")
    parser.add_argument("--no-playbook", action="store_true", help="time the rule core only")
    parser.add_argument(
        "--check",
        action="store_true",
        help="exit 1 unless the core stays under 1 s for 10,000 hosts (scaled) and grows at most 3x per host",
    )
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.sizes.split(",") if size.strip()]

    print(
        "%8s %7s %6s | %12s %8s %6s | %12s %8s %6s | %10s %10s"
        % ("hosts", "racks", "sites", "core median", "us/host", "ratio", "validate.yml", "ms/host", "ratio", "noop play", "gate only")
    )
    base_core = base_play = None
    failures = []
    for size in sizes:
        inventory = generate(size)
        core, report = time_core(inventory, args.runs)
        tiers = report["summary"]["tiers"]
        racks = len({domain for tier in tiers.values() for domain in tier["domains"]})
        per_host = core / size
        base_core = base_core or per_host
        line = "%8d %7d %6d | %9.1f ms %8.1f %6.2f |" % (
            size,
            racks,
            len(report["summary"]["sites"]),
            core * 1000,
            per_host * 1e6,
            per_host / base_core,
        )
        if not args.no_playbook:
            play, noop = time_playbook(inventory)
            play_per_host = play / size
            base_play = base_play or play_per_host
            line += " %10.2f s %8.2f %6.2f | %8.2f s %8.2f s" % (play, play_per_host * 1000, play_per_host / base_play, noop, play - noop)
        print(line, flush=True)
        if per_host * 10000 > 1.0:
            failures.append("core at %d hosts extrapolates to %.2f s for 10,000 hosts" % (size, per_host * 10000))
        if per_host / base_core > 3.0:
            failures.append("core cost per host grew %.1fx from %d to %d hosts" % (per_host / base_core, sizes[0], size))
    print("ratio = time per host relative to the first size (~1 or below = linear; fixed costs make small sizes dearer)")
    print("target: core < 1 s for 10,000 hosts, linear growth")
    if args.check and failures:
        print("FAILED: " + "; ".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
