"""Shared fixtures for the cluster verify suite.

The topology comes from the lab inventory itself (through `ansible-inventory`, so group_vars apply):
the tests hold no second copy of it. Hosts are reached over SSH with the inventory's own key and options
(testinfra's ssh backend), or through podman when the inventory has none; the lab names each container by
its address.
"""
import base64
import json
import os
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import pytest
import testinfra

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))
import labkit  # noqa: E402  benchmarks/labkit.py: the contract's cross-tier values
INVENTORY = os.environ.get("HA_LAMP_INVENTORY", str(REPO / "inventories" / "lab"))


@dataclass
class Lab:
    hostvars: dict
    groups: dict
    vip: str = ""
    db_vip: str = ""
    hosts: dict = field(default_factory=dict)

    def address(self, name):
        return self.hostvars[name]["ansible_host"]

    def value(self, name, contract_variable, role_variable=None):
        """A cross-tier value as host `name` uses it (its role variable, else the contract's)."""
        return labkit.contract_value(self.hostvars[name], contract_variable, role_variable)

    @property
    def db_writer_port(self):
        """HAProxy's writer frontend on the database VIP, as the load balancers bind it."""
        return int(self.value(self.groups["loadbalancers"][0], "ha_lamp_db_writer_port", "haproxy_db_writer_port"))

    @property
    def db_reader_port(self):
        """HAProxy's readers frontend on the database VIP, as the load balancers bind it."""
        return int(self.value(self.groups["loadbalancers"][0], "ha_lamp_db_reader_port", "haproxy_db_reader_port"))

    def host(self, name):
        """testinfra host for an inventory host name. Over SSH as Ansible reaches it (the inventory's key and
        SSH options, one multiplexed connection per host: about 10 ms a command) when the inventory connects
        over SSH with a key, else through `podman exec` (about 0.3 s a command)."""
        if name not in self.hosts:
            hostvars = self.hostvars[name]
            if hostvars.get("ansible_connection") == "ssh" and hostvars.get("ansible_ssh_private_key_file"):
                self.hosts[name] = testinfra.get_host(
                    f"ssh://{hostvars.get('ansible_user', 'root')}@{self.address(name)}",
                    ssh_identity_file=self.render(name, hostvars["ansible_ssh_private_key_file"]),
                    # ControlPath goes in the extra arguments: testinfra formats its own options with `%`.
                    ssh_extra_args=(self.render(name, hostvars.get("ansible_ssh_common_args", ""))
                                    + " -o ControlMaster=auto -o ControlPersist=30s -o ControlPath=/tmp/ha-lamp-verify-%C"),
                )
            else:
                self.hosts[name] = testinfra.get_host(f"podman://{self.address(name)}")
        return self.hosts[name]

    def render(self, name, value):
        """An inventory value with its Jinja references resolved from the host's variables (`ansible-inventory
        --list` leaves them as written)."""
        return jinja2.Template(str(value)).render(**self.hostvars[name])

    def mysql(self, name, sql):
        """Run SQL as root over the local socket of a database node; rows as lists of strings."""
        cmd = self.host(name).run("mariadb --batch --skip-column-names -e %s", sql)
        assert cmd.rc == 0, f"{name}: {sql!r} failed: {cmd.stderr}"
        return [line.split("\t") for line in cmd.stdout.splitlines()]

    def status_vars(self, name, pattern):
        return dict(self.mysql(name, f"SHOW GLOBAL STATUS LIKE '{pattern}'"))

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
    groups = {g: inv.get(g, {}).get("hosts", []) for g in ("loadbalancers", "webservers", "databases", "dcs", "storage", "backup")}
    hostvars = inv["_meta"]["hostvars"]
    vips = hostvars[groups["loadbalancers"][0]]["ha_lamp_vips"]
    vip = vips[0]["address"].split("/")[0]
    # The database frontends (writer and readers ports) listen on the internal VIP; the first VIP serves clients.
    db_vip = next((v["address"].split("/")[0] for v in vips if v.get("purpose") == "internal"), vip)
    return Lab(hostvars=hostvars, groups=groups, vip=vip, db_vip=db_vip)


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


def controller_pki_dir(lab):
    """The controller's services-CA directory, as playbooks/vars/controller_pki.yml resolves it:
    HA_LAMP_PKI_DIR, else the inventory's pki_ca_dir, else the pki role's default."""
    hv = lab.hostvars[lab.groups["databases"][0]]
    path = os.environ.get("HA_LAMP_PKI_DIR") or hv.get("pki_ca_dir") or ""
    if not path or "{{" in path:
        path = f"~/.ha-lamp/pki/{hv['ha_lamp_cluster_name']}/services"
    return os.path.expanduser(path)


def agent_context(lab, client_cert=True):
    """TLS context of the controller towards the database agents: verifies the agent against the
    services CA (IP SAN) and presents the controller's client certificate (CN ha-lamp-controller)."""
    pki = controller_pki_dir(lab)
    ctx = ssl.create_default_context(cafile=os.path.join(pki, "ca.crt"))
    if client_cert:
        ctx.load_cert_chain(os.path.join(pki, "controller.crt"), os.path.join(pki, "controller.key"))
    return ctx


def agent_get(lab, db, path, timeout=3.0, context=None):
    """(status, body) of GET https://<db>:<mysql_agent_port><path> with the controller's certificate."""
    port = int(lab.value(db, "ha_lamp_db_agent_port", "mysql_agent_port"))
    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context or agent_context(lab)))
    return http_get(f"https://{lab.address(db)}:{port}{path}", timeout=timeout, opener=opener)


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
