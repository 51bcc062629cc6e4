"""Pure logic of benchmarks/bench_vip.py (no lab, no podman): figures, parsers, redundancy rules.
The helpers it shares with the other benchmarks are tested in test_bench_labkit.py.

    .venv/bin/python -m pytest -q tests/unit/test_bench_vip.py
"""

import importlib.util
import math
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCHMARKS = os.path.join(ROOT, "benchmarks")
if BENCHMARKS not in sys.path:
    sys.path.insert(0, BENCHMARKS)  # bench_vip imports labkit by name, as when run as a script

# `ip -o -4 addr show` on the lab's VIP holder, as captured (backslash continuation included).
IP_HOLDER = (
    "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever\n"
    "2: eth0    inet 10.213.77.11/24 brd 10.213.77.255 scope global eth0\\       valid_lft forever preferred_lft forever\n"
    "2: eth0    inet 10.213.77.101/24 scope global secondary eth0\\       valid_lft forever preferred_lft forever\n"
    "2: eth0    inet 10.213.77.100/24 scope global secondary eth0\\       valid_lft forever preferred_lft forever\n"
)
IP_BACKUP = (
    "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever\n"
    "2: eth0    inet 10.213.77.12/24 brd 10.213.77.255 scope global eth0\\       valid_lft forever preferred_lft forever\n"
)
VIPS = ["10.213.77.100", "10.213.77.101"]

JOURNAL = """Starting VRRP child process, pid=3311
VRRP_Script(chk_haproxy) succeeded
(internal) Entering BACKUP STATE
VRRP_Group(ha_lamp_vips) Syncing instances to BACKUP state
(public) Entering BACKUP STATE
node=lb1 INSTANCE=public state=BACKUP priority=150
(internal) Entering MASTER STATE
VRRP_Group(ha_lamp_vips) Syncing instances to MASTER state
(public) Entering MASTER STATE
node=lb1 INSTANCE=internal state=MASTER priority=150
"""


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_vip", os.path.join(ROOT, "benchmarks", "bench_vip.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def status(bench, units=("active", "active"), ip=IP_BACKUP, journal=""):
    text = f"{units[0]}\n{units[1]}\n{bench.SECTION}\n{ip}{bench.SECTION}\n{journal}"
    return bench.parse_lb_status(text)


# ----------------------------------------------------------------- first success after a time
SAMPLES = [
    # t_sent, t_done, ok, error
    (0.00, 0.01, True, None),
    (0.01, 0.02, True, None),   # sent before the kill (0.015), succeeded: not a recovery
    (0.02, 0.22, False, "timeout"),
    (0.22, 0.42, False, "timeout"),
    (0.42, 0.62, False, "timeout"),
    (0.62, 0.64, True, None),   # the first success after the kill
    (0.64, 0.65, False, "reset"),
    (0.65, 0.66, True, None),
]


def test_first_success_after(bench):
    assert bench.first_success_after(SAMPLES, 0.015) == (0.62, 0.64, True, None)
    assert bench.first_success_after(SAMPLES, 0.0) == (0.00, 0.01, True, None)
    assert bench.first_success_after(SAMPLES, 0.62) == (0.62, 0.64, True, None)  # at the instant counts
    assert bench.first_success_after(SAMPLES, 0.63) == (0.65, 0.66, True, None)
    assert bench.first_success_after(SAMPLES, 1.0) is None
    assert bench.first_success_after([], 0.0) is None


def test_failures_between(bench):
    assert bench.failures_between(SAMPLES, 0.015, 0.62) == 3
    assert bench.failures_between(SAMPLES, 0.015, math.inf) == 4  # never recovered: every later failure
    # A request in flight at the kill that fails counts (done after t_from).
    assert bench.failures_between([(0.0, 0.5, False, "timeout")], 0.1, 1.0) == 1
    assert bench.failures_between([(0.0, 0.05, False, "timeout")], 0.1, 1.0) == 0


def test_request_rate(bench):
    assert bench.request_rate(SAMPLES) == pytest.approx(8 / 0.66)
    assert bench.request_rate(SAMPLES[:1]) == 0.0
    assert bench.request_rate([]) == 0.0


def test_trial_figures(bench):
    figures = bench.trial_figures(SAMPLES, kill_started=0.005, kill_done=0.015)
    assert figures == {"kill_to_first_success_ms": 625.0, "failed": 3, "requests": 8,
                       "probe_rps": 12.1, "kill_command_ms": 10.0}
    never = bench.trial_figures(SAMPLES[:5], kill_started=0.005, kill_done=0.015)
    assert never["kill_to_first_success_ms"] is None
    assert never["failed"] == 3


# ----------------------------------------------------------------- keepalived journal
def test_wrk_chunk_keeps_the_figures_of_the_json(bench, monkeypatch):
    calls = []

    def fake_run_wrk(*args, **kwargs):
        calls.append((args, kwargs))
        return {"requests": 10, "seconds": 1.0, "rps": 10.0, "p50_ms": None, "p99_ms": None,
                "socket_errors": 1, "non_2xx": 2, "errors": 3}

    monkeypatch.setattr(bench.labkit, "run_wrk", fake_run_wrk)
    assert bench.wrk_chunk("http://192.0.2.1/static.txt", 60, 2, 32) == {
        "requests": 10, "rps": 10.0, "socket_errors": 1, "non_2xx": 2}
    assert calls == [(("http://192.0.2.1/static.txt", 60, 32, 2), {"latency": False, "strict": False})]


def test_keepalived_state_lines_and_last_states(bench):
    assert bench.keepalived_state_lines(JOURNAL) == [
        "(internal) Entering BACKUP STATE",
        "(public) Entering BACKUP STATE",
        "(internal) Entering MASTER STATE",
        "(public) Entering MASTER STATE",
    ]
    assert bench.last_instance_states(JOURNAL) == {"internal": "MASTER", "public": "MASTER"}
    assert bench.last_instance_states("(VI_2) Entering FAULT STATE\n") == {"VI_2": "FAULT"}
    assert bench.last_instance_states("") == {}


# ----------------------------------------------------------------- load balancer status and redundancy
def test_parse_lb_status(bench):
    parsed = status(bench, ip=IP_HOLDER, journal=JOURNAL)
    assert parsed == {"units": {"keepalived": "active", "haproxy": "active"},
                      "addresses": {"127.0.0.1", "10.213.77.11", "10.213.77.100", "10.213.77.101"},
                      "states": {"internal": "MASTER", "public": "MASTER"}}
    with pytest.raises(ValueError):
        bench.parse_lb_status("active\nactive\n")


def test_redundant_pair(bench):
    statuses = {"lb1": status(bench, ip=IP_HOLDER, journal=JOURNAL),
                "lb2": status(bench, journal="(internal) Entering BACKUP STATE\n(public) Entering BACKUP STATE\n")}
    assert bench.redundancy_problems(statuses, {"lb1": True, "lb2": True}, VIPS) == ("lb1", [])


def test_restarted_lb_not_back_yet(bench):
    statuses = {"lb1": None, "lb2": status(bench, ip=IP_HOLDER.replace("77.11/", "77.12/"))}
    holder, problems = bench.redundancy_problems(statuses, {"lb1": False, "lb2": True}, VIPS)
    assert holder == "lb2"
    assert problems == ["lb1: container not running or not answering"]


def test_backup_in_fault_or_haproxy_down_is_not_redundant(bench):
    statuses = {"lb1": status(bench, ip=IP_HOLDER, journal=JOURNAL),
                "lb2": status(bench, units=("active", "activating"), journal="(public) Entering FAULT STATE\n")}
    holder, problems = bench.redundancy_problems(statuses, {"lb1": True, "lb2": False}, VIPS)
    assert holder == "lb1"
    assert problems == ["lb2: haproxy is activating", "lb2: HAProxy does not answer its monitor URI",
                        "lb2: VRRP instance public is FAULT, expected BACKUP"]


def test_two_holders_or_none(bench):
    both = {"lb1": status(bench, ip=IP_HOLDER), "lb2": status(bench, ip=IP_HOLDER.replace("77.11/", "77.12/"))}
    assert bench.redundancy_problems(both, {"lb1": True, "lb2": True}, VIPS) == (
        None, ["the VIPs are held by 2 load balancers (lb1, lb2)"])
    none = {"lb1": status(bench), "lb2": status(bench)}
    assert bench.redundancy_problems(none, {"lb1": True, "lb2": True}, VIPS) == (
        None, ["the VIPs are held by 0 load balancers (none)"])


def test_split_vips_are_reported(bench):
    only_public = "2: eth0    inet 10.213.77.100/24 scope global secondary eth0\n"
    statuses = {"lb1": status(bench, ip=only_public), "lb2": status(bench)}
    assert bench.redundancy_problems(statuses, {"lb1": True, "lb2": True}, VIPS) == (
        "lb1", ["lb1: holds only 10.213.77.100 of the VIPs"])


# ----------------------------------------------------------------- soak sampling
def test_parse_sample_stream(bench):
    text = f"pid 42\n@ 100.0\n{IP_HOLDER}@ 100.2\n{IP_BACKUP}@ 100.4\n"
    samples = bench.parse_sample_stream(text)
    assert [t for t, _addresses in samples] == [100.0, 100.2, 100.4]
    assert samples[0][1] >= set(VIPS)
    assert samples[1][1] == {"127.0.0.1", "10.213.77.12"}
    assert samples[2][1] == set()  # a sample cut short by the stop: no address seen
    assert bench.parse_sample_stream("pid 42\n") == []


def test_parse_sample_stream_leaves_out_a_sample_still_being_read(bench):
    # Read mid-sample while the sampler runs: the holder's `ip` lines have not all arrived yet.
    text = f"pid 42\n@ 100.0\n{IP_HOLDER}@ 100.2\n" + IP_HOLDER.splitlines()[0] + "\n"
    samples = bench.parse_sample_stream(text, finished=False)
    assert [t for t, _addresses in samples] == [100.0]
    assert samples[0][1] >= set(VIPS)
    assert [t for t, _addresses in bench.parse_sample_stream(text)] == [100.0, 100.2]


def test_holder_changes_counts_each_lb_separately(bench):
    held, free = set(VIPS), {"10.213.77.11"}
    samples = {
        "lb1": [(0.0, held), (0.2, held), (0.4, free), (0.6, free)],
        "lb2": [(0.1, free), (0.3, free), (0.5, held), (0.7, held)],
    }
    assert bench.holder_changes(samples, VIPS) == [
        {"t": 0.4, "lb": "lb1", "before": VIPS, "after": []},
        {"t": 0.5, "lb": "lb2", "before": [], "after": VIPS},
    ]
    assert bench.takeovers(bench.holder_changes(samples, VIPS)) == 1
    steady = {"lb1": [(0.0, held), (0.2, held)], "lb2": [(0.1, free), (0.3, free)]}
    assert bench.holder_changes(steady, VIPS) == []
    assert bench.takeovers([]) == 0


def test_largest_gap(bench):
    assert bench.largest_gap([(0.0, set()), (0.2, set()), (0.9, set()), (1.1, set())]) == pytest.approx(0.7)
    assert bench.largest_gap([(0.0, set())]) is None


def test_soak_chunks(bench):
    assert bench.soak_chunks(150, 60) == [60, 60, 30]
    assert bench.soak_chunks(120, 60) == [60, 60]
    assert bench.soak_chunks(30, 60) == [30]


# ----------------------------------------------------------------- command line bounds
def test_arguments_are_bounded(bench):
    args = bench.parse_args(["holder-kill"])
    assert (args.trials, args.connect_timeout, args.total_timeout, args.max_seconds) == (20, 0.2, 0.5, 3600.0)
    assert bench.parse_args(["soak", "--minutes", "2"]).chunk_seconds == 60
    for bad in (["holder-kill", "--trials", "0"], ["holder-kill", "--trials", "1000"],
                ["haproxy-kill", "--haproxy-kill-spacing", "1"], ["soak", "--minutes", "61"],
                ["holder-kill", "--connect-timeout", "1", "--total-timeout", "0.5"]):
        with pytest.raises(SystemExit):
            bench.parse_args(bad)


# ----------------------------------------------------------------- inventory
def test_lab_from_inventory(bench):
    vips = [{"address": "10.213.77.101/24", "name": "internal", "purpose": "internal", "vrid": 52},
            {"address": "10.213.77.100/24", "name": "public", "purpose": "public", "vrid": 51}]
    inventory = {"loadbalancers": {"hosts": ["lb1", "lb2"]},
                 "_meta": {"hostvars": {"lb1": {"ansible_host": "10.213.77.11", "ha_lamp_vips": vips},
                                        "lb2": {"ansible_host": "10.213.77.12", "ha_lamp_vips": vips}}}}
    lab = bench.Lab(inventory)
    assert lab.lbs == {"lb1": "10.213.77.11", "lb2": "10.213.77.12"}
    assert lab.vip == "10.213.77.100"  # the public one, wherever it is in the list
    assert lab.vips == ["10.213.77.100", "10.213.77.101"]
    assert (lab.http_port, lab.monitor_port, lab.monitor_uri) == (80, 8404, "/haproxy-health")
    inventory["loadbalancers"]["hosts"] = ["lb1"]
    with pytest.raises(bench.BenchError):
        bench.Lab(inventory)
