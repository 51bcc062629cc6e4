# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Observer merge, sampling loop and redundancy verdict on hand-written inputs."""

import json

import pytest

from ansible_collections.onprem.ha_lamp.plugins.module_utils.drill_observer import (
    ObserverError,
    Sampler,
    addresses_from_ip,
    assess,
    coverage,
    double_windows,
    holders_timeline,
    load_samples,
    parse_haproxy_csv,
)
from ansible_collections.onprem.ha_lamp.plugins.module_utils.drill_report import observer


def s(node, t, holds, kind="vip"):
    return {"node": node, "t": t, "holds": holds, "kind": kind}


def series(node, start, end, holds, step=0.25, kind="vip"):
    out, t = [], start
    while t <= end + 1e-9:
        out.append(s(node, round(t, 6), holds, kind))
        t += step
    return out


# ------------------------------------------------------------------ merge
def test_clean_handover_after_a_kill_is_not_a_double_holder():
    # lb1 holds until it is killed at 10.0 (last sample 9.9); lb2 takes over at 13.0.
    samples = series("lb1", 0.0, 9.9, True, step=0.3) + series("lb2", 0.1, 12.85, False) \
        + series("lb2", 13.1, 20.0, True)
    timeline = holders_timeline(samples, "vip")
    assert all(len(e["holders"]) <= 1 for e in timeline)
    assert observer(timeline)["seen"] is False
    # the dead node is never extrapolated past its last sample
    assert all(e["holders"] == ["lb2"] for e in timeline if e["t"] > 13.1)


def test_instant_graceful_handover_between_sampler_ticks_is_not_a_double():
    # lb1 released at ~5.05 (sampled holding at 5.0, not holding at 5.25); lb2 holding from 5.1.
    samples = [s("lb1", 4.75, True), s("lb1", 5.0, True), s("lb1", 5.25, False), s("lb1", 5.5, False),
               s("lb2", 4.85, False), s("lb2", 5.1, True), s("lb2", 5.35, True), s("lb2", 5.6, True)]
    timeline = holders_timeline(samples, "vip")
    assert double_windows(timeline) == []


def test_real_split_brain_is_seen_with_its_window():
    samples = series("lb1", 0.0, 10.0, True) + series("lb2", 0.1, 3.85, False) \
        + series("lb2", 4.1, 10.1, True)
    timeline = holders_timeline(samples, "vip")
    summary = observer(timeline)
    assert summary["seen"] is True
    windows = double_windows(timeline)
    assert len(windows) == 1
    assert windows[0]["holders"] == ["lb1", "lb2"]
    assert windows[0]["start"] == pytest.approx(4.1)
    assert windows[0]["end"] == pytest.approx(10.0)


def test_a_partitioned_node_still_holding_is_counted():
    # lb1 cut off at 5.0 but keeps the VIP (its own sampler still runs); lb2 takes it at 8.0.
    samples = series("lb1", 0.0, 20.0, True) + series("lb2", 0.05, 7.8, False) + series("lb2", 8.05, 20.0, True)
    assert observer(holders_timeline(samples, "vip"))["seen"] is True


def test_gap_longer_than_max_gap_is_not_bridged():
    samples = [s("lb1", 0.0, True), s("lb1", 5.0, True), s("lb2", 2.0, True)]
    assert double_windows(holders_timeline(samples, "vip", max_gap_s=1.0)) == []
    assert len(double_windows(holders_timeline(samples, "vip", max_gap_s=10.0))) == 1


def test_unknown_samples_never_count_as_holding():
    samples = [s("db1", 0.0, None, "primary"), s("db1", 0.25, None, "primary"),
               s("db2", 0.1, True, "primary"), s("db2", 0.35, True, "primary")]
    timeline = holders_timeline(samples, "primary")
    # db1 is never a holder; db2 counts at db1's 0.25 sample too (bracketed by two holding samples)
    assert [e["holders"] for e in timeline] == [[], ["db2"], ["db2"], ["db2"]]


def test_kinds_are_kept_apart_and_window_bounds_apply():
    samples = series("lb1", 0.0, 2.0, True) + series("db1", 0.0, 2.0, True, kind="primary")
    vip = holders_timeline(samples, "vip", since=0.5, until=1.5)
    assert {n for e in vip for n in e["holders"]} == {"lb1"}
    assert min(e["t"] for e in vip) >= 0.5 and max(e["t"] for e in vip) <= 1.5
    with pytest.raises(ObserverError):
        holders_timeline(samples, "nonsense")


def test_empty_input_gives_no_samples_which_the_gate_refuses():
    assert holders_timeline([], "vip") == []
    assert observer([])["samples"] == 0


def test_coverage_reports_gaps_and_unknowns():
    samples = [s("lb1", 0.0, True), s("lb1", 0.25, True), s("lb1", 3.25, None), s("lb2", 1.0, False)]
    cov = coverage(samples, "vip")
    assert cov["lb1"]["samples"] == 3
    assert cov["lb1"]["max_gap_s"] == 3.0
    assert cov["lb1"]["unknown"] == 1
    assert cov["lb1"]["holding"] == 2
    assert cov["lb2"]["max_gap_s"] is None


def test_load_samples_skips_a_truncated_last_line(tmp_path):
    path = tmp_path / "lb1-vip.jsonl"
    path.write_text(json.dumps(s("lb1", 1.0, True)) + "\n" + '{"t": 1.25, "node": "lb1", "ho')
    assert load_samples([str(path)]) == [s("lb1", 1.0, True)]


# ------------------------------------------------------------------ sampler
class FakeClock:
    def __init__(self):
        self.now = 0.0

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_sampler_is_bounded_and_appends(tmp_path):
    clock = FakeClock()
    path = tmp_path / "obs" / "run-vip.jsonl"
    path.parent.mkdir(mode=0o700)  # the observer refuses a folder others can enter (L5)
    path.write_text(json.dumps(s("lb1", -1.0, False)) + "\n")  # an earlier segment
    answers = iter([(True, ["10.0.0.100"], None)] * 3 + [(None, [], "ip exited 1")] * 100)

    def probe():
        clock.now += 0.01  # every probe takes a little time
        return next(answers)

    summary = Sampler("lb1", "vip", probe, str(path), duration=1.0, interval=0.25, clock=lambda: 1000.0,
                      monotonic=clock.monotonic, sleep=clock.sleep).run()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines[0]["t"] == -1.0  # appended, not overwritten
    assert summary["samples"] == len(lines) - 1 == 4
    assert summary["holding"] == 3 and summary["unknown"] == 1
    assert lines[1]["addresses"] == ["10.0.0.100"] and lines[1]["t"] == 1000.0
    assert lines[4]["holds"] is None and lines[4]["error"] == "ip exited 1"
    assert summary["stopped_by"] == "duration"


def test_sampler_stops_on_the_stop_file(tmp_path):
    clock = FakeClock()
    stop = tmp_path / "stop"
    calls = []

    def probe():
        calls.append(1)
        if len(calls) == 2:
            stop.write_text("")
        return False, [], None

    summary = Sampler("db1", "primary", probe, str(tmp_path / "p.jsonl"), duration=60, stop_file=str(stop),
                      monotonic=clock.monotonic, sleep=clock.sleep).run()
    assert summary["samples"] == 2 and summary["stopped_by"] == "stop_file"


@pytest.mark.parametrize("kwargs", [dict(duration=0), dict(duration=4000), dict(interval=0.01), dict(kind="x")])
def test_sampler_refuses_unbounded_or_bad_settings(tmp_path, kwargs):
    args = dict(node="lb1", kind="vip", probe=lambda: (False, [], None), path=str(tmp_path / "x"),
                duration=10, interval=0.25)
    args.update(kwargs)
    with pytest.raises(ObserverError):
        Sampler(**args)


def test_addresses_from_ip_output():
    out = ("1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever\n"
           "2: eth0    inet 10.213.85.11/24 brd 10.213.85.255 scope global eth0\\       valid_lft forever\n"
           "2: eth0    inet 10.213.85.100/24 scope global secondary eth0\\       valid_lft forever\n")
    assert addresses_from_ip(out) == ["10.213.85.100", "10.213.85.11", "127.0.0.1"]
    assert addresses_from_ip("") == []


# ------------------------------------------------------------------ redundancy
CSV_HEADER = "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status\n"


def csv_text(web=None, writer=None, readers=None):
    rows = [CSV_HEADER.rstrip("\n"), "ft_http,FRONTEND,,,0,0,4096,0,0,0,0,0,0,,,,,OPEN"]
    for backend, states in (("web", web), ("mysql_writer", writer), ("mysql_readers", readers)):
        for server, status in (states or {}).items():
            rows.append("%s,%s,0,0,0,0,,0,0,0,,0,,0,0,0,0,%s" % (backend, server, status))
        rows.append("%s,BACKEND,0,0,0,0,,0,0,0,0,0,,0,0,0,0,UP" % backend)
    return "\n".join(rows) + "\n"


HEALTHY = csv_text(web={"web1": "UP", "web2": "UP"},
                   writer={"db1": "UP", "db2": "DOWN", "db3": "DOWN"},
                   readers={"db1": "DOWN", "db2": "UP", "db3": "UP"})


def lb(vip_held=(), csv=HEALTHY, services=None, reachable=True):
    return {"reachable": reachable, "services": services or {"keepalived": "active", "haproxy": "active"},
            "vip_held": list(vip_held), "csv": csv, "error": None}


WEB, DBS, VIP = ["web1", "web2"], ["db1", "db2", "db3"], ["10.0.0.100"]


def test_parse_haproxy_csv_keeps_servers_only():
    states = parse_haproxy_csv(HEALTHY)
    assert states["web"] == {"web1": "UP", "web2": "UP"}
    assert states["mysql_writer"]["db1"] == "UP"
    assert "FRONTEND" not in states.get("ft_http", {})
    assert parse_haproxy_csv(None) == {} and parse_haproxy_csv("") == {}


def test_fully_redundant_cluster():
    res = assess(VIP, {"lb1": lb(VIP), "lb2": lb()}, WEB, DBS)
    assert res["redundant"] is True and res["missing"] == []
    assert res["vip_holder"] == "lb1" and res["primary"] == "db1" and res["replicas"] == ["db2", "db3"]


def test_every_missing_piece_is_named():
    broken = csv_text(web={"web1": "UP", "web2": "DOWN"}, writer={"db1": "DOWN", "db2": "DOWN", "db3": "DOWN"},
                      readers={"db2": "UP", "db3": "UP"})
    res = assess(VIP, {"lb1": lb(csv=broken, services={"keepalived": "active", "haproxy": "failed"}),
                       "lb2": lb(reachable=False)}, WEB, DBS)
    assert res["redundant"] is False
    text = " | ".join(res["missing"])
    assert "lb2 is not reachable" in text
    assert "lb1: haproxy is failed" in text
    assert "web node web2 is DOWN" in text
    assert "0 databases pass /writer" in text
    assert "no load balancer holds the VIP 10.0.0.100" in text
    assert res["primary"] is None and res["vip_holder"] is None


def test_two_vip_holders_and_disagreeing_writers_are_refused():
    other = csv_text(web={"web1": "UP", "web2": "UP"}, writer={"db1": "DOWN", "db2": "UP", "db3": "DOWN"},
                     readers={"db1": "UP", "db2": "DOWN", "db3": "UP"})
    res = assess(VIP, {"lb1": lb(VIP), "lb2": lb(VIP, csv=other)}, WEB, DBS)
    text = " | ".join(res["missing"])
    assert "held by lb1 and lb2 at once" in text
    assert "disagree on the writer" in text
    assert res["vip_holder"] is None and res["primary"] is None


def test_a_replica_not_passing_reader_is_missing():
    lagging = csv_text(web={"web1": "UP", "web2": "UP"}, writer={"db1": "UP", "db2": "DOWN", "db3": "DOWN"},
                       readers={"db1": "DOWN", "db2": "UP", "db3": "DOWN 1/2"})
    res = assess(VIP, {"lb1": lb(VIP, csv=lagging), "lb2": lb(csv=lagging)}, WEB, DBS)
    assert res["redundant"] is False
    assert any("replica db3 does not pass /reader (DOWN 1/2)" in m for m in res["missing"])


def test_unreadable_stats_are_missing():
    res = assess(VIP, {"lb1": dict(lb(VIP), csv=None, error="stats: timed out"), "lb2": lb()}, WEB, DBS)
    assert any("lb1: no HAProxy server states (stats: timed out)" in m for m in res["missing"])


# ------------------------------------------------ private paths (security review L5)
def test_private_directory_is_created_0700(tmp_path):
    from ansible_collections.onprem.ha_lamp.plugins.module_utils.drill_observer import private_directory

    target = tmp_path / "parent" / "drill"
    private_directory(str(target))
    assert oct(target.stat().st_mode & 0o777) == "0o700"
    private_directory(str(target))  # idempotent


def test_private_directory_refuses_a_shared_or_linked_folder(tmp_path):
    from ansible_collections.onprem.ha_lamp.plugins.module_utils.drill_observer import ObserverError, private_directory

    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    with pytest.raises(ObserverError, match="has mode 0755; it must be 0700"):
        private_directory(str(shared))
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    link = tmp_path / "link"
    link.symlink_to(real)
    with pytest.raises(ObserverError, match="is not a plain directory"):
        private_directory(str(link))


def test_sampler_never_follows_a_planted_symlink(tmp_path):
    from ansible_collections.onprem.ha_lamp.plugins.module_utils.drill_observer import ObserverError

    folder = tmp_path / "drill"
    folder.mkdir(mode=0o700)
    victim = tmp_path / "victim"
    victim.write_text("untouched\n")
    (folder / "run-vip.jsonl").symlink_to(victim)
    sampler = Sampler("lb1", "vip", lambda: (False, [], None), str(folder / "run-vip.jsonl"), duration=1)
    with pytest.raises(ObserverError, match="cannot open .* safely"):
        sampler.run()
    assert victim.read_text() == "untouched\n"


def test_sampler_files_are_0600(tmp_path):
    folder = tmp_path / "drill"
    path = folder / "run-vip.jsonl"
    clock = iter(range(100))
    Sampler("lb1", "vip", lambda: (True, ["10.0.0.100"], None), str(path), duration=2, interval=1,
            monotonic=lambda: next(clock), sleep=lambda s: None).run()
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
