#!/usr/bin/env python
"""The cost of each hop of a running lab, in CPU and in latency (issue 17, part 3). Medians over --runs.

  python benchmarks/bench_hops.py [--runs 3] [--only cpu,latency,semisync,agent] [--small]
                                  [--inventory inventories/lab]

Run it as root on the lab host (the controller), after `./labctl up`; it needs wrk and sysbench (Debian
packages, ./labctl up installs both). It refuses an inventory without `ha_lamp_lab: true`, reads every
address from the inventory, and every load it sends is bounded by a duration (and a subprocess timeout).

cpu       CPU seconds per 10,000 requests in the load balancer container(s) holding the VIPs and in the web
          container that serves, for static.txt, read.php and index.php through the public VIP. Each
          container's cgroup CPU counter (v1 cpuacct.usage, or v2 cpu.stat usage_usec) is read before and after
          a short wrk load and divided by the request count wrk reports; the containers' idle CPU (health checks,
          timers), measured just before over --idle-seconds, is subtracted. The LB figure includes HAProxy's TCP
          proxying of the PHP pages' database connections (internal VIP). Prints LB CPU / web CPU per static
          request (target <= 10 %).
latency   p50 and p99 of static.txt at concurrency 1 (wrk -t1 -c1 --latency), straight to the web node and
          through the VIP, and the difference: the latency HAProxy adds (target p50 <= 0.3 ms).
          For cpu and latency, every web node but one is put in maintenance on every load balancer (HAProxy's
          runtime API, as bench_http.py --web-cpus does), so one known container serves; only servers that
          were ready are touched, and they are set ready again afterwards, also when a run fails.
semisync  sysbench oltp_write_only at 1, 4 and 16 threads, through the internal VIP's writer port and straight to
          the primary, with semi-sync as deployed and, for comparison, asynchronous: rpl_semi_sync_master_enabled
          is set OFF on the primary for that one sysbench run and set back in a finally block (only while the node
          is still in the primary role: a node that became a replica meanwhile must keep it OFF). Prints
          commits/s and latency p50/p95 (from sysbench's latency histogram), the primary's own average wait for
          a replica's ack (Rpl_semi_sync_master_tx_wait_time), and the semi-sync extra latency at 1 thread next to
          the network RTT primary -> replicas (ping median). The scratch schema and a temporary account with a
          random password are created on the primary (root over the socket, podman exec) and dropped at the end;
          the account exists at the controller's addresses and at the load balancers' (through the VIP MariaDB
          sees the load balancer as the client). Both statements refuse to run on a read-only node, and the
          clean-up looks the primary up again (a failover may have moved it). TLS is used when the server
          requires it (require_secure_transport), with the controller's certificate of the services CA.
agent     CPU seconds per minute of ha-lamp-db-manager on each database node over --agent-seconds (systemd's
          CPUUsageNSec when CPU accounting is on, else utime+stime of its MainPID from /proc), with its
          configured loop intervals (/etc/ha-lamp/db-manager.json, else the manager's defaults).

--small is the CI-sized run: one run, loads of 1-2 s, a 1,000-row table, a 5 s agent interval; every code path.

Do not run it during failure drills: the async comparison runs leave commits acknowledged without a replica
for up to --db-seconds each.
"""
import argparse
import ast
import contextlib
import dataclasses
import json
import math
import os
import re
import secrets
import shutil
import statistics
import string
import subprocess
import sys
import time

import labkit  # benchmarks/labkit.py: inventory, podman, wrk and figures shared by the benchmarks
from labkit import REPO, fmt, podman

SECTIONS = ("cpu", "latency", "semisync", "agent")
PAGES = ("static.txt", "read.php", "index.php")        # roles/web/files/demo_app
WEB_BACKEND = labkit.WEB_BACKEND
AGENT_SERVICE = "ha-lamp-db-manager"
AGENT_CONFIG = "/etc/ha-lamp/db-manager.json"           # __mysql_agent_config in roles/mysql/vars/main.yml
AGENT_SOURCE = os.path.join(REPO, "roles", "mysql", "files", "ha_lamp_db_manager.py")
AGENT_INTERVAL_KEYS = ("tick", "renew_interval", "heartbeat", "ttl")
DB_THREADS = (1, 4, 16)
SMALL = {"runs": 1, "cpu_seconds": 2, "idle_seconds": 1, "latency_seconds": 2, "db_seconds": 2,
         "db_table_size": 1000, "agent_seconds": 5, "ping_count": 5}


# -- pure functions (unit-tested in tests/unit/test_bench_hops.py) ---------------------------------------------

def parse_sections(text):
    """'cpu,agent' -> ['cpu', 'agent'] in the canonical order; unknown names raise ValueError."""
    wanted = {part.strip() for part in text.split(",") if part.strip()}
    unknown = wanted - set(SECTIONS)
    if unknown or not wanted:
        raise ValueError(f"--only takes a comma-separated subset of {','.join(SECTIONS)}, got {text!r}")
    return [name for name in SECTIONS if name in wanted]


def per_10k(cpu_seconds, requests):
    """CPU seconds per 10,000 requests."""
    if requests <= 0:
        raise ValueError("no request completed: nothing to normalise")
    return cpu_seconds * 10000.0 / requests


def net_cpu(loaded_cpu, loaded_elapsed, idle_cpu, idle_elapsed):
    """CPU of a loaded interval less what the container burns when idle over as long (never below 0)."""
    idle_rate = idle_cpu / idle_elapsed if idle_elapsed > 0 else 0.0
    return max(0.0, loaded_cpu - idle_rate * loaded_elapsed)


def parse_mountinfo(text):
    """/proc/self/mountinfo -> {'v1': {option: (mount point, root)}, 'v2': (mount point, root) or None}.

    A v1 hierarchy's controllers are its super options (cpu and cpuacct may share one mount or not)."""
    mounts = {"v1": {}, "v2": None}
    for line in text.splitlines():
        before, sep, after = line.partition(" - ")
        if not sep:
            continue
        fields, tail = before.split(), after.split()
        if len(fields) < 5 or len(tail) < 3:
            continue
        root, mount_point, fstype = fields[3], fields[4], tail[0]
        if fstype == "cgroup2" and mounts["v2"] is None:
            mounts["v2"] = (mount_point, root)
        elif fstype == "cgroup":
            for option in tail[2].split(","):
                if option not in ("rw", "ro"):
                    mounts["v1"].setdefault(option, (mount_point, root))
    return mounts


def parse_proc_cgroup(text):
    """/proc/<pid>/cgroup -> {controller: path}; the v2 (unified) line is under the key ''."""
    paths = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        for controller in parts[1].split(",") if parts[1] else [""]:
            paths[controller] = parts[2]
    return paths


def join_cgroup(mount, path):
    """A cgroup path as /proc shows it, under a hierarchy mounted at mount=(mount point, root)."""
    mount_point, root = mount
    if root != "/" and (path == root or path.startswith(root.rstrip("/") + "/")):
        path = path[len(root.rstrip("/")):]
    return os.path.join(mount_point, path.lstrip("/")).rstrip("/")


def cpu_counter_candidates(mounts, proc_cgroups, container_path=""):
    """Files that may hold a container's total CPU, best first, as (path, 'v1' | 'v2').

    container_path is podman's State.CgroupPath (the container's own cgroup). Under cgroup v2 the
    container's init may sit in a child (init.scope), so its /proc path is used without that child.
    Both counters are hierarchical: a cgroup's usage includes every process below it."""
    candidates = []
    v1 = mounts["v1"].get("cpuacct")
    if v1:
        for path in (container_path, proc_cgroups.get("cpuacct")):
            if path:
                candidates.append((join_cgroup(v1, path) + "/cpuacct.usage", "v1"))
    if mounts["v2"]:
        unified = re.sub(r"/init\.scope$", "", proc_cgroups.get("", ""))
        for path in (container_path, unified):
            if path:
                candidates.append((join_cgroup(mounts["v2"], path) + "/cpu.stat", "v2"))
    return list(dict.fromkeys(candidates))


def cpu_seconds(kind, text):
    """A cgroup CPU counter's content -> seconds: v1 cpuacct.usage is in ns, v2 cpu.stat has usage_usec."""
    if kind == "v1":
        return int(text.split()[0]) / 1e9
    usage = re.search(r"^usage_usec (\d+)$", text, re.M)
    if not usage:
        raise ValueError("no usage_usec in cpu.stat")
    return int(usage.group(1)) / 1e6


def parse_servers_state(text):
    """HAProxy's 'show servers state <backend>' -> {server name: (operational state, admin state)}."""
    header, servers = None, {}
    for line in text.splitlines():
        if line.startswith("# "):
            header = line[2:].split()
        elif header and line.strip() and not line.startswith("#"):
            row = dict(zip(header, line.split()))
            if "srv_name" in row:
                servers[row["srv_name"]] = (int(row["srv_op_state"]), int(row["srv_admin_state"]))
    return servers


def is_ready(state):
    """Running (op state 2) and in no admin state (maintenance, drain: admin state 0)."""
    return state == (2, 0)


def histogram_percentile(buckets, percentile):
    """The value of the bucket that holds the percentile: sysbench's rule (sb_histogram.c, rank floor(n p + 0.5)).

    buckets: [(value, count)] in increasing value order, as sysbench --histogram prints them."""
    total = sum(count for _value, count in buckets)
    if total == 0:
        return None
    rank = max(1, math.floor(total * percentile / 100.0 + 0.5))
    seen = 0
    for value, count in buckets:
        seen += count
        if seen >= rank:
            return value
    return buckets[-1][0]


def parse_sysbench(text):
    """sysbench 1.0 run report (with --histogram=on) -> transactions, tps, latency and error figures (ms)."""
    def number(pattern):
        found = re.search(pattern, text, re.M)
        return float(found.group(1)) if found else None

    buckets = [(float(v), int(c)) for v, c in re.findall(r"^\s+([\d.]+) \|\**\s+(\d+)\s*$", text, re.M)]
    transactions = re.search(r"^\s+transactions:\s+(\d+)\s+\(([\d.]+) per sec\.\)", text, re.M)
    if not transactions:
        raise ValueError("no 'transactions:' line in sysbench's output")
    return {
        "transactions": int(transactions.group(1)),
        "tps": float(transactions.group(2)),
        "seconds": number(r"^\s+total time:\s+([\d.]+)s"),
        "avg_ms": number(r"^\s+avg:\s+([\d.]+)"),
        "reported_p95_ms": number(r"^\s+95th percentile:\s+([\d.]+)"),
        "p50_ms": histogram_percentile(buckets, 50),
        "p95_ms": histogram_percentile(buckets, 95),
        "ignored_errors": int(number(r"^\s+ignored errors:\s+(\d+)") or 0),
        "reconnects": int(number(r"^\s+reconnects:\s+(\d+)") or 0),
    }


def parse_ping_ms(text):
    """ping's per-reply lines -> the round-trip times in ms."""
    return [float(ms) for ms in re.findall(r"time[=<]([\d.]+) ms", text)]


def parse_status(text):
    """`mariadb -N -e 'SHOW GLOBAL STATUS LIKE ...'` (tab-separated) -> {name: value}."""
    return dict(line.split("\t", 1) for line in text.splitlines() if "\t" in line)


def semisync_wait_ms(before, after):
    """The primary's average wait for a replica's ack per commit between two status snapshots (ms)."""
    waits = int(after["Rpl_semi_sync_master_tx_waits"]) - int(before["Rpl_semi_sync_master_tx_waits"])
    waited_us = int(after["Rpl_semi_sync_master_tx_wait_time"]) - int(before["Rpl_semi_sync_master_tx_wait_time"])
    return waited_us / waits / 1000.0 if waits > 0 else None


def parse_systemctl_show(text):
    """`systemctl show -p A -p B unit` -> {A: value, B: value}."""
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def systemd_cpu_ns(value):
    """CPUUsageNSec -> ns, or None when CPU accounting is off ('[not set]', or UINT64_MAX on older systemd)."""
    if not value or not value.isdigit() or int(value) >= 2 ** 64 - 1:
        return None
    return int(value)


def proc_stat_ticks(text):
    """/proc/<pid>/stat -> utime + stime + cutime + cstime in clock ticks (all threads of the process, and
    the children it waited for: the manager's own subprocesses). Fields counted after the ')' ending comm."""
    rest = text[text.rindex(")") + 2:].split()
    return sum(int(rest[i]) for i in (11, 12, 13, 14))


def manager_defaults(source):
    """The DEFAULTS dict of the manager's source (ha_lamp_db_manager.py), read without importing it."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "DEFAULTS" for t in node.targets):
            return ast.literal_eval(node.value)
    return {}


def median_of(samples, key):
    """Median of one field over runs, ignoring runs without it."""
    return labkit.median_or_none(s.get(key) for s in samples)


def difference(a, b):
    """a - b, or None when either is missing."""
    return None if a is None or b is None else a - b


def random_password():
    """28 random characters, with every class a password-strength plugin may ask for."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _position in range(24)) + "aZ7-"


def sql_quote(value):
    """A SQL string literal; the values are generated here or come from the inventory."""
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


# -- the lab -------------------------------------------------------------------------------------------------

@dataclasses.dataclass
class Lab:
    lbs: dict            # inventory name -> address (the container's name)
    webs: dict
    dbs: dict
    public_vip: str
    internal_vip: str
    db_port: int         # MariaDB on each database node (the contract's ha_lamp_db_port)
    writer_port: int     # HAProxy's writer frontend on the internal VIP (ha_lamp_db_writer_port)
    controllers: list
    cluster: str
    pki_dir: str


def read_lab(inventory):
    """Every address the benchmark touches, from the inventory; refuses anything but the lab."""
    inv = labkit.read_inventory(inventory)
    lbs = labkit.group_hosts(inv, "loadbalancers")
    first = inv["_meta"]["hostvars"][next(iter(lbs))]
    if first.get("ha_lamp_lab") is not True:
        sys.exit(f"{inventory} is not the lab (ha_lamp_lab is not true): this benchmark changes the database's "
                 "semi-sync setting and accounts, so it runs only against the lab")
    vips = labkit.lab_vips(inv)
    cluster = first.get("ha_lamp_cluster_name", "lab")
    pki_dir = first.get("pki_ca_dir") or f"~/.ha-lamp/pki/{cluster}/services"  # roles/pki/defaults/main.yml
    dbs = labkit.group_hosts(inv, "databases")
    first_db = inv["_meta"]["hostvars"][next(iter(dbs))] if dbs else {}
    return Lab(lbs=lbs, webs=labkit.group_hosts(inv, "webservers"), dbs=dbs,
               public_vip=vips["public"], internal_vip=vips["internal"],
               db_port=int(labkit.contract_value(first_db, "ha_lamp_db_port", "mysql_port")),
               writer_port=int(labkit.contract_value(first, "ha_lamp_db_writer_port", "haproxy_db_writer_port")),
               controllers=list(first["ha_lamp_controller_addresses"]), cluster=cluster,
               pki_dir=os.path.expanduser(pki_dir))


def vip_holders(lab):
    """The load balancers (name -> address) that hold the public or the internal VIP right now."""
    holders = {}
    for name, address in lab.lbs.items():
        held = labkit.addresses_in_ip_output(podman("exec", address, "ip", "-o", "-4", "addr", "show"))
        if held & {lab.public_vip, lab.internal_vip}:
            holders[name] = address
    if not holders:
        raise RuntimeError(f"no load balancer holds {lab.public_vip} or {lab.internal_vip}")
    return holders


class CpuCounter:
    """One container's cgroup CPU counter, read straight from the host's cgroup filesystem."""

    def __init__(self, container):
        self.container = container
        pid = podman("inspect", "--format", "{{.State.Pid}}", container).strip()
        container_path = podman("inspect", "--format", "{{.State.CgroupPath}}", container).strip()
        with open("/proc/self/mountinfo", encoding="utf-8") as handle:
            mounts = parse_mountinfo(handle.read())
        with open(f"/proc/{pid}/cgroup", encoding="utf-8") as handle:
            proc_cgroups = parse_proc_cgroup(handle.read())
        for path, kind in cpu_counter_candidates(mounts, proc_cgroups, container_path):
            if os.path.isfile(path):
                self.path, self.kind = path, kind
                return
        raise RuntimeError(f"no cgroup CPU counter found for container {container} (pid {pid})")

    def seconds(self):
        with open(self.path, encoding="utf-8") as handle:
            return cpu_seconds(self.kind, handle.read())


def cpu_during(counters, action):
    """Run action(); return ({name: CPU seconds each counter used meanwhile}, elapsed s, action's result)."""
    before = {name: counter.seconds() for name, counter in counters.items()}
    started = time.monotonic()
    result = action()
    elapsed = time.monotonic() - started
    return {name: counter.seconds() - before[name] for name, counter in counters.items()}, elapsed, result


@contextlib.contextmanager
def one_web_node_in_rotation(lab):
    """Every web node but one in maintenance on every LB for the duration; yields the serving node's name.

    Only servers that are ready now are put in maintenance, and only those are set ready again."""
    states = {lb: parse_servers_state(labkit.haproxy_api(address, f"show servers state {WEB_BACKEND}"))
              for lb, address in lab.lbs.items()}
    ready = [web for web in lab.webs if all(is_ready(states[lb].get(web, (0, 0))) for lb in lab.lbs)]
    if not ready:
        raise RuntimeError("no web node is ready on every load balancer: nothing to measure")
    serving = ready[0]
    to_maintain = [(lb, web) for lb in lab.lbs for web in lab.webs
                   if web != serving and is_ready(states[lb].get(web, (0, 0)))]
    done = []
    try:
        for lb, web in to_maintain:
            labkit.haproxy_command(lab.lbs[lb], f"set server {WEB_BACKEND}/{web} state maint")
            done.append((lb, web))
        yield serving
    finally:
        for lb, web in done:
            try:
                labkit.haproxy_command(lab.lbs[lb], f"set server {WEB_BACKEND}/{web} state ready")
            except (RuntimeError, subprocess.SubprocessError) as exc:
                print(f"ERROR: could not set {WEB_BACKEND}/{web} ready again on {lb}: {exc}\n"
                      f"  by hand: echo 'set server {WEB_BACKEND}/{web} state ready' | podman exec -i "
                      f"{lab.lbs[lb]} socat stdio unix-connect:{labkit.HAPROXY_SOCKET}", file=sys.stderr)


# -- 1. CPU per request: LB vs web ----------------------------------------------------------------------------

def measure_cpu(lab, serving, args):
    holders = vip_holders(lab)
    counters = {f"lb:{name}": CpuCounter(address) for name, address in holders.items()}
    counters["web"] = CpuCounter(lab.webs[serving])
    print(f"\n== CPU per 10,000 requests through the VIP {lab.public_vip}: LB {', '.join(holders)} "
          f"(VIP holder) vs web {serving} (the only web node in rotation)")
    print(f"   cgroup counters: {', '.join(f'{n} {c.kind}' for n, c in counters.items())}; wrk "
          f"{args.cpu_seconds} s, {args.connections} connections; idle CPU over {args.idle_seconds} s subtracted")
    samples = {page: [] for page in PAGES}
    for run in range(args.runs):
        for page in PAGES:  # interleaved, so a noisy moment hits every page alike
            samples[page].append(cpu_sample(counters, f"http://{lab.public_vip}/{page}", args))
        print(f"run {run + 1}/{args.runs}: " + ", ".join(
            f"{p} {s[-1]['requests']} req, lb {s[-1]['lb_per_10k']:.3f} s, web {s[-1]['web_per_10k']:.3f} s"
            for p, s in samples.items()))
    print(f"\n{'page':<12} {'req/run':>8} {'lb s/10k':>9} {'web s/10k':>10} {'lb/web %':>9} {'errors':>7}")
    ratios = {}
    for page, runs in samples.items():
        lb, web = median_of(runs, "lb_per_10k"), median_of(runs, "web_per_10k")
        ratios[page] = lb / web * 100 if web else None
        print(f"{page:<12} {median_of(runs, 'requests'):>8.0f} {lb:>9.3f} {web:>10.3f} {fmt(ratios[page], '.1f'):>9} "
              f"{sum(r['errors'] for r in runs):>7}")
    static = ratios["static.txt"]
    print(f"\nLB CPU / web CPU per static request: {fmt(static, '.1f') + ' %' if static is not None else 'n/a'} "
          "(target <= 10 %)")


def cpu_sample(counters, url, args):
    """One idle interval, then one wrk load; net CPU per 10k requests of the LB(s) and the web node."""
    idle, idle_elapsed = cpu_during(counters, lambda: time.sleep(args.idle_seconds))[:2]
    loaded, elapsed, wrk = cpu_during(counters, lambda: labkit.run_wrk(url, args.cpu_seconds, args.connections, 2))
    net = {name: net_cpu(loaded[name], elapsed, idle[name], idle_elapsed) for name in counters}
    lb = sum(cpu for name, cpu in net.items() if name.startswith("lb:"))
    if wrk["errors"]:
        print(f"   warning: {wrk['errors']} failed or non-2xx/3xx responses from {url}", file=sys.stderr)
    return {"requests": wrk["requests"], "errors": wrk["errors"],
            "lb_per_10k": per_10k(lb, wrk["requests"]), "web_per_10k": per_10k(net["web"], wrk["requests"])}


# -- 2. latency HAProxy adds ----------------------------------------------------------------------------------

def measure_latency(lab, serving, args):
    targets = {"direct": f"http://{lab.webs[serving]}/static.txt", "vip": f"http://{lab.public_vip}/static.txt"}
    print(f"\n== static.txt at concurrency 1 (wrk -t1 -c1, {args.latency_seconds} s): straight to {serving} "
          f"vs through the VIP")
    samples = {name: [] for name in targets}
    for run in range(args.runs):
        for name, url in targets.items():
            samples[name].append(labkit.run_wrk(url, args.latency_seconds, 1, 1))
        print(f"run {run + 1}/{args.runs}: " + ", ".join(
            f"{n} p50 {fmt(s[-1]['p50_ms'], '.3f')} ms p99 {fmt(s[-1]['p99_ms'], '.3f')} ms"
            for n, s in samples.items()))
    print(f"\n{'path':<8} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8} {'errors':>7}")
    for name, runs in samples.items():
        print(f"{name:<8} {fmt(median_of(runs, 'p50_ms'), '.3f'):>8} {fmt(median_of(runs, 'p99_ms'), '.3f'):>8} "
              f"{fmt(median_of(runs, 'rps'), '.0f'):>8} {sum(r['errors'] for r in runs):>7}")
    added = {p: difference(median_of(samples["vip"], p), median_of(samples["direct"], p)) for p in ("p50_ms", "p99_ms")}
    print(f"\nadded by HAProxy: p50 {fmt(added['p50_ms'], '+.3f')} ms (target <= 0.3 ms), "
          f"p99 {fmt(added['p99_ms'], '+.3f')} ms")


# -- 3. semi-sync commit cost ---------------------------------------------------------------------------------

def mariadb(address, sql):
    """SQL as root over the node's socket (podman exec); the statements go on stdin, never in argv."""
    return podman("exec", "-i", address, "mariadb", "-N", "-B", stdin=sql)


READ_ONLY_GUARD = ("DELIMITER //\nBEGIN NOT ATOMIC IF @@global.read_only THEN SIGNAL SQLSTATE '45000' "
                   "SET MESSAGE_TEXT = 'this node is read-only: not the primary'; END IF; END//\nDELIMITER ;\n")


def find_primary(lab):
    """The one database node that is writable (read_only = 0); None when there is not exactly one."""
    writable = []
    for name, address in lab.dbs.items():
        try:
            if mariadb(address, "SELECT @@global.read_only;").strip() == "0":
                writable.append(name)
        except subprocess.SubprocessError:
            continue  # a stopped node is not the primary
    return writable[0] if len(writable) == 1 else None


@dataclasses.dataclass
class BenchAccount:
    user: str
    password: str
    schema: str
    hosts: list


def account_sql(account, tls):
    """The scratch schema and the temporary account, guarded: nothing runs on a read-only node."""
    require = " REQUIRE SSL" if tls else ""
    lines = [READ_ONLY_GUARD, f"CREATE DATABASE `{account.schema}`;"]
    for host in account.hosts:
        lines.append(f"CREATE USER {sql_quote(account.user)}@{sql_quote(host)} "
                     f"IDENTIFIED BY {sql_quote(account.password)}{require};")
        lines.append(f"GRANT ALL PRIVILEGES ON `{account.schema}`.* TO {sql_quote(account.user)}@{sql_quote(host)};")
    return "\n".join(lines) + "\n"


def drop_sql(account):
    """Drops what account_sql created; guarded the same way (root may write on a read-only replica, which
    would leave an errant transaction)."""
    users = ", ".join(f"{sql_quote(account.user)}@{sql_quote(host)}" for host in account.hosts)
    return f"{READ_ONLY_GUARD}DROP USER IF EXISTS {users};\nDROP DATABASE IF EXISTS `{account.schema}`;\n"


@contextlib.contextmanager
def scratch_account(lab, primary, tls):
    """A temporary account and schema on the primary, dropped on the primary of the moment at the end."""
    suffix = secrets.token_hex(4)
    account = BenchAccount(user=f"ha_lamp_bench_{suffix}", password=random_password(),
                           schema=f"ha_lamp_bench_{suffix}", hosts=sorted(set(lab.controllers) | set(lab.lbs.values())))
    try:
        mariadb(lab.dbs[primary], account_sql(account, tls))
        yield account
    finally:
        drop_account(lab, account)


def drop_account(lab, account):
    current = find_primary(lab)
    try:
        if current is None:
            raise RuntimeError("no single writable database node")
        mariadb(lab.dbs[current], drop_sql(account))
    except (RuntimeError, subprocess.SubprocessError) as exc:
        print(f"ERROR: could not drop the benchmark account and schema ({exc}); on the primary, as root:\n"
              f"  DROP USER IF EXISTS '{account.user}'@'<host>' (hosts {', '.join(account.hosts)}); "
              f"DROP DATABASE IF EXISTS `{account.schema}`;", file=sys.stderr)


def semisync_enabled(address):
    return mariadb(address, "SELECT @@global.rpl_semi_sync_master_enabled;").strip() == "1"


# Back ON only while the node is still in the primary role: promote() turns the semi-sync replica side OFF,
# make_replica() turns it ON (plugins/module_utils/promotion.py), and a replica with the master side ON
# would wait forever (rpl_semi_sync_master_wait_no_slave, no timeout) on the first transaction it applies.
RESTORE_SEMISYNC = ("SET GLOBAL rpl_semi_sync_master_enabled = "
                    "IF(@@global.rpl_semi_sync_slave_enabled = 1, @@global.rpl_semi_sync_master_enabled, 1);\n"
                    "SELECT @@global.rpl_semi_sync_master_enabled, @@global.rpl_semi_sync_slave_enabled;\n")


@contextlib.contextmanager
def async_replication(primary_address):
    """Semi-sync OFF on the primary for the duration of the block; set back in finally, and checked."""
    if not semisync_enabled(primary_address):
        raise RuntimeError(f"semi-sync is not enabled on the primary {primary_address}: the lab is not as deployed")
    try:
        mariadb(primary_address, "SET GLOBAL rpl_semi_sync_master_enabled = OFF;")
        yield
    finally:
        restore_semisync(primary_address)


def restore_semisync(address, wait_seconds=5.0):
    try:
        master, slave = mariadb(address, RESTORE_SEMISYNC).split()[-2:]
    except subprocess.SubprocessError as exc:
        print(f"ERROR: could not set rpl_semi_sync_master_enabled back ON on {address}: {exc}\n"
              f"  by hand: podman exec {address} mariadb -e 'SET GLOBAL rpl_semi_sync_master_enabled = ON'",
              file=sys.stderr)
        raise
    if master != "1":
        print(f"warning: {address} is in the replica role now (a failover?): semi-sync master left OFF there, "
              f"as a replica needs (semi-sync slave side {slave})", file=sys.stderr)
        return
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        status = parse_status(mariadb(address, "SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_master_status';"))
        if status.get("Rpl_semi_sync_master_status") == "ON":
            return
        time.sleep(0.5)
    print(f"warning: rpl_semi_sync_master_enabled is ON again on {address}, but Rpl_semi_sync_master_status "
          f"is not ON after {wait_seconds} s: check the replicas (SHOW SLAVE STATUS)", file=sys.stderr)


def semisync_status(address):
    return parse_status(mariadb(address, "SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_master_tx_wait%';"))


def sysbench_workdir(account, tls, pki_dir):
    """sysbench's private working directory for the scratch account (labkit.sysbench_workdir)."""
    # General and driver options only: sysbench 1.0 ignores the Lua script's own (tables, table_size) here.
    options = [f"mysql-user={account.user}", f"mysql-password={account.password}", f"mysql-db={account.schema}",
               "percentile=95", "histogram=on"]
    return labkit.sysbench_workdir(options, tls, pki_dir, prefix="bench-hops-")


def sysbench(workdir, command, host, port, threads, args, timeout):
    """One sysbench oltp_write_only command, bounded by --time, --forced-shutdown and a timeout."""
    argv = ["sysbench", "oltp_write_only", "--config-file=options", f"--mysql-host={host}", f"--mysql-port={port}",
            "--tables=1", f"--table_size={args.db_table_size}", f"--threads={threads}", f"--time={args.db_seconds}",
            "--forced-shutdown=10", command]
    done = subprocess.run(argv, cwd=workdir, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-5:])
        raise RuntimeError(f"sysbench {command} against {host} failed:\n{tail}")
    return done.stdout


def ping_median(from_address, to_address, count):
    out = podman("exec", from_address, "ping", "-n", "-c", str(count), "-i", "0.2", "-W", "1", to_address)
    times = parse_ping_ms(out)
    return statistics.median(times) if times else None


def measure_semisync(lab, args):
    primary = find_primary(lab)
    if primary is None:
        raise RuntimeError("no single writable database node: is the lab up and healthy?")
    primary_address = lab.dbs[primary]
    tls = mariadb(primary_address, "SELECT @@global.require_secure_transport;").strip() == "1"
    targets = {"vip": (lab.internal_vip, lab.writer_port), "direct": (primary_address, lab.db_port)}
    print(f"\n== sysbench oltp_write_only, {args.db_seconds} s per case, primary {primary} ({primary_address}), "
          f"through the internal VIP {lab.internal_vip}:{lab.writer_port} and direct; TLS {'on' if tls else 'off'}")
    rtts = {name: ping_median(primary_address, address, args.ping_count)
            for name, address in lab.dbs.items() if name != primary}
    with scratch_account(lab, primary, tls) as account, sysbench_workdir(account, tls, lab.pki_dir) as workdir:
        sysbench(workdir, "prepare", primary_address, lab.db_port, 1, args, timeout=300)
        samples = {}
        for run in range(args.runs):
            for mode in ("semisync", "async"):
                for target, (host, port) in targets.items():
                    for threads in DB_THREADS:
                        sample = db_sample(workdir, primary_address, mode, host, port, threads, args)
                        samples.setdefault((mode, target, threads), []).append(sample)
            print(f"run {run + 1}/{args.runs} done")
    report_semisync(samples, rtts)


def db_sample(workdir, primary_address, mode, host, port, threads, args):
    """One sysbench run; in async mode semi-sync is OFF on the primary for this run only."""
    if mode == "async":
        with async_replication(primary_address):
            result = parse_sysbench(sysbench(workdir, "run", host, port, threads, args, timeout=args.db_seconds + 60))
        result["ack_wait_ms"] = None
        return result
    before = semisync_status(primary_address)
    result = parse_sysbench(sysbench(workdir, "run", host, port, threads, args, timeout=args.db_seconds + 60))
    result["ack_wait_ms"] = semisync_wait_ms(before, semisync_status(primary_address))
    return result


def report_semisync(samples, rtts):
    print(f"\n{'mode':<9} {'target':<7} {'threads':>7} {'tps':>8} {'p50 ms':>8} {'p95 ms':>8} {'ack wait ms':>12} "
          f"{'errors':>7}")
    medians = {}
    for (mode, target, threads), runs in sorted(samples.items(), key=lambda kv: (kv[0][0] != "semisync",) + kv[0][1:]):
        m = medians[(mode, target, threads)] = {key: median_of(runs, key)
                                                for key in ("tps", "p50_ms", "p95_ms", "ack_wait_ms")}
        errors = sum(r["ignored_errors"] + r["reconnects"] for r in runs)
        print(f"{mode:<9} {target:<7} {threads:>7} {fmt(m['tps'], '.1f'):>8} {fmt(m['p50_ms']):>8} "
              f"{fmt(m['p95_ms']):>8} {fmt(m['ack_wait_ms'], '.3f'):>12} {errors:>7}")
    rtt_text = ", ".join(f"{name} {ms:.3f} ms" for name, ms in rtts.items() if ms is not None) or "no reply"
    print(f"\nnetwork RTT primary -> replicas (ping median): {rtt_text}")
    fastest = min((ms for ms in rtts.values() if ms is not None), default=None)
    for target in ("direct", "vip"):
        sync, asyn = medians[("semisync", target, 1)]["p50_ms"], medians[("async", target, 1)]["p50_ms"]
        extra = difference(sync, asyn)
        versus = f" = {extra / fastest:.1f} x the fastest replica's RTT" if extra is not None and fastest else ""
        print(f"semi-sync extra latency at 1 thread, {target}: p50 {fmt(sync)} - {fmt(asyn)} = {fmt(extra, '+.2f')} ms"
              f"{versus}")
    via_vip = difference(medians[("semisync", "vip", 1)]["p50_ms"], medians[("semisync", "direct", 1)]["p50_ms"])
    print(f"the VIP hop (HAProxy, TCP) per transaction at 1 thread, semi-sync: p50 {fmt(via_vip, '+.2f')} ms")


# -- 4. the health agent's CPU --------------------------------------------------------------------------------

def agent_cpu_reading(address):
    """(CPU seconds so far, MainPID, method, monotonic time of the reading) of the manager on one node."""
    props = parse_systemctl_show(podman("exec", address, "systemctl", "show", "-p", "CPUUsageNSec", "-p", "MainPID",
                                        AGENT_SERVICE))
    pid = props.get("MainPID", "0")
    if pid in ("", "0"):
        raise RuntimeError(f"{AGENT_SERVICE} is not running on {address}")
    ns = systemd_cpu_ns(props.get("CPUUsageNSec"))
    if ns is not None:
        return ns / 1e9, pid, "systemd CPUUsageNSec", time.monotonic()
    ticks = proc_stat_ticks(podman("exec", address, "cat", f"/proc/{pid}/stat"))
    return ticks / os.sysconf("SC_CLK_TCK"), pid, "/proc/<MainPID>/stat", time.monotonic()


def agent_intervals(address, defaults):
    """The manager's loop intervals: its configuration file's values, else its defaults. Only these keys
    leave the node (the file also holds passwords)."""
    reader = ("import json,sys; c=json.load(open(sys.argv[1])); "
              "print(json.dumps({k: c[k] for k in sys.argv[2:] if k in c}))")
    configured = json.loads(podman("exec", address, "python3", "-c", reader, AGENT_CONFIG, *AGENT_INTERVAL_KEYS))
    return {key: configured.get(key, defaults.get(key)) for key in AGENT_INTERVAL_KEYS}


def measure_agent(lab, args):
    with open(AGENT_SOURCE, encoding="utf-8") as handle:
        defaults = manager_defaults(handle.read())
    print(f"\n== {AGENT_SERVICE}: CPU over {args.agent_seconds} s on each database node")
    before = {name: agent_cpu_reading(address) for name, address in lab.dbs.items()}
    time.sleep(args.agent_seconds)
    print(f"{'node':<6} {'cpu s/min':>10} {'tick s':>7} {'renew s':>8} {'ttl s':>6}  method")
    for name, address in lab.dbs.items():
        cpu_after, pid_after, method, ended = agent_cpu_reading(address)
        cpu_before, pid_before, _method, started = before[name]
        intervals = agent_intervals(address, defaults)
        if pid_after != pid_before:
            print(f"{name:<6} {'restarted':>10}  (MainPID {pid_before} -> {pid_after}: no figure)")
            continue
        per_minute = (cpu_after - cpu_before) / (ended - started) * 60.0
        print(f"{name:<6} {per_minute:>10.3f} {intervals['tick']:>7} {intervals['renew_interval']:>8} "
              f"{intervals['ttl']:>6}  {method}")
    print("(tick: the main loop reads MariaDB and etcd; renew: the etcd lease; plus HAProxy's agent checks "
          "from every LB and the cached state refresh)")


# -- main -----------------------------------------------------------------------------------------------------

def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--inventory", default="inventories/lab")
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated subset of " + ",".join(SECTIONS))
    parser.add_argument("--small", action="store_true", help="CI-sized quick run that still takes every code path")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cpu-seconds", type=int, default=5, help="duration of each wrk load of the cpu section")
    parser.add_argument("--idle-seconds", type=int, default=2, help="idle interval measured before each cpu load")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections of the cpu section")
    parser.add_argument("--latency-seconds", type=int, default=5)
    parser.add_argument("--db-seconds", type=int, default=10, help="sysbench --time of each case")
    parser.add_argument("--db-table-size", type=int, default=10000)
    parser.add_argument("--ping-count", type=int, default=20)
    parser.add_argument("--agent-seconds", type=int, default=60)
    parser.add_argument("--pki-dir", default="", help="the services CA's directory on the controller "
                        "(ca.crt, controller.crt, controller.key); default from the inventory")
    args = parser.parse_args(argv)
    if args.small:
        for key, value in SMALL.items():
            setattr(args, key, value)
    try:
        args.sections = parse_sections(args.only)
    except ValueError as exc:
        parser.error(str(exc))
    check_bounds(parser, args)
    return args


def check_bounds(parser, args):
    """Every load stays bounded in count and time."""
    limits = {"runs": (1, 20), "cpu_seconds": (1, 60), "idle_seconds": (1, 30), "connections": (1, 64),
              "latency_seconds": (1, 60), "db_seconds": (1, 120), "db_table_size": (100, 1000000),
              "ping_count": (3, 100), "agent_seconds": (1, 600)}
    for key, (low, high) in limits.items():
        if not low <= getattr(args, key) <= high:
            parser.error(f"--{key.replace('_', '-')} must be {low}..{high}")


def main(argv=None):
    args = parse_args(argv)
    needed = {"wrk": {"cpu", "latency"}, "sysbench": {"semisync"}}
    for tool, sections in needed.items():
        if sections & set(args.sections) and not shutil.which(tool):
            sys.exit(f"{tool} is missing: apt-get install {tool} (./labctl up installs it)")
    lab = read_lab(args.inventory)
    if args.pki_dir:
        lab.pki_dir = os.path.expanduser(args.pki_dir)
    if {"cpu", "latency"} & set(args.sections):
        with one_web_node_in_rotation(lab) as serving:
            if "cpu" in args.sections:
                measure_cpu(lab, serving, args)
            if "latency" in args.sections:
                measure_latency(lab, serving, args)
    if "semisync" in args.sections:
        measure_semisync(lab, args)
    if "agent" in args.sections:
        measure_agent(lab, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
