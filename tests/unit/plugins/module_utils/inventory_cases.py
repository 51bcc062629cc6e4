"""Inventories for the unit tests: the lab topology as plain dicts, and helpers to break it."""

import copy

from ansible_collections.onprem.ha_lamp.plugins.module_utils.redundancy import RULES, validate

LAB_GROUPS = {
    "loadbalancers": ["lb1", "lb2"],
    "webservers": ["web1", "web2"],
    "databases": ["db1", "db2", "db3"],
    "dcs": ["db1", "db2", "db3"],  # the etcd members: the databases, one per rack
}

_ADDRESSES = {"lb1": 11, "lb2": 12, "web1": 21, "web2": 22, "db1": 31, "db2": 32, "db3": 33}
_RACKS = {"lb1": "r1", "lb2": "r2", "web1": "r1", "web2": "r2", "db1": "r1", "db2": "r2", "db3": "r3"}

# group_vars/all of the lab: every host carries the cluster-wide variables.
CLUSTER_VARS = {
    "ha_lamp_failure_domain": "rack",
    "ha_lamp_vips": [{"name": "public", "address": "10.213.77.100/24", "vrid": 51, "purpose": "public"},
                     {"name": "internal", "address": "10.213.77.101/24", "vrid": 52, "purpose": "internal"}],
    "ha_lamp_controller_addresses": ["10.213.77.1"], "ha_lamp_admin_networks": ["10.213.77.1/32"],
    "ha_lamp_db_primary": "db1",
}


def lab():
    """A fresh copy of the lab inventory: {"groups": ..., "hostvars": ...}."""
    hostvars = {}
    for host, last in _ADDRESSES.items():
        hostvars[host] = {"ansible_host": "10.213.77.%d" % last, "rack": _RACKS[host]}
        hostvars[host].update(copy.deepcopy(CLUSTER_VARS))
    return {"groups": copy.deepcopy(LAB_GROUPS), "hostvars": hostvars}


def set_all(inventory, var, value):
    """Set a cluster-wide variable on every host (what group_vars/all does)."""
    for variables in inventory["hostvars"].values():
        variables[var] = copy.deepcopy(value)


def unset_all(inventory, var):
    for variables in inventory["hostvars"].values():
        variables.pop(var, None)


def set_host(inventory, host, **values):
    inventory["hostvars"].setdefault(host, {}).update(values)


def keyed(report):
    """Findings as comparable tuples (severity, rule, tier, hosts, message)."""
    return [(f["severity"], f["rule"], f["tier"], tuple(f["hosts"]), f["message"]) for f in report["findings"]]


def assert_case(inventory, mutate, expected):
    """Break the inventory with ``mutate``; the report must hold exactly ``expected`` (keyed findings),
    count its errors, say ok only without them, and agree with the RULES table on each severity."""
    mutate(inventory)
    report = validate(inventory)
    assert keyed(report) == expected
    assert report["errors"] == sum(1 for finding in expected if finding[0] == "error")
    assert report["ok"] is (report["errors"] == 0)
    for severity, rule, *_rest in expected:
        assert RULES[rule] == severity, "RULES table out of date for %s" % rule
