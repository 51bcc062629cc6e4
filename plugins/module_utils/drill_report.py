# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Drill report computations: pure functions over recorded probe events.

Input is what plugins/module_utils/drill_probe.py writes (one dict per request or write, see
``drill_probe``), the instants the playbook marked (fault, recovery) and the observer samples the
playbook took (who held the VIP, who was writable). Nothing here does I/O, so every figure in a
drill report can be unit-tested on a hand-written event stream.

Definitions (the report uses exactly these):

Ordering
    Events are ordered by ``t_sent`` (ties by ``seq``), never by ``t_answered`` nor file order.
    With several workers and timeouts, answers arrive out of order: a request sent just before
    recovery may time out two seconds later, after newer requests already succeeded. A request's
    outcome describes the cluster as a new client found it when the request was *sent*, so the
    send order is the cluster's timeline; answer order would stretch outages by the timeout.

Scope and pre-fault failures
    Only events answered at or after ``fault_at`` count against the drill. A failure answered
    before the fault cannot have been caused by it; those are counted as ``failed_before_fault``
    (a baseline problem worth seeing, but not the drill's outage). Requests sent before the fault
    and answered after it do count: the fault hit them in flight. ``until`` optionally ends the
    scope (for example before a restore step that restarts nodes while the probe still runs).

Outage windows and RTO
    An outage window is a maximal run of failed events in send order; it starts at the first
    failure's ``t_sent`` (never earlier than ``fault_at``) and ends at the ``t_sent`` of the first
    success after it. RTO is from the start of the first window to the end of the last one: the
    time from the first failure after the fault to the first success after the last failure,
    intermittent successes inside included. No failure at all: RTO 0.0, no windows. The last
    window never closed (the stream ends in failures): RTO None, status "not_recovered", and
    ``rto_lower_bound_s`` says for how long at least. No event in scope: RTO None, "no_data".

Lost writes and RPO
    A lost write is a write the probe saw acknowledged (the INSERT returned under autocommit)
    whose row is missing when verification reads the writer back. ``rpo_rows`` is their count.
    ``rpo_s`` is the span of time whose acknowledged writes were forgotten: from the first lost
    write's acknowledgement to the fault, or to the last lost write's acknowledgement when losses
    continue after the fault (writes accepted by an isolated old primary). 0.0 when nothing was
    lost; None when no verification result exists (lost_writes is then None as well: unknown,
    not zero).

Operator playbook to first write
    ``operator_to_first_write_s`` is from the instant the drill started an operator playbook
    (a mark labelled ``"<playbook> started"``, e.g. failover.yml) to the ``t_sent`` of the first
    write accepted after the last write outage: how long the playbook itself took to give writes
    back. None when no such mark exists, or the writes never failed or never recovered after it.

Read-only page
    The probe's optional second HTTP stream (``kind: "read"``, normally ``/read.php`` through the
    VIP, served from the readers port) gets the same scope, outage and percentile rules as the
    main stream, under ``read_*`` keys. ``read_failed_requests`` counts its failures in scope;
    ``read_success_ratio`` is its successes in scope divided by its events in scope (None when
    none is in scope).

Read-only page gate
    With ``read_gate`` on (the drill role turns it on for the database drills), the report lists
    ``read_gate_breaches``: no read event at all, no read event in scope, or more than
    ``read_gate_max_failures`` failed reads in scope (default 0). A count, not a ratio: a longer
    drill must not buy more failures, and on a database drill the web and load-balancer tiers are
    intact, read.php falls back from the readers to the writer port within the request and
    HAProxy retries a GET that failed on another web node, so any failure left is a read outage.

Percentiles
    Nearest-rank: the p-th percentile of n sorted values is the value at rank ceil(p/100 * n).
    It is always an observed latency. Latencies are those of successful events only; a failure's
    latency is mostly the timeout and says nothing about service speed.
"""

from __future__ import absolute_import, division, print_function

import math
import statistics
from collections import Counter

__metaclass__ = type

OK = "ok"

STATUS_NO_DATA = "no_data"
STATUS_NO_OUTAGE = "no_outage"
STATUS_RECOVERED = "recovered"
STATUS_NOT_RECOVERED = "not_recovered"

# Keys every report carries; the playbook's correctness gate reads these.
REQUIRED_KEYS = ("name", "rto_s", "failed_requests", "lost_writes", "double_vip_seen",
                 "double_primary_seen", "restored", "restore_s")


def _r(value, digits=3):
    return None if value is None else round(float(value), digits)


def _ordered(events):
    return sorted(events, key=lambda e: (e["t_sent"], e.get("seq", 0)))


def of_kind(events, kind):
    """Events of one kind ('http' or 'write'), in send order."""
    return _ordered([e for e in events if e.get("kind") == kind])


def in_scope(events, fault_at=None, until=None):
    """Split into (counted, failed_before_fault) following the scope rule in the module doc."""
    counted, before = [], []
    for event in events:
        if until is not None and event["t_sent"] > until:
            continue
        if fault_at is not None and event["t_answered"] < fault_at:
            if event.get("outcome") != OK:
                before.append(event)
            continue
        counted.append(event)
    return _ordered(counted), _ordered(before)


def outage(events, fault_at=None, until=None):
    """Outage windows and RTO of one event stream (see the module doc for the definitions)."""
    counted, before = in_scope(events, fault_at, until)
    windows = []
    current = None
    for event in counted:
        t_sent = event["t_sent"] if fault_at is None else max(event["t_sent"], fault_at)
        if event.get("outcome") != OK:
            if current is None:
                current = {"start": t_sent, "end": None, "failed": 0}
            current["failed"] += 1
        elif current is not None:
            current["end"] = t_sent
            windows.append(current)
            current = None
    if current is not None:
        windows.append(current)
    for window in windows:
        end = window["end"]
        window["duration_s"] = None if end is None else _r(end - window["start"])
        window["start"] = _r(window["start"], 6)
        window["end"] = _r(end, 6)

    result = {
        "status": None, "rto_s": None, "rto_lower_bound_s": None,
        "start": None, "end": None, "windows": windows,
        "events": len(counted), "failed": sum(w["failed"] for w in windows),
        "failed_before_fault": len(before),
    }
    if not counted:
        result["status"] = STATUS_NO_DATA
    elif not windows:
        result.update(status=STATUS_NO_OUTAGE, rto_s=0.0)
    elif windows[-1]["end"] is None:
        last_sent = max(counted[-1]["t_sent"], windows[-1]["start"])
        result.update(status=STATUS_NOT_RECOVERED, start=windows[0]["start"],
                      rto_lower_bound_s=_r(last_sent - windows[0]["start"]))
    else:
        result.update(status=STATUS_RECOVERED, start=windows[0]["start"], end=windows[-1]["end"],
                      rto_s=_r(windows[-1]["end"] - windows[0]["start"]))
    return result


def percentile(values, p):
    """Nearest-rank percentile (an observed value), None for no values."""
    if not values:
        return None
    if not 0 < p <= 100:
        raise ValueError("percentile must be in (0, 100], got %r" % (p,))
    ordered = sorted(values)
    rank = max(1, int(math.ceil(p / 100.0 * len(ordered))))
    return ordered[rank - 1]


def latencies(events):
    return [e["latency_ms"] for e in events if e.get("outcome") == OK and e.get("latency_ms") is not None]


def rate_series(events, t0, bucket_s=1.0):
    """Per-bucket counts of ok and failed events by send time, relative to t0.

    Returns a contiguous list (empty buckets included, so a plot shows gaps as zeros):
    [{"t": bucket start in seconds from t0, "ok": n, "error": n}, ...].
    """
    if not events:
        return []
    if bucket_s <= 0:
        raise ValueError("bucket_s must be > 0")
    counts = {}
    for event in events:
        idx = int(math.floor((event["t_sent"] - t0) / bucket_s))
        ok, err = counts.get(idx, (0, 0))
        if event.get("outcome") == OK:
            ok += 1
        else:
            err += 1
        counts[idx] = (ok, err)
    first, last = min(counts), max(counts)
    return [{"t": _r(i * bucket_s, 6), "ok": counts.get(i, (0, 0))[0], "error": counts.get(i, (0, 0))[1]}
            for i in range(first, last + 1)]


def observer(samples):
    """Summarise observer samples [{"t": epoch, "holders": [names]}, ...].

    'double' counts samples where more than one distinct node held the role at once (two VIP
    holders, two writable primaries): the split-brain the drills must never show. 'none' counts
    samples where nobody held it (expected briefly during a failover).
    """
    samples = samples or []
    double = none = 0
    seen = set()
    for sample in samples:
        holders = set(sample.get("holders") or [])
        seen |= holders
        if len(holders) > 1:
            double += 1
        elif not holders:
            none += 1
    return {"seen": double > 0, "double": double, "none": none, "samples": len(samples),
            "holders": sorted(seen)}


def rpo(write_events, verify, fault_at=None):
    """Lost acknowledged writes and RPO from the write events and a verify result (or None)."""
    if not verify or not verify.get("verified"):
        return {"verified": False, "lost_writes": None, "rpo_rows": None, "rpo_s": None,
                "lost_seqs": None, "unacknowledged_present": None,
                "verify_error": (verify or {}).get("error") or "no verification result"}
    lost = set(verify.get("lost") or [])
    acked_at = {e["seq"]: e["t_answered"] for e in write_events if e.get("outcome") == OK}
    lost_times = sorted(acked_at[s] for s in lost if s in acked_at)
    rpo_s = 0.0
    if lost_times:
        end = lost_times[-1] if fault_at is None else max(fault_at, lost_times[-1])
        rpo_s = _r(end - lost_times[0])
    unacked = verify.get("unacknowledged_present") or []
    return {"verified": True, "lost_writes": len(lost), "rpo_rows": len(lost), "rpo_s": rpo_s,
            "lost_seqs": sorted(lost), "unacknowledged_present": len(unacked), "verify_error": None}


def last_verify(events):
    """The latest verify record in an events stream (verification may be re-run), or None."""
    found = [e for e in events if e.get("kind") == "verify"]
    return max(found, key=lambda e: e.get("t", 0)) if found else None


OPERATOR_STARTED_SUFFIX = " started"


def operator_to_first_write(marks, write_outage_end):
    """(playbook, seconds) from the last operator-playbook start mark before the write recovery.

    ``marks`` is the drill's list of {"label", "t"}; a start mark's label is "<playbook> started".
    Returns (None, None) when the writes did not recover or no playbook started before they did.
    """
    if write_outage_end is None:
        return None, None
    starts = [m for m in marks or [] if str(m.get("label", "")).endswith(OPERATOR_STARTED_SUFFIX)
              and m.get("t") is not None and float(m["t"]) <= write_outage_end]
    if not starts:
        return None, None
    last = max(starts, key=lambda m: float(m["t"]))
    return last["label"][:-len(OPERATOR_STARTED_SUFFIX)], _r(write_outage_end - float(last["t"]))


def success_ratio(counted):
    """Successful share of the events in scope, 4 decimals; None without events."""
    if not counted:
        return None
    return _r(sum(1 for e in counted if e.get("outcome") == OK) / len(counted), 4)


def read_gate_breaches(report, max_failures=0):
    """The read-only page gate's breaches for one report (a list of messages, empty = passed)."""
    if not report.get("read_requests_total"):
        return ["read-only page gate: no read-only page requests were recorded"]
    if report.get("read_status") == STATUS_NO_DATA:
        return ["read-only page gate: no read-only page request was answered after the fault"]
    failed = report.get("read_failed_requests") or 0
    if failed <= max_failures:
        return []
    ratio = report.get("read_success_ratio")
    message = ("read-only page requests failed during the drill: %d of %d after the fault "
               "(success ratio %s, tolerance %d)"
               % (failed, report.get("read_requests_in_scope") or 0,
                  "n/a" if ratio is None else "%.2f%%" % (ratio * 100), max_failures))
    if report.get("read_status") == STATUS_NOT_RECOVERED:
        message += "; still failing when the probe stopped"
    return [message]


def build_report(name, events, fault_at=None, recovery_at=None, restored=False, restore_s=None,
                 vip_samples=None, primary_samples=None, verify=None, until=None, notes=None,
                 marks=None, read_gate=False, read_gate_max_failures=0):
    """One drill's report dict. ``verify`` defaults to the last verify record in ``events``."""
    reads = of_kind(events, "read")
    read = outage(reads, fault_at, until)
    reads_counted = in_scope(reads, fault_at, until)[0]
    ok_reads = [e for e in reads if e.get("outcome") == OK]
    http = of_kind(events, "http")
    writes = of_kind(events, "write")
    if verify is None:
        verify = last_verify(events)
    web = outage(http, fault_at, until)
    db = outage(writes, fault_at, until)
    http_counted = in_scope(http, fault_at, until)[0]
    loss = rpo(writes, verify, fault_at)
    vip = observer(vip_samples)
    primary = observer(primary_samples)
    run_start = next((e for e in events if e.get("kind") == "run_start"), {})
    run_end = next((e for e in events if e.get("kind") == "run_end"), {})
    ok_http = [e for e in http if e.get("outcome") == OK]
    acked = [e for e in writes if e.get("outcome") == OK]
    span = (http[-1]["t_sent"] - http[0]["t_sent"]) if len(http) > 1 else None
    operator, operator_s = operator_to_first_write(marks, db["end"])
    report = {
        "name": name,
        "status": web["status"],
        "rto_s": web["rto_s"],
        "rto_lower_bound_s": web["rto_lower_bound_s"],
        "outage_start": web["start"],
        "outage_end": web["end"],
        "outage_windows": web["windows"],
        "failed_requests": web["failed"],
        "failed_before_fault": web["failed_before_fault"],
        "lost_writes": loss["lost_writes"],
        "double_vip_seen": vip["seen"],
        "double_primary_seen": primary["seen"],
        "restored": bool(restored),
        "restore_s": _r(restore_s),
        "requests_total": len(http),
        "requests_ok": len(ok_http),
        "requests_per_s": _r((len(http) - 1) / span, 2) if span else None,
        "error_classes": dict(sorted(Counter(e.get("error_class") or "unknown"
                                             for e in http_counted if e.get("outcome") != OK).items())),
        "web_nodes": dict(sorted(Counter(e.get("node") or "unknown" for e in ok_http).items())),
        "p50_ms": _r(percentile(latencies(http), 50)),
        "p99_ms": _r(percentile(latencies(http), 99)),
        "writes_total": len(writes),
        "writes_acknowledged": len(acked),
        "write_failures": db["failed"],
        "write_status": db["status"],
        "write_rto_s": db["rto_s"],
        "write_rto_lower_bound_s": db["rto_lower_bound_s"],
        "write_outage_windows": db["windows"],
        "operator_playbook": operator,
        "operator_to_first_write_s": operator_s,
        "write_p50_ms": _r(percentile(latencies(writes), 50)),
        "write_p99_ms": _r(percentile(latencies(writes), 99)),
        "db_nodes": dict(sorted(Counter(e.get("node") or "unknown" for e in acked).items())),
        "verified": loss["verified"],
        "verify_error": loss["verify_error"],
        "rpo_rows": loss["rpo_rows"],
        "rpo_s": loss["rpo_s"],
        "lost_write_seqs": loss["lost_seqs"],
        "unacknowledged_present": loss["unacknowledged_present"],
        "double_vip_samples": vip["double"],
        "no_vip_samples": vip["none"],
        "vip_samples": vip["samples"],
        "vip_holders_seen": vip["holders"],
        "double_primary_samples": primary["double"],
        "no_primary_samples": primary["none"],
        "primary_samples": primary["samples"],
        "primaries_seen": primary["holders"],
        "fault_at": fault_at,
        "recovery_at": recovery_at,
        "run_id": run_start.get("run_id"),
        "probe_start": run_start.get("t"),
        "probe_end": run_end.get("t"),
        "notes": notes,
        "read_requests_total": len(reads),
        "read_requests_ok": len(ok_reads),
        "read_requests_in_scope": len(reads_counted),
        "read_failed_requests": read["failed"],
        "read_failed_before_fault": read["failed_before_fault"],
        "read_success_ratio": success_ratio(reads_counted),
        "read_status": read["status"],
        "read_rto_s": read["rto_s"],
        "read_rto_lower_bound_s": read["rto_lower_bound_s"],
        "read_outage_windows": read["windows"],
        "read_error_classes": dict(sorted(Counter(e.get("error_class") or "unknown"
                                                  for e in reads_counted if e.get("outcome") != OK).items())),
        "read_via": dict(sorted(Counter(e.get("via") or "unknown" for e in ok_reads).items())),
        "read_p50_ms": _r(percentile(latencies(reads), 50)),
        "read_p99_ms": _r(percentile(latencies(reads), 99)),
        "read_gate": bool(read_gate),
        "read_gate_max_failures": int(read_gate_max_failures),
    }
    report["read_gate_breaches"] = read_gate_breaches(report, int(read_gate_max_failures)) if read_gate else []
    return report


# ------------------------------------------------------------------ Markdown
def _num(value, digits=2):
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    return "%.*f" % (digits, value)


def _rto_cell(report, key="rto_s", status_key="status", bound_key="rto_lower_bound_s"):
    status = report.get(status_key)
    if status == STATUS_NOT_RECOVERED:
        bound = report.get(bound_key)
        return "not recovered" if bound is None else "not recovered (>%s)" % _num(bound)
    return _num(report.get(key))


def _flag(seen, count):
    if not seen:
        return "no"
    return "YES (%d samples)" % count


TABLE_HEADER = ("| Drill | RTO (s) | Failed requests | Lost writes | RPO (s) | Write RTO (s) "
                "| Double VIP | Double primary | Restored | Restore (s) |")
TABLE_RULE = "|---|---:|---:|---:|---:|---:|---|---|---|---:|"


def markdown_table(reports):
    """A Markdown table with one row per drill report."""
    lines = [TABLE_HEADER, TABLE_RULE]
    for rep in reports:
        lines.append("| %s |" % " | ".join([
            rep["name"],
            _rto_cell(rep),
            _num(rep.get("failed_requests")),
            _num(rep.get("lost_writes")),
            _num(rep.get("rpo_s")),
            _rto_cell(rep, "write_rto_s", "write_status", "write_rto_lower_bound_s"),
            _flag(rep.get("double_vip_seen"), rep.get("double_vip_samples", 0)),
            _flag(rep.get("double_primary_seen"), rep.get("double_primary_samples", 0)),
            "yes" if rep.get("restored") else "**NO**",
            _num(rep.get("restore_s")),
        ]))
    return "\n".join(lines) + "\n"


def _median(values):
    values = [v for v in values if v is not None]
    return _r(statistics.median(values)) if values else None


def median_summary(reports):
    """Median per metric over several runs of the same drills, grouped by drill name.

    Timings become medians; correctness figures are never hidden by a median: lost writes keep
    their maximum and the flags count the runs in which they were seen.
    """
    groups = {}
    for rep in reports:
        groups.setdefault(rep["name"], []).append(rep)
    summary = []
    for name, runs in groups.items():
        summary.append({
            "name": name,
            "runs": len(runs),
            "rto_s": _median(r.get("rto_s") for r in runs),
            "rto_min_s": _r(min((r["rto_s"] for r in runs if r.get("rto_s") is not None), default=None)),
            "rto_max_s": _r(max((r["rto_s"] for r in runs if r.get("rto_s") is not None), default=None)),
            "not_recovered_runs": sum(1 for r in runs if r.get("status") == STATUS_NOT_RECOVERED),
            "failed_requests": _median(r.get("failed_requests") for r in runs),
            "lost_writes": _median(r.get("lost_writes") for r in runs),
            "lost_writes_max": max((r["lost_writes"] for r in runs if r.get("lost_writes") is not None),
                                   default=None),
            "unverified_runs": sum(1 for r in runs if r.get("lost_writes") is None),
            "rpo_s": _median(r.get("rpo_s") for r in runs),
            "write_rto_s": _median(r.get("write_rto_s") for r in runs),
            "operator_to_first_write_s": _median(r.get("operator_to_first_write_s") for r in runs),
            "double_vip_runs": sum(1 for r in runs if r.get("double_vip_seen")),
            "double_primary_runs": sum(1 for r in runs if r.get("double_primary_seen")),
            "restored_runs": sum(1 for r in runs if r.get("restored")),
            "restore_s": _median(r.get("restore_s") for r in runs),
        })
    return summary


MEDIAN_HEADER = ("| Drill | Runs | RTO median (s) | RTO min-max (s) | Failed requests (median) "
                 "| Lost writes (median / max) | RPO median (s) | Write RTO median (s) "
                 "| Playbook start to first write, median (s) | Double VIP (runs) | Double primary (runs) "
                 "| Restored (runs) | Restore median (s) |")
MEDIAN_RULE = "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"


def median_table(reports):
    """Markdown table of median_summary(reports): one row per drill name."""
    lines = [MEDIAN_HEADER, MEDIAN_RULE]
    for row in median_summary(reports):
        n = row["runs"]
        rto = _num(row["rto_s"])
        if row["not_recovered_runs"]:
            rto += " (%d/%d not recovered)" % (row["not_recovered_runs"], n)
        lost = "%s / %s" % (_num(row["lost_writes"], 1), _num(row["lost_writes_max"]))
        if row["unverified_runs"]:
            lost += " (%d/%d unverified)" % (row["unverified_runs"], n)
        lines.append("| %s |" % " | ".join([
            row["name"], str(n), rto,
            "%s-%s" % (_num(row["rto_min_s"]), _num(row["rto_max_s"])),
            _num(row["failed_requests"], 1), lost, _num(row["rpo_s"]), _num(row["write_rto_s"]),
            _num(row["operator_to_first_write_s"]),
            "%d/%d" % (row["double_vip_runs"], n), "%d/%d" % (row["double_primary_runs"], n),
            "%d/%d" % (row["restored_runs"], n), _num(row["restore_s"]),
        ]))
    return "\n".join(lines) + "\n"
