"""Shared fixtures for the cluster verify suite.

The topology comes from the lab inventory itself (through `ansible-inventory`, so group_vars apply):
the tests hold no second copy of it. Hosts are reached with testinfra's podman backend; the lab names
each container by its address.
"""
import base64
import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import testinfra

REPO = Path(__file__).resolve().parents[2]
INVENTORY = os.environ.get("HA_LAMP_INVENTORY", str(REPO / "inventories" / "lab"))


@dataclass
class Lab:
    hostvars: dict
    groups: dict
    vip: str = ""
    hosts: dict = field(default_factory=dict)

    def address(self, name):
        return self.hostvars[name]["ansible_host"]

    def host(self, name):
        """testinfra host for an inventory host name."""
        if name not in self.hosts:
            self.hosts[name] = testinfra.get_host(f"podman://{self.address(name)}")
        return self.hosts[name]

    def mysql(self, name, sql):
        """Run SQL as root over the local socket of a database node; rows as lists of strings."""
        cmd = self.host(name).run("mariadb --batch --skip-column-names -e %s", sql)
        assert cmd.rc == 0, f"{name}: {sql!r} failed: {cmd.stderr}"
        return [line.split("\t") for line in cmd.stdout.splitlines()]

    def status_vars(self, name, pattern):
        return {k: v for k, v in self.mysql(name, f"SHOW GLOBAL STATUS LIKE '{pattern}'")}

    def replica_status(self, name):
        cmd = self.host(name).run("mariadb -e 'SHOW SLAVE STATUS\\G'")
        assert cmd.rc == 0, cmd.stderr
        status = {}
        for line in cmd.stdout.splitlines():
            key, sep, value = line.strip().partition(": ")
            if sep:
                status[key] = value
        return status


@pytest.fixture(scope="session")
def lab():
    out = subprocess.run(["ansible-inventory", "-i", INVENTORY, "--list"], check=True, capture_output=True, text=True)
    inv = json.loads(out.stdout)
    groups = {g: inv.get(g, {}).get("hosts", []) for g in ("loadbalancers", "webservers", "databases", "dcs")}
    hostvars = inv["_meta"]["hostvars"]
    vip = hostvars[groups["loadbalancers"][0]]["ha_lamp_vips"][0]["address"].split("/")[0]
    return Lab(hostvars=hostvars, groups=groups, vip=vip)


def http_get(url, timeout=3.0, opener=None, auth=None, headers=None):
    """(status, body) of a GET; status None when the connection itself failed."""
    request = urllib.request.Request(url, headers=headers or {})
    if auth:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with (opener or urllib.request.build_opener()).open(request, timeout=timeout) as resp:
            return resp.status, resp.read().decode(errors="replace")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(errors="replace")
    except OSError:
        return None, ""


def page_fields(body):
    """The demo page prints key=value lines (web_node=, db_node=, release=, session_count=...)."""
    return dict(line.split("=", 1) for line in body.splitlines() if "=" in line and " " not in line.split("=", 1)[0])


def session_cookie(url):
    """Start a session on url; return its 'name=value' cookie (sent by hand: a cookie jar would
    scope it to that node's address, and the point is to present it to the other nodes)."""
    with urllib.request.urlopen(url, timeout=3) as resp:
        cookies = [h.split(";", 1)[0] for h in resp.headers.get_all("Set-Cookie") or []]
    assert cookies, f"{url} set no session cookie"
    return "; ".join(cookies)


def wait_until(predicate, timeout, interval=0.5, message="condition"):
    """Poll predicate() until it returns a truthy value; fail with message after timeout seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for {message} (last value: {last!r})")
