# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Inventory redundancy validator: entry points shared by the filter, the action plugin and tests.

    report = validate({"groups": {...}, "hostvars": {...}, "options": {...}})
    print(render_text(report))

``groups`` maps group name -> list of host names (only loadbalancers, webservers, databases,
dcs, the etcd members, and storage, the GlusterFS hosts, are read); ``hostvars`` maps host name
-> {variable: value} with the contract variables (CONTRACT_VARS) already templated. Plain Python: no Ansible import anywhere in the rule core.

The report is a plain dict (JSON-serialisable):

    ok          True when there is no error
    errors      number of findings with severity error
    warnings    number of findings with severity warning
    findings    [{severity, rule, tier, hosts, message}], errors first, then by tier
    summary     failure-domain level, sites, primary, per tier: hosts and hosts per domain; dcs likewise;
                all of the main site, and dr_site (name, hosts, per tier) when there is a DR site
    availability  see availability.estimate
"""

from __future__ import annotations

import gc

from ansible_collections.onprem.ha_lamp.plugins.module_utils import availability as _availability
from ansible_collections.onprem.ha_lamp.plugins.module_utils.redundancy_dr import DR_RULES
from ansible_collections.onprem.ha_lamp.plugins.module_utils.redundancy_model import (
    CONTRACT_VARS,
    DEFAULT_OPTIONS,
    GROUPS,
    TIERS,
    Findings,
    OptionError,
    Topology,
    check_options,
)
from ansible_collections.onprem.ha_lamp.plugins.module_utils.redundancy_rules import run_all
from ansible_collections.onprem.ha_lamp.plugins.module_utils.redundancy_storage import STORAGE_RULES
from ansible_collections.onprem.ha_lamp.plugins.module_utils.redundancy_text import render_text

__all__ = ["CONTRACT_VARS", "DEFAULT_OPTIONS", "TIERS", "OptionError", "RULES", "inventory_from", "render_text", "validate"]

# Every rule id the validator can emit, with its severity: the stable public vocabulary.
RULES = {
    "TIER_MISSING": "error",
    "GROUP_MALFORMED": "error",
    "TIER_TOO_FEW_HOSTS": "error",
    "TIER_SINGLE_DOMAIN": "error",
    "TIER_SINGLE_SITE": "warning",
    "HOST_MULTI_TIER": "warning",
    "RACK_MISSING": "error",
    "RACK_INVALID": "error",
    "SITE_INVALID": "error",
    "SITE_PARTIAL": "warning",
    "ADDRESS_INVALID": "error",
    "ADDRESS_DUPLICATE": "error",
    "VAR_TEMPLATE_ERROR": "error",
    "CLUSTER_VAR_CONFLICT": "error",
    "FAILURE_DOMAIN_INVALID": "error",
    "VIPS_MISSING": "error",
    "VIPS_MALFORMED": "error",
    "VIP_MALFORMED": "error",
    "VIP_UNKNOWN_KEY": "warning",
    "VIP_NAME_INVALID": "error",
    "VIP_NAME_DUPLICATE": "error",
    "VIP_ADDRESS_INVALID": "error",
    "VIP_ADDRESS_DUPLICATE": "error",
    "VIP_ADDRESS_CONFLICT": "error",
    "VIP_OUTSIDE_LB_SUBNET": "error",
    "VIP_VRID_INVALID": "error",
    "VIP_VRID_DUPLICATE": "error",
    "VIP_INTERFACE_INVALID": "error",
    "VIP_PURPOSE_INVALID": "error",
    "VIP_PUBLIC_MISSING": "error",
    "DB_ON_PUBLIC_VIP": "error",
    "DB_PUBLIC_VIP_ALLOWED_INVALID": "error",
    "CONTROLLER_ADDRESSES_INVALID": "error",
    "ADMIN_NETWORKS_INVALID": "error",
    "ADMIN_NETWORKS_LOCKOUT": "error",
    "LB_ADDRESS_NOT_IP": "error",
    "DB_PRIMARY_INVALID": "error",
    "DB_PRIMARY_NOT_IN_DATABASES": "error",
    "DB_NO_REMOTE_REPLICA": "error",
    "DB_REPLICA_SHARES_PRIMARY_DOMAIN": "warning",
    "DB_SERVER_ID_INVALID": "error",
    "DB_SERVER_ID_DUPLICATE": "error",
    "DB_EVEN_SITES": "warning",
    "DB_NOFAILOVER_INVALID": "error",
    "DB_FAILOVER_CANDIDATES_TOO_FEW": "error",
    "DB_PRIMARY_NOFAILOVER": "error",
    "DB_SWITCHOVER_TARGET_INVALID": "error",
    "DB_SWITCHOVER_TARGET_NOT_IN_DATABASES": "error",
    "DB_SWITCHOVER_TARGET_NOFAILOVER": "error",
    "DB_FAILOVER_WINDOW_INVALID": "error",
    "DB_LEASE_TTL_INVALID": "error",
    "DB_LEASE_TTL_TOO_SHORT": "error",
    "HAPROXY_DB_CHECK_INVALID": "error",
    "DCS_MISSING": "error",
    "DCS_SIZE": "error",
    "DCS_DOMAIN_MAJORITY": "error",
}
RULES.update(STORAGE_RULES)  # STORAGE_SIZE, STORAGE_DOMAINS (errors), STORAGE_NO_CLIENTS (warning)
RULES.update(DR_RULES)  # DR_TIER_MISSING, DR_SHARES_RACK, DR_VIP_SUBNET, DR_DB_IN_DCS, DR_DB_FAILOVER, DR_IN_STORAGE (errors)


def validate(inventory):
    """Validate ``{"groups", "hostvars", "options"?, "var_errors"?}``; return the report dict.

    Raises OptionError only when the input as a whole is unusable (groups or hostvars not a
    mapping, a bad option); everything wrong *inside* the inventory becomes a finding.
    """
    # The run allocates a few objects per host and creates no reference cycles. With the cyclic
    # garbage collector on, every collection re-scans the whole (large) inventory, which made the
    # cost per host grow with the inventory size; pausing it keeps the run linear.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _validate(inventory)
    finally:
        if collecting:
            gc.enable()


def _validate(inventory):
    options = check_options(inventory.get("options") if isinstance(inventory, dict) else None)
    findings = Findings()
    topo = Topology(inventory, options, findings)
    primary = run_all(topo, findings)
    ordered = findings.sorted()
    errors = sum(1 for finding in ordered if finding["severity"] == "error")
    return {
        "ok": errors == 0,
        "errors": errors,
        "warnings": len(ordered) - errors,
        "findings": ordered,
        "summary": _summary(topo, primary),
        "availability": _estimate(topo, options, primary),
    }


def _summary(topo, primary):
    tiers = {}
    for tier in TIERS:
        domains = {}
        for host in topo.tier_hosts(tier):
            domain = topo.domain_of(host) or "(no %s)" % topo.level
            domains[domain] = domains.get(domain, 0) + 1
        tiers[tier] = {"hosts": list(topo.tiers.get(tier, [])), "domains": domains}
    dcs_domains = {}
    for host in topo.dcs_hosts():
        domain = topo.domain_of(host) or "(no %s)" % topo.level
        dcs_domains[domain] = dcs_domains.get(domain, 0) + 1
    summary = {
        "failure_domain": topo.level,
        "sites": topo.sites,
        "hosts": len(topo.hosts),
        "db_primary": primary,
        "db_primary_assumed": primary is not None and topo.db_primary is None,
        "tiers": tiers,
        "dcs": {"hosts": list(topo.dcs), "domains": dcs_domains},
    }
    if topo.dr is not None:  # only then, so a one-site report keeps its exact shape
        summary["dr_site"] = {
            "name": topo.dr.name,
            "hosts": list(topo.dr.hosts),
            "tiers": {tier: list(topo.dr.tiers.get(tier, [])) for tier in TIERS},
        }
    return summary


def _estimate(topo, options, primary):
    levels = {"rack": {}, "site": {}}
    for tier in TIERS:
        racks, sites = {}, {}
        for host in topo.tier_hosts(tier):
            rack = topo.domain_of(host, "rack") or "(no rack)"
            racks[rack] = racks.get(rack, 0) + 1
            sites[host.site] = sites.get(host.site, 0) + 1
        levels["rack"][tier] = racks
        levels["site"][tier] = sites
    primary_domains = {}
    if primary is not None:
        host = topo.hosts[primary]
        primary_domains = {"rack": topo.domain_of(host, "rack") or "(no rack)", "site": host.site}
    return _availability.estimate(
        levels,
        topo.level,
        TIERS,
        host_availability=options["host_availability"],
        domain_availability=options["domain_availability"],
        primary_domains=primary_domains,
    )


def _plain(value, depth=0):
    """Copy a templated value into plain Python types (Ansible hands out tagged subclasses)."""
    if depth > 20:
        return repr(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, dict) or (hasattr(value, "keys") and hasattr(value, "__getitem__")):
        return {_plain(key, depth + 1): _plain(value[key], depth + 1) for key in value.keys()}
    if isinstance(value, (list, tuple)):
        return [_plain(item, depth + 1) for item in value]
    return repr(value)


def inventory_from(groups, hostvars, options=None):
    """Build the validator's input from Ansible's ``groups`` and ``hostvars`` (or plain dicts).

    Only the hosts of the three tiers, of dcs and of storage, and only CONTRACT_VARS are read. Reading a variable from
    Ansible's hostvars templates it in that host's context (``rack: "{{ x }}"`` works), and other
    variables, such as a templated ``ansible_podman_host``, are never touched. A variable that
    fails to template is recorded in ``var_errors`` and becomes a VAR_TEMPLATE_ERROR finding.
    Raises OptionError when groups or hostvars are not mappings at all.
    """
    if not hasattr(groups, "get") or not hasattr(groups, "keys"):
        raise OptionError("groups must be a mapping of group name to host list, got %s" % type(groups).__name__)
    if not hasattr(hostvars, "__getitem__") or not hasattr(hostvars, "__contains__"):
        raise OptionError("hostvars must be a mapping of host name to variables, got %s" % type(hostvars).__name__)
    plain_groups = {}
    wanted = []
    for tier in GROUPS:
        if tier not in groups:
            continue
        members = groups.get(tier)
        plain_groups[tier] = _plain(members)
        if isinstance(members, (list, tuple)):
            wanted.extend(member for member in members if isinstance(member, str))
    plain_hostvars = {}
    var_errors = {}
    for host in dict.fromkeys(wanted):
        try:
            variables = hostvars[host] if host in hostvars else {}
        except Exception as exc:  # noqa: BLE001 - any templating failure must become a finding
            var_errors.setdefault(host, {})["(host variables)"] = _short_error(exc)
            continue
        values = {}
        for var in CONTRACT_VARS:
            try:
                if var not in variables:
                    continue
                value = _plain(variables[var])
            except Exception as exc:  # noqa: BLE001 - e.g. AnsibleUndefinedVariable inside rack: "{{ x }}"
                var_errors.setdefault(host, {})[var] = _short_error(exc)
                continue
            if _still_a_template(value):
                # ansible-core before 2.19 templates hostvars with fail_on_undefined=False: an undefined
                # name comes back as the template's own text instead of an error.
                var_errors.setdefault(host, {})[var] = _short_error(
                    "%r is still a template after templating (an undefined variable in it?)" % value)
                continue
            values[var] = value
        plain_hostvars[host] = values
    return {"groups": plain_groups, "hostvars": plain_hostvars, "var_errors": var_errors, "options": options or {}}


def _still_a_template(value):
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, dict):
        return any(_still_a_template(item) for item in value.values())
    if isinstance(value, list):
        return any(_still_a_template(item) for item in value)
    return False


def _short_error(exc):
    text = " ".join(str(exc).split())
    return text if len(text) <= 200 else text[:197] + "..."
