#!/usr/bin/env python
"""Print what the lab is: VIP and its holder, URL, every node with its tier and rack, the DB primary.

Reads the inventory through `ansible-inventory` (so group_vars apply) and asks the live containers;
it only talks to the lab's own container addresses.
"""
import json
import os
import ssl
import subprocess
import sys
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"))
import labkit  # noqa: E402  benchmarks/labkit.py: the contract's values (agent port)

TIERS = ("loadbalancers", "webservers", "databases", "backup")


def inventory(path):
    out = subprocess.run(["ansible-inventory", "-i", path, "--list"], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def agent_context(hv):
    """The controller's TLS context for the database agents (HTTPS, client certificate CN
    ha-lamp-controller), from the services-CA directory as playbooks/vars/controller_pki.yml
    resolves it: HA_LAMP_PKI_DIR, else the inventory's pki_ca_dir, else the pki role's default.
    None (the agents then show as "not serving") when the certificate is not there yet."""
    pki = os.environ.get("HA_LAMP_PKI_DIR") or hv.get("pki_ca_dir") or ""
    if not pki or "{{" in pki:
        pki = f"~/.ha-lamp/pki/{hv.get('ha_lamp_cluster_name', 'ha_lamp')}/services"
    pki = os.path.expanduser(pki)
    try:
        ctx = ssl.create_default_context(cafile=os.path.join(pki, "ca.crt"))
        ctx.load_cert_chain(os.path.join(pki, "controller.crt"), os.path.join(pki, "controller.key"))
    except (OSError, ssl.SSLError):
        return None
    return ctx


def http_status(url, timeout=2.0, context=None):
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=context) as resp:
            return resp.status, resp.read().decode(errors="replace")
    except urllib.error.HTTPError as err:
        return err.code, ""
    except (OSError, ValueError):
        return None, ""


def container_state(name):
    out = subprocess.run(["podman", "inspect", "--format", "{{.State.Status}}", name], capture_output=True, text=True, check=False)
    return out.stdout.strip() or "absent"


def holds_address(container, address):
    out = subprocess.run(["podman", "exec", container, "ip", "-o", "-4", "addr", "show"], capture_output=True, text=True, check=False)
    return f" {address}/" in out.stdout


def main(path):
    inv = inventory(path)
    hostvars = inv["_meta"]["hostvars"]
    members = {tier: inv.get(tier, {}).get("hosts", []) for tier in TIERS}
    lbs = members["loadbalancers"]
    vips = hostvars[lbs[0]].get("ha_lamp_vips", []) if lbs else []

    print("\nLab cluster")
    for vip in vips:
        address = vip["address"].split("/")[0]
        holders = [lb for lb in lbs if holds_address(hostvars[lb]["ansible_host"], address)]
        print(f"  VIP {vip['name']}: {address}  held by: {', '.join(holders) or 'nobody'}")
        if vip.get("purpose", "public") == "internal":
            writer = labkit.contract_value(hostvars[lbs[0]], "ha_lamp_db_writer_port", "haproxy_db_writer_port")
            readers = labkit.contract_value(hostvars[lbs[0]], "ha_lamp_db_reader_port", "haproxy_db_reader_port")
            print(f"  database writer: {address}:{writer}   readers: {address}:{readers} (web nodes and the controller only)")
        else:
            print(f"  URL: http://{address}/")
    print(f"\n  {'host':<6} {'tier':<14} {'rack':<5} {'address':<15} {'container':<10} role")
    for tier in TIERS:
        for host in members[tier]:
            hv = hostvars[host]
            role = ""
            if tier == "databases":
                ctx = agent_context(hv)
                base = f"https://{hv['ansible_host']}:{labkit.contract_value(hv, 'ha_lamp_db_agent_port', 'mysql_agent_port')}"
                writer = http_status(base + "/writer", context=ctx)[0] if ctx else None
                reader = http_status(base + "/reader", context=ctx)[0] if ctx else None
                role = "PRIMARY (writable)" if writer == 200 else "replica" if reader == 200 else "not serving"
            elif tier == "loadbalancers":
                role = "VIP holder" if any(holds_address(hv["ansible_host"], v["address"].split("/")[0]) for v in vips) else "backup"
            print(f"  {host:<6} {tier:<14} {hv.get('rack', '?'):<5} {hv['ansible_host']:<15} "
                  f"{container_state(hv['ansible_host']):<10} {role}")
    if vips:
        address = vips[0]["address"].split("/")[0]
        served = []
        for _request in range(4):
            status, body = http_status(f"http://{address}/")
            node = next((line.split("=", 1)[1] for line in body.splitlines() if line.startswith("web_node=")), "-")
            served.append(f"{status}:{node}")
        print(f"\n  4 requests to http://{address}/ -> {', '.join(served)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "inventories/lab"))
