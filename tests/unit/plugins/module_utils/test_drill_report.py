# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Report computations on hand-written event streams: every figure asserted exactly."""

import random

import pytest

from ansible_collections.onprem.ha_lamp.plugins.module_utils.drill_report import (
    REQUIRED_KEYS,
    build_report,
    markdown_table,
    median_summary,
    median_table,
    observer,
    operator_to_first_write,
    outage,
    percentile,
    rate_series,
    read_gate_breaches,
    rpo,
    success_ratio,
)
from ansible_collections.onprem.ha_lamp.plugins.module_utils import drill_timeline

FAULT = 100.0


def ev(seq, sent, answered=None, ok=True, kind="http", node="web1", latency=None, error_class=None, via=None):
    answered = sent + 0.01 if answered is None else answered
    event = {
        "kind": kind, "run_id": "r1", "seq": seq, "t_sent": sent, "t_answered": answered,
        "outcome": "ok" if ok else "error", "node": node if ok else None,
        "error_class": None if ok else (error_class or "ConnectionRefusedError"),
        "latency_ms": round((answered - sent) * 1000.0, 3) if latency is None else latency,
    }
    if kind == "read":
        event["via"] = via if ok else None
    return event


# ------------------------------------------------------------------ outage / RTO
def test_no_failure_means_rto_zero_and_no_windows():
    events = [ev(1, 99.0), ev(2, 100.5), ev(3, 101.0)]
    res = outage(events, FAULT)
    assert res["status"] == "no_outage"
    assert res["rto_s"] == 0.0
    assert res["windows"] == []
    assert res["failed"] == 0
    assert res["failed_before_fault"] == 0
    assert res["events"] == 2  # the one answered before the fault is out of scope


def test_recovered_outage_from_first_failure_to_first_success_after_last_failure():
    events = [ev(1, 99.5), ev(2, 100.25, ok=False), ev(3, 100.75, ok=False), ev(4, 101.5), ev(5, 102.0)]
    res = outage(events, FAULT)
    assert res["status"] == "recovered"
    assert res["rto_s"] == 1.25
    assert res["start"] == 100.25
    assert res["end"] == 101.5
    assert res["failed"] == 2
    assert res["windows"] == [{"start": 100.25, "end": 101.5, "failed": 2, "duration_s": 1.25}]


def test_never_recovered_keeps_the_window_open():
    events = [ev(1, 99.0), ev(2, 100.5, ok=False), ev(3, 101.0, ok=False), ev(4, 103.0, ok=False)]
    res = outage(events, FAULT)
    assert res["status"] == "not_recovered"
    assert res["rto_s"] is None
    assert res["rto_lower_bound_s"] == 2.5
    assert res["end"] is None
    assert res["windows"] == [{"start": 100.5, "end": None, "failed": 3, "duration_s": None}]


def test_out_of_order_answers_are_ordered_by_send_time():
    # Answer order: the timeout of seq 3 (sent 101.0) arrives at 103.0, after seqs 4 and 5
    # already succeeded. By answer time the stream would end in a failure (not recovered);
    # by send time the outage is 100.2 -> 101.5.
    answer_order = [
        ev(1, 99.0),
        ev(2, 100.2, 100.21, ok=False),
        ev(4, 101.5, 101.51),
        ev(5, 102.0, 102.01),
        ev(3, 101.0, 103.0, ok=False, error_class="TimeoutError"),
    ]
    res = outage(answer_order, FAULT)
    assert res["status"] == "recovered"
    assert res["rto_s"] == 1.3
    assert res["windows"] == [{"start": 100.2, "end": 101.5, "failed": 2, "duration_s": 1.3}]
    shuffled = list(answer_order)
    random.Random(7).shuffle(shuffled)
    assert outage(shuffled, FAULT) == res


def test_failures_before_the_fault_are_reported_separately():
    events = [
        ev(1, 50.0, 50.1, ok=False),               # baseline failure, long before the fault
        ev(2, 60.0),
        ev(3, 99.9, 101.9, ok=False, error_class="TimeoutError"),  # in flight when the fault hit
        ev(4, 100.5),
    ]
    res = outage(events, FAULT)
    assert res["failed_before_fault"] == 1
    assert res["failed"] == 1
    # The in-flight failure counts, but the outage cannot start before the fault.
    assert res["windows"] == [{"start": 100.0, "end": 100.5, "failed": 1, "duration_s": 0.5}]
    assert res["rto_s"] == 0.5


def test_intermittent_successes_stay_inside_the_rto():
    events = [ev(1, 100.5, ok=False), ev(2, 101.0), ev(3, 101.5, ok=False), ev(4, 102.0, ok=False), ev(5, 103.0)]
    res = outage(events, FAULT)
    assert res["rto_s"] == 2.5
    assert [w["failed"] for w in res["windows"]] == [1, 2]
    assert [(w["start"], w["end"]) for w in res["windows"]] == [(100.5, 101.0), (101.5, 103.0)]
    assert res["failed"] == 3


def test_empty_stream_is_no_data():
    res = outage([], FAULT)
    assert res == {"status": "no_data", "rto_s": None, "rto_lower_bound_s": None, "start": None,
                   "end": None, "windows": [], "events": 0, "failed": 0, "failed_before_fault": 0}


def test_stream_that_ended_before_the_fault_is_no_data():
    res = outage([ev(1, 90.0), ev(2, 91.0, ok=False)], FAULT)
    assert res["status"] == "no_data"
    assert res["rto_s"] is None
    assert res["failed_before_fault"] == 1


@pytest.mark.parametrize("ok,status,rto,bound", [
    (True, "no_outage", 0.0, None),
    (False, "not_recovered", None, 0.0),
])
def test_single_event(ok, status, rto, bound):
    res = outage([ev(1, 100.5, ok=ok)], FAULT)
    assert (res["status"], res["rto_s"], res["rto_lower_bound_s"]) == (status, rto, bound)


def test_without_fault_mark_every_event_counts():
    res = outage([ev(1, 10.0, ok=False), ev(2, 10.5)], None)
    assert res["rto_s"] == 0.5
    assert res["failed_before_fault"] == 0


def test_until_drops_events_sent_later():
    events = [ev(1, 100.5), ev(2, 101.0), ev(3, 120.0, ok=False)]
    assert outage(events, FAULT)["status"] == "not_recovered"
    assert outage(events, FAULT, until=110.0)["status"] == "no_outage"


# ------------------------------------------------------------------ RPO / lost writes
WRITES = [
    ev(1, 97.9, 98.0, kind="write", node="db1"),
    ev(2, 98.9, 99.0, kind="write", node="db1"),
    ev(3, 99.4, 99.5, kind="write", node="db1"),
    ev(4, 100.1, 100.3, ok=False, kind="write", error_class="OperationalError(2013)"),
    ev(5, 100.4, 100.5, kind="write", node="db1"),  # acknowledged by the isolated old primary
    ev(6, 103.0, 103.1, kind="write", node="db2"),
]


def _verify(lost, unacked=()):
    return {"kind": "verify", "verified": True, "lost": list(lost), "unacknowledged_present": list(unacked),
            "error": None, "t": 200.0}


def test_rpo_lost_before_the_fault_reaches_back_from_the_fault():
    res = rpo(WRITES, _verify([2, 3], [4]), FAULT)
    assert res == {"verified": True, "lost_writes": 2, "rpo_rows": 2, "rpo_s": 1.0, "lost_seqs": [2, 3],
                   "unacknowledged_present": 1, "verify_error": None}


def test_rpo_extends_past_the_fault_when_losses_continue():
    res = rpo(WRITES, _verify([3, 5]), FAULT)
    assert res["rpo_rows"] == 2
    assert res["rpo_s"] == 1.0  # 99.5 -> 100.5


def test_rpo_single_loss_after_fault_is_zero_seconds_but_one_row():
    res = rpo(WRITES, _verify([5]), FAULT)
    assert (res["rpo_rows"], res["rpo_s"]) == (1, 0.0)


def test_rpo_nothing_lost():
    res = rpo(WRITES, _verify([]), FAULT)
    assert (res["lost_writes"], res["rpo_rows"], res["rpo_s"]) == (0, 0, 0.0)


@pytest.mark.parametrize("verify,error", [
    (None, "no verification result"),
    ({"verified": False, "lost": None, "error": "OperationalError(2003): cannot connect"},
     "OperationalError(2003): cannot connect"),
])
def test_rpo_unknown_without_verification(verify, error):
    res = rpo(WRITES, verify, FAULT)
    assert res["verified"] is False
    assert res["lost_writes"] is None
    assert res["rpo_s"] is None
    assert res["verify_error"] == error


# ------------------------------------------------------------------ percentiles, rates, observers
@pytest.mark.parametrize("p,expected", [(30, 20), (40, 20), (50, 35), (99, 50), (100, 50)])
def test_percentile_nearest_rank(p, expected):
    assert percentile([50, 15, 40, 20, 35], p) == expected


def test_percentile_edges():
    assert percentile([], 50) is None
    assert percentile([7.5], 99) == 7.5
    assert percentile(list(range(1, 101)), 99) == 99
    with pytest.raises(ValueError):
        percentile([1], 0)


def test_rate_series_fills_empty_buckets():
    events = [ev(1, 99.5), ev(2, 100.1), ev(3, 100.9, ok=False), ev(4, 102.5)]
    assert rate_series(events, 100.0) == [
        {"t": -1.0, "ok": 1, "error": 0},
        {"t": 0.0, "ok": 1, "error": 1},
        {"t": 1.0, "ok": 0, "error": 0},
        {"t": 2.0, "ok": 1, "error": 0},
    ]
    assert rate_series(events, 100.0, bucket_s=2.0) == [
        {"t": -2.0, "ok": 1, "error": 0},
        {"t": 0.0, "ok": 1, "error": 1},
        {"t": 2.0, "ok": 1, "error": 0},
    ]
    assert rate_series([], 0.0) == []


def test_observer_counts_double_and_empty_holders():
    samples = [
        {"t": 1.0, "holders": ["lb1"]},
        {"t": 2.0, "holders": []},
        {"t": 3.0, "holders": ["lb1", "lb2"]},
        {"t": 4.0, "holders": ["lb2", "lb2"]},  # the same node twice is one holder
    ]
    assert observer(samples) == {"seen": True, "double": 1, "none": 1, "samples": 4, "holders": ["lb1", "lb2"]}
    assert observer(None) == {"seen": False, "double": 0, "none": 0, "samples": 0, "holders": []}


# ------------------------------------------------------------------ whole report
def _drill_events():
    http = [
        ev(1, 99.0, 99.01, node="web1", latency=10.0),
        ev(2, 99.5, 99.52, node="web2", latency=20.0),
        ev(3, 100.2, 100.2, ok=False),
        ev(4, 100.6, 102.6, ok=False, error_class="TimeoutError"),
        ev(5, 101.4, 101.43, node="web2", latency=30.0),
        ev(6, 102.0, 102.04, node="web2", latency=40.0),
    ]
    return ([{"kind": "run_start", "run_id": "r1", "t": 98.0}] + http + WRITES
            + [_verify([3])] + [{"kind": "run_end", "run_id": "r1", "t": 104.0}])


def test_build_report_figures():
    rep = build_report("db_kill", _drill_events(), fault_at=FAULT, recovery_at=101.0, restored=True,
                       restore_s=12.3456,
                       vip_samples=[{"t": 100.0, "holders": ["lb1"]}, {"t": 101.0, "holders": ["lb2"]}],
                       primary_samples=[{"t": 100.0, "holders": ["db1"]}, {"t": 100.5, "holders": []},
                                        {"t": 101.0, "holders": ["db1", "db2"]}])
    for key in REQUIRED_KEYS:
        assert key in rep
    assert rep["name"] == "db_kill"
    assert rep["status"] == "recovered"
    assert rep["rto_s"] == 1.2
    assert rep["failed_requests"] == 2
    assert rep["error_classes"] == {"ConnectionRefusedError": 1, "TimeoutError": 1}
    assert rep["requests_total"] == 6
    assert rep["requests_ok"] == 4
    assert rep["requests_per_s"] == 1.67  # 5 intervals over 3.0 s of send times
    assert rep["web_nodes"] == {"web1": 1, "web2": 3}
    assert (rep["p50_ms"], rep["p99_ms"]) == (20.0, 40.0)
    assert rep["writes_total"] == 6
    assert rep["writes_acknowledged"] == 5
    assert rep["write_failures"] == 1
    assert rep["write_rto_s"] == 0.3
    assert rep["db_nodes"] == {"db1": 4, "db2": 1}
    assert (rep["verified"], rep["lost_writes"], rep["rpo_rows"], rep["rpo_s"]) == (True, 1, 1, 0.5)
    assert rep["double_vip_seen"] is False
    assert rep["double_primary_seen"] is True
    assert rep["double_primary_samples"] == 1
    assert rep["no_primary_samples"] == 1
    assert rep["restored"] is True
    assert rep["restore_s"] == 12.346
    assert (rep["run_id"], rep["probe_start"], rep["probe_end"]) == ("r1", 98.0, 104.0)


def test_build_report_prefers_the_latest_verification():
    events = _drill_events() + [dict(_verify([]), t=300.0)]
    assert build_report("x", events, fault_at=FAULT)["lost_writes"] == 0


def test_build_report_on_an_empty_stream():
    rep = build_report("empty", [], fault_at=FAULT)
    assert rep["status"] == "no_data"
    assert rep["rto_s"] is None
    assert rep["failed_requests"] == 0
    assert rep["lost_writes"] is None
    assert rep["requests_per_s"] is None
    assert rep["p50_ms"] is None


# ------------------------------------------------------------------ Markdown
def _row(name, **kw):
    base = {"name": name, "status": "recovered", "rto_s": 2.345, "rto_lower_bound_s": None,
            "failed_requests": 41, "lost_writes": 0, "rpo_s": 0.0, "write_status": "recovered",
            "write_rto_s": 3.5, "write_rto_lower_bound_s": None, "double_vip_seen": False,
            "double_vip_samples": 0, "double_primary_seen": False, "double_primary_samples": 0,
            "restored": True, "restore_s": 14.2}
    base.update(kw)
    return base


def test_markdown_table_exact():
    reports = [
        _row("lb_kill"),
        _row("db_kill", status="not_recovered", rto_s=None, rto_lower_bound_s=30.0, lost_writes=2,
             rpo_s=0.25, write_status="no_outage", write_rto_s=0.0, double_primary_seen=True,
             double_primary_samples=3, restored=False, restore_s=None),
        _row("partition", lost_writes=None, rpo_s=None, write_status="no_data", write_rto_s=None),
    ]
    assert markdown_table(reports) == (
        "| Drill | RTO (s) | Failed requests | Lost writes | RPO (s) | Write RTO (s) "
        "| Double VIP | Double primary | Restored | Restore (s) |\n"
        "|---|---:|---:|---:|---:|---:|---|---|---|---:|\n"
        "| lb_kill | 2.35 | 41 | 0 | 0.00 | 3.50 | no | no | yes | 14.20 |\n"
        "| db_kill | not recovered (>30.00) | 41 | 2 | 0.25 | 0.00 | no | YES (3 samples) | **NO** | n/a |\n"
        "| partition | 2.35 | 41 | n/a | n/a | n/a | no | no | yes | 14.20 |\n"
    )


def test_markdown_table_empty():
    assert markdown_table([]).count("\n") == 2


def test_median_table_exact():
    runs = [
        _row("lb_kill", rto_s=2.0, failed_requests=40, restore_s=10.0),
        _row("lb_kill", rto_s=3.0, failed_requests=44, restore_s=12.0),
        _row("lb_kill", rto_s=2.5, failed_requests=41, lost_writes=1, restore_s=11.0, double_vip_seen=True),
        _row("db_kill", status="not_recovered", rto_s=None, failed_requests=100, lost_writes=None,
             rpo_s=None, restored=False, restore_s=None),
        _row("db_kill", rto_s=8.0, failed_requests=60, rpo_s=0.5, restore_s=30.0,
             operator_to_first_write_s=4.25),
    ]
    summary = median_summary(runs)
    assert [s["name"] for s in summary] == ["lb_kill", "db_kill"]
    assert summary[0]["rto_s"] == 2.5
    assert summary[0]["lost_writes_max"] == 1
    assert summary[1]["failed_requests"] == 80.0
    assert median_table(runs) == (
        "| Drill | Runs | RTO median (s) | RTO min-max (s) | Failed requests (median) "
        "| Lost writes (median / max) | RPO median (s) | Write RTO median (s) "
        "| Playbook start to first write, median (s) "
        "| Double VIP (runs) | Double primary (runs) | Restored (runs) | Restore median (s) |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
        "| lb_kill | 3 | 2.50 | 2.00-3.00 | 41.0 | 0.0 / 1 | 0.00 | 3.50 | n/a | 1/3 | 0/3 | 3/3 | 11.00 |\n"
        "| db_kill | 2 | 8.00 (1/2 not recovered) | 8.00-8.00 | 80.0 | 0.0 / 0 (1/2 unverified) | 0.50 "
        "| 3.50 | 4.25 | 0/2 | 0/2 | 1/2 | 30.00 |\n"
    )


# ------------------------------------------------------------------ operator playbook to first write
def test_operator_to_first_write_from_the_start_mark():
    rep = build_report("db_kill", _drill_events(), fault_at=FAULT,
                       marks=[{"label": "failover started", "t": 100.15}, {"label": "failover done", "t": 100.3}])
    # The write outage (write 4, sent 100.1) ends with write 5, sent 100.4.
    assert rep["operator_playbook"] == "failover"
    assert rep["operator_to_first_write_s"] == 0.25


@pytest.mark.parametrize("marks, end, expected", [
    (None, 10.0, (None, None)),                                           # no marks at all
    ([{"label": "healed", "t": 5.0}], 10.0, (None, None)),                # no start mark
    ([{"label": "failover started", "t": 5.0}], None, (None, None)),      # writes never recovered
    ([{"label": "failover started", "t": 11.0}], 10.0, (None, None)),     # started after the recovery
    ([{"label": "failover started", "t": 2.0}, {"label": "rejoin started", "t": 4.0}], 10.0, ("rejoin", 6.0)),
    ([{"label": "rejoin started", "t": 12.0}, {"label": "failover started", "t": "3.5"}], 10.0, ("failover", 6.5)),
    ([{"label": "switchover started", "t": 9.0}], 10.0, ("switchover", 1.0)),
])
def test_operator_to_first_write_cases(marks, end, expected):
    assert operator_to_first_write(marks, end) == expected


def test_operator_to_first_write_absent_without_write_outage():
    events = [e for e in _drill_events() if not (e.get("kind") == "write" and e.get("outcome") != "ok")]
    rep = build_report("web_kill", events, fault_at=FAULT, marks=[{"label": "failover started", "t": 100.0}])
    assert rep["operator_to_first_write_s"] is None


# ------------------------------------------------------------------ timeline
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_timeline_writes_a_png(tmp_path):
    events = _drill_events()
    rep = build_report("db_kill", events, fault_at=FAULT, recovery_at=101.0)
    out = tmp_path / "db_kill.png"
    drill_timeline.render_timeline(str(out), rep, events, extra_marks=[{"label": "healed", "t": 102.0}])
    data = out.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    assert int.from_bytes(data[16:20], "big") == 1100  # 11 in x 100 dpi
    assert int.from_bytes(data[20:24], "big") == 600


def test_timeline_of_an_empty_stream_still_renders(tmp_path):
    rep = build_report("empty", [], fault_at=None)
    out = tmp_path / "empty.png"
    drill_timeline.render_timeline(str(out), rep, [])
    assert out.read_bytes()[:8] == PNG_SIGNATURE


# ------------------------------------------------------------------ read-only page stream and gate
def rd(seq, sent, ok=True, **kw):
    kw.setdefault("via", "reader")
    return ev(seq, sent, ok=ok, kind="read", **kw)


def _read_events(reads):
    return [{"kind": "run_start", "run_id": "r1", "t": 98.0}] + _drill_events()[1:-1] + reads + [
        {"kind": "run_end", "run_id": "r1", "t": 104.0}]


READS_ONE_GAP = [
    rd(1, 99.0, latency=5.0),                     # before the fault: out of scope
    rd(2, 99.6, answered=99.7, ok=False),          # failed before the fault: baseline, not the drill's
    rd(3, 100.1, latency=6.0),
    rd(4, 100.5, ok=False, error_class="HTTP503"),
    rd(5, 100.9, latency=7.0, via="writer"),
    rd(6, 101.3, latency=8.0),
]


def test_read_stream_figures():
    rep = build_report("db_kill", _read_events(READS_ONE_GAP), fault_at=FAULT)
    assert rep["read_requests_total"] == 6
    assert rep["read_requests_ok"] == 4
    assert rep["read_requests_in_scope"] == 4
    assert rep["read_failed_requests"] == 1
    assert rep["read_failed_before_fault"] == 1
    assert rep["read_success_ratio"] == 0.75
    assert rep["read_status"] == "recovered"
    assert rep["read_rto_s"] == 0.4
    assert rep["read_outage_windows"] == [{"start": 100.5, "end": 100.9, "failed": 1, "duration_s": 0.4}]
    assert rep["read_error_classes"] == {"HTTP503": 1}
    assert rep["read_via"] == {"reader": 3, "writer": 1}
    assert (rep["read_p50_ms"], rep["read_p99_ms"]) == (6.0, 8.0)
    # The read stream leaves the main stream's figures alone.
    assert (rep["requests_total"], rep["failed_requests"], rep["rto_s"]) == (6, 2, 1.2)


def test_read_gate_off_lists_no_breach_whatever_failed():
    rep = build_report("lb_kill", _read_events(READS_ONE_GAP), fault_at=FAULT)
    assert rep["read_gate"] is False
    assert rep["read_gate_breaches"] == []


def test_read_gate_breach_message_is_exact():
    rep = build_report("db_kill", _read_events(READS_ONE_GAP), fault_at=FAULT, read_gate=True)
    assert rep["read_gate"] is True
    assert rep["read_gate_max_failures"] == 0
    assert rep["read_gate_breaches"] == [
        "read-only page requests failed during the drill: 1 of 4 after the fault "
        "(success ratio 75.00%, tolerance 0)"]


def test_read_gate_tolerance_is_a_count():
    rep = build_report("db_kill", _read_events(READS_ONE_GAP), fault_at=FAULT, read_gate=True,
                       read_gate_max_failures=1)
    assert rep["read_gate_breaches"] == []


def test_read_gate_passes_when_only_baseline_reads_failed():
    reads = [rd(1, 99.0, answered=99.1, ok=False), rd(2, 100.2), rd(3, 100.6)]
    rep = build_report("db_switchover", _read_events(reads), fault_at=FAULT, read_gate=True)
    assert (rep["read_failed_requests"], rep["read_failed_before_fault"]) == (0, 1)
    assert rep["read_success_ratio"] == 1.0
    assert rep["read_status"] == "no_outage"
    assert rep["read_gate_breaches"] == []


def test_read_gate_says_when_reads_never_recovered():
    reads = [rd(1, 100.2), rd(2, 100.6, ok=False), rd(3, 101.0, ok=False)]
    rep = build_report("db_kill", _read_events(reads), fault_at=FAULT, read_gate=True)
    assert rep["read_status"] == "not_recovered"
    assert rep["read_gate_breaches"] == [
        "read-only page requests failed during the drill: 2 of 3 after the fault "
        "(success ratio 33.33%, tolerance 0); still failing when the probe stopped"]


def test_read_gate_refuses_a_drill_without_read_requests():
    rep = build_report("db_kill", _drill_events(), fault_at=FAULT, read_gate=True)
    assert rep["read_requests_total"] == 0
    assert rep["read_success_ratio"] is None
    assert rep["read_status"] == "no_data"
    assert rep["read_gate_breaches"] == ["read-only page gate: no read-only page requests were recorded"]


def test_read_gate_refuses_a_drill_whose_reads_all_ended_before_the_fault():
    rep = build_report("db_kill", _read_events([rd(1, 98.0), rd(2, 99.0)]), fault_at=FAULT, read_gate=True)
    assert rep["read_gate_breaches"] == [
        "read-only page gate: no read-only page request was answered after the fault"]


def test_read_gate_breaches_on_a_report_dict():
    assert read_gate_breaches({"read_requests_total": 10, "read_status": "recovered",
                               "read_failed_requests": 3, "read_requests_in_scope": 10,
                               "read_success_ratio": 0.7}, max_failures=2) == [
        "read-only page requests failed during the drill: 3 of 10 after the fault "
        "(success ratio 70.00%, tolerance 2)"]


def test_success_ratio():
    assert success_ratio([]) is None
    assert success_ratio([rd(1, 1.0), rd(2, 2.0, ok=False), rd(3, 3.0)]) == 0.6667


def test_existing_report_keys_and_table_unchanged_by_the_read_stream():
    plain = build_report("db_kill", _drill_events(), fault_at=FAULT)
    with_reads = build_report("db_kill", _read_events(READS_ONE_GAP), fault_at=FAULT, read_gate=True)
    read_keys = {k for k in with_reads if k.startswith("read_")}
    assert set(plain) == set(with_reads)
    for key in set(plain) - read_keys:
        assert plain[key] == with_reads[key], key
    assert markdown_table([plain]) == markdown_table([with_reads])
