# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Drill observer: who held the VIP and who was writable, sampled on every node itself.

Why on the node itself: the split-brain a drill must catch is a node that is cut off from its
peers (and maybe from the controller) while it still holds the VIP or still accepts writes. A
sampler on the controller cannot see such a node; a sampler running on the node can, and its
samples are fetched afterwards. So every load balancer samples "do I hold a VIP address?" and
every database node samples "is my server writable (read_only=OFF)?" every ~0.25 s, for a bounded
time, into a JSONL file on its own disk (one line per sample, flushed, so a killed node keeps the
samples taken up to its death).

Three parts, the last two pure (no I/O) and unit-tested:

* ``Sampler``: the bounded sampling loop (run on a node by the drill_observer module, mode=sample).
* ``holders_timeline``: merges the per-node samples into the drill_report format
  ``[{"t": epoch, "holders": [node, ...]}, ...]``.
* ``assess``: decides whether the cluster is fully redundant from what each load balancer reports
  (its services, the VIP addresses it holds, its HAProxy server states).

Merge rule (``holders_timeline``)
    One timeline entry per sample instant of any node. At instant T a node counts as holder when

    * it is the node sampled at T and that sample says it holds; or
    * its last sample before T and its first sample after T both say it holds, and the two are at
      most ``max_gap_s`` apart (it held throughout, as far as sampling can tell).

    Nothing is extrapolated past a node's last sample: a node that was killed (no further samples)
    is not counted as holding after its death, and a node sampled "not holding" is not counted
    until sampled "holding". A double holder therefore means two nodes were each *observed*
    holding over overlapping time, never an artefact of two samplers ticking at different
    instants during a clean hand-over. Overlaps shorter than the sampling interval can go unseen;
    the interval (0.25 s) is the resolution of the check and is recorded with the samples.
    Clocks: the samplers use their node's wall clock. Lab containers share the host clock; real
    hosts must be time-synchronised (the preflight role checks it), a skew of a few ms is far
    below the sampling resolution.
"""

from __future__ import absolute_import, division, print_function

import bisect
import csv
import errno
import io
import json
import os
import re
import stat
import subprocess
import time

__metaclass__ = type

KINDS = ("vip", "primary")
MAX_DURATION_S = 3600.0
MIN_INTERVAL_S = 0.05

_INET_RE = re.compile(r"\sinet\s+(\d{1,3}(?:\.\d{1,3}){3})/\d+")


class ObserverError(Exception):
    """Invalid observer parameters or input."""


# ----------------------------------------------------------------- sampling
def addresses_from_ip(text):
    """IPv4 addresses in the output of ``ip -o -4 addr show``."""
    return sorted(set(_INET_RE.findall(text or "")))


def vip_probe(vip_addresses, ip_command=("ip", "-o", "-4", "addr", "show"), timeout=1.0):
    """Return a probe callable: (holds, held addresses, error) for this node's VIP addresses."""
    wanted = set(vip_addresses)

    def probe():
        try:
            out = subprocess.run(list(ip_command), capture_output=True, text=True, timeout=timeout,
                                 check=False)
        except (OSError, subprocess.SubprocessError) as exc:
            return None, [], "%s: %s" % (type(exc).__name__, exc)
        if out.returncode != 0:
            return None, [], "ip exited %d: %s" % (out.returncode, out.stderr.strip()[:120])
        held = sorted(wanted & set(addresses_from_ip(out.stdout)))
        return bool(held), held, None

    return probe


class ReadOnlyProbe:
    """Is the local MariaDB writable? One persistent connection over the unix socket.

    Connects as the local administrative account (unix_socket authentication on Debian), so it
    needs no password and works when the node is cut off from the network. Any failure (server
    killed, restarting) is reported as unknown (holds None) and the next sample reconnects.
    """

    def __init__(self, socket_path="/run/mysqld/mysqld.sock", user="root", password=None, timeout=1.0):
        self.socket_path = socket_path
        self.user = user
        self.password = password
        self.timeout = timeout
        self._conn = None

    def _connect(self):
        import pymysql  # imported here: only database nodes need it

        return pymysql.connect(unix_socket=self.socket_path, user=self.user, password=self.password or "",
                               connect_timeout=self.timeout, read_timeout=self.timeout,
                               write_timeout=self.timeout, autocommit=True)

    def __call__(self):
        try:
            if self._conn is None:
                self._conn = self._connect()
            with self._conn.cursor() as cur:
                cur.execute("SELECT @@global.read_only")
                value = cur.fetchone()[0]
            writable = str(value).upper() in ("0", "OFF")
            return writable, [], None
        except Exception as exc:  # a dead or restarting server is data here, not a crash
            self.close()
            return None, [], "%s: %s" % (type(exc).__name__, str(exc).strip()[:120])

    def close(self):
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:
                pass
        self._conn = None


def private_directory(directory):
    """Create ``directory`` (mode 0700) or check that the existing one is private; return it.

    The observer runs as root and appends to files in this folder. A folder that another user owns,
    that others can write or enter, or that is a symlink would let a local user redirect root's writes
    (symlink clobber), so it is refused rather than repaired. Missing parents are created 0755.
    """
    parent = os.path.dirname(directory.rstrip(os.sep))
    if parent and not os.path.isdir(parent):
        os.makedirs(parent, 0o755)
    try:
        os.mkdir(directory, 0o700)
    except OSError as exc:
        if exc.errno != errno.EEXIST:
            raise
    st = os.lstat(directory)
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise ObserverError("%s is not a plain directory (a symlink or a file); remove it" % directory)
    if st.st_uid != os.geteuid():
        raise ObserverError("%s belongs to uid %d, not to uid %d that runs the observer; remove it"
                            % (directory, st.st_uid, os.geteuid()))
    if stat.S_IMODE(st.st_mode) & 0o077:
        raise ObserverError("%s has mode %04o; it must be 0700 (no group or other access)"
                            % (directory, stat.S_IMODE(st.st_mode)))
    return directory


def open_private_append(path):
    """Open ``path`` for appending, created 0600, refusing a symlink (O_NOFOLLOW) or a non-regular file."""
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags, 0o600)
    except OSError as exc:
        raise ObserverError("cannot open %s safely: %s" % (path, exc.strerror or exc))
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise ObserverError("%s is not a regular file; remove it" % path)
    return os.fdopen(fd, "a", encoding="utf-8")


class Sampler:
    """Bounded sampling loop writing one JSON line per sample.

    Stops at ``duration`` seconds or when ``stop_file`` exists. Appends to ``path`` so a second
    segment (a node restarted during the drill) continues the same file. Timestamps are the wall
    clock advanced by the monotonic clock from one anchor, like the probe's.
    """

    def __init__(self, node, kind, probe, path, duration, interval=0.25, stop_file=None,
                 clock=time.time, monotonic=time.monotonic, sleep=time.sleep):
        if kind not in KINDS:
            raise ObserverError("kind must be one of %s" % ", ".join(KINDS))
        if not 0 < float(duration) <= MAX_DURATION_S:
            raise ObserverError("duration must be in (0, %d] seconds" % MAX_DURATION_S)
        if float(interval) < MIN_INTERVAL_S:
            raise ObserverError("interval must be at least %.2f s" % MIN_INTERVAL_S)
        self.node = node
        self.kind = kind
        self.probe = probe
        self.path = path
        self.duration = float(duration)
        self.interval = float(interval)
        self.stop_file = stop_file
        self._wall0 = clock()
        self._mono = monotonic
        self._mono0 = monotonic()
        self._sleep = sleep

    def _now(self):
        return round(self._wall0 + (self._mono() - self._mono0), 6)

    def run(self):
        directory = os.path.dirname(self.path)
        if directory:
            private_directory(directory)
        deadline = self._mono0 + self.duration
        counts = {"samples": 0, "holding": 0, "unknown": 0}
        stopped_by = "duration"
        with open_private_append(self.path) as fh:
            next_tick = self._mono()
            while self._mono() < deadline:
                if self.stop_file and os.path.exists(self.stop_file):
                    stopped_by = "stop_file"
                    break
                t = self._now()
                holds, held, error = self.probe()
                sample = {"t": t, "node": self.node, "kind": self.kind, "holds": holds,
                          "interval": self.interval}
                if held:
                    sample["addresses"] = held
                if error:
                    sample["error"] = error
                fh.write(json.dumps(sample, sort_keys=True, separators=(",", ":")) + "\n")
                fh.flush()
                counts["samples"] += 1
                counts["holding"] += 1 if holds else 0
                counts["unknown"] += 1 if holds is None else 0
                # Fixed-rate ticks that never pile up: a slow probe skips ticks instead of bursting.
                next_tick = max(next_tick + self.interval, self._mono())
                delay = next_tick - self._mono()
                if delay > 0:
                    self._sleep(delay)
        counts.update(node=self.node, kind=self.kind, path=self.path, stopped_by=stopped_by,
                      start=round(self._wall0, 6), end=self._now())
        return counts


# ------------------------------------------------------------------- merging
def load_samples(paths):
    """Samples from several JSONL files; unreadable lines (a truncated last line) are skipped."""
    samples = []
    for path in paths:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                line = line.strip()
                if not line:
                    continue
                try:
                    sample = json.loads(line)
                except ValueError:
                    continue
                if isinstance(sample, dict) and "t" in sample and "node" in sample:
                    samples.append(sample)
    return samples


def _by_node(samples, kind):
    nodes = {}
    for sample in samples:
        if sample.get("kind", kind) != kind:
            continue
        nodes.setdefault(sample["node"], []).append((float(sample["t"]), sample.get("holds") is True))
    for series in nodes.values():
        series.sort()
    return nodes


def _holds_at(series, times, t, max_gap_s):
    """Whether a node held at instant t (it has no sample exactly at t): see the module doc."""
    idx = bisect.bisect_right(times, t)
    if idx == 0 or idx >= len(series):
        return False  # before its first or after its last sample: never extrapolate
    (t_prev, h_prev), (t_next, h_next) = series[idx - 1], series[idx]
    return h_prev and h_next and (t_next - t_prev) <= max_gap_s


def holders_timeline(samples, kind, max_gap_s=1.0, since=None, until=None):
    """Merge per-node samples of one kind into ``[{"t": epoch, "holders": [nodes]}]``."""
    if kind not in KINDS:
        raise ObserverError("kind must be one of %s" % ", ".join(KINDS))
    nodes = _by_node(samples, kind)
    times = {node: [t for t, _holds in series] for node, series in nodes.items()}
    instants = sorted({(t, node, holds) for node, series in nodes.items() for t, holds in series})
    timeline = []
    for t, node, holds in instants:
        if (since is not None and t < since) or (until is not None and t > until):
            continue
        holders = {node} if holds else set()
        for other, series in nodes.items():
            if other != node and _holds_at(series, times[other], t, max_gap_s):
                holders.add(other)
        timeline.append({"t": t, "holders": sorted(holders)})
    return timeline


def coverage(samples, kind):
    """Per node: sample count, first/last instant, longest gap between samples, unknown samples."""
    result = {}
    for node, series in sorted(_by_node(samples, kind).items()):
        gaps = [b[0] - a[0] for a, b in zip(series, series[1:])]
        unknown = sum(1 for s in samples if s.get("node") == node and s.get("kind", kind) == kind
                      and s.get("holds") is None)
        result[node] = {"samples": len(series), "first": series[0][0], "last": series[-1][0],
                        "max_gap_s": round(max(gaps), 3) if gaps else None, "unknown": unknown,
                        "holding": sum(1 for _t, holds in series if holds)}
    return result


def double_windows(timeline):
    """Spans of consecutive timeline entries with more than one holder: [{start, end, holders}]."""
    windows = []
    current = None
    for entry in timeline:
        if len(entry["holders"]) > 1:
            if current is None:
                current = {"start": entry["t"], "end": entry["t"], "holders": set(entry["holders"])}
            else:
                current["end"] = entry["t"]
                current["holders"] |= set(entry["holders"])
        elif current is not None:
            windows.append(current)
            current = None
    if current is not None:
        windows.append(current)
    for window in windows:
        window["holders"] = sorted(window["holders"])
    return windows


# --------------------------------------------------------------- redundancy
def parse_haproxy_csv(text):
    """``{backend: {server: status}}`` from HAProxy's stats CSV (``;csv``), servers only."""
    if not text:
        return {}
    lines = text.splitlines()
    if lines and lines[0].startswith("# "):
        lines[0] = lines[0][2:]
    states = {}
    for row in csv.DictReader(io.StringIO("\n".join(lines))):
        backend, server = row.get("pxname"), row.get("svname")
        if not backend or server in (None, "", "FRONTEND", "BACKEND"):
            continue
        states.setdefault(backend, {})[server] = (row.get("status") or "").strip()
    return states


def assess(vip_addresses, lbs, web_hosts, db_hosts, web_backend="web", writer_backend="mysql_writer",
           reader_backend="mysql_readers"):
    """Is the cluster fully redundant? ``lbs`` maps each load balancer to what it reported:

    ``{"reachable": bool, "services": {"keepalived": "active", ...}, "vip_held": [addresses],
    "csv": stats CSV text or None, "error": text or None}``.

    Fully redundant means: every LB reachable with keepalived and haproxy active; each VIP held
    by exactly one LB; on every LB both web nodes UP, exactly one database UP as writer (the same
    one everywhere) and every other database UP as reader. Returns the findings and a list of
    what is missing, in words an operator can act on.
    """
    missing = []
    holders = {vip: [] for vip in vip_addresses}
    writers_seen = {}
    per_lb = {}
    for name in sorted(lbs):
        state = lbs[name] or {}
        if not state.get("reachable", False):
            missing.append("%s is not reachable (%s)" % (name, state.get("error") or "no answer"))
            per_lb[name] = {"reachable": False}
            continue
        services = state.get("services") or {}
        for unit in ("keepalived", "haproxy"):
            if services.get(unit) != "active":
                missing.append("%s: %s is %s" % (name, unit, services.get(unit) or "unknown"))
        for vip in state.get("vip_held") or []:
            if vip in holders:
                holders[vip].append(name)
        servers = parse_haproxy_csv(state.get("csv"))
        if not servers:
            missing.append("%s: no HAProxy server states (%s)" % (name, state.get("error") or "stats unreadable"))
            per_lb[name] = {"reachable": True, "services": services}
            continue
        web = servers.get(web_backend, {})
        writer = servers.get(writer_backend, {})
        readers = servers.get(reader_backend, {})
        web_down = [h for h in web_hosts if web.get(h) != "UP"]
        writers = sorted(h for h in db_hosts if writer.get(h) == "UP")
        for host in web_down:
            missing.append("%s: web node %s is %s in HAProxy" % (name, host, web.get(host) or "absent"))
        if len(writers) != 1:
            missing.append("%s: %d databases pass /writer (%s), want exactly one"
                           % (name, len(writers), ", ".join(writers) or "none"))
        replicas = [h for h in db_hosts if h not in writers]
        readers_down = [h for h in replicas if readers.get(h) != "UP"]
        if len(writers) == 1:
            for host in readers_down:
                missing.append("%s: replica %s does not pass /reader (%s)"
                               % (name, host, readers.get(host) or "absent"))
            writers_seen[name] = writers[0]
        per_lb[name] = {"reachable": True, "services": services, "web_up": sorted(set(web_hosts) - set(web_down)),
                        "writers": writers, "readers_up": sorted(set(replicas) - set(readers_down))}
    for vip, names in holders.items():
        if not names:
            missing.append("no load balancer holds the VIP %s" % vip)
        elif len(names) > 1:
            missing.append("VIP %s is held by %s at once (split brain)" % (vip, " and ".join(names)))
    if len(set(writers_seen.values())) > 1:
        missing.append("load balancers disagree on the writer: %s"
                       % ", ".join("%s->%s" % kv for kv in sorted(writers_seen.items())))
    vip_holder = None
    first = holders.get(vip_addresses[0]) if vip_addresses else None
    if first and len(first) == 1:
        vip_holder = first[0]
    primary = None
    if writers_seen and len(set(writers_seen.values())) == 1:
        primary = next(iter(writers_seen.values()))
    return {"redundant": not missing, "missing": missing, "vip_holder": vip_holder,
            "vip_holders": holders, "primary": primary,
            "replicas": [h for h in db_hosts if h != primary] if primary else [],
            "per_lb": per_lb}
