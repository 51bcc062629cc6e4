# -*- coding: utf-8 -*-
# Copyright: onprem.ha_lamp contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""The redundancy rules. Each rule reads the Topology and adds findings; none raises.

Every rule is linear in the number of hosts: hosts are bucketed into dicts (by failure domain,
address, server id) and only the buckets are inspected. The only nested loops run over VIPs,
of which a cluster has a handful.
"""

from __future__ import annotations

import ipaddress

from ansible_collections.onprem.ha_lamp.plugins.module_utils.redundancy_model import (
    CLUSTER,
    TIER_MEMBER,
    TIERS,
    name_hosts,
    show,
    type_name,
)

VIP_KEYS = ("name", "address", "vrid", "interface")


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
    """RACK_MISSING (per tier) and SITE_PARTIAL. Invalid values were reported while reading."""
    missing = {}
    for host in topo.hosts.values():
        if host.vars.get("rack") is None and (host.name, "rack") not in topo.template_failed:
            missing.setdefault(host.tier, []).append(host.name)
    for tier in TIERS:
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
    """ADDRESS_DUPLICATE: two hosts answering on one address (ansible_host or ha_lamp_vrrp_address)."""
    by_address = {}
    for host in topo.hosts.values():
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


def _vip_label(index, entry):
    if isinstance(entry, dict) and isinstance(entry.get("name"), str) and entry.get("name"):
        return "VIP '%s'" % entry["name"]
    return "ha_lamp_vips[%d]" % index


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
    for index, entry in enumerate(vips):
        label = _vip_label(index, entry)
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


# -- databases --------------------------------------------------------------------------------


def rule_databases(topo, findings):
    """DB_PRIMARY_*, DB_NO_REMOTE_REPLICA, DB_REPLICA_SHARES_PRIMARY_DOMAIN, DB_SERVER_ID_*, DB_EVEN_SITES."""
    dbs = topo.tier_hosts("databases")
    if not dbs:
        return None
    primary = _primary(topo, findings, dbs)
    if primary is not None:
        _check_replicas(topo, findings, dbs, primary)
    _check_server_ids(topo, findings, dbs)
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
    findings.error(
        "DB_PRIMARY_NOT_IN_DATABASES",
        tier,
        [value],
        "databases: ha_lamp_db_primary is '%s', which is not in the databases group (%s); set it to one of them"
        % (value, name_hosts([host.name for host in dbs], topo.limit)),
    )
    return None


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


ALL_RULES = (rule_tiers, rule_multi_tier, rule_racks_and_sites)


def run_all(topo, findings):
    """Run every rule; returns the primary database host name (or None)."""
    for rule in ALL_RULES:
        rule(topo, findings)
    by_address = rule_addresses(topo, findings)
    rule_vips(topo, findings, by_address)
    return rule_databases(topo, findings)
