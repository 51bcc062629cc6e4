"""Helpers shared by the benchmark scripts in benchmarks/: one implementation of each.

Not a script: bench_http.py, bench_pages.py, bench_vip.py and bench_hops.py `import labkit`. They are run
as `python benchmarks/<script>.py`, so Python already has benchmarks/ on sys.path; the unit tests
(tests/unit/test_bench_*.py) put it there before loading a script from its file.

  the lab     read_inventory()   the inventory as `ansible-inventory --list` prints it
              group_hosts()      {inventory name: address} of one group
              lab_vips()         the public, the internal and every VIP address
  podman      podman_env(), podman_run(), podman()   podman with the lab's CONTAINERS_CONF
              haproxy_api(), haproxy_command()       HAProxy's runtime API on a load balancer
              addresses_in_ip_output()               the IPv4 addresses `ip -o -4 addr show` lists
  HTTP        http_opener()                          urllib without any proxy
              wrk_command(), run_wrk(), parse_wrk()  bounded wrk loads and their figures
  figures     percentile(), summarize(), median_or_none(), fmt()

Nothing here runs a command on import (it reads the contract and the haproxy role's values); every subprocess has a timeout.
"""
import contextlib
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import urllib.request

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PODMAN_TIMEOUT_S = 30
INVENTORY_TIMEOUT_S = 120
WRK_TIMEOUT_MARGIN_S = 30  # on top of the load's duration: wrk's start and report


def _role_file(role, folder):
    """roles/<role>/<folder>/main.yml as plain YAML (the literal values it declares)."""
    with open(os.path.join(REPO, "roles", role, folder, "main.yml"), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


# The cluster's cross-tier values (ports, account names), declared once by the contract role.
CONTRACT = _role_file("contract", "defaults")
# HAProxy's runtime API as the haproxy role sets it up: the admin socket and the web backend's name.
_HAPROXY_VARS = _role_file("haproxy", "vars")
HAPROXY_SOCKET = _HAPROXY_VARS["__haproxy_admin_socket"]
WEB_BACKEND = _HAPROXY_VARS["__haproxy_web_backend"]

# wrk prints durations with these units (format_time_us in wrk's units.c).
WRK_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0, "h": 3600000.0}
_WRK_DONE = re.compile(r"^\s*(\d+) requests in (?:([\d.]+)(us|ms|s|m|h),)?", re.M)
_WRK_RPS = re.compile(r"^Requests/sec:\s+([\d.]+)", re.M)
_WRK_PERCENTILE = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.M)
_WRK_SOCKET_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_WRK_NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")
_INET = re.compile(r"\sinet\s+(\d{1,3}(?:\.\d{1,3}){3})/\d+")


# --------------------------------------------------------------------------- the lab's inventory
def read_inventory(inventory):
    """The inventory as `ansible-inventory -i <inventory> --list` prints it, as a dict.

    A relative path is taken from the current directory when it exists there, else from the
    repository, so a script works from either. The venv's ansible-inventory (the collection's own
    ansible-core) is preferred over the one on PATH.
    """
    path = os.path.abspath(inventory) if os.path.exists(inventory) else os.path.join(REPO, inventory)
    venv_tool = os.path.join(REPO, ".venv", "bin", "ansible-inventory")
    tool = venv_tool if os.path.exists(venv_tool) else (shutil.which("ansible-inventory") or "ansible-inventory")
    # cwd=REPO: the repository's ansible.cfg (collections path, inventory plugins) applies.
    out = subprocess.run([tool, "-i", path, "--list"], check=True, capture_output=True, text=True,
                         timeout=INVENTORY_TIMEOUT_S, cwd=REPO)
    return json.loads(out.stdout)


def contract_value(hostvars, name, role_variable=None):
    """A cross-tier value as one host uses it: its role variable when the inventory sets one (e.g.
    mysql_agent_port), else the contract variable from the inventory, else the contract's default."""
    if role_variable and role_variable in hostvars:
        return hostvars[role_variable]
    return hostvars.get(name, CONTRACT[name])


def group_hosts(inv, group):
    """{inventory name: address (ansible_host)} of one group, in inventory order ({} for no such group)."""
    hostvars = inv["_meta"]["hostvars"]
    return {host: hostvars[host]["ansible_host"] for host in inv.get(group, {}).get("hosts", [])}


def vip_address(vip):
    """An ha_lamp_vips entry's address without its prefix length."""
    return vip["address"].split("/")[0]


def lab_vips(inv):
    """The VIP addresses of the first load balancer's ha_lamp_vips: {"public", "internal", "all"}.

    public: the first entry with purpose 'public' (an entry without a purpose is public), else the
    first entry, wherever the public VIP stands in the list; internal: the first entry with purpose
    'internal', else the public one; all: every VIP address, sorted.
    """
    first_lb = inv["loadbalancers"]["hosts"][0]
    vips = inv["_meta"]["hostvars"][first_lb]["ha_lamp_vips"]
    public = next((v for v in vips if v.get("purpose", "public") == "public"), vips[0])
    internal = next((v for v in vips if v.get("purpose") == "internal"), public)
    return {"public": vip_address(public), "internal": vip_address(internal),
            "all": sorted(vip_address(v) for v in vips)}


def site_strategy():
    """The strategy site.yml runs under in the lab and CI (HA_LAMP_SITE_STRATEGY: labctl names Mitogen's),
    else Ansible's own; every other playbook keeps Ansible's own (docs/performance.md says why)."""
    return os.environ.get("HA_LAMP_SITE_STRATEGY") or "linear"


# --------------------------------------------------------------------------- podman and the containers
def podman_env():
    """The environment for podman: the lab's configuration (runc, cgroupfs, ulimits) unless the caller
    exported its own CONTAINERS_CONF, wherever the script is run from."""
    conf = os.environ.get("CONTAINERS_CONF", os.path.join(REPO, "lab", "containers.conf"))
    return dict(os.environ, CONTAINERS_CONF=conf)


def podman_run(*args, stdin=None, timeout=PODMAN_TIMEOUT_S, check=True):
    """One podman command; returns the CompletedProcess (raises CalledProcessError when check)."""
    return subprocess.run(["podman", *args], input=stdin, check=check, capture_output=True, text=True,
                          env=podman_env(), timeout=timeout)


def podman(*args, stdin=None, timeout=PODMAN_TIMEOUT_S):
    """One podman command that must succeed; returns its stdout."""
    return podman_run(*args, stdin=stdin, timeout=timeout).stdout


def haproxy_api(lb_address, command):
    """One runtime API command on a lab load balancer (the container is named by its address); its answer."""
    return podman("exec", "-i", lb_address, "socat", "stdio", f"unix-connect:{HAPROXY_SOCKET}",
                  stdin=command + "\n")


def haproxy_command(lb_address, command):
    """A runtime API command that answers nothing when it worked (set server ...); raises otherwise."""
    out = haproxy_api(lb_address, command)
    if out.strip():
        raise RuntimeError(f"HAProxy on {lb_address} refused '{command}': {out.strip()}")


def addresses_in_ip_output(text):
    """IPv4 addresses (without prefix length) in the output of `ip -o -4 addr show`."""
    return set(_INET.findall(text or ""))


# --------------------------------------------------------------------------- HTTP and wrk
def http_opener():
    # No proxy, whatever the environment says: every target is on the lab's own network.
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


def wrk_command(url, seconds, connections, threads=2, latency=True, cookie=None):
    """The wrk command line of one load, bounded by its duration and a 2 s timeout per request."""
    cmd = ["wrk", *(["--latency"] if latency else []), "-t", str(threads), "-c", str(connections),
           "-d", f"{seconds}s", "--timeout", "2s"]
    if cookie:
        cmd += ["-H", f"Cookie: {cookie}"]
    return cmd + [url]


def run_wrk(url, seconds, connections, threads=2, latency=True, strict=True):
    """One wrk load (bounded by its duration and a subprocess timeout); returns parse_wrk's figures."""
    out = subprocess.run(wrk_command(url, seconds, connections, threads, latency), check=True,
                         capture_output=True, text=True, timeout=seconds + WRK_TIMEOUT_MARGIN_S).stdout
    return parse_wrk(out, strict=strict)


def parse_wrk(text, strict=False):
    """wrk's report -> {requests, seconds, rps, p50_ms, p99_ms, socket_errors, non_2xx, errors}.

    p50_ms/p99_ms come from the --latency distribution; a figure wrk did not print is None (the error
    counts are then 0). errors = socket errors (connect, read, write, timeout) + non-2xx/3xx answers.
    strict: a report without its "N requests in" line (wrk ran no load) raises ValueError.
    """
    done = _WRK_DONE.search(text)
    if strict and not done:
        raise ValueError("no 'N requests in' line in wrk's output")
    rps = _WRK_RPS.search(text)
    latency = {m.group(1): float(m.group(2)) * WRK_UNITS_MS[m.group(3)] for m in _WRK_PERCENTILE.finditer(text)}
    socket_errors = _WRK_SOCKET_ERRORS.search(text)
    non_2xx = _WRK_NON_2XX.search(text)
    figures = {
        "requests": int(done.group(1)) if done else None,
        "seconds": float(done.group(2)) * WRK_UNITS_MS[done.group(3)] / 1000.0 if done and done.group(2) else None,
        "rps": float(rps.group(1)) if rps else None,
        "p50_ms": latency.get("50"),
        "p99_ms": latency.get("99"),
        "socket_errors": sum(int(n) for n in socket_errors.groups()) if socket_errors else 0,
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
    }
    figures["errors"] = figures["socket_errors"] + figures["non_2xx"]
    return figures


# --------------------------------------------------------------------------- figures
def percentile(values, p):
    """Nearest-rank percentile: the smallest value with at least p % of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100.0 * len(ordered)))
    return ordered[rank - 1]


def summarize(values):
    """Median (mean of the two middle values for an even count), nearest-rank p90 and max; None ignored."""
    values = [v for v in values if v is not None]
    if not values:
        return {"n": 0, "median": None, "p90": None, "max": None}
    return {"n": len(values), "median": statistics.median(values), "p90": percentile(values, 90),
            "max": max(values)}


def median_or_none(values):
    """The median of the values that are not None; None when there is none."""
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(value, spec=".2f", missing="-"):
    """A figure for a table; `missing` where a run produced none."""
    return missing if value is None else format(value, spec)


# sysbench 1.0 loads its TLS files by fixed names from its working directory: name -> the controller's file.
SYSBENCH_TLS_FILES = (("cacert.pem", "ca.crt"), ("client-cert.pem", "controller.crt"),
                      ("client-key.pem", "controller.key"))


@contextlib.contextmanager
def sysbench_workdir(options, tls, pki_dir, prefix="sysbench-"):
    """A private directory with sysbench's options file (`options`: "key=value" lines; the password stays
    out of argv) and, with TLS, links to the services CA and the controller's certificate and key under
    the names sysbench 1.0 loads (the key is linked, not copied). Removed when the block ends."""
    workdir = tempfile.mkdtemp(prefix=prefix)
    try:
        options = list(options)
        if tls:
            options.append("mysql-ssl=on")
            for link, name in SYSBENCH_TLS_FILES:
                source = os.path.join(pki_dir, name)
                if not os.path.isfile(source):
                    raise RuntimeError(f"the server requires TLS and {source} is missing (--pki-dir)")
                os.symlink(source, os.path.join(workdir, link))
        fd = os.open(os.path.join(workdir, "options"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write("\n".join(options) + "\n")
        yield workdir
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
