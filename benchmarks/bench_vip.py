#!/usr/bin/env python
"""VIP takeover and soak figures of a running lab (issue 17, part 1).

  python benchmarks/bench_vip.py holder-kill --trials 20
  python benchmarks/bench_vip.py haproxy-kill --trials 20
  python benchmarks/bench_vip.py soak --minutes 30
  common options: [--inventory inventories/lab] [--json FILE] [--max-seconds 3600]

Run it from the repository with the lab up (./labctl up). It reads the lab from the inventory
(`ansible-inventory -i inventories/lab --list`: the load balancers, their addresses, ha_lamp_vips) and
talks to the containers with podman (each lab container is named by its address; CONTAINERS_CONF
defaults to lab/containers.conf). It only ever targets the lab's own addresses.

Modes
  holder-kill   Per trial: wait until the pair is fully redundant, find the LB holding the VIPs, start a
                probe (one thread, GET http://<public VIP>/static.txt in a tight loop, a new TCP
                connection per request, 0.2 s connect / 0.5 s total timeout, each request recorded as
                (t_sent, t_done, ok)), then `podman kill -s KILL <holder>`. Measured: kill -> first
                successful response sent after the kill, and the failed requests in between. Then
                `podman start <holder>`, `systemctl is-system-running --wait` inside it, and wait
                until the pair is redundant again: keepalived and HAProxy active on both, both
                HAProxy answer their monitor URI, exactly one LB holds every VIP, the other's VRRP
                instances are BACKUP (not FAULT). With nopreempt the holder is now the other LB; a
                restarted LB that takes the VIPs back is flagged in the trial's line.
  haproxy-kill  The same, but only HAProxy's processes on the holder are killed
                (`podman exec <holder> pkill -KILL -x haproxy`); systemd restarts HAProxy, keepalived
                may move the VIPs. Trials are at least --haproxy-kill-spacing s apart, so systemd's
                start limit (5 starts in 10 s) can never leave HAProxy failed.
  soak          `wrk -t2 -c32` through the public VIP for --minutes, in --chunk-seconds chunks
                (a figures line per chunk), while both LBs report every 0.2 s which VIP addresses
                they hold. Reported: every holder change (a spurious move: there should be none), the
                load's requests/s, and both LBs' keepalived "Entering MASTER|BACKUP|FAULT" journal
                lines since the soak started.

Output: per kill mode a table with median, p90 (nearest rank) and max of kill -> first success (ms)
and failed requests per trial, with the probe's request rate (the load that was running; the
failed-request count scales with it: --probe-interval-ms paces the probe instead of a tight loop).
--json FILE writes the raw data (every probe request of every trial, the soak's samples).
Exit status: 0; 1 when a series stopped early on a lab problem, or when the soak saw a holder
change or ended with the pair not fully redundant.

Where the kill is timed: from the moment the kill command returned (the signal has been delivered).
The command's own duration (podman's overhead, printed as "kill command") is the uncertainty on when
the service actually died; requests that failed during it are counted as failed.

Bounds and safety: every wait has a time limit, every loop a count limit, --max-seconds bounds the
whole run (no new trial starts after it), and the series refuses to start a trial unless the pair is
fully redundant. A killed container is started again, and a killed HAProxy made active again, in
`finally` blocks (also on Ctrl-C or SIGTERM); a trial after which the pair does not become redundant
again within --settle-timeout stops the series with the reasons and a non-zero exit.
"""
import argparse
import json
import math
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import labkit  # benchmarks/labkit.py: inventory, podman, wrk and figures shared by the benchmarks

# Hard ceilings, so a typo cannot turn a benchmark into an endless failure generator.
MAX_TRIALS = 200
MAX_SOAK_MINUTES = 240
MAX_PROBE_REQUESTS = 1_000_000  # per trial
MAX_RUN_SECONDS = 6 * 3600
SAMPLE_PERIOD_S = 0.2  # soak: how often each LB reports the VIPs it holds
POLL_INTERVAL_S = 0.5  # redundancy checks
RECOVERY_POLL_S = 0.02  # watching the probe for its first success
READ_LIMIT_BYTES = 65536  # the probe's page is tiny; never read more than this
JOURNAL_LINES = 400  # keepalived lines read to know each instance's last state

STATE_RE = re.compile(r"\((?P<instance>[^)\s]+)\) Entering (?P<state>MASTER|BACKUP|FAULT) STATE")
STATUS_LINE_RE = re.compile(rb"^HTTP/\d(?:\.\d)? (\d{3})")
SECTION = "--bench-vip-section--"


class BenchError(Exception):
    """The lab is not in a state the benchmark can measure (or restore); stops the series."""


# --------------------------------------------------------------------------- pure figures
def first_success_after(samples, t):
    """The first successful probe request sent at or after `t`; samples are (t_sent, t_done, ok, ...)."""
    for sample in samples:
        if sample[2] and sample[0] >= t:
            return sample
    return None


def failures_between(samples, t_from, t_to):
    """Failed requests still running or started at/after `t_from` and sent before `t_to`."""
    return sum(1 for s in samples if not s[2] and s[1] >= t_from and s[0] < t_to)


def request_rate(samples):
    """Requests per second over the span the samples cover (0 without at least two samples)."""
    if len(samples) < 2:
        return 0.0
    span = samples[-1][1] - samples[0][0]
    return len(samples) / span if span > 0 else 0.0


def keepalived_state_lines(journal_text):
    """The journal lines of keepalived state changes (Entering MASTER|BACKUP|FAULT STATE)."""
    return [line for line in (journal_text or "").splitlines() if STATE_RE.search(line)]


def last_instance_states(journal_text):
    """{VRRP instance: the state it entered last} according to a keepalived journal excerpt."""
    states = {}
    for line in keepalived_state_lines(journal_text):
        match = STATE_RE.search(line)
        states[match.group("instance")] = match.group("state")
    return states


def parse_lb_status(text):
    """Split the output of LB_STATUS_SCRIPT: unit states, held IPv4 addresses, keepalived states."""
    parts = (text or "").split(SECTION + "\n")
    if len(parts) != 3:
        raise ValueError("unexpected load balancer status output")
    units_text, ip_text, journal_text = parts
    units = dict(zip(("keepalived", "haproxy"), (line.strip() for line in units_text.splitlines())))
    return {"units": units, "addresses": labkit.addresses_in_ip_output(ip_text),
            "states": last_instance_states(journal_text)}


def redundancy_problems(statuses, monitor_ok, vips):
    """(holder or None, [problems]) of an LB pair; no problem means fully redundant.

    statuses: {lb: parse_lb_status() result, or None when the container could not be asked}
    monitor_ok: {lb: True when its HAProxy answered its monitor URI}
    vips: the VIP addresses (without prefix) that must all sit on exactly one LB.
    """
    problems, holders = [], []
    for lb, status in sorted(statuses.items()):
        if status is None:
            problems.append(f"{lb}: container not running or not answering")
            continue
        for unit in ("keepalived", "haproxy"):
            if status["units"].get(unit) != "active":
                problems.append(f"{lb}: {unit} is {status['units'].get(unit, 'unknown')}")
        if not monitor_ok.get(lb):
            problems.append(f"{lb}: HAProxy does not answer its monitor URI")
        held = status["addresses"] & set(vips)
        if held:
            holders.append(lb)
            if held != set(vips):
                problems.append(f"{lb}: holds only {', '.join(sorted(held))} of the VIPs")
    if len(holders) != 1:
        problems.append(f"the VIPs are held by {len(holders)} load balancers ({', '.join(holders) or 'none'})")
    holder = holders[0] if len(holders) == 1 else None
    for lb, status in sorted(statuses.items()):
        if status is None:
            continue
        expected = "MASTER" if lb == holder else "BACKUP"
        for instance, state in sorted(status["states"].items()):
            if state != expected and holder is not None:
                problems.append(f"{lb}: VRRP instance {instance} is {state}, expected {expected}")
    return holder, problems


def parse_sample_stream(text, finished=True):
    """[(epoch, {addresses})] from SAMPLER_SCRIPT's output ('@ <epoch>' then `ip -o -4 addr show`).

    While the sampler still runs (finished=False) the last sample may be cut short (its `ip` lines not
    all read yet) and would look like a VIP release: it is left out until the next '@' line arrives.
    """
    samples, current_t, current_lines = [], None, []
    for line in (text or "").splitlines():
        if line.startswith("@ "):
            if current_t is not None:
                samples.append((current_t, labkit.addresses_in_ip_output("\n".join(current_lines))))
            try:
                current_t, current_lines = float(line[2:].strip()), []
            except ValueError:
                current_t, current_lines = None, []
        elif current_t is not None:
            current_lines.append(line)
    if current_t is not None and finished:
        samples.append((current_t, labkit.addresses_in_ip_output("\n".join(current_lines))))
    return samples


def holder_changes(samples_by_lb, vips):
    """Every change of the VIP addresses an LB holds, between two consecutive samples of that LB.

    Returns [{"t", "lb", "before", "after"}] sorted by time. Counting per LB (not on a merged
    timeline) means a clean hand-over is exactly two events (one release, one take), whatever the
    phase between the two LBs' sampling clocks.
    """
    wanted = set(vips)
    changes = []
    for lb, samples in samples_by_lb.items():
        previous = None
        for t, addresses in samples:
            held = sorted(addresses & wanted)
            if previous is not None and held != previous:
                changes.append({"t": t, "lb": lb, "before": previous, "after": held})
            previous = held
    return sorted(changes, key=lambda change: change["t"])


def takeovers(changes):
    """How many of the changes are an LB taking VIP addresses it did not hold (one per VIP move)."""
    return sum(1 for change in changes if set(change["after"]) - set(change["before"]))


def largest_gap(samples):
    """The longest time between two consecutive samples (a change shorter than this can go unseen)."""
    times = [t for t, _addresses in samples]
    return max((b - a for a, b in zip(times, times[1:])), default=None)


def trial_figures(samples, kill_started, kill_done):
    """Kill -> first success (ms) and failed requests of one trial, from the probe's samples."""
    first = first_success_after(samples, kill_done)
    until = first[0] if first else math.inf
    return {
        "kill_to_first_success_ms": round((first[1] - kill_done) * 1000, 1) if first else None,
        "failed": failures_between(samples, kill_started, until),
        "requests": len(samples),
        "probe_rps": round(request_rate(samples), 1),
        "kill_command_ms": round((kill_done - kill_started) * 1000, 1),
    }


# --------------------------------------------------------------------------- the lab
class Lab:
    """The lab's load balancers and VIPs, as the inventory describes them."""

    def __init__(self, inventory_json):
        self.lbs = labkit.group_hosts(inventory_json, "loadbalancers")
        if len(self.lbs) != 2:
            raise BenchError(f"expected a pair of load balancers, the inventory has {len(self.lbs)}")
        vips = labkit.lab_vips(inventory_json)
        self.vip, self.vips = vips["public"], vips["all"]
        lb_vars = inventory_json["_meta"]["hostvars"][next(iter(self.lbs))]
        self.http_port = int(lb_vars.get("haproxy_http_port", 80))
        self.monitor_port = int(labkit.contract_value(lb_vars, "ha_lamp_haproxy_stats_port", "haproxy_stats_port"))
        self.monitor_uri = lb_vars.get("haproxy_monitor_uri", "/haproxy-health")

    def describe(self):
        return {"lbs": self.lbs, "vip": self.vip, "vips": self.vips, "http_port": self.http_port,
                "monitor": f"http://<lb>:{self.monitor_port}{self.monitor_uri}"}


def load_lab(inventory):
    return Lab(labkit.read_inventory(inventory))


def container_running(address):
    out = labkit.podman_run("inspect", "-f", "{{.State.Running}}", address, check=False)
    return out.returncode == 0 and out.stdout.strip() == "true"


# One exec per LB and check: unit states, addresses, the recent keepalived journal.
LB_STATUS_SCRIPT = (
    f"systemctl is-active keepalived haproxy; echo {SECTION}; ip -o -4 addr show; echo {SECTION}; "
    f"journalctl -u keepalived -o cat --no-pager -n {JOURNAL_LINES}"
)


def lb_status(address):
    try:
        out = labkit.podman_run("exec", address, "sh", "-c", LB_STATUS_SCRIPT, check=False, timeout=15)
        return parse_lb_status(out.stdout)
    except (subprocess.TimeoutExpired, ValueError):
        return None


def haproxy_answers(lab, address):
    """True when HAProxy on this LB answers its monitor URI (on the LB's own address) with 200."""
    opener = labkit.http_opener()
    try:
        with opener.open(f"http://{address}:{lab.monitor_port}{lab.monitor_uri}", timeout=1.0) as resp:
            return resp.status == 200
    except OSError:
        return False


def check_pair(lab):
    statuses = {lb: (lb_status(addr) if container_running(addr) else None) for lb, addr in lab.lbs.items()}
    monitor_ok = {lb: haproxy_answers(lab, addr) for lb, addr in lab.lbs.items()}
    return redundancy_problems(statuses, monitor_ok, lab.vips)


def wait_redundant(lab, timeout):
    """Wait (bounded) until the pair is fully redundant; returns the holder or raises BenchError."""
    deadline = time.monotonic() + timeout
    problems = ["not checked"]
    for _attempt in range(int(timeout / POLL_INTERVAL_S) + 2):
        holder, problems = check_pair(lab)
        if not problems:
            return holder
        if time.monotonic() >= deadline:
            break
        time.sleep(POLL_INTERVAL_S)
    raise BenchError("the load balancer pair is not fully redundant: " + "; ".join(problems))


def wait_booted(address, timeout):
    """`systemctl is-system-running --wait` inside a (re)started container, bounded."""
    deadline = time.monotonic() + timeout
    for _attempt in range(60):  # the container may need a moment before exec works
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            out = labkit.podman_run("exec", address, "systemctl", "is-system-running", "--wait",
                                    check=False, timeout=remaining)
        except subprocess.TimeoutExpired:
            break
        state = out.stdout.strip()
        if state in ("running", "degraded"):
            return state
        time.sleep(1)
    raise BenchError(f"{address}: systemd did not finish booting within {timeout:.0f} s")


def haproxy_main_pid(address):
    """HAProxy's main PID as systemd sees it ("0" when it is not running; None when unknown)."""
    out = labkit.podman_run("exec", address, "systemctl", "show", "-p", "MainPID", "--value", "haproxy",
                            check=False, timeout=10)
    if out.returncode != 0:
        return None
    return out.stdout.strip() or None


def haproxy_back(address, killed_pid):
    """HAProxy restarted: active, with a main process other than the one killed."""
    out = labkit.podman_run("exec", address, "systemctl", "is-active", "haproxy", check=False, timeout=10)
    pid = haproxy_main_pid(address)
    return out.stdout.strip() == "active" and pid not in (None, "0", killed_pid)


def wait_haproxy_back(address, killed_pid, timeout):
    deadline = time.monotonic() + timeout
    for _attempt in range(int(timeout / POLL_INTERVAL_S) + 2):
        if haproxy_back(address, killed_pid):
            return True
        if time.monotonic() >= deadline:
            break
        time.sleep(POLL_INTERVAL_S)
    return False


# --------------------------------------------------------------------------- the probe
def http_get_once(host, port, path, connect_timeout, total_timeout):
    """One GET on a new connection; returns (t_sent, t_done, ok, error) with monotonic times.

    The request says `Connection: close` and the response is read to EOF, so HAProxy closes first
    and keeps the TIME_WAIT: thousands of requests per second for minutes cannot exhaust this
    machine's ephemeral ports and turn into false failures.
    """
    request = (f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n"
               f"User-Agent: ha-lamp-bench-vip\r\n\r\n").encode()
    t_sent = time.monotonic()
    deadline = t_sent + total_timeout
    ok, error = False, None
    try:
        with socket.create_connection((host, port), timeout=connect_timeout) as sock:
            sock.sendall(request)
            data = read_to_eof(sock, deadline)
        match = STATUS_LINE_RE.match(data)
        status = int(match.group(1)) if match else None
        ok = status == 200
        error = None if ok else f"status {status}"
    except socket.timeout:
        error = "timeout"
    except ConnectionRefusedError:
        error = "refused"
    except ConnectionResetError:
        error = "reset"
    except OSError as exc:
        error = type(exc).__name__ + (f" {exc.errno}" if exc.errno else "")
    t_done = time.monotonic()
    if ok and t_done > deadline:
        ok, error = False, "timeout"
    return t_sent, t_done, ok, error


def read_to_eof(sock, deadline):
    """Everything the server sends until it closes, within the deadline and READ_LIMIT_BYTES."""
    chunks, size = [], 0
    while size < READ_LIMIT_BYTES:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout("total timeout")
        sock.settimeout(remaining)
        chunk = sock.recv(READ_LIMIT_BYTES - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


class Prober(threading.Thread):
    """GETs the public VIP in a loop (paced by --probe-interval-ms, 0 = tight) until stopped or bounded."""

    def __init__(self, lab, args, max_seconds):
        super().__init__(name="bench-vip-probe", daemon=True)
        self.target = (lab.vip, lab.http_port, args.path)
        self.timeouts = (args.connect_timeout, args.total_timeout)
        self.interval = args.probe_interval_ms / 1000.0
        self.max_seconds = max_seconds
        self.samples = []
        self._stop_event = threading.Event()

    def run(self):
        deadline = time.monotonic() + self.max_seconds
        while not self._stop_event.is_set() and len(self.samples) < MAX_PROBE_REQUESTS:
            if time.monotonic() >= deadline:
                break
            self.samples.append(http_get_once(*self.target, *self.timeouts))
            if self.interval:
                self._stop_event.wait(self.interval)

    def snapshot(self):
        return list(self.samples)

    def stop(self):
        self._stop_event.set()
        self.join(timeout=max(self.timeouts) + 2)


def wait_for_first_success(prober, since, timeout):
    """Watch the probe (bounded) until a request sent at or after `since` succeeded."""
    deadline = time.monotonic() + timeout
    for _attempt in range(int(timeout / RECOVERY_POLL_S) + 2):
        if first_success_after(prober.snapshot(), since):
            return True
        if time.monotonic() >= deadline or not prober.is_alive():
            break
        time.sleep(RECOVERY_POLL_S)
    return False


# --------------------------------------------------------------------------- faults and repairs
class Restorer:
    """Remembers what a trial broke and puts it back: used after each trial and in main's finally."""

    def __init__(self, settle_timeout):
        self.settle_timeout = settle_timeout
        self.killed_containers = set()
        self.killed_haproxy = {}  # address -> HAProxy main PID at the kill

    def restore(self):
        """Start every killed container and make every killed HAProxy active again (idempotent)."""
        for address in sorted(self.killed_containers):
            if not container_running(address):
                labkit.podman_run("start", address, timeout=120)
            wait_booted(address, self.settle_timeout)
            self.killed_containers.discard(address)
        for address, killed_pid in sorted(self.killed_haproxy.items()):
            # systemd restarts HAProxy by itself (Restart=always); repair only if it did not (for
            # instance after its start limit). A new main PID tells a restart from a stale "active".
            if not wait_haproxy_back(address, killed_pid, min(30.0, self.settle_timeout)):
                print(f"  HAProxy on {address} did not come back by itself: reset-failed and start it")
                labkit.podman_run("exec", address, "systemctl", "reset-failed", "haproxy", check=False)
                labkit.podman_run("exec", address, "systemctl", "start", "haproxy", check=False, timeout=60)
                if not wait_haproxy_back(address, killed_pid, self.settle_timeout):
                    raise BenchError(f"HAProxy on {address} is not active again")
            del self.killed_haproxy[address]


def kill_container(restorer, address):
    """SIGKILL the whole container; returns the monotonic times around the kill command."""
    restorer.killed_containers.add(address)  # first: a kill that fails half way is still undone
    started = time.monotonic()
    labkit.podman_run("kill", "-s", "KILL", address)
    return started, time.monotonic()


def kill_haproxy(restorer, address):
    """SIGKILL every HAProxy process in the container; returns the times around the kill command."""
    restorer.killed_haproxy[address] = haproxy_main_pid(address)
    started = time.monotonic()
    out = labkit.podman_run("exec", address, "pkill", "-KILL", "-x", "haproxy", check=False)
    done = time.monotonic()
    if out.returncode != 0:  # 1: no process matched, so nothing was killed and nothing is measured
        raise BenchError(f"pkill found no haproxy process on {address} (exit {out.returncode})")
    return started, done


# --------------------------------------------------------------------------- kill trials
def run_kill_trial(lab, args, restorer, number, kill_not_before=0.0):
    """One kill trial: redundant pair -> probe -> kill -> first success -> restore -> redundant.

    The kill happens no earlier than `kill_not_before` (monotonic), and after --warmup of probing.
    """
    holder = wait_redundant(lab, args.settle_timeout)
    target = lab.lbs[holder]
    warmup = max(args.warmup, kill_not_before - time.monotonic())
    prober = Prober(lab, args, warmup + args.recovery_timeout + args.tail + 5)
    prober.start()
    try:
        time.sleep(warmup)
        baseline = prober.snapshot()
        if not any(s[2] for s in baseline):
            raise BenchError(f"the VIP does not serve {args.path} before the kill "
                             f"(0 of {len(baseline)} probe requests ok)")
        kill = kill_container if args.mode == "holder-kill" else kill_haproxy
        kill_started, kill_done = kill(restorer, target)
        kill_epoch = time.time() - (time.monotonic() - kill_started)
        if wait_for_first_success(prober, kill_done, args.recovery_timeout):
            time.sleep(args.tail)  # a little after recovery: does it stay up?
    finally:
        prober.stop()
        restore_started = time.monotonic()
        restorer.restore()
    samples = prober.snapshot()
    new_holder = wait_redundant(lab, args.settle_timeout)
    result = {"trial": number, "killed": holder, "address": target, "kill_epoch": round(kill_epoch, 3),
              "kill_monotonic": kill_started, "holder_after": new_holder,
              "settle_s": round(time.monotonic() - restore_started, 1),
              "failed_before_kill": sum(1 for s in baseline if not s[2])}
    result.update(trial_figures(samples, kill_started, kill_done))
    if args.mode == "holder-kill" and new_holder == holder:
        result["note"] = f"{holder} took the VIPs back after its restart (expected BACKUP: nopreempt)"
    # Raw samples relative to the end of the kill command, in ms, for --json.
    result["samples"] = [[round((s[0] - kill_done) * 1000, 1), round((s[1] - kill_done) * 1000, 1), s[2], s[3]]
                         for s in samples]
    return result


def run_kill_series(lab, args, restorer, started, trials):
    """Run the trials into `trials` (kept by the caller when one fails); returns why it stopped early."""
    next_kill = 0.0
    for number in range(1, args.trials + 1):
        if time.monotonic() - started >= args.max_seconds:
            return f"--max-seconds {args.max_seconds:.0f} reached"
        result = run_kill_trial(lab, args, restorer, number, next_kill)
        kill_monotonic = result.pop("kill_monotonic")  # meaningless outside this run: not in --json
        trials.append(result)
        print(trial_line(result, args.trials), flush=True)
        if args.mode == "haproxy-kill":
            # systemd's start limit (5 starts in 10 s) must never be reached through our kills.
            next_kill = kill_monotonic + args.haproxy_kill_spacing
        if number < args.trials:
            time.sleep(args.cooldown)
    return None


def trial_line(r, total):
    first = "no success" if r["kill_to_first_success_ms"] is None else f"{r['kill_to_first_success_ms']:.0f} ms"
    line = (f"trial {r['trial']}/{total}: {r['killed']} ({r['address']}) killed -> first success {first}, "
            f"{r['failed']} failed of {r['requests']} requests (probe {r['probe_rps']:.0f} req/s, "
            f"kill command {r['kill_command_ms']:.0f} ms); redundant again in {r['settle_s']} s, "
            f"holder {r['holder_after']}")
    return line + (f"  [{r['note']}]" if r.get("note") else "")


def table_row(label, figures, spec=".0f"):
    return (f"{label:<34} {labkit.fmt(figures['median'], spec):>8} {labkit.fmt(figures['p90'], spec):>8} "
            f"{labkit.fmt(figures['max'], spec):>8}")


def print_kill_table(args, trials, stop_reason):
    recovered = [t for t in trials if t["kill_to_first_success_ms"] is not None]
    summary = {
        "kill_to_first_success_ms": labkit.summarize([t["kill_to_first_success_ms"] for t in recovered]),
        "failed": labkit.summarize([t["failed"] for t in trials]),
        "probe_rps": labkit.summarize([t["probe_rps"] for t in trials]),
        "kill_command_ms": labkit.summarize([t["kill_command_ms"] for t in trials]),
        "trials": len(trials), "recovered": len(recovered),
    }
    print(f"\n{args.mode}: {len(trials)} trials, {len(recovered)} recovered within {args.recovery_timeout:g} s"
          + (f" (stopped early: {stop_reason})" if stop_reason else ""))
    print(f"load: one client, GET {args.path} through the VIP, a new connection per request, "
          f"{args.connect_timeout:g} s connect / {args.total_timeout:g} s total timeout, "
          f"median {labkit.fmt(summary['probe_rps']['median'], '.0f')} req/s")
    print(f"{'figure':<34} {'median':>8} {'p90':>8} {'max':>8}")
    print(table_row("kill -> first success (ms)", summary["kill_to_first_success_ms"]))
    print(table_row("failed requests per trial", summary["failed"], ".1f"))
    print(table_row("kill command (ms, uncertainty)", summary["kill_command_ms"]))
    notes = [t for t in trials if t.get("note")]
    if notes:
        print(f"{len(notes)} trial(s) with a note, first: trial {notes[0]['trial']}: {notes[0]['note']}")
    return summary


# --------------------------------------------------------------------------- soak
# Runs inside an LB for the whole soak: one podman exec instead of five per second, so the sampling
# does not load the machine whose stability it measures. Bounded by an end time and a sample count;
# prints its PID first so it can be stopped by its id.
SAMPLER_SCRIPT = r"""
echo "pid $$"
end=$1; left=$2
while [ "$left" -gt 0 ] && [ "$(date +%s)" -lt "$end" ]; do
    echo "@ $(date +%s.%N)"
    ip -o -4 addr show
    left=$((left - 1))
    sleep "$3"
done
"""


class HolderSampler:
    """Streams which addresses one LB holds, every SAMPLE_PERIOD_S, from inside the container."""

    def __init__(self, lb, address, seconds):
        self.lb, self.address = lb, address
        end = int(time.time() + seconds) + 1
        count = int(seconds / SAMPLE_PERIOD_S) + 10
        self.proc = subprocess.Popen(
            ["podman", "exec", address, "sh", "-c", SAMPLER_SCRIPT, "bench-vip-sampler", str(end), str(count),
             str(SAMPLE_PERIOD_S)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=labkit.podman_env())
        self.lines = []
        self.reader = threading.Thread(target=self._read, name=f"bench-vip-sampler-{lb}", daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def samples(self):
        finished = self.proc.poll() is not None and not self.reader.is_alive()
        return parse_sample_stream("\n".join(list(self.lines)), finished=finished)

    def stop(self):
        """Stop the in-container loop by its PID, then our podman client (bounded waits)."""
        pid = next((line.split()[1] for line in list(self.lines)[:1] if line.startswith("pid ")), None)
        if pid and pid.isdigit():
            labkit.podman_run("exec", self.address, "kill", pid, check=False, timeout=10)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.reader.join(timeout=5)


def wrk_chunk(url, seconds, threads, connections):
    """One soak chunk: wrk's request count, requests/s and errors (the figures --json keeps)."""
    figures = labkit.run_wrk(url, seconds, connections, threads, latency=False, strict=False)
    return {key: figures[key] for key in ("requests", "rps", "socket_errors", "non_2xx")}


def soak_chunks(total_seconds, chunk_seconds):
    """Chunk lengths covering total_seconds: full chunks, then the remainder."""
    full, rest = divmod(int(total_seconds), int(chunk_seconds))
    return [int(chunk_seconds)] * full + ([rest] if rest else [])


def journal_state_lines(address, since_epoch):
    out = labkit.podman_run("exec", address, "journalctl", "-u", "keepalived", "--since", f"@{int(since_epoch)}",
                            "-o", "cat", "--no-pager", check=False)
    return keepalived_state_lines(out.stdout)


def run_soak(lab, args):
    holder = wait_redundant(lab, args.settle_timeout)
    seconds = args.minutes * 60
    url = f"http://{lab.vip}:{lab.http_port}{args.path}"
    print(f"soak: {args.minutes} min of wrk -t{args.threads} -c{args.connections} on {url}, "
          f"holder at start {holder}, sampling both LBs every {SAMPLE_PERIOD_S} s")
    start_epoch = time.time()
    samplers = {}
    chunks = []
    try:
        for lb, address in lab.lbs.items():
            samplers[lb] = HolderSampler(lb, address, seconds + 30)
        for number, chunk in enumerate(soak_chunks(seconds, args.chunk_seconds), 1):
            figures = wrk_chunk(url, chunk, args.threads, args.connections)
            figures.update({"chunk": number, "seconds": chunk})
            chunks.append(figures)
            moves = holder_changes({lb: s.samples() for lb, s in samplers.items()}, lab.vips)
            print(f"chunk {number}: {chunk} s, {labkit.fmt(figures['rps'], '.0f')} req/s, {figures['socket_errors']} "
                  f"socket errors, {figures['non_2xx']} non-2xx, holder changes so far {len(moves)}")
    finally:
        for sampler in samplers.values():
            sampler.stop()
    samples = {lb: s.samples() for lb, s in samplers.items()}
    return report_soak(lab, args, start_epoch, holder, chunks, samples)


def report_soak(lab, args, start_epoch, holder, chunks, samples):
    changes = holder_changes(samples, lab.vips)
    journals = {lb: journal_state_lines(address, start_epoch) for lb, address in lab.lbs.items()}
    rps = labkit.summarize([c["rps"] for c in chunks])
    total_requests = sum(c["requests"] or 0 for c in chunks)
    errors = sum(c["socket_errors"] + c["non_2xx"] for c in chunks)
    print(f"\nsoak: {args.minutes} min, {len(chunks)} chunks, load median {labkit.fmt(rps['median'], '.0f')} req/s "
          f"(min chunk {labkit.fmt(min((c['rps'] or 0 for c in chunks), default=None), '.0f')}), "
          f"{total_requests} requests, {errors} errors")
    for lb, lb_samples in samples.items():
        gap = largest_gap(lb_samples)
        print(f"  {lb}: {len(lb_samples)} samples, largest gap {labkit.fmt(gap, '.2f')} s")
    print(f"VIP holder changes (spurious moves, expected 0): {len(changes)} "
          f"({takeovers(changes)} take-overs, the rest releases)")
    for change in changes:
        print(f"  +{change['t'] - start_epoch:.1f} s {change['lb']}: {', '.join(change['before']) or 'none'} -> "
              f"{', '.join(change['after']) or 'none'}")
    for lb, lines in journals.items():
        print(f"keepalived state changes on {lb} since the soak started: {len(lines)}")
        for line in lines:
            print(f"  {line}")
    after, problems = check_pair(lab)
    print("pair after the soak: " + ("redundant, holder " + after if not problems else "; ".join(problems)))
    return {"start_epoch": start_epoch, "holder_at_start": holder, "chunks": chunks, "rps": rps,
            "requests": total_requests, "errors": errors, "holder_changes": changes, "journal": journals,
            "samples": {lb: [[t, sorted(a & set(lab.vips))] for t, a in s] for lb, s in samples.items()},
            "redundant_after": not problems, "problems_after": problems}


# --------------------------------------------------------------------------- command line
def parse_args(argv):
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--inventory", default="inventories/lab")
    common.add_argument("--json", metavar="FILE", help="write the raw data (every probe request, the samples)")
    common.add_argument("--max-seconds", type=float, default=3600.0,
                        help="bound on the whole run: no new trial starts after it (default 3600)")
    common.add_argument("--settle-timeout", type=float, default=180.0,
                        help="longest wait for the pair to be fully redundant again (default 180 s)")
    common.add_argument("--path", default="/static.txt", help="the cheap page the load asks for")

    kill = argparse.ArgumentParser(add_help=False)
    kill.add_argument("--trials", type=int, default=20)
    kill.add_argument("--connect-timeout", type=float, default=0.2)
    kill.add_argument("--total-timeout", type=float, default=0.5)
    kill.add_argument("--probe-interval-ms", type=float, default=0.0,
                      help="pause between probe requests (default 0: a tight loop)")
    kill.add_argument("--warmup", type=float, default=1.0, help="probe time before the kill (s)")
    kill.add_argument("--recovery-timeout", type=float, default=30.0,
                      help="longest wait for the first success after the kill (s)")
    kill.add_argument("--tail", type=float, default=0.5, help="probe time after the first success (s)")
    kill.add_argument("--cooldown", type=float, default=2.0, help="pause between trials (s)")
    kill.add_argument("--haproxy-kill-spacing", type=float, default=3.0,
                      help="haproxy-kill: least time between two kills (s; systemd allows 5 starts in 10 s)")

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    modes = parser.add_subparsers(dest="mode", required=True)
    modes.add_parser("holder-kill", parents=[common, kill], help="SIGKILL the VIP holder's container")
    modes.add_parser("haproxy-kill", parents=[common, kill], help="SIGKILL HAProxy on the VIP holder")
    soak = modes.add_parser("soak", parents=[common], help="HTTP load for minutes; count VIP moves")
    soak.add_argument("--minutes", type=float, default=30.0)
    soak.add_argument("--chunk-seconds", type=int, default=60)
    soak.add_argument("--threads", type=int, default=2)
    soak.add_argument("--connections", type=int, default=32)
    args = parser.parse_args(argv)
    check_bounds(parser, args)
    return args


def check_bounds(parser, args):
    if not 0 < args.max_seconds <= MAX_RUN_SECONDS:
        parser.error(f"--max-seconds must be in (0, {MAX_RUN_SECONDS}]")
    if not 10 <= args.settle_timeout <= 900:
        parser.error("--settle-timeout must be 10..900 s")
    if args.mode == "soak":
        if not 0 < args.minutes <= MAX_SOAK_MINUTES:
            parser.error(f"--minutes must be in (0, {MAX_SOAK_MINUTES}]")
        if args.minutes * 60 + 60 > args.max_seconds:
            parser.error("--minutes does not fit in --max-seconds (soak + 60 s)")
        if not 5 <= args.chunk_seconds <= 600 or not 1 <= args.threads <= 8 or not 1 <= args.connections <= 256:
            parser.error("--chunk-seconds 5..600, --threads 1..8, --connections 1..256")
        return
    if not 1 <= args.trials <= MAX_TRIALS:
        parser.error(f"--trials must be 1..{MAX_TRIALS}")
    if not 0 < args.connect_timeout <= args.total_timeout <= 5:
        parser.error("need 0 < --connect-timeout <= --total-timeout <= 5")
    if not 0 <= args.probe_interval_ms <= 1000 or not 0 < args.recovery_timeout <= 120:
        parser.error("--probe-interval-ms 0..1000, --recovery-timeout (0, 120]")
    if not 0.2 <= args.warmup <= 10 or not 0 <= args.tail <= 10 or not 0 <= args.cooldown <= 60:
        parser.error("--warmup 0.2..10, --tail 0..10, --cooldown 0..60")
    if args.haproxy_kill_spacing < 2.5:
        parser.error("--haproxy-kill-spacing must be at least 2.5 s (systemd: 5 starts in 10 s)")


def raise_on_sigterm(signum, _frame):
    # Turn SIGTERM into an exception in the main thread, so every finally block (restarts) runs.
    raise SystemExit(128 + signum)


def write_json(path, data):
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1)
    print(f"raw data: {path}")


def soak_mode(lab, args, data):
    try:
        data["soak"] = run_soak(lab, args)
    except BenchError as exc:
        print(f"soak not run: {exc}", file=sys.stderr)
        return 1
    return 0 if data["soak"]["redundant_after"] and not data["soak"]["holder_changes"] else 1


def kill_mode(lab, args, restorer, started, data):
    trials = data["trials"] = []
    status = 0
    try:
        stop_reason = run_kill_series(lab, args, restorer, started, trials)
    except BenchError as exc:
        print(f"\nseries stopped: {exc}", file=sys.stderr)
        stop_reason, status = str(exc), 1
    data["summary"] = print_kill_table(args, trials, stop_reason)
    return status


def main(argv=None):
    args = parse_args(argv)
    if args.mode == "soak" and not shutil.which("wrk"):
        sys.exit("wrk is missing: apt-get install wrk (./labctl up installs it)")
    signal.signal(signal.SIGTERM, raise_on_sigterm)
    started = time.monotonic()
    lab = load_lab(args.inventory)
    data = {"mode": args.mode, "started_epoch": time.time(), "lab": lab.describe(), "settings": vars(args)}
    restorer = Restorer(args.settle_timeout)
    status = 0
    try:
        if args.mode == "soak":
            status = soak_mode(lab, args, data)
        else:
            status = kill_mode(lab, args, restorer, started, data)
    finally:
        try:
            restorer.restore()  # a no-op unless an exception cut a trial short
        finally:
            if args.json:
                write_json(args.json, data)
    return status


if __name__ == "__main__":
    sys.exit(main())
