# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The redundancy rules. Each rule reads the Topology and adds findings; none raises.

Every rule is linear in the number of hosts: hosts are bucketed into dicts (by failure domain,
address, server id) and only the buckets are inspected. The only nested loops run over VIPs,
of which a cluster has a handful.
"""

from __future__ import annotations

import ipaddress

from ansible_collections.onprem.ha_lamp.plugins.module_utils.redundancy_model import (
    CLUSTER,
    DCS,
    DEFAULT_DB_LEASE_TTL,
    DEFAULT_HAPROXY_DB_CHECK_FALL,
    DEFAULT_HAPROXY_DB_CHECK_INTER,
    LEASE_MARGIN_S,
    LEASE_RENEWAL_SLACK_S,
    STORAGE,
    TIER_MEMBER,
    TIERS,
    format_seconds,
    name_hosts,
    parse_haproxy_time,
    show,
    type_name,
    vip_label,
)
from ansible_collections.onprem.ha_lamp.plugins.module_utils.redundancy_dr import rule_dr_site
from ansible_collections.onprem.ha_lamp.plugins.module_utils.redundancy_storage import rule_storage

VIP_KEYS = ("name", "address", "vrid", "interface", "purpose")
# What a VIP carries: client traffic (80/443) or the database frontends (3306/3307). Absent = public.
VIP_PURPOSES = ("public", "internal")


def _level_plural(level):
    return "racks" if level == "rack" else "sites"


# -- tiers -----------------------------------------------------------------------------------


def rule_tiers(topo, findings):
    """TIER_TOO_FEW_HOSTS, TIER_SINGLE_DOMAIN, TIER_SINGLE_SITE."""
    level = topo.level
    for tier in TIERS:
        hosts = topo.tier_hosts(tier)
        if not hosts:
            continue  # TIER_MISSING / GROUP_MALFORMED already said so
        member = TIER_MEMBER[tier]
        names = [host.name for host in hosts]
        if len(hosts) < 2:
            findings.error(
                "TIER_TOO_FEW_HOSTS",
                tier,
                names,
                "%s: only %s; add a second host in another %s so losing one host keeps %s" % (tier, names[0], level, member),
            )
        by_domain = {}
        unknown = []
        for host in hosts:
            domain = topo.domain_of(host)
            if domain is None:
                unknown.append(host.name)
            else:
                by_domain.setdefault(domain, []).append(host.name)
        if len(by_domain) == 1 and not unknown and len(hosts) >= 2:
            domain, members = next(iter(by_domain.items()))
            both = "both" if len(members) == 2 else "all"
            subject = "%s is" % members[0] if len(members) == 1 else "%s are %s" % (name_hosts(members, topo.limit), both)
            findings.error(
                "TIER_SINGLE_DOMAIN",
                tier,
                members,
                "%s: %s in %s '%s' (var %s); place them in at least 2 %s so losing one %s keeps %s"
                % (tier, subject, level, domain, level, _level_plural(level), level, member),
            )
        if topo.multi_site and level == "rack":
            sites = {host.site for host in hosts}
            if len(sites) == 1:
                site = next(iter(sites))
                findings.warning(
                    "TIER_SINGLE_SITE",
                    tier,
                    names,
                    "%s: every host (%s) is in site '%s' (var site) while the cluster spans sites %s; "
                    "losing site '%s' stops the %s tier; add a host in another site"
                    % (tier, name_hosts(names, topo.limit), site, ", ".join(repr(s) for s in topo.sites), site, tier),
                )


def rule_multi_tier(topo, findings):
    """HOST_MULTI_TIER: one host carrying several tiers shares their fate."""
    for host in topo.hosts.values():
        if len(host.tiers) > 1:
            findings.warning(
                "HOST_MULTI_TIER",
                host.tiers[0],
                [host.name],
                "%s is in %s: losing it takes one member from each of these tiers at once; "
                "give each tier its own hosts" % (host.name, " and ".join(host.tiers)),
            )


# -- hosts -----------------------------------------------------------------------------------


def rule_racks_and_sites(topo, findings):
    """RACK_MISSING (per tier, both sites: DR_SHARES_RACK needs the DR hosts' racks) and SITE_PARTIAL (main site).

    Invalid values were reported while reading.
    """
    missing = {}
    for host in topo.every_host():
        if host.vars.get("rack") is None and (host.name, "rack") not in topo.template_failed:
            missing.setdefault(host.tier, []).append(host.name)
    for tier in TIERS + (DCS, STORAGE):
        names = missing.get(tier)
        if names:
            findings.error(
                "RACK_MISSING",
                tier,
                names,
                "%s: %s %s no rack (var rack); set rack to the rack name of every cluster host so the "
                "validator can check the spread" % (tier, name_hosts(names, topo.limit), "has" if len(names) == 1 else "have"),
            )
    with_site = [host for host in topo.hosts.values() if host.site_set]
    if with_site and len(with_site) < len(topo.hosts):
        unset = [host.name for host in topo.hosts.values() if not host.site_set]
        findings.warning(
            "SITE_PARTIAL",
            CLUSTER,
            unset,
            "site is set on some hosts but not on %s, which count as site '%s'; set site on every host or on none"
            % (name_hosts(unset, topo.limit), "default"),
        )


def rule_addresses(topo, findings):
    """ADDRESS_DUPLICATE: two hosts answering on one address (ansible_host or ha_lamp_vrrp_address), in either site."""
    by_address = {}
    for host in topo.every_host():
        keys = {}
        if host.address_key is not None:
            keys[host.address_key] = "ansible_host" if host.vars.get("ansible_host") is not None else "inventory name"
        if host.vrrp_ip is not None:
            keys.setdefault(str(host.vrrp_ip), "ha_lamp_vrrp_address")
        for key, var in keys.items():
            by_address.setdefault(key, []).append((host, var))
    for address, users in by_address.items():
        if len(users) < 2:
            continue
        hosts = [host.name for host, _var in users]
        detail = ", ".join("%s (%s)" % (host.name, var) for host, var in users[: topo.limit])
        findings.error(
            "ADDRESS_DUPLICATE",
            users[0][0].tier,
            hosts,
            "%s share the address %s: %s; give every host its own address" % (name_hosts(hosts, topo.limit), address, detail),
        )
    return by_address


# -- load balancers and VIPs -------------------------------------------------------------------


def rule_vips(topo, findings, by_address):
    """VIPS_*, VIP_*, LB_ADDRESS_NOT_IP: the VIP list, each VIP, and its place on the LB segment."""
    lbs = topo.tier_hosts("loadbalancers")
    if not lbs:
        return
    vips = topo.vips
    lb_names = [host.name for host in lbs]
    tier = "loadbalancers"
    if vips is None or (isinstance(vips, list) and not vips):
        findings.error(
            "VIPS_MISSING",
            tier,
            lb_names,
            "loadbalancers: ha_lamp_vips is %s on %s; define at least one VIP "
            "({name, address: A.B.C.D/len, vrid: 1-255}) in group_vars/all so clients have an address "
            "that survives the loss of a load balancer" % ("unset" if vips is None else "an empty list", name_hosts(lb_names, topo.limit)),
        )
        return
    if not isinstance(vips, list):
        findings.error(
            "VIPS_MALFORMED",
            tier,
            lb_names,
            "loadbalancers: ha_lamp_vips is %s (%s), not a list; write it as a list of mappings "
            "({name, address: A.B.C.D/len, vrid})" % (type_name(vips), show(vips)),
        )
        return

    lb_ips = []
    for host in lbs:
        segment_ip = host.segment_ip
        if segment_ip is None:
            var = "ha_lamp_vrrp_address" if host.vars.get("ha_lamp_vrrp_address") is not None else "ansible_host"
            findings.error(
                "LB_ADDRESS_NOT_IP",
                tier,
                [host.name],
                "%s: no IP address on the VRRP segment (%s is %s); set ha_lamp_vrrp_address to its IP address "
                "in the VIP subnet" % (host.name, var, show(host.vars.get(var, host.name))),
            )
        else:
            var = "ha_lamp_vrrp_address" if host.vrrp_ip is not None else "ansible_host"
            lb_ips.append((host, var, segment_ip))

    names = {}
    addresses = {}
    segments = {}  # segment key -> {vrid: [labels]}
    purposes = {purpose: [] for purpose in VIP_PURPOSES}
    for index, entry in enumerate(vips):
        label = vip_label(index, entry)
        if not isinstance(entry, dict):
            findings.error(
                "VIP_MALFORMED",
                tier,
                lb_names,
                "loadbalancers: ha_lamp_vips[%d] is %s (%s), not a mapping; write it as "
                "{name: ..., address: A.B.C.D/len, vrid: N}" % (index, type_name(entry), show(entry)),
            )
            continue
        unknown = sorted(str(key) for key in entry if key not in VIP_KEYS)
        if unknown:
            findings.warning(
                "VIP_UNKNOWN_KEY",
                tier,
                lb_names,
                "loadbalancers: %s has unknown key(s) %s; the known keys are %s (a typo leaves the real key unset)"
                % (label, ", ".join(unknown), ", ".join(VIP_KEYS)),
            )
        _check_vip_name(findings, tier, lb_names, index, entry, names)
        _check_vip_address(findings, tier, lb_names, label, entry, addresses, by_address, lb_ips)
        _check_vip_vrid(findings, tier, lb_names, label, entry, segments)
        purpose = _check_vip_purpose(findings, tier, lb_names, label, entry)
        if purpose is not None:
            purposes[purpose].append(label)
    _check_planes(topo, findings, tier, lb_names, vips, purposes)

    for segment, vrids in segments.items():
        for vrid, labels in vrids.items():
            if len(labels) > 1:
                findings.error(
                    "VIP_VRID_DUPLICATE",
                    tier,
                    lb_names,
                    "loadbalancers: %s use vrid %d on the same VRRP segment (%s); give each VIP its own vrid (1-255)"
                    % (name_hosts(labels), vrid, segment),
                )


def _check_vip_name(findings, tier, lb_names, index, entry, names):
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        findings.error(
            "VIP_NAME_INVALID",
            tier,
            lb_names,
            "loadbalancers: ha_lamp_vips[%d] name is %s; give every VIP a unique non-empty name (e.g. public)"
            % (index, "missing" if name is None else show(name)),
        )
        return
    if name in names:
        findings.error(
            "VIP_NAME_DUPLICATE",
            tier,
            lb_names,
            "loadbalancers: VIP name '%s' is used by ha_lamp_vips[%d] and ha_lamp_vips[%d]; give every VIP a unique name"
            % (name, names[name], index),
        )
    else:
        names[name] = index


def _check_vip_address(findings, tier, lb_names, label, entry, addresses, by_address, lb_ips):
    """Address syntax, uniqueness, and place inside every LB's VRRP subnet."""
    value = entry.get("address")
    if not isinstance(value, str) or "/" not in value:
        problem = "missing" if value is None else "%s, not 'A.B.C.D/len'" % show(value)
        findings.error(
            "VIP_ADDRESS_INVALID",
            tier,
            lb_names,
            "loadbalancers: %s address is %s; write it as address/prefix length, e.g. 10.0.0.100/24" % (label, problem),
        )
        return
    try:
        interface = ipaddress.ip_interface(value.strip())
    except ValueError:
        findings.error(
            "VIP_ADDRESS_INVALID",
            tier,
            lb_names,
            "loadbalancers: %s address %s does not parse; write it as address/prefix length, e.g. 10.0.0.100/24" % (label, show(value)),
        )
        return
    ip, network = interface.ip, interface.network
    if network.num_addresses > 2 and ip in (network.network_address, network.broadcast_address):
        findings.error(
            "VIP_ADDRESS_INVALID",
            tier,
            lb_names,
            "loadbalancers: %s address %s is the %s address of %s; pick a free host address inside the subnet"
            % (label, value, "network" if ip == network.network_address else "broadcast", network),
        )
        return
    if str(ip) in addresses:
        findings.error(
            "VIP_ADDRESS_DUPLICATE",
            tier,
            lb_names,
            "loadbalancers: %s and %s both use address %s; give every VIP its own address" % (addresses[str(ip)], label, ip),
        )
    addresses.setdefault(str(ip), label)
    for host, var in by_address.get(str(ip), []):
        findings.error(
            "VIP_ADDRESS_CONFLICT",
            tier,
            [host.name],
            "loadbalancers: %s address %s is also %s's %s; a VIP must be an otherwise unused address, "
            "pick a free one in %s" % (label, ip, host.name, var, network),
        )
    outside = [(host, var, lb_ip) for host, var, lb_ip in lb_ips if lb_ip.version != ip.version or lb_ip not in network]
    if outside:
        detail = ", ".join("%s (%s %s)" % (host.name, var, lb_ip) for host, var, lb_ip in outside)
        findings.error(
            "VIP_OUTSIDE_LB_SUBNET",
            tier,
            [host.name for host, _var, _ip in outside],
            "loadbalancers: %s %s is outside the subnet %s of %s; keepalived can only move the VIP between "
            "LBs on its segment: put the VIP in the LBs' subnet, or set ha_lamp_vrrp_address to each LB's address on "
            "the VIP's segment" % (label, value, network, detail),
        )


def _check_vip_vrid(findings, tier, lb_names, label, entry, segments):
    vrid = entry.get("vrid")
    if isinstance(vrid, bool) or not isinstance(vrid, int) or not 1 <= vrid <= 255:
        problem = (
            "missing"
            if vrid is None
            else ("%s, not an integer" % show(vrid) if isinstance(vrid, bool) or not isinstance(vrid, int) else "%d, outside 1-255" % vrid)
        )
        findings.error(
            "VIP_VRID_INVALID",
            tier,
            lb_names,
            "loadbalancers: %s vrid is %s; set vrid to an integer 1-255, unique on the segment and "
            "not used by another VRRP cluster there" % (label, problem),
        )
        return
    # Every LB carries every VIP on its VRRP segment (the subnet of ha_lamp_vrrp_address or
    # ansible_host, checked above), so VIPs share one segment unless they name different
    # interfaces: VIPs without an interface are on the LBs' default VRRP interface.
    interface = entry.get("interface")
    key = "the load balancers' default VRRP interface"
    if interface is not None:
        if isinstance(interface, str) and interface.strip():
            key = "interface %s" % interface.strip()
        else:
            findings.error(
                "VIP_INTERFACE_INVALID",
                tier,
                lb_names,
                "loadbalancers: %s interface is %s; set it to the LBs' network interface name (e.g. eth0) or leave it out"
                % (label, show(interface)),
            )
            return
    segments.setdefault(key, {}).setdefault(vrid, []).append(label)


def _check_vip_purpose(findings, tier, lb_names, label, entry):
    """The VIP's purpose (public when absent), or None with a finding when it is not one of VIP_PURPOSES."""
    purpose = entry.get("purpose", "public")
    if isinstance(purpose, str) and purpose in VIP_PURPOSES:
        return purpose
    findings.error(
        "VIP_PURPOSE_INVALID",
        tier,
        lb_names,
        "loadbalancers: %s purpose is %s; set it to public (client traffic, 80/443; the default when absent) or "
        "internal (the database frontends, 3306/3307)" % (label, show(purpose)),
    )
    return None


def _check_planes(topo, findings, tier, lb_names, vips, purposes):
    """VIP_PUBLIC_MISSING, DB_ON_PUBLIC_VIP, DB_PUBLIC_VIP_ALLOWED_INVALID: clients and database on their own VIPs."""
    # Only judge the planes when every VIP's purpose is known: a typo already has its own finding.
    if sum(len(labels) for labels in purposes.values()) != len(vips):
        return
    if not purposes["public"]:
        findings.error(
            "VIP_PUBLIC_MISSING",
            tier,
            lb_names,
            "loadbalancers: every VIP in ha_lamp_vips (%s) has purpose internal, so clients have no address; "
            "add a VIP with purpose: public for HTTP/HTTPS" % name_hosts(purposes["internal"]),
        )
    allowed = topo.db_public_vip_allowed
    if allowed is not None and not isinstance(allowed, bool):
        findings.error(
            "DB_PUBLIC_VIP_ALLOWED_INVALID",
            tier,
            lb_names,
            "loadbalancers: ha_lamp_db_public_vip_allowed is %s (%s), not a boolean; set it to true or false "
            "(without quotes), or leave it unset (false)" % (type_name(allowed), show(allowed)),
        )
        return
    if purposes["internal"] or allowed is True or not purposes["public"]:
        return
    findings.error(
        "DB_ON_PUBLIC_VIP",
        tier,
        lb_names,
        "loadbalancers: ha_lamp_vips has no VIP with purpose: internal, so HAProxy's database frontends "
        "(3306/3307) would listen on the public VIP (%s) where clients connect; add an internal VIP "
        "({name: internal, address: A.B.C.D/len, vrid: N, purpose: internal}), or set "
        "ha_lamp_db_public_vip_allowed: true to accept the database on the public VIP" % name_hosts(purposes["public"]),
    )


# -- management plane -------------------------------------------------------------------------


def _address_list(findings, rule, var, value, parse, kind, example):
    # ``example`` is one valid entry; messages about the whole list wrap its first word in a list.
    """Parse a list of addresses or networks; a finding per bad element. Returns [(text, parsed)] or None."""
    if not isinstance(value, list):
        findings.error(
            rule,
            CLUSTER,
            [],
            "cluster: %s is %s (%s), not a list; write it as a list of %s, e.g. [%s]"
            % (var, type_name(value), show(value), kind, example.split()[0]),
        )
        return None
    if not value:
        findings.error(rule, CLUSTER, [], "cluster: %s is an empty list; list at least one, e.g. [%s]" % (var, example.split()[0]))
        return None
    kind_one = "an IP address" if parse is ipaddress.ip_address else "a CIDR network"
    parsed = []
    for index, item in enumerate(value):
        problem = None
        if not isinstance(item, str):
            problem = "%s (%s), not a string" % (type_name(item), show(item))
        else:
            try:
                parsed.append((item.strip(), parse(item.strip())))
            except ValueError:
                problem = "%s, not %s" % (show(item), kind_one)
                if parse is ipaddress.ip_network:
                    try:
                        problem = "%s, which has host bits set (the network is %s)" % (show(item), ipaddress.ip_network(item.strip(), strict=False))
                    except ValueError:
                        pass
        if problem:
            findings.error(
                rule,
                CLUSTER,
                [],
                "cluster: %s[%d] is %s; write each entry as %s, e.g. %s" % (var, index, problem, kind_one, example),
            )
    return parsed if len(parsed) == len(value) else None


def rule_management(topo, findings):
    """CONTROLLER_ADDRESSES_INVALID, ADMIN_NETWORKS_INVALID, ADMIN_NETWORKS_LOCKOUT.

    Both variables are optional here (unset: nothing to check); the roles that use them require them.
    """
    controllers = admin = None
    if topo.controller_addresses is not None:
        controllers = _address_list(
            findings,
            "CONTROLLER_ADDRESSES_INVALID",
            "ha_lamp_controller_addresses",
            topo.controller_addresses,
            ipaddress.ip_address,
            "IP addresses",
            "10.0.0.5",
        )
    if topo.admin_networks is not None:
        admin = _address_list(
            findings,
            "ADMIN_NETWORKS_INVALID",
            "ha_lamp_admin_networks",
            topo.admin_networks,
            ipaddress.ip_network,
            "CIDR networks",
            "10.0.0.0/28 or 10.0.0.5/32",
        )
    if not controllers or not admin:
        return
    outside = [text for text, ip in controllers if not any(ip.version == net.version and ip in net for _t, net in admin)]
    if outside:
        findings.error(
            "ADMIN_NETWORKS_LOCKOUT",
            CLUSTER,
            [],
            "cluster: ha_lamp_controller_addresses %s %s outside every network of ha_lamp_admin_networks (%s); "
            "the firewall would lock the controller out of SSH: add %s to ha_lamp_admin_networks"
            % (
                name_hosts(outside),
                "is" if len(outside) == 1 else "are",
                ", ".join(text for text, _net in admin),
                name_hosts(["%s/%d" % (text, 32 if ":" not in text else 128) for text in outside]),
            ),
        )


# -- databases --------------------------------------------------------------------------------


def rule_databases(topo, findings):
    """DB_PRIMARY_*, DB_NO_REMOTE_REPLICA, DB_REPLICA_SHARES_PRIMARY_DOMAIN, DB_SERVER_ID_*, DB_EVEN_SITES."""
    dbs = topo.tier_hosts("databases")
    if not dbs:
        return None
    primary = _primary(topo, findings, dbs)
    if primary is not None:
        _check_replicas(topo, findings, dbs, primary)
    # Server ids must differ across both sites too: the DR database replicates from the main site's primary.
    _check_server_ids(topo, findings, dbs + (topo.dr.tier_hosts("databases") if topo.dr is not None else []))
    _check_sites(topo, findings, dbs)
    return primary.name if primary is not None else None


def _primary(topo, findings, dbs):
    value = topo.db_primary
    tier = "databases"
    if value is None:
        return dbs[0]  # documented default: the first database host starts as primary
    if not isinstance(value, str) or not value:
        findings.error(
            "DB_PRIMARY_INVALID",
            tier,
            [],
            "databases: ha_lamp_db_primary is %s; set it to the inventory name of one databases host (e.g. %s)"
            % (show(value), dbs[0].name),
        )
        return None
    for host in dbs:
        if host.name == value:
            return host
    main = name_hosts([host.name for host in dbs], topo.limit)
    if _dr_database(topo, value):
        findings.error(
            "DB_PRIMARY_NOT_IN_DATABASES",
            tier,
            [value],
            "databases: ha_lamp_db_primary is '%s', a database of the DR site '%s' (var site), which can never be the main "
            "site's primary: %s; set it to one of the main site's databases (%s)" % (value, topo.dr.name, DR_FOLLOWS, main),
        )
        return None
    findings.error(
        "DB_PRIMARY_NOT_IN_DATABASES",
        tier,
        [value],
        "databases: ha_lamp_db_primary is '%s', which is not in the databases group (%s); set it to one of them"
        % (value, main),
    )
    return None


# Why a DR database is never the main site's primary nor the target of its switchover.
DR_FOLLOWS = (
    "it replicates asynchronously from the main site's primary over the link between the sites, and only an operator's "
    "site failover promotes it"
)


def _dr_database(topo, name):
    """Whether ``name`` is a database of the DR site (none without a DR site)."""
    return topo.dr is not None and name in topo.dr.tiers.get("databases", [])


def _check_replicas(topo, findings, dbs, primary):
    tier = "databases"
    level = topo.level
    home = topo.domain_of(primary)
    if home is None:
        return  # primary without a rack: RACK_MISSING already blocks
    remote, local, unknown = [], [], []
    for host in dbs:
        if host is primary:
            continue
        domain = topo.domain_of(host)
        if domain is None:
            unknown.append(host.name)  # RACK_MISSING blocks; do not guess where it is
        else:
            (local if domain == home else remote).append(host.name)
    if len(dbs) < 2 or (not remote and unknown):
        return  # TIER_TOO_FEW_HOSTS / RACK_MISSING already say what to fix
    if not remote:
        if local:
            why = "its replicas %s are in the same %s" % (name_hosts(local, topo.limit), level)
        else:
            why = "it has no replica"
        findings.error(
            "DB_NO_REMOTE_REPLICA",
            tier,
            [primary.name] + local,
            "databases: primary %s is in %s '%s' (var %s) and %s; put at least one replica in another %s, "
            "or semi-sync protects nothing against losing %s '%s'" % (primary.name, level, home, level, why, level, level, home),
        )
    elif local:
        findings.warning(
            "DB_REPLICA_SHARES_PRIMARY_DOMAIN",
            tier,
            [primary.name] + local,
            "databases: %s %s %s %s '%s' with primary %s; %s semi-sync acknowledgement can satisfy a commit "
            "that then dies with the %s; move %s to another %s"
            % (
                "replica" if len(local) == 1 else "replicas",
                name_hosts(local, topo.limit),
                "shares" if len(local) == 1 else "share",
                level,
                home,
                primary.name,
                "its" if len(local) == 1 else "their",
                level,
                "it" if len(local) == 1 else "them",
                level,
            ),
        )


def _check_server_ids(topo, findings, dbs):
    tier = "databases"
    by_id = {}
    for host in dbs:
        value = host.server_id
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 4294967295:
            problem = "not an integer" if isinstance(value, bool) or not isinstance(value, int) else "outside 1-4294967295"
            findings.error(
                "DB_SERVER_ID_INVALID",
                tier,
                [host.name],
                "%s: mysql_server_id %s is %s; set a unique integer 1-4294967295 or leave it unset to derive one"
                % (host.name, show(value), problem),
            )
            continue
        by_id.setdefault(value, []).append(host.name)
    for value, names in by_id.items():
        if len(names) > 1:
            findings.error(
                "DB_SERVER_ID_DUPLICATE",
                tier,
                names,
                "databases: %s share mysql_server_id %d; replication ignores events from its own server id, "
                "so give every database a unique mysql_server_id" % (name_hosts(names, topo.limit), value),
            )


def _check_sites(topo, findings, dbs):
    db_sites = {host.site for host in dbs}
    if len(db_sites) < 2 or len(db_sites) % 2:
        return
    witness = {host.site for host in topo.hosts.values()} - db_sites
    if witness:
        return  # a host in another site can host a tie-breaker
    findings.warning(
        "DB_EVEN_SITES",
        "databases",
        [host.name for host in dbs],
        "databases: spread over %d sites (%s) with no cluster host in another site to break a tie; after a split "
        "between the sites neither side can tell it holds the majority, so failover across sites must stay manual; "
        "add a host (replica or witness) in a third site" % (len(db_sites), ", ".join(sorted(db_sites))),
    )


# -- automatic failover: etcd members, leader lease, promotion eligibility ---------------------


def rule_dcs(topo, findings):
    """DCS_MISSING, DCS_SIZE, DCS_DOMAIN_MAJORITY: the etcd members keep a quorum after losing any failure domain."""
    if not topo.tier_hosts("databases"):
        return  # nothing to fail over (TIER_MISSING / GROUP_MALFORMED already said so)
    level = topo.level
    plural = _level_plural(level)
    if topo.dcs_state == "is malformed":
        return  # GROUP_MALFORMED already said what to fix
    if topo.dcs_state is not None:
        findings.error(
            "DCS_MISSING",
            DCS,
            [],
            "dcs: the group %s, but automatic database failover needs etcd members to hold the leader lease; "
            "add a group dcs with 3 or 5 hosts in different %s (for example the databases hosts)" % (topo.dcs_state, plural),
        )
        return
    members = topo.dcs_hosts()
    names = [host.name for host in members]
    size = len(names)
    quorum = size // 2 + 1
    if size < 3:
        findings.error(
            "DCS_SIZE",
            DCS,
            names,
            "dcs: %d member%s (%s), fewer than 3: losing %s loses the etcd quorum (%d of %d) and automatic failover stops; "
            "use 3 or 5 hosts in different %s"
            % (size, "" if size == 1 else "s", name_hosts(names, topo.limit), "it" if size == 1 else "one", quorum, size, plural),
        )
        return
    if size % 2 == 0:
        findings.error(
            "DCS_SIZE",
            DCS,
            names,
            "dcs: %d members (%s), an even number: the quorum is %d of %d, so it survives %d lost member%s, no more than "
            "%d members would; use an odd number of hosts (3 or 5) in different %s"
            % (size, name_hosts(names, topo.limit), quorum, size, size - quorum, "" if size - quorum == 1 else "s", size - 1, plural),
        )
    by_domain = {}
    for host in members:
        domain = topo.domain_of(host)
        if domain is not None:  # no rack: RACK_MISSING / RACK_INVALID already block
            by_domain.setdefault(domain, []).append(host.name)
    for domain, local in by_domain.items():
        left = size - len(local)
        if left >= quorum:
            continue
        findings.error(
            "DCS_DOMAIN_MAJORITY",
            DCS,
            local,
            "dcs: %s '%s' (var %s) holds %d of the %d etcd members (%s); losing it leaves %d, short of the quorum of %d, "
            "so automatic failover stops; spread the members so that no %s holds more than %d"
            % (level, domain, level, len(local), size, name_hosts(local, topo.limit), left, quorum, level, size - quorum),
        )


def _int_setting(findings, rule, var, value, minimum, hint):
    """An integer setting >= minimum; a finding and None when it is not."""
    if not isinstance(value, bool) and isinstance(value, int) and value >= minimum:
        return value
    if isinstance(value, bool) or not isinstance(value, int):
        problem = "%s (%s), not an integer" % (type_name(value), show(value))
        if isinstance(value, str) and value.strip().isdigit():
            problem += " (write it without quotes)"
    else:
        problem = "%d, below %d" % (value, minimum)
    findings.error(rule, "databases", [], "databases: %s is %s; set it to a whole number of seconds, %s" % (var, problem, hint))
    return None


def _db_check(topo, findings):
    """HAProxy's DB health check from the inventory (or the haproxy role's defaults): (inter us, text, fall)."""
    inter_value = DEFAULT_HAPROXY_DB_CHECK_INTER if topo.db_check_inter is None else topo.db_check_inter
    inter, problem = parse_haproxy_time(inter_value)
    if problem:
        findings.error(
            "HAPROXY_DB_CHECK_INVALID",
            "loadbalancers",
            [],
            "loadbalancers: haproxy_db_check_inter %s %s; set it to the DB health check interval, e.g. 1s or 500ms"
            % (show(inter_value), problem),
        )
    fall_value = DEFAULT_HAPROXY_DB_CHECK_FALL if topo.db_check_fall is None else topo.db_check_fall
    fall = int(fall_value) if isinstance(fall_value, str) and fall_value.strip().isdigit() else fall_value
    if isinstance(fall, bool) or not isinstance(fall, int) or fall < 1:
        findings.error(
            "HAPROXY_DB_CHECK_INVALID",
            "loadbalancers",
            [],
            "loadbalancers: haproxy_db_check_fall is %s, not a positive integer; set it to the number of failed DB health "
            "checks before HAProxy marks a node down, e.g. 2" % show(fall_value),
        )
        fall = None
    return inter, str(inter_value).strip(), fall


def rule_db_lease(topo, findings):
    """DB_LEASE_TTL_INVALID, DB_LEASE_TTL_TOO_SHORT, HAPROXY_DB_CHECK_INVALID, DB_FAILOVER_WINDOW_INVALID."""
    if not topo.tier_hosts("databases"):
        return
    if topo.db_failover_window is not None:
        _int_setting(
            findings, "DB_FAILOVER_WINDOW_INVALID", "ha_lamp_db_failover_window", topo.db_failover_window, 0, "0 or more (default 300)"
        )
    inter, inter_text, fall = _db_check(topo, findings)
    minimum = None
    formula = ""
    if inter is not None and fall is not None:
        detect = inter * fall
        minimum = -(-(detect + (LEASE_MARGIN_S + LEASE_RENEWAL_SLACK_S) * 1000000) // 1000000)  # whole seconds, rounded up
        formula = "haproxy_db_check_inter %s x haproxy_db_check_fall %d + %d s margin + %d s renewal slack" % (
            inter_text,
            fall,
            LEASE_MARGIN_S,
            LEASE_RENEWAL_SLACK_S,
        )
    given = topo.db_lease_ttl
    if given is None:
        ttl = DEFAULT_DB_LEASE_TTL
    else:
        hint = "at least %d (%s)" % (minimum, formula) if minimum is not None else "1 or more (default %d)" % DEFAULT_DB_LEASE_TTL
        ttl = _int_setting(findings, "DB_LEASE_TTL_INVALID", "ha_lamp_db_lease_ttl", given, 1, hint)
    if ttl is None or minimum is None or ttl >= minimum:
        return
    findings.error(
        "DB_LEASE_TTL_TOO_SHORT",
        "databases",
        [],
        "databases: ha_lamp_db_lease_ttl is %d s%s, below the minimum of %d s = %s, rounded up (HAProxy needs %s to stop "
        "sending writes to a dead primary, and that primary's lease must outlast it before another node is promoted); "
        "set ha_lamp_db_lease_ttl to %d or more, "
        "or shorten the HAProxy DB check"
        % (ttl, " (the default)" if given is None else "", minimum, formula, format_seconds(inter * fall), minimum),
    )


def rule_db_promotion(topo, findings, primary):
    """DB_NOFAILOVER_INVALID, DB_FAILOVER_CANDIDATES_TOO_FEW, DB_PRIMARY_NOFAILOVER, DB_SWITCHOVER_TARGET_*."""
    dbs = topo.tier_hosts("databases")
    if not dbs:
        return
    tier = "databases"
    eligible, barred, unknown = [], [], []
    for host in dbs:
        value = host.vars.get("ha_lamp_db_nofailover")
        if value is None or value is False:
            eligible.append(host.name)
        elif value is True:
            barred.append(host.name)
        else:
            unknown.append(host.name)
            findings.error(
                "DB_NOFAILOVER_INVALID",
                tier,
                [host.name],
                "%s: ha_lamp_db_nofailover is %s (%s), not a boolean; set it to true (never promote this node) or false"
                % (host.name, type_name(value), show(value)),
            )
    if barred and not unknown and len(eligible) < 2:
        if not eligible:
            findings.error(
                "DB_FAILOVER_CANDIDATES_TOO_FEW",
                tier,
                barred,
                "databases: every database (%s) has ha_lamp_db_nofailover: true, so no node may ever be primary and "
                "automatic failover is impossible; set it to false (or remove it) on at least 2 databases in different %s"
                % (name_hosts(barred, topo.limit), _level_plural(topo.level)),
            )
        else:
            findings.error(
                "DB_FAILOVER_CANDIDATES_TOO_FEW",
                tier,
                eligible + barred,
                "databases: only %s may be promoted (ha_lamp_db_nofailover: true on %s); automatic failover needs at least "
                "2 eligible databases, one primary and one to promote; set ha_lamp_db_nofailover to false on another "
                "database, in another %s than %s" % (eligible[0], name_hosts(barred, topo.limit), topo.level, eligible[0]),
            )
    if primary is not None and primary in barred and eligible:
        how = "ha_lamp_db_primary" if topo.db_primary is not None else "the first databases host, as ha_lamp_db_primary is unset"
        findings.error(
            "DB_PRIMARY_NOFAILOVER",
            tier,
            [primary],
            "databases: the initial primary %s (%s) has ha_lamp_db_nofailover: true, but the first primary must be "
            "eligible for promotion; set ha_lamp_db_primary to %s, or ha_lamp_db_nofailover to false on %s"
            % (primary, how, _one_of(eligible, topo.limit), primary),
        )
    _check_switchover_target(topo, findings, dbs, eligible, barred)


def _one_of(names, limit):
    return names[0] if len(names) == 1 else "one of %s" % name_hosts(names, limit)


def _check_switchover_target(topo, findings, dbs, eligible, barred):
    value = topo.switchover_target
    if value is None:
        return
    tier = "databases"
    choice = "name %s, or leave it unset to let the switchover pick the best replica" % (
        _one_of(eligible, topo.limit) if eligible else "an eligible database (none is: see ha_lamp_db_nofailover)"
    )
    if not isinstance(value, str) or not value:
        findings.error(
            "DB_SWITCHOVER_TARGET_INVALID",
            tier,
            [],
            "databases: ha_lamp_switchover_target is %s; %s" % (show(value), choice),
        )
    elif _dr_database(topo, value):
        findings.error(
            "DB_SWITCHOVER_TARGET_NOT_IN_DATABASES",
            tier,
            [value],
            "databases: ha_lamp_switchover_target is '%s', a database of the DR site '%s' (var site), which can never be "
            "the target of the main site's switchover: %s; %s" % (value, topo.dr.name, DR_FOLLOWS, choice),
        )
    elif value not in {host.name for host in dbs}:
        findings.error(
            "DB_SWITCHOVER_TARGET_NOT_IN_DATABASES",
            tier,
            [value],
            "databases: ha_lamp_switchover_target is '%s', which is not in the databases group; %s" % (value, choice),
        )
    elif value in barred:
        findings.error(
            "DB_SWITCHOVER_TARGET_NOFAILOVER",
            tier,
            [value],
            "databases: ha_lamp_switchover_target is '%s', which has ha_lamp_db_nofailover: true and may never be promoted; %s"
            % (value, choice),
        )


# The rules that need nothing but the topology; run_all runs them first, then the ones that pass
# results along (addresses, the primary).
TOPOLOGY_RULES = (rule_tiers, rule_multi_tier, rule_racks_and_sites)


def run_all(topo, findings):
    """Run every rule; returns the primary database host name (or None)."""
    for rule in TOPOLOGY_RULES:
        rule(topo, findings)
    by_address = rule_addresses(topo, findings)
    rule_vips(topo, findings, by_address)
    rule_management(topo, findings)
    primary = rule_databases(topo, findings)
    rule_db_promotion(topo, findings, primary)
    rule_db_lease(topo, findings)
    rule_dcs(topo, findings)
    rule_storage(topo, findings)
    rule_dr_site(topo, findings)
    return primary
