# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Redundancy rules of the disaster-recovery site (issue 18): a second site that follows the main one.

The DR site's hosts carry ``site: <ha_lamp_dr_site>`` (default ``dr``) inside the usual groups. The
Topology keeps them out of every main-site rule (topo.dr); these rules judge them, and run only when
the inventory has a DR site. What they protect: the DR site must survive the loss of the main site (no
shared rack, its own VIP subnet), must never weaken the main site (no vote in its etcd quorum, never
promoted by its automatic failover, no brick of its GlusterFS volume), and must be able to serve on its own (its own LB pair, web and
database). Missing or invalid ``rack`` and duplicate addresses are the common host rules' findings.
Plain Python, linear in the number of hosts (VIP pairs: a handful), never raises.
"""

from __future__ import annotations

import ipaddress

from ansible_collections.onprem.ha_lamp.plugins.module_utils.redundancy_model import DR, TIERS, name_hosts, show, type_name, vip_label

# Every rule id of this module, with its severity (merged into redundancy.RULES).
DR_RULES = {
    "DR_TIER_MISSING": "error",
    "DR_SHARES_RACK": "error",
    "DR_VIP_SUBNET": "error",
    "DR_DB_IN_DCS": "error",
    "DR_DB_FAILOVER": "error",
    "DR_IN_STORAGE": "error",
}

# What the DR site needs per tier to take over on its own: (at least this many hosts, what they are, why).
DR_TIER_MINIMUM = {
    "loadbalancers": (2, "load balancers", "a keepalived pair for the DR site's own VIP"),
    "webservers": (1, "web server", "to serve the site after a site failover"),
    "databases": (1, "database", "a replica of the main site to promote in a site failover"),
}


def rule_dr_site(topo, findings):
    """DR_TIER_MISSING, DR_SHARES_RACK, DR_VIP_SUBNET, DR_DB_IN_DCS, DR_DB_FAILOVER, DR_IN_STORAGE; nothing without a DR site."""
    dr = topo.dr
    if dr is None:
        return
    _tiers(topo, findings, dr)
    _racks(topo, findings, dr)
    _vips(topo, findings, dr)
    _dcs(findings, dr)
    _nofailover(findings, dr)
    _storage(findings, dr)


def _tiers(topo, findings, dr):
    for tier in TIERS:
        minimum, what, why = DR_TIER_MINIMUM[tier]
        names = dr.tiers.get(tier, [])
        if len(names) >= minimum:
            continue
        if names:
            have = "only %s of the %s group %s" % (name_hosts(names, topo.limit), tier, "has" if len(names) == 1 else "have")
        else:
            have = "no host of the %s group has" % tier
        findings.error(
            "DR_TIER_MISSING",
            DR,
            names,
            "DR site '%s': %s site '%s' (var site); a DR site needs %s %s (%s): add %s to the %s group with site: %s"
            % (
                dr.name,
                have,
                dr.name,
                "%d" % minimum if minimum > 1 else "at least 1",
                what,
                why,
                "%d more" % (minimum - len(names)) if names else ("them" if minimum > 1 else "one"),
                tier,
                dr.name,
            ),
        )


def _racks(topo, findings, dr):
    """DR_SHARES_RACK: rack names are compared as plain names between the sites (the racks of a DR site are its own)."""
    main_racks = {}
    for host in topo.hosts.values():
        if host.rack is not None:
            main_racks.setdefault(host.rack, []).append(host.name)
    shared = {}
    for host in dr.hosts.values():
        if host.rack is not None and host.rack in main_racks:
            shared.setdefault(host.rack, []).append(host.name)
    for rack, names in shared.items():
        findings.error(
            "DR_SHARES_RACK",
            DR,
            names,
            "DR site '%s': %s %s in rack '%s' (var rack), which also holds the main-site %s %s; losing that one rack "
            "would hit both sites, and the DR site is there to survive the main site's loss: set rack on %s to a rack "
            "of the DR site, a name no main-site host uses"
            % (
                dr.name,
                name_hosts(names, topo.limit),
                "is" if len(names) == 1 else "are",
                rack,
                "host" if len(main_racks[rack]) == 1 else "hosts",
                name_hosts(main_racks[rack], topo.limit),
                name_hosts(names, topo.limit),
            ),
        )


def _vip_networks(vips):
    """[(label, address text, network)] of the parseable entries of an ha_lamp_vips list, and the bad entries."""
    parsed, bad = [], []
    if not isinstance(vips, list):
        return parsed, bad
    for index, entry in enumerate(vips):
        label = vip_label(index, entry)
        address = entry.get("address") if isinstance(entry, dict) else None
        try:
            if not isinstance(address, str) or "/" not in address:
                raise ValueError(address)
            parsed.append((label, address.strip(), ipaddress.ip_interface(address.strip()).network))
        except ValueError:
            bad.append((label, address))
    return parsed, bad


def _vips(topo, findings, dr):
    """DR_VIP_SUBNET: the DR site's VIPs, on its own load balancers, in no subnet of a main-site VIP."""
    lbs = dr.tiers.get("loadbalancers", [])
    if not lbs:
        return  # DR_TIER_MISSING says the DR site has no load balancer to carry a VIP
    where = "ha_lamp_vips on %s" % name_hosts(lbs, topo.limit)
    fix = "set ha_lamp_vips on the DR site's load balancers to VIPs (address/prefix length) in the DR site's own subnet"
    vips = dr.vips
    if vips is None or vips == []:
        findings.error(
            "DR_VIP_SUBNET",
            DR,
            lbs,
            "DR site '%s': ha_lamp_vips is %s on %s, so the DR site has no VIP; %s"
            % (dr.name, "unset" if vips is None else "an empty list", name_hosts(lbs, topo.limit), fix),
        )
        return
    if not isinstance(vips, list):
        findings.error(
            "DR_VIP_SUBNET",
            DR,
            lbs,
            "DR site '%s': %s is %s (%s), not a list of VIPs; %s" % (dr.name, where, type_name(vips), show(vips), fix),
        )
        return
    parsed, bad = _vip_networks(vips)
    for label, address in bad:
        findings.error(
            "DR_VIP_SUBNET",
            DR,
            lbs,
            "DR site '%s': %s address is %s in %s, not 'A.B.C.D/len', so its subnet is unknown; %s"
            % (dr.name, label, "missing" if address is None else show(address), where, fix),
        )
    main, _bad = _vip_networks(topo.vips)  # the main site's own VIP rules report its bad entries
    for label, address, network in parsed:
        overlaps = {}
        for main_label, main_address, main_network in main:
            if main_network.version == network.version and main_network.overlaps(network):
                overlaps.setdefault(main_network, []).append("%s %s" % (main_label, main_address))
        if not overlaps:
            continue
        detail = "; ".join("%s (%s)" % (net, ", ".join(labels)) for net, labels in overlaps.items())
        inside = all(network.subnet_of(net) for net in overlaps)
        findings.error(
            "DR_VIP_SUBNET",
            DR,
            lbs,
            "DR site '%s': %s %s (%s) %s the main site's VIP %s %s; a DR VIP needs a subnet of its own, or a fault "
            "of the main site's segment takes the DR site's VIP with it; %s"
            % (dr.name, label, address, where, "is in" if inside else "overlaps", "subnet" if len(overlaps) == 1 else "subnets", detail, fix),
        )


def _dcs(findings, dr):
    for name in dr.dcs:
        findings.error(
            "DR_DB_IN_DCS",
            DR,
            [name],
            "%s: in the group dcs, the main site's etcd quorum, but in the DR site '%s' (var site); a DR host must not "
            "vote in the main site's quorum, or the main site's automatic failover depends on the link between the sites: "
            "remove %s from dcs (the DR database follows the leader key as an etcd client)" % (name, dr.name, name),
        )


def _nofailover(findings, dr):
    for host in dr.tier_hosts("databases"):
        value = host.vars.get("ha_lamp_db_nofailover")
        if value is True:
            continue
        if value is None or value is False:
            problem = "unset" if value is None else "false"
        else:
            problem = "%s (%s), not the boolean true" % (type_name(value), show(value))
        findings.error(
            "DR_DB_FAILOVER",
            DR,
            [host.name],
            "%s: ha_lamp_db_nofailover is %s, but %s is a database of the DR site '%s' (var site); the main site's "
            "automatic failover must never promote a DR database (taking over a site is an operator's decision): "
            "set ha_lamp_db_nofailover: true on %s" % (host.name, problem, host.name, dr.name, host.name),
        )


def _storage(findings, dr):
    for name in dr.storage:
        findings.error(
            "DR_IN_STORAGE",
            DR,
            [name],
            "%s: in the group storage, the main site's GlusterFS volume, but in the DR site '%s' (var site); the main "
            "site's volume must not have a brick across the link between the sites, or its uploads wait on that link "
            "(a write needs 2 of the 3 bricks) and a fault of the link costs the volume a brick: remove %s from storage "
            "(the volume's 3 bricks belong on main-site hosts)" % (name, dr.name, name),
        )
