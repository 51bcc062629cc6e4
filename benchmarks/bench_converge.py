#!/usr/bin/env python
"""Converge figures of the lab: the first site.yml on fresh containers, then idempotent reruns, with
the wall time and the split per role (Ansible's profile_roles and timer callbacks).

  python benchmarks/bench_converge.py                 # fresh lab (destroy, create), converge, 3 reruns
  python benchmarks/bench_converge.py --reruns 5      # more reruns for the median
  python benchmarks/bench_converge.py --rerun-only    # the running lab: reruns only (no destroy)
  python benchmarks/bench_converge.py --parse LOG... [--first LOG]   # the table of existing logs:
                                                      # reruns, and optionally the first converge

site.yml runs under the strategy HA_LAMP_SITE_STRATEGY names (labctl sets Mitogen's linear strategy
and its plugin path), else under Ansible's own linear strategy; the report names the one used.

The images must already be built (`./labctl images`): their build is not converge time. A fresh run
DESTROYS the running lab first. Every rerun must report changed=0 on every host; a change or a
failure ends the series with a non-zero exit. Logs go to drill-reports/converge-<UTC time>/.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import labkit  # benchmarks/labkit.py: inventory, podman, wrk and figures shared by the benchmarks

REPO = Path(__file__).resolve().parents[1]
INVENTORY = REPO / "inventories" / "lab"
CALLBACKS = "ansible.posix.profile_roles,ansible.posix.timer"
# Bound on one site.yml run: a hung run must not hold the machine.
RUN_TIMEOUT_S = 45 * 60

RECAP_HOST = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)")
ROLE_LINE = re.compile(r"^(\S+) -+ (\d+(?:\.\d+)?)s$")
TOOK = re.compile(r"Playbook run took (\d+) days, (\d+) hours, (\d+) minutes, (\d+) seconds")


def parse_run(text):
    """{'seconds', 'changed', 'failed', 'hosts', 'roles': {role: seconds}} of one site.yml log with the
    profile_roles and timer callbacks. The last PLAY RECAP, ROLES RECAP and timer line count."""
    recap = text.rsplit("PLAY RECAP", 1)[-1] if "PLAY RECAP" in text else ""
    hosts = {}
    for line in recap.splitlines():
        match = RECAP_HOST.match(line.strip())
        if match:
            hosts[match.group(1)] = {"changed": int(match.group(3)), "unreachable": int(match.group(4)),
                                     "failed": int(match.group(5))}
    roles = {}
    if "ROLES RECAP" in text:
        for line in text.rsplit("ROLES RECAP", 1)[1].splitlines():
            match = ROLE_LINE.match(line.strip())
            if match and match.group(1) != "total":
                roles[match.group(1).rsplit(".", 1)[-1]] = float(match.group(2))
    took = TOOK.findall(text)
    seconds = None
    if took:
        days, hours, minutes, secs = (int(v) for v in took[-1])
        seconds = ((days * 24 + hours) * 60 + minutes) * 60 + secs
    return {
        "seconds": seconds,
        "changed": sum(h["changed"] for h in hosts.values()),
        "failed": sum(h["failed"] + h["unreachable"] for h in hosts.values()),
        "hosts": hosts,
        "roles": roles,
    }


def run_playbook(playbook, log_path, extra_env=None):
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
               CONTAINERS_CONF=str(REPO / "lab" / "containers.conf"), ANSIBLE_NOCOLOR="1")
    env.update(extra_env or {})
    with open(log_path, "w", encoding="utf-8") as log:
        result = subprocess.run(["ansible-playbook", "-i", str(INVENTORY), playbook], cwd=REPO, env=env,
                                stdout=log, stderr=subprocess.STDOUT, timeout=RUN_TIMEOUT_S, check=False)
    return result.returncode


def timed_site(log_path):
    started = time.monotonic()
    rc = run_playbook("playbooks/site.yml", log_path,
                      {"ANSIBLE_CALLBACKS_ENABLED": CALLBACKS, "ANSIBLE_STRATEGY": labkit.site_strategy()})
    figures = parse_run(Path(log_path).read_text(encoding="utf-8"))
    # The timer callback's whole seconds, else our own clock.
    if figures["seconds"] is None:
        figures["seconds"] = round(time.monotonic() - started)
    figures["rc"] = rc
    return figures


def table(first, reruns):
    """Lines of the report: totals, then seconds per role (first converge, rerun median)."""
    lines = []
    if first:
        lines.append(f"first converge: {first['seconds']} s, changed={first['changed']}, rc={first['rc']}")
    if reruns:
        secs = [r["seconds"] for r in reruns]
        lines.append(f"idempotent rerun: median {statistics.median(secs):g} s over {len(secs)} run(s) "
                     f"(min {min(secs)}, max {max(secs)}), changed={[r['changed'] for r in reruns]}")
    roles = sorted({role for run in ([first] if first else []) + reruns for role in run["roles"]})
    if roles:
        lines.append("")
        lines.append(f"{'role':<14}{'first (s)':>12}{'rerun median (s)':>18}")
        for role in sorted(roles, key=lambda r: -(first or reruns[0])["roles"].get(r, 0.0)):
            one = f"{first['roles'].get(role, 0.0):.1f}" if first else "-"
            rerun = f"{statistics.median(r['roles'].get(role, 0.0) for r in reruns):.1f}" if reruns else "-"
            lines.append(f"{role:<14}{one:>12}{rerun:>18}")
        lines.append("(role seconds add up the time each role's tasks ran, summed over the plays)")
    return lines


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reruns", type=int, default=3, help="idempotent reruns after the converge (1-20)")
    ap.add_argument("--rerun-only", action="store_true", help="keep the running lab: reruns only")
    ap.add_argument("--parse", nargs="+", metavar="LOG", help="only print the figures of existing rerun logs")
    ap.add_argument("--first", metavar="LOG", help="with --parse: the log of a first converge")
    args = ap.parse_args(argv)
    if not 1 <= args.reruns <= 20:
        ap.error(f"--reruns must be 1 to 20, got {args.reruns}")

    if args.parse:
        def parsed(path):
            return parse_run(Path(path).read_text(encoding="utf-8")) | {"rc": 0}
        first = parsed(args.first) if args.first else None
        print("\n".join(table(first, [parsed(p) for p in args.parse])))
        return 0

    out = REPO / "drill-reports" / time.strftime("converge-%Y%m%dT%H%M%SZ", time.gmtime())
    out.mkdir(parents=True, exist_ok=True)
    first = None
    if not args.rerun_only:
        for step in ("destroy", "create"):
            if run_playbook(f"lab/{step}.yml", out / f"{step}.log") != 0:
                print(f"lab/{step}.yml failed: {out / f'{step}.log'}", file=sys.stderr)
                return 1
        first = timed_site(out / "converge.log")
        print(f"converge: {first['seconds']} s, changed={first['changed']}, rc={first['rc']}", flush=True)
        if first["rc"] != 0:
            print(f"the converge failed: {out / 'converge.log'}", file=sys.stderr)
            return 1
    reruns, status = [], 0
    for i in range(1, args.reruns + 1):
        run = timed_site(out / f"rerun-{i}.log")
        print(f"rerun {i}: {run['seconds']} s, changed={run['changed']}, rc={run['rc']}", flush=True)
        reruns.append(run)
        if run["rc"] != 0 or run["changed"] != 0:
            print(f"rerun {i} was not a clean no-op: {out / f'rerun-{i}.log'}", file=sys.stderr)
            status = 1
            break
    print()
    print(f"strategy: {labkit.site_strategy()}")
    print("\n".join(table(first, reruns)))
    print(f"logs: {out}")
    return status


if __name__ == "__main__":
    sys.exit(main())
