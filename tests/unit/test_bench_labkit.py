"""benchmarks/labkit.py, the helpers every benchmark script shares (no lab, no podman, no wrk).

    .venv/bin/python -m pytest -q tests/unit/test_bench_labkit.py

The wrk reports are real outputs (wrk 4.1.0, Debian 12), trimmed; subprocess calls are captured, not run,
except ansible-inventory on a two-line inventory written here.
"""

import os
import subprocess
import sys
import urllib.request

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCHMARKS = os.path.join(ROOT, "benchmarks")
if BENCHMARKS not in sys.path:
    sys.path.insert(0, BENCHMARKS)  # as when a script runs: `python benchmarks/<script>.py`

import labkit  # noqa: E402

# --latency, a 404 for every request.
WRK_NON_2XX = """Running 1s test @ http://127.0.0.1:18765/nothere
  2 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.64ms    1.79ms  13.36ms   88.24%
    Req/Sec   798.55    140.15     0.95k    75.00%
  Latency Distribution
     50%    2.10ms
     75%    2.95ms
     90%    4.60ms
     99%   10.39ms
  1595 requests in 1.00s, 810.32KB read
  Non-2xx or 3xx responses: 1595
Requests/sec:   1589.91
Transfer/sec:    807.74KB
"""

# --latency, percentiles in us and s, socket errors.
WRK_SLOW_WITH_ERRORS = """Running 5s test @ http://10.213.77.100/index.php
  2 threads and 8 connections
  Latency Distribution
     50%  850.00us
     75%    1.20ms
     90%    1.50s
     99%    1.75s
  312 requests in 5.00s, 120.00KB read
  Socket errors: connect 0, read 2, write 0, timeout 3
Requests/sec:     62.40
Transfer/sec:     24.00KB
"""

# Without --latency (the soak's chunks), a duration in minutes, both kinds of errors.
WRK_SOAK = """Running 1m test @ http://10.213.77.100/static.txt
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     4.01ms    2.76ms  71.25ms   91.88%
    Req/Sec     4.12k   512.33     5.60k    70.12%
  492031 requests in 1.00m, 180.12MB read
  Socket errors: connect 3, read 1, write 0, timeout 2
  Non-2xx or 3xx responses: 7
Requests/sec:   8200.52
Transfer/sec:      3.00MB
"""

# `ip -o -4 addr show` on the lab's VIP holder, as captured (backslash continuation included).
IP_HOLDER = (
    "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever\n"
    "2: eth0    inet 10.213.77.11/24 brd 10.213.77.255 scope global eth0\\       valid_lft forever\n"
    "2: eth0    inet 10.213.77.101/24 scope global secondary eth0\\       valid_lft forever\n"
    "2: eth0    inet 10.213.77.100/24 scope global secondary eth0\\       valid_lft forever\n"
)

PUBLIC = {"address": "10.213.77.100/24", "name": "public", "purpose": "public", "vrid": 51}
INTERNAL = {"address": "10.213.77.101/24", "name": "internal", "purpose": "internal", "vrid": 52}


def inventory(vips):
    hostvars = {"lb1": {"ansible_host": "10.213.77.11", "ha_lamp_vips": vips},
                "lb2": {"ansible_host": "10.213.77.12", "ha_lamp_vips": vips},
                "web1": {"ansible_host": "10.213.77.21"}, "web2": {"ansible_host": "10.213.77.22"}}
    return {"loadbalancers": {"hosts": ["lb1", "lb2"]}, "webservers": {"hosts": ["web2", "web1"]},
            "_meta": {"hostvars": hostvars}}


class Captured:
    """Stands in for subprocess.run: records the call, answers with the given stdout."""

    def __init__(self, stdout=""):
        self.stdout, self.calls = stdout, []

    def __call__(self, argv, **kwargs):
        self.calls.append((argv, kwargs))
        return subprocess.CompletedProcess(argv, 0, stdout=self.stdout, stderr="")


# ----------------------------------------------------------------- wrk
def test_parse_wrk_with_latency_and_non_2xx():
    assert labkit.parse_wrk(WRK_NON_2XX) == {
        "requests": 1595, "seconds": 1.0, "rps": 1589.91, "p50_ms": 2.10, "p99_ms": 10.39,
        "socket_errors": 0, "non_2xx": 1595, "errors": 1595}


def test_parse_wrk_converts_us_and_s_and_counts_socket_errors():
    assert labkit.parse_wrk(WRK_SLOW_WITH_ERRORS) == {
        "requests": 312, "seconds": 5.0, "rps": 62.40, "p50_ms": 0.85, "p99_ms": 1750.0,
        "socket_errors": 5, "non_2xx": 0, "errors": 5}


def test_parse_wrk_without_latency_distribution():
    assert labkit.parse_wrk(WRK_SOAK) == {
        "requests": 492031, "seconds": 60.0, "rps": 8200.52, "p50_ms": None, "p99_ms": None,
        "socket_errors": 6, "non_2xx": 7, "errors": 13}


def test_parse_wrk_of_no_load():
    refused = "unable to connect to 10.213.77.100:80 Connection refused\n"
    assert labkit.parse_wrk(refused) == {
        "requests": None, "seconds": None, "rps": None, "p50_ms": None, "p99_ms": None,
        "socket_errors": 0, "non_2xx": 0, "errors": 0}
    with pytest.raises(ValueError, match="no 'N requests in' line"):
        labkit.parse_wrk(refused, strict=True)


def test_wrk_command_is_bounded():
    assert labkit.wrk_command("http://192.0.2.10/page.php", 5, 8, cookie="PHPSESSID=abc") == [
        "wrk", "--latency", "-t", "2", "-c", "8", "-d", "5s", "--timeout", "2s",
        "-H", "Cookie: PHPSESSID=abc", "http://192.0.2.10/page.php"]
    assert labkit.wrk_command("http://192.0.2.10/", 2, 1, threads=1) == [
        "wrk", "--latency", "-t", "1", "-c", "1", "-d", "2s", "--timeout", "2s", "http://192.0.2.10/"]
    assert labkit.wrk_command("http://192.0.2.10/static.txt", 60, 32, threads=2, latency=False) == [
        "wrk", "-t", "2", "-c", "32", "-d", "60s", "--timeout", "2s", "http://192.0.2.10/static.txt"]


def test_run_wrk_has_a_timeout_and_parses(monkeypatch):
    run = Captured(WRK_SLOW_WITH_ERRORS)
    monkeypatch.setattr(labkit.subprocess, "run", run)
    assert labkit.run_wrk("http://192.0.2.10/index.php", 5, 8)["p99_ms"] == 1750.0
    argv, kwargs = run.calls[0]
    assert argv == labkit.wrk_command("http://192.0.2.10/index.php", 5, 8)
    assert (kwargs["timeout"], kwargs["check"]) == (35, True)
    run.stdout = "nothing measured\n"
    assert labkit.run_wrk("http://192.0.2.10/", 5, 8, strict=False)["requests"] is None
    with pytest.raises(ValueError):
        labkit.run_wrk("http://192.0.2.10/", 5, 8)


def test_http_opener_ignores_proxy_settings(monkeypatch):
    monkeypatch.setenv("http_proxy", "http://proxy.invalid:3128")
    # ProxyHandler({}) opens nothing, so the opener keeps no proxy handler at all (not even the default
    # one that reads http_proxy from the environment).
    handlers = labkit.http_opener().handlers
    assert not [h for h in handlers if isinstance(h, urllib.request.ProxyHandler)]
    assert [h for h in handlers if isinstance(h, urllib.request.HTTPHandler)]


# ----------------------------------------------------------------- figures
def test_percentile_nearest_rank():
    values = list(range(20, 0, -1))  # 20..1: the order must not matter
    assert labkit.percentile(values, 90) == 18  # ceil(0.9 * 20) = 18th value
    assert labkit.percentile(values, 50) == 10
    assert labkit.percentile(values, 100) == 20
    assert labkit.percentile(values, 0) == 1
    assert labkit.percentile([7.5], 90) == 7.5
    assert labkit.percentile([], 90) is None


def test_summarize_median_p90_max():
    assert labkit.summarize([400, 100, 300, 200]) == {"n": 4, "median": 250, "p90": 400, "max": 400}
    assert labkit.summarize([3, None, 1, 2]) == {"n": 3, "median": 2, "p90": 3, "max": 3}
    assert labkit.summarize([]) == {"n": 0, "median": None, "p90": None, "max": None}


def test_median_or_none_ignores_missing_values():
    assert labkit.median_or_none([3.0, None, 1.0, 2.0]) == 2.0
    assert labkit.median_or_none(v for v in (4.0, 1.0)) == 2.5
    assert labkit.median_or_none([None]) is None
    assert labkit.median_or_none([]) is None


def test_fmt():
    assert labkit.fmt(None) == "-"
    assert labkit.fmt(0.1234) == "0.12"
    assert labkit.fmt(0.1234, ".3f") == "0.123"
    assert labkit.fmt(1234.5, ".0f") == "1234"
    assert labkit.fmt(-0.5, "+.2f") == "-0.50"
    assert labkit.fmt(None, missing="n/a") == "n/a"


# ----------------------------------------------------------------- ip -o addr
def test_addresses_in_ip_output():
    assert labkit.addresses_in_ip_output(IP_HOLDER) == {"127.0.0.1", "10.213.77.11", "10.213.77.100",
                                                        "10.213.77.101"}
    assert labkit.addresses_in_ip_output("") == set()
    assert labkit.addresses_in_ip_output(None) == set()


def test_addresses_in_ip_output_ignores_brd_and_ipv6():
    text = "2: eth0    inet6 fe80::1/64 scope link\n2: eth0    inet 10.0.0.5/8 brd 10.255.255.255 scope global\n"
    assert labkit.addresses_in_ip_output(text) == {"10.0.0.5"}


# ----------------------------------------------------------------- the inventory
def test_group_hosts_in_inventory_order():
    inv = inventory([PUBLIC])
    assert labkit.group_hosts(inv, "webservers") == {"web2": "10.213.77.22", "web1": "10.213.77.21"}
    assert list(labkit.group_hosts(inv, "webservers")) == ["web2", "web1"]
    assert labkit.group_hosts(inv, "databases") == {}


def test_lab_vips_picks_the_public_vip_wherever_it_is_listed():
    expected = {"public": "10.213.77.100", "internal": "10.213.77.101", "all": ["10.213.77.100", "10.213.77.101"]}
    assert labkit.lab_vips(inventory([INTERNAL, PUBLIC])) == expected
    assert labkit.lab_vips(inventory([PUBLIC, INTERNAL])) == expected


def test_lab_vips_fallbacks():
    # A VIP without a purpose is public; with no internal VIP the public one serves both.
    bare = {"address": "10.213.77.100/24"}
    assert labkit.lab_vips(inventory([bare])) == {
        "public": "10.213.77.100", "internal": "10.213.77.100", "all": ["10.213.77.100"]}
    # No public VIP at all: the first one.
    assert labkit.lab_vips(inventory([INTERNAL])) == {
        "public": "10.213.77.101", "internal": "10.213.77.101", "all": ["10.213.77.101"]}


def test_read_inventory_runs_ansible_inventory(tmp_path, monkeypatch):
    (tmp_path / "hosts.yml").write_text(
        "loadbalancers:\n  hosts:\n    lb1:\n      ansible_host: 192.0.2.11\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # a path relative to the current directory, not the repository
    inv = labkit.read_inventory("hosts.yml")
    assert inv["loadbalancers"]["hosts"] == ["lb1"]
    # ansible-inventory adds an empty ansible_local when facts are not injected as variables (ansible.cfg).
    hostvars = {k: v for k, v in inv["_meta"]["hostvars"]["lb1"].items() if k != "ansible_local"}
    assert hostvars == {"ansible_host": "192.0.2.11"}


def test_read_inventory_falls_back_to_the_repository(tmp_path, monkeypatch):
    run = Captured('{"_meta": {"hostvars": {}}}')
    monkeypatch.setattr(labkit.subprocess, "run", run)
    monkeypatch.chdir(tmp_path)  # no inventories/lab here
    assert labkit.read_inventory("inventories/lab") == {"_meta": {"hostvars": {}}}
    argv, kwargs = run.calls[0]
    assert argv[1:] == ["-i", os.path.join(ROOT, "inventories/lab"), "--list"]
    assert (kwargs["cwd"], kwargs["timeout"]) == (labkit.REPO, 120)


# ----------------------------------------------------------------- podman and HAProxy
def test_podman_env_defaults_to_the_lab_configuration(monkeypatch):
    monkeypatch.delenv("CONTAINERS_CONF", raising=False)
    assert labkit.podman_env()["CONTAINERS_CONF"] == os.path.join(ROOT, "lab", "containers.conf")
    monkeypatch.setenv("CONTAINERS_CONF", "/etc/other.conf")
    assert labkit.podman_env()["CONTAINERS_CONF"] == "/etc/other.conf"


def test_podman_run_and_podman(monkeypatch):
    monkeypatch.delenv("CONTAINERS_CONF", raising=False)
    run = Captured("true\n")
    monkeypatch.setattr(labkit.subprocess, "run", run)
    assert labkit.podman_run("inspect", "x", check=False).stdout == "true\n"
    assert labkit.podman("exec", "-i", "x", "cat", stdin="hi", timeout=5) == "true\n"
    (argv1, kw1), (argv2, kw2) = run.calls
    assert argv1 == ["podman", "inspect", "x"]
    assert (kw1["check"], kw1["timeout"], kw1["input"]) == (False, 30, None)
    assert kw1["env"]["CONTAINERS_CONF"] == os.path.join(ROOT, "lab", "containers.conf")
    assert argv2 == ["podman", "exec", "-i", "x", "cat"]
    assert (kw2["check"], kw2["timeout"], kw2["input"]) == (True, 5, "hi")


def test_haproxy_api_and_command(monkeypatch):
    calls, answer = [], {"text": ""}

    def fake_podman(*args, stdin=None, timeout=None):
        calls.append((args, stdin))
        return answer["text"]

    monkeypatch.setattr(labkit, "podman", fake_podman)
    labkit.haproxy_command("10.213.77.11", "set server web/web2 state maint")
    assert calls == [(("exec", "-i", "10.213.77.11", "socat", "stdio", "unix-connect:/run/haproxy/admin.sock"),
                      "set server web/web2 state maint\n")]
    answer["text"] = "No such server.\n"
    assert labkit.haproxy_api("10.213.77.11", "show servers state web") == "No such server.\n"
    with pytest.raises(RuntimeError, match="HAProxy on 10.213.77.11 refused 'set server web/x state ready': "
                                           "No such server."):
        labkit.haproxy_command("10.213.77.11", "set server web/x state ready")


def test_site_strategy_follows_the_lab_setting(monkeypatch):
    monkeypatch.setenv("HA_LAMP_SITE_STRATEGY", "mitogen_linear")
    assert labkit.site_strategy() == "mitogen_linear"
    monkeypatch.setenv("HA_LAMP_SITE_STRATEGY", "")
    assert labkit.site_strategy() == "linear"
    monkeypatch.delenv("HA_LAMP_SITE_STRATEGY")
    assert labkit.site_strategy() == "linear"
