#!/usr/bin/env python
# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Time to give a database node a copy of the tier, by data size (issue 16 "Figures": time to add a DB replica).

  python benchmarks/bench_replica_clone.py [--sizes 0,1GiB] [--runs 1] [--inventory inventories/lab]

The copy a fresh node gets from add_node.yml and replace_node.yml is the mariabackup stream of
roles/mysql/tasks/reseed.yml (donor -> target over TLS, nothing staged). rejoin.yml's reseed runs exactly that
stream on a replica that already exists, so the benchmark times `ansible-playbook playbooks/rejoin.yml -e
ha_lamp_rejoin_reseed=<the last replica>` (its old datadir is moved aside, the copy streamed, prepared, started,
and replication caught up), without new containers. For each size: tools/make_dataset.py's sysbench dataset (0:
no dataset), its size on the primary (information_schema data + index), then --runs reseeds, each followed by
`du -sb` of the cloned datadir (what the stream carried): wall time (median) and datadir MB/s (10^6 bytes). The datadirs moved aside
are removed after each run (they would fill the lab's disk). Printed, never asserted. The last size's dataset
stays (python tools/make_dataset.py --drop removes it).

Run it as root on the lab host (the controller) with the venv's Python after `./labctl up`; it refuses an
inventory without `ha_lamp_lab: true`. Every run is bounded (--timeout per reseed).
"""

import argparse
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools"))
import labkit  # noqa: E402  benchmarks/labkit.py (on sys.path: this script's own folder)
import make_dataset  # noqa: E402  tools/make_dataset.py: the dataset, the primary, sizes

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def datadir_bytes(address):
    """Bytes of /var/lib/mysql on a node (podman exec, read-only). On a freshly cloned node: what the stream
    brought (mariabackup copies no binary log)."""
    return int(labkit.podman("exec", address, "du", "-sb", "/var/lib/mysql").split()[0])


def remove_moved_datadirs(address):
    """The reseed keeps the old datadir beside the new one (forensics); a benchmark has none to keep."""
    labkit.podman("exec", address, "sh", "-c", "rm -rf /var/lib/mysql.before-reseed-*")


def reseed(inventory, target, timeout):
    """One rejoin.yml reseed of `target`; returns its wall time in seconds. Exits on failure."""
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"))
    argv = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", inventory,
            os.path.join(ROOT, "playbooks", "rejoin.yml"), "-e", f"ha_lamp_rejoin_reseed={target}"]
    started = time.monotonic()
    proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    elapsed = time.monotonic() - started
    if proc.returncode != 0:
        lines = proc.stdout.splitlines()
        errors = [line for i, line in enumerate(lines) if "fatal:" in line or (i and "fatal:" in lines[i - 1])
                  or line.strip().startswith("msg:")]
        sys.exit(f"rejoin.yml -e ha_lamp_rejoin_reseed={target} failed (rc={proc.returncode}):\n" + "\n".join(errors[-20:]))
    return elapsed


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--inventory", default="inventories/lab")
    parser.add_argument("--sizes", default="0,1GiB", help="dataset sizes, comma separated (0: none); default %(default)s")
    parser.add_argument("--runs", type=int, default=1, help="reseeds per size (default 1)")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds one reseed may take (default 3600)")
    args = parser.parse_args(argv)
    args.size_bytes = [0 if s.strip() == "0" else make_dataset.parse_size(s) for s in args.sizes.split(",")]
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def main(argv=None):
    args = parse_args(argv)
    lab = make_dataset.read_lab(args.inventory)
    rows = []
    for size in args.size_bytes:
        print(f"\n== dataset {make_dataset.human_bytes(size) if size else 'none'}", flush=True)
        make_dataset.drop(lab)
        if size:
            make_dataset.ensure(lab, size, tables=8, threads=4)
        primary, primary_address = make_dataset.find_primary(lab.dbs)
        found = make_dataset.measure(primary, primary_address)
        replicas = sorted(name for name in lab.dbs if name != primary)
        target = replicas[-1]
        times = []
        for run in range(args.runs):
            seconds = reseed(args.inventory, target, args.timeout)
            copied = datadir_bytes(lab.dbs[target])
            remove_moved_datadirs(lab.dbs[target])
            print(f"reseed {run + 1}/{args.runs} of {target}: {seconds:.1f} s", flush=True)
            times.append(seconds)
        median = labkit.median_or_none(times)
        rows.append((make_dataset.human_bytes(found.info_bytes), make_dataset.human_bytes(copied), median,
                     copied / 1e6 / median))
    print("\n| user data (information_schema) | datadir streamed | clone, playbook wall time (median) | MB/s |")
    print("|---|---|---|---|")
    for info, copied, median, rate in rows:
        print(f"| {info} | {copied} | {median:.1f} s | {rate:.1f} |")


if __name__ == "__main__":
    main()
