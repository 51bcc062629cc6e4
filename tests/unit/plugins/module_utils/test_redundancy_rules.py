"""Unit tests of the redundancy rules: each case breaks (or varies) the lab inventory once and
asserts the exact findings: severity, rule id, tier, hosts and message."""

import pytest

from ansible_collections.onprem.ha_lamp.plugins.module_utils.redundancy import RULES, validate

from .inventory_cases import assert_case, set_all, set_host, unset_all
from .inventory_cases import lab as _lab_base

# The lab's two network planes and management addresses (inventories/lab/group_vars/all/cluster.yml).
PLANES = {
    "ha_lamp_vips": [
        {"name": "public", "address": "10.213.77.100/24", "vrid": 51, "purpose": "public"},
        {"name": "internal", "address": "10.213.77.101/24", "vrid": 52, "purpose": "internal"},
    ],
    "ha_lamp_controller_addresses": ["10.213.77.1"],
    "ha_lamp_admin_networks": ["10.213.77.1/32"],
}


PUBLIC_VIP, INTERNAL_VIP = PLANES["ha_lamp_vips"]


def lab():
    """The lab inventory with its public and internal VIPs, controller and admin network."""
    inventory = _lab_base()
    for var, value in PLANES.items():
        set_all(inventory, var, value)
    return inventory


def vips(inventory, value):
    """Replace ha_lamp_vips; these cases test one VIP fault each, so the database may share the public VIP."""
    set_all(inventory, "ha_lamp_vips", value)
    set_all(inventory, "ha_lamp_db_public_vip_allowed", True)


CASES = [
    pytest.param(
        lambda i: (
            set_all(i, "ha_lamp_failure_domain", "site"),
            [
                set_host(i, h, site=s)
                for h, s in (("lb1", "a"), ("lb2", "b"), ("web1", "a"), ("web2", "b"), ("db1", "a"), ("db2", "b"), ("db3", "c"))
            ],
        ),
        [],
        id="site_level_three_sites_ok",
    ),
    pytest.param(
        lambda i: (
            vips(i, [{"name": "public", "address": "fd00:77::100/64", "vrid": 51}]),
            set_host(i, "lb1", ansible_host="fd00:77::11"),
            set_host(i, "lb2", ansible_host="fd00:77:0:0::12"),
        ),
        [],
        id="ipv6_ok",
    ),
    pytest.param(
        lambda i: [set_host(i, h, ansible_host="%s.example.com" % h) for h in ("web1", "web2", "db1", "db2", "db3")],
        [],
        id="dns_names_for_non_lb_hosts_ok",
    ),
    pytest.param(
        lambda i: i["groups"].pop("webservers"),
        [
            (
                "error",
                "TIER_MISSING",
                "webservers",
                (),
                "webservers: the group is not defined; add at least 2 hosts in different failure domains to it",
            ),
        ],
        id="tier_missing",
    ),
    pytest.param(
        lambda i: i["groups"].__setitem__("webservers", []),
        [
            (
                "error",
                "TIER_MISSING",
                "webservers",
                (),
                "webservers: the group is empty; add at least 2 hosts in different failure domains to it",
            ),
        ],
        id="tier_empty",
    ),
    pytest.param(
        lambda i: i["groups"].__setitem__("webservers", "web1"),
        [
            (
                "error",
                "GROUP_MALFORMED",
                "webservers",
                (),
                "webservers: the group is a string ('web1'), not a list of host names; define it as an inventory group with hosts",
            ),
        ],
        id="group_malformed_str",
    ),
    pytest.param(
        lambda i: i["groups"].__setitem__("webservers", ["web1", "web2", 7]),
        [
            (
                "error",
                "GROUP_MALFORMED",
                "webservers",
                (),
                "webservers: the group contains an integer (7), not a host name; list host names only",
            ),
        ],
        id="group_member_not_str",
    ),
    pytest.param(
        lambda i: i["groups"].__setitem__("webservers", ["web1"]),
        [
            (
                "error",
                "TIER_TOO_FEW_HOSTS",
                "webservers",
                ("web1",),
                "webservers: only web1; add a second host in another rack so losing one host keeps a web server",
            ),
        ],
        id="too_few",
    ),
    pytest.param(
        lambda i: set_host(i, "lb2", rack="r1"),
        [
            (
                "error",
                "TIER_SINGLE_DOMAIN",
                "loadbalancers",
                ("lb1", "lb2"),
                "loadbalancers: lb1 and lb2 are both in rack 'r1' (var rack); place them in at least 2 racks so losing one rack keeps a load balancer",
            ),
        ],
        id="lb_same_rack",
    ),
    pytest.param(
        lambda i: [set_host(i, h, rack="r1") for h in ("db2", "db3")],
        [
            (
                "error",
                "TIER_SINGLE_DOMAIN",
                "databases",
                ("db1", "db2", "db3"),
                "databases: db1, db2 and db3 are all in rack 'r1' (var rack); place them in at least 2 racks so losing one rack keeps a database",
            ),
            (
                "error",
                "DB_NO_REMOTE_REPLICA",
                "databases",
                ("db1", "db2", "db3"),
                ("databases: primary db1 is in rack 'r1' (var rack) and its replicas db2 and db3 are in the same rack; put at least one replica in "
                 "another rack, or semi-sync protects nothing against losing rack 'r1'"),
            ),
            (
                "error",
                "DCS_DOMAIN_MAJORITY",
                "dcs",
                ("db1", "db2", "db3"),
                ("dcs: rack 'r1' (var rack) holds 3 of the 3 etcd members (db1, db2 and db3); losing it leaves 0, short of the quorum of 2, so "
                 "automatic failover stops; spread the members so that no rack holds more than 1"),
            ),
        ],
        id="db_same_rack",
    ),
    pytest.param(
        # etcd members kept one per rack: only the replica moves
        lambda i: (set_host(i, "db2", rack="r1"), i["groups"].__setitem__("dcs", ["db1", "db3", "web2"])),
        [
            (
                "warning",
                "DB_REPLICA_SHARES_PRIMARY_DOMAIN",
                "databases",
                ("db1", "db2"),
                ("databases: replica db2 shares rack 'r1' with primary db1; its semi-sync acknowledgement can satisfy a commit that then dies with "
                 "the rack; move it to another rack"),
            ),
        ],
        id="db_replica_shares",
    ),
    pytest.param(
        lambda i: i["hostvars"]["web2"].pop("rack"),
        [
            (
                "error",
                "RACK_MISSING",
                "webservers",
                ("web2",),
                "webservers: web2 has no rack (var rack); set rack to the rack name of every cluster host so the validator can check the spread",
            ),
        ],
        id="rack_missing",
    ),
    pytest.param(
        lambda i: set_host(i, "db3", rack=["r3", "r4"]),
        [
            (
                "error",
                "RACK_INVALID",
                "databases",
                ("db3",),
                'db3: rack ["r3", "r4"] is a list, not a string; set exactly one rack name per host, as a string',
            ),
        ],
        id="rack_list",
    ),
    pytest.param(
        lambda i: set_host(i, "db3", rack=3),
        [
            ("error", "RACK_INVALID", "databases", ("db3",), 'db3: rack 3 is an integer, not a string; quote it (rack: "3")'),
        ],
        id="rack_int",
    ),
    pytest.param(
        lambda i: set_host(i, "db3", rack=" "),
        [
            (
                "error",
                "RACK_INVALID",
                "databases",
                ("db3",),
                "db3: rack ' ' is empty; set it to a non-empty name without surrounding spaces",
            ),
        ],
        id="rack_empty",
    ),
    pytest.param(
        lambda i: set_host(i, "db3", site={"a": 1}),
        [
            (
                "error",
                "SITE_INVALID",
                "databases",
                ("db3",),
                'db3: site {"a": 1} is a mapping, not a string; set exactly one site name per host, as a string',
            ),
            (
                "warning",
                "SITE_PARTIAL",
                "cluster",
                ("db1", "db2", "lb1", "lb2", "web1", "web2"),
                "site is set on some hosts but not on lb1, lb2, web1, web2, db1 and db2, which count as site 'default'; set site on every host or on none",
            ),
        ],
        id="site_invalid",
    ),
    pytest.param(
        lambda i: set_host(i, "db3", site="dc2"),
        [
            (
                "warning",
                "SITE_PARTIAL",
                "cluster",
                ("db1", "db2", "lb1", "lb2", "web1", "web2"),
                "site is set on some hosts but not on lb1, lb2, web1, web2, db1 and db2, which count as site 'default'; set site on every host or on none",
            ),
            (
                "warning",
                "TIER_SINGLE_SITE",
                "loadbalancers",
                ("lb1", "lb2"),
                ("loadbalancers: every host (lb1 and lb2) is in site 'default' (var site) while the cluster spans sites 'dc2', 'default'; losing "
                 "site 'default' stops the loadbalancers tier; add a host in another site"),
            ),
            (
                "warning",
                "TIER_SINGLE_SITE",
                "webservers",
                ("web1", "web2"),
                ("webservers: every host (web1 and web2) is in site 'default' (var site) while the cluster spans sites 'dc2', 'default'; losing site "
                 "'default' stops the webservers tier; add a host in another site"),
            ),
            (
                "warning",
                "DB_EVEN_SITES",
                "databases",
                ("db1", "db2", "db3"),
                ("databases: spread over 2 sites (dc2, default) with no cluster host in another site to break a tie; after a split between the sites "
                 "neither side can tell it holds the majority, so failover across sites must stay manual; add a host (replica or witness) in a third "
                 "site"),
            ),
        ],
        id="site_partial",
    ),
    pytest.param(
        lambda i: [
            set_host(i, h, site=s)
            for h, s in (("lb1", "a"), ("lb2", "a"), ("web1", "a"), ("web2", "b"), ("db1", "a"), ("db2", "b"), ("db3", "c"))
        ],
        [
            (
                "warning",
                "TIER_SINGLE_SITE",
                "loadbalancers",
                ("lb1", "lb2"),
                ("loadbalancers: every host (lb1 and lb2) is in site 'a' (var site) while the cluster spans sites 'a', 'b', 'c'; losing site 'a' "
                 "stops the loadbalancers tier; add a host in another site"),
            ),
        ],
        id="multi_site_single_site_tier",
    ),
    pytest.param(
        lambda i: [
            set_host(i, h, site=s)
            for h, s in (("lb1", "a"), ("lb2", "b"), ("web1", "a"), ("web2", "b"), ("db1", "a"), ("db2", "b"), ("db3", "b"))
        ],
        [
            (
                "warning",
                "DB_EVEN_SITES",
                "databases",
                ("db1", "db2", "db3"),
                ("databases: spread over 2 sites (a, b) with no cluster host in another site to break a tie; after a split between the sites neither "
                 "side can tell it holds the majority, so failover across sites must stay manual; add a host (replica or witness) in a third site"),
            ),
        ],
        id="even_sites",
    ),
    pytest.param(
        lambda i: (set_all(i, "ha_lamp_failure_domain", "site")),
        [
            (
                "error",
                "TIER_SINGLE_DOMAIN",
                "loadbalancers",
                ("lb1", "lb2"),
                "loadbalancers: lb1 and lb2 are both in site 'default' (var site); place them in at least 2 sites so losing one site keeps a load balancer",
            ),
            (
                "error",
                "TIER_SINGLE_DOMAIN",
                "webservers",
                ("web1", "web2"),
                "webservers: web1 and web2 are both in site 'default' (var site); place them in at least 2 sites so losing one site keeps a web server",
            ),
            (
                "error",
                "TIER_SINGLE_DOMAIN",
                "databases",
                ("db1", "db2", "db3"),
                "databases: db1, db2 and db3 are all in site 'default' (var site); place them in at least 2 sites so losing one site keeps a database",
            ),
            (
                "error",
                "DB_NO_REMOTE_REPLICA",
                "databases",
                ("db1", "db2", "db3"),
                ("databases: primary db1 is in site 'default' (var site) and its replicas db2 and db3 are in the same site; put at least one replica "
                 "in another site, or semi-sync protects nothing against losing site 'default'"),
            ),
            (
                "error",
                "DCS_DOMAIN_MAJORITY",
                "dcs",
                ("db1", "db2", "db3"),
                ("dcs: site 'default' (var site) holds 3 of the 3 etcd members (db1, db2 and db3); losing it leaves 0, short of the quorum of 2, so "
                 "automatic failover stops; spread the members so that no site holds more than 1"),
            ),
        ],
        id="site_level_single",
    ),
    pytest.param(
        lambda i: set_all(i, "ha_lamp_failure_domain", "row"),
        [
            ("error", "FAILURE_DOMAIN_INVALID", "cluster", (), "ha_lamp_failure_domain is 'row'; set it to 'rack' (default) or 'site'"),
        ],
        id="failure_domain_invalid",
    ),
    pytest.param(
        lambda i: set_host(i, "db3", ha_lamp_failure_domain="site"),
        [
            (
                "error",
                "CLUSTER_VAR_CONFLICT",
                "cluster",
                ("db1", "db2", "db3", "lb1", "lb2", "web1", "web2"),
                ("ha_lamp_failure_domain differs between hosts: 'rack' on lb1, lb2, web1, web2, db1 and db2; 'site' on db3; set it once for the "
                 "whole cluster (group_vars/all)"),
            ),
        ],
        id="failure_domain_conflict",
    ),
    pytest.param(
        lambda i: i["groups"]["webservers"].append("db3"),
        [
            (
                "warning",
                "HOST_MULTI_TIER",
                "webservers",
                ("db3",),
                "db3 is in webservers and databases: losing it takes one member from each of these tiers at once; give each tier its own hosts",
            ),
        ],
        id="multi_tier",
    ),
    pytest.param(
        lambda i: set_host(i, "web2", ansible_host="10.213.77.21"),
        [
            (
                "error",
                "ADDRESS_DUPLICATE",
                "webservers",
                ("web1", "web2"),
                "web1 and web2 share the address 10.213.77.21: web1 (ansible_host), web2 (ansible_host); give every host its own address",
            ),
        ],
        id="address_dup",
    ),
    pytest.param(
        lambda i: set_host(i, "db2", ansible_host="10.213.77.320"),
        [
            (
                "error",
                "ADDRESS_INVALID",
                "databases",
                ("db2",),
                "db2: ansible_host '10.213.77.320' does not parse as an IP address; set it to the host's IP address or DNS name",
            ),
        ],
        id="address_bad",
    ),
    pytest.param(
        lambda i: set_host(i, "db2", ansible_host=["10.213.77.32"]),
        [
            (
                "error",
                "ADDRESS_INVALID",
                "databases",
                ("db2",),
                'db2: ansible_host ["10.213.77.32"] is a list, not an address string; set it to the host\'s IP address or DNS name',
            ),
        ],
        id="address_list",
    ),
    pytest.param(
        lambda i: set_host(i, "db2", ansible_host="db2.example.com"),
        [],
        id="address_dns_ok",
    ),
    pytest.param(
        lambda i: set_host(i, "db2", ansible_host="db2_bad.example.com"),
        [
            (
                "error",
                "ADDRESS_INVALID",
                "databases",
                ("db2",),
                "db2: ansible_host 'db2_bad.example.com' is neither an IP address nor a valid DNS name; set it to the host's IP address or DNS name",
            ),
        ],
        id="address_dns_bad",
    ),
    pytest.param(
        lambda i: set_host(i, "lb1", ha_lamp_vrrp_address="not-an-ip"),
        [
            (
                "error",
                "ADDRESS_INVALID",
                "loadbalancers",
                ("lb1",),
                "lb1: ha_lamp_vrrp_address 'not-an-ip' does not parse as an IP address; set it to the host's IP address on the VRRP segment (A.B.C.D)",
            ),
        ],
        id="vrrp_addr_bad",
    ),
    pytest.param(
        lambda i: set_host(i, "lb1", ha_lamp_vrrp_address="10.213.77.12"),
        [
            (
                "error",
                "ADDRESS_DUPLICATE",
                "loadbalancers",
                ("lb1", "lb2"),
                "lb1 and lb2 share the address 10.213.77.12: lb1 (ha_lamp_vrrp_address), lb2 (ansible_host); give every host its own address",
            ),
        ],
        id="vrrp_addr_dup",
    ),
    pytest.param(
        lambda i: set_host(i, "lb1", ansible_host="lb1.example.com"),
        [
            (
                "error",
                "LB_ADDRESS_NOT_IP",
                "loadbalancers",
                ("lb1",),
                "lb1: no IP address on the VRRP segment (ansible_host is 'lb1.example.com'); set ha_lamp_vrrp_address to its IP address in the VIP subnet",
            ),
        ],
        id="lb_dns_only",
    ),
    pytest.param(
        lambda i: unset_all(i, "ha_lamp_vips"),
        [
            (
                "error",
                "VIPS_MISSING",
                "loadbalancers",
                ("lb1", "lb2"),
                ("loadbalancers: ha_lamp_vips is unset on lb1 and lb2; define at least one VIP ({name, address: A.B.C.D/len, vrid: 1-255}) in "
                 "group_vars/all so clients have an address that survives the loss of a load balancer"),
            ),
        ],
        id="vips_missing",
    ),
    pytest.param(
        lambda i: vips(i, []),
        [
            (
                "error",
                "VIPS_MISSING",
                "loadbalancers",
                ("lb1", "lb2"),
                ("loadbalancers: ha_lamp_vips is an empty list on lb1 and lb2; define at least one VIP ({name, address: A.B.C.D/len, vrid: 1-255}) "
                 "in group_vars/all so clients have an address that survives the loss of a load balancer"),
            ),
        ],
        id="vips_empty",
    ),
    pytest.param(
        lambda i: vips(i, "10.213.77.100/24"),
        [
            (
                "error",
                "VIPS_MALFORMED",
                "loadbalancers",
                ("lb1", "lb2"),
                "loadbalancers: ha_lamp_vips is a string ('10.213.77.100/24'), not a list; write it as a list of mappings ({name, address: A.B.C.D/len, vrid})",
            ),
        ],
        id="vips_string",
    ),
    pytest.param(
        lambda i: set_host(i, "lb2", ha_lamp_vips=[{"name": "public", "address": "10.213.77.101/24", "vrid": 51}]),
        [
            (
                "error",
                "CLUSTER_VAR_CONFLICT",
                "loadbalancers",
                ("lb1", "lb2"),
                'ha_lamp_vips differs between hosts: [{"address": "10.213.77.100/24", "name": "public", "purpose": "public", "vrid": 51}, '
                '{"address": "10.213.77.101/24", "name": "internal", "purpose": "internal... on lb1; '
                '[{"address": "10.213.77.101/24", "name": "public", "vrid": 51}] on lb2; set it once for the whole cluster (group_vars/all)',
            ),
        ],
        id="vips_conflict",
    ),
    pytest.param(
        lambda i: i["hostvars"]["lb2"].pop("ha_lamp_vips"),
        [
            (
                "error",
                "CLUSTER_VAR_CONFLICT",
                "loadbalancers",
                ("lb1", "lb2"),
                'ha_lamp_vips differs between hosts: [{"address": "10.213.77.100/24", "name": "public", "purpose": "public", "vrid": 51}, '
                '{"address": "10.213.77.101/24", "name": "internal", "purpose": "internal... on lb1; '
                "unset on lb2; set it once for the whole cluster (group_vars/all)",
            ),
        ],
        id="vips_unset_on_one_lb",
    ),
    pytest.param(
        lambda i: vips(i, ["10.213.77.100/24"]),
        [
            (
                "error",
                "VIP_MALFORMED",
                "loadbalancers",
                ("lb1", "lb2"),
                "loadbalancers: ha_lamp_vips[0] is a string ('10.213.77.100/24'), not a mapping; write it as {name: ..., address: A.B.C.D/len, vrid: N}",
            ),
        ],
        id="vip_not_dict",
    ),
    pytest.param(
        lambda i: vips(i, [{"name": "public", "address": "10.213.77.100/24", "vrid": 51, "vird": 5}]),
        [
            (
                "warning",
                "VIP_UNKNOWN_KEY",
                "loadbalancers",
                ("lb1", "lb2"),
                ("loadbalancers: VIP 'public' has unknown key(s) vird; the known keys are name, address, vrid, interface, purpose (a typo leaves the "
                 "real key unset)"),
            ),
        ],
        id="vip_unknown_key",
    ),
    pytest.param(
        lambda i: vips(i, [{"address": "10.213.77.100/24", "vrid": 51}]),
        [
            (
                "error",
                "VIP_NAME_INVALID",
                "loadbalancers",
                ("lb1", "lb2"),
                "loadbalancers: ha_lamp_vips[0] name is missing; give every VIP a unique non-empty name (e.g. public)",
            ),
        ],
        id="vip_name_missing",
    ),
    pytest.param(
        lambda i: vips(
            i,
            [{"name": "public", "address": "10.213.77.100/24", "vrid": 51}, {"name": "public", "address": "10.213.77.101/24", "vrid": 52}],
        ),
        [
            (
                "error",
                "VIP_NAME_DUPLICATE",
                "loadbalancers",
                ("lb1", "lb2"),
                "loadbalancers: VIP name 'public' is used by ha_lamp_vips[0] and ha_lamp_vips[1]; give every VIP a unique name",
            ),
        ],
        id="vip_name_dup",
    ),
    pytest.param(
        lambda i: vips(i, [{"name": "public", "address": "10.213.77.100", "vrid": 51}]),
        [
            (
                "error",
                "VIP_ADDRESS_INVALID",
                "loadbalancers",
                ("lb1", "lb2"),
                "loadbalancers: VIP 'public' address is '10.213.77.100', not 'A.B.C.D/len'; write it as address/prefix length, e.g. 10.0.0.100/24",
            ),
        ],
        id="vip_no_len",
    ),
    pytest.param(
        lambda i: vips(i, [{"name": "public", "address": "10.213.77.300/24", "vrid": 51}]),
        [
            (
                "error",
                "VIP_ADDRESS_INVALID",
                "loadbalancers",
                ("lb1", "lb2"),
                "loadbalancers: VIP 'public' address '10.213.77.300/24' does not parse; write it as address/prefix length, e.g. 10.0.0.100/24",
            ),
        ],
        id="vip_unparseable",
    ),
    pytest.param(
        lambda i: vips(i, [{"name": "public", "address": "10.213.77.0/24", "vrid": 51}]),
        [
            (
                "error",
                "VIP_ADDRESS_INVALID",
                "loadbalancers",
                ("lb1", "lb2"),
                "loadbalancers: VIP 'public' address 10.213.77.0/24 is the network address of 10.213.77.0/24; pick a free host address inside the subnet",
            ),
        ],
        id="vip_network_addr",
    ),
    pytest.param(
        lambda i: vips(
            i,
            [
                {"name": "public", "address": "10.213.77.100/24", "vrid": 51},
                {"name": "internal", "address": "10.213.77.100/24", "vrid": 52},
            ],
        ),
        [
            (
                "error",
                "VIP_ADDRESS_DUPLICATE",
                "loadbalancers",
                ("lb1", "lb2"),
                "loadbalancers: VIP 'public' and VIP 'internal' both use address 10.213.77.100; give every VIP its own address",
            ),
        ],
        id="vip_addr_dup",
    ),
    pytest.param(
        lambda i: vips(i, [{"name": "public", "address": "10.213.77.21/24", "vrid": 51}]),
        [
            (
                "error",
                "VIP_ADDRESS_CONFLICT",
                "loadbalancers",
                ("web1",),
                ("loadbalancers: VIP 'public' address 10.213.77.21 is also web1's ansible_host; a VIP must be an otherwise unused address, pick a "
                 "free one in 10.213.77.0/24"),
            ),
        ],
        id="vip_is_host",
    ),
    pytest.param(
        lambda i: vips(i, [{"name": "public", "address": "10.30.0.100/24", "vrid": 51}]),
        [
            (
                "error",
                "VIP_OUTSIDE_LB_SUBNET",
                "loadbalancers",
                ("lb1", "lb2"),
                ("loadbalancers: VIP 'public' 10.30.0.100/24 is outside the subnet 10.30.0.0/24 of lb1 (ansible_host 10.213.77.11), lb2 "
                 "(ansible_host 10.213.77.12); keepalived can only move the VIP between LBs on its segment: put the VIP in the LBs' subnet, or set "
                 "ha_lamp_vrrp_address to each LB's address on the VIP's segment"),
            ),
        ],
        id="vip_outside",
    ),
    pytest.param(
        lambda i: set_host(i, "lb2", ha_lamp_vrrp_address="10.213.78.12"),
        [
            (
                "error",
                "VIP_OUTSIDE_LB_SUBNET",
                "loadbalancers",
                ("lb2",),
                ("loadbalancers: VIP 'public' 10.213.77.100/24 is outside the subnet 10.213.77.0/24 of lb2 (ha_lamp_vrrp_address 10.213.78.12); "
                 "keepalived can only move the VIP between LBs on its segment: put the VIP in the LBs' subnet, or set ha_lamp_vrrp_address to each "
                 "LB's address on the VIP's segment"),
            ),
            (
                "error",
                "VIP_OUTSIDE_LB_SUBNET",
                "loadbalancers",
                ("lb2",),
                ("loadbalancers: VIP 'internal' 10.213.77.101/24 is outside the subnet 10.213.77.0/24 of lb2 (ha_lamp_vrrp_address 10.213.78.12); "
                 "keepalived can only move the VIP between LBs on its segment: put the VIP in the LBs' subnet, or set ha_lamp_vrrp_address to each "
                 "LB's address on the VIP's segment"),
            ),
        ],
        id="vip_outside_one_lb",
    ),
    pytest.param(
        lambda i: (
            vips(i, [{"name": "public", "address": "192.168.50.100/24", "vrid": 51}]),
            set_host(i, "lb1", ha_lamp_vrrp_address="192.168.50.11"),
            set_host(i, "lb2", ha_lamp_vrrp_address="192.168.50.12/24"),
        ),
        [],
        id="vip_vrrp_ok",
    ),
    pytest.param(
        lambda i: vips(i, [{"name": "public", "address": "10.213.77.100/24", "vrid": "51"}]),
        [
            (
                "error",
                "VIP_VRID_INVALID",
                "loadbalancers",
                ("lb1", "lb2"),
                ("loadbalancers: VIP 'public' vrid is '51', not an integer; set vrid to an integer 1-255, unique on the segment and not used by "
                 "another VRRP cluster there"),
            ),
        ],
        id="vrid_str",
    ),
    pytest.param(
        lambda i: vips(i, [{"name": "public", "address": "10.213.77.100/24", "vrid": 0}]),
        [
            (
                "error",
                "VIP_VRID_INVALID",
                "loadbalancers",
                ("lb1", "lb2"),
                ("loadbalancers: VIP 'public' vrid is 0, outside 1-255; set vrid to an integer 1-255, unique on the segment and not used by another "
                 "VRRP cluster there"),
            ),
        ],
        id="vrid_range",
    ),
    pytest.param(
        lambda i: vips(i, [{"name": "public", "address": "10.213.77.100/24", "vrid": True}]),
        [
            (
                "error",
                "VIP_VRID_INVALID",
                "loadbalancers",
                ("lb1", "lb2"),
                ("loadbalancers: VIP 'public' vrid is true, not an integer; set vrid to an integer 1-255, unique on the segment and not used by "
                 "another VRRP cluster there"),
            ),
        ],
        id="vrid_bool",
    ),
    pytest.param(
        lambda i: vips(
            i,
            [
                {"name": "public", "address": "10.213.77.100/24", "vrid": 51},
                {"name": "internal", "address": "10.213.77.101/24", "vrid": 51},
            ],
        ),
        [
            (
                "error",
                "VIP_VRID_DUPLICATE",
                "loadbalancers",
                ("lb1", "lb2"),
                ("loadbalancers: VIP 'public' and VIP 'internal' use vrid 51 on the same VRRP segment (the load balancers' default VRRP interface); "
                 "give each VIP its own vrid (1-255)"),
            ),
        ],
        id="vrid_dup",
    ),
    pytest.param(
        lambda i: vips(
            i,
            [
                {"name": "public", "address": "10.213.77.100/24", "vrid": 51, "interface": "eth0"},
                {"name": "internal", "address": "10.213.77.101/24", "vrid": 51, "interface": "eth1"},
            ],
        ),
        [],
        id="vrid_dup_other_iface_ok",
    ),
    pytest.param(
        lambda i: vips(
            i,
            [
                {"name": "public", "address": "10.213.77.100/24", "vrid": 51, "interface": "eth0"},
                {"name": "internal", "address": "10.213.77.101/24", "vrid": 51, "interface": "eth0"},
            ],
        ),
        [
            (
                "error",
                "VIP_VRID_DUPLICATE",
                "loadbalancers",
                ("lb1", "lb2"),
                "loadbalancers: VIP 'public' and VIP 'internal' use vrid 51 on the same VRRP segment (interface eth0); give each VIP its own vrid (1-255)",
            ),
        ],
        id="vrid_dup_same_iface",
    ),
    pytest.param(
        lambda i: vips(i, [{"name": "public", "address": "10.213.77.100/24", "vrid": 51, "interface": ""}]),
        [
            (
                "error",
                "VIP_INTERFACE_INVALID",
                "loadbalancers",
                ("lb1", "lb2"),
                "loadbalancers: VIP 'public' interface is ''; set it to the LBs' network interface name (e.g. eth0) or leave it out",
            ),
        ],
        id="iface_bad",
    ),
    pytest.param(
        lambda i: set_all(i, "ha_lamp_db_primary", "db9"),
        [
            (
                "error",
                "DB_PRIMARY_NOT_IN_DATABASES",
                "databases",
                ("db9",),
                "databases: ha_lamp_db_primary is 'db9', which is not in the databases group (db1, db2 and db3); set it to one of them",
            ),
        ],
        id="primary_unknown",
    ),
    pytest.param(
        lambda i: set_all(i, "ha_lamp_db_primary", ["db1"]),
        [
            (
                "error",
                "DB_PRIMARY_INVALID",
                "databases",
                (),
                'databases: ha_lamp_db_primary is ["db1"]; set it to the inventory name of one databases host (e.g. db1)',
            ),
        ],
        id="primary_list",
    ),
    pytest.param(
        lambda i: set_host(i, "db3", ha_lamp_db_primary="db2"),
        [
            (
                "error",
                "CLUSTER_VAR_CONFLICT",
                "databases",
                ("db1", "db2", "db3", "lb1", "lb2", "web1", "web2"),
                ("ha_lamp_db_primary differs between hosts: 'db1' on lb1, lb2, web1, web2, db1 and db2; 'db2' on db3; set it once for the whole "
                 "cluster (group_vars/all)"),
            ),
        ],
        id="primary_conflict",
    ),
    pytest.param(
        lambda i: unset_all(i, "ha_lamp_db_primary"),
        [],
        id="primary_unset_ok",
    ),
    pytest.param(
        lambda i: (set_host(i, "db1", mysql_server_id=1), set_host(i, "db2", mysql_server_id=1)),
        [
            (
                "error",
                "DB_SERVER_ID_DUPLICATE",
                "databases",
                ("db1", "db2"),
                ("databases: db1 and db2 share mysql_server_id 1; replication ignores events from its own server id, so give every database a unique "
                 "mysql_server_id"),
            ),
        ],
        id="server_id_dup",
    ),
    pytest.param(
        lambda i: set_host(i, "db1", mysql_server_id="1"),
        [
            (
                "error",
                "DB_SERVER_ID_INVALID",
                "databases",
                ("db1",),
                "db1: mysql_server_id '1' is not an integer; set a unique integer 1-4294967295 or leave it unset to derive one",
            ),
        ],
        id="server_id_str",
    ),
    pytest.param(
        lambda i: set_host(i, "db1", mysql_server_id=0),
        [
            (
                "error",
                "DB_SERVER_ID_INVALID",
                "databases",
                ("db1",),
                "db1: mysql_server_id 0 is outside 1-4294967295; set a unique integer 1-4294967295 or leave it unset to derive one",
            ),
        ],
        id="server_id_range",
    ),
    pytest.param(
        lambda i: [set_host(i, h, mysql_server_id=n) for n, h in enumerate(("db1", "db2", "db3"), 1)],
        [],
        id="server_id_ok",
    ),
    pytest.param(
        lambda i: i["hostvars"].pop("web2"),
        [
            (
                "error",
                "RACK_MISSING",
                "webservers",
                ("web2",),
                "webservers: web2 has no rack (var rack); set rack to the rack name of every cluster host so the validator can check the spread",
            ),
        ],
        id="host_without_vars",
    ),
    # -- automatic failover: dcs (etcd members), leader lease, promotion eligibility --
    pytest.param(
        lambda i: i["groups"].pop("dcs"),
        [
            (
                "error",
                "DCS_MISSING",
                "dcs",
                (),
                ("dcs: the group is not defined, but automatic database failover needs etcd members to hold the leader lease; add a group dcs with 3 "
                 "or 5 hosts in different racks (for example the databases hosts)"),
            ),
        ],
        id="dcs_missing",
    ),
    pytest.param(
        lambda i: i["groups"].__setitem__("dcs", []),
        [
            (
                "error",
                "DCS_MISSING",
                "dcs",
                (),
                ("dcs: the group is empty, but automatic database failover needs etcd members to hold the leader lease; add a group dcs with 3 or 5 "
                 "hosts in different racks (for example the databases hosts)"),
            ),
        ],
        id="dcs_empty",
    ),
    pytest.param(
        lambda i: i["groups"].__setitem__("dcs", "db1,db2,db3"),
        [
            (
                "error",
                "GROUP_MALFORMED",
                "dcs",
                (),
                "dcs: the group is a string ('db1,db2,db3'), not a list of host names; define it as an inventory group with hosts",
            ),
        ],
        id="dcs_malformed",
    ),
    pytest.param(
        lambda i: (i["groups"].pop("databases"), i["groups"].pop("dcs")),
        [
            (
                "error",
                "TIER_MISSING",
                "databases",
                (),
                "databases: the group is not defined; add at least 2 hosts in different failure domains to it",
            ),
        ],
        id="dcs_without_databases",
    ),
    pytest.param(
        lambda i: i["groups"].__setitem__("dcs", ["db1"]),
        [
            (
                "error",
                "DCS_SIZE",
                "dcs",
                ("db1",),
                "dcs: 1 member (db1), fewer than 3: losing it loses the etcd quorum (1 of 1) and automatic failover stops; use 3 or 5 hosts in different racks",
            ),
        ],
        id="dcs_one",
    ),
    pytest.param(
        lambda i: i["groups"].__setitem__("dcs", ["db1", "db2"]),
        [
            (
                "error",
                "DCS_SIZE",
                "dcs",
                ("db1", "db2"),
                ("dcs: 2 members (db1 and db2), fewer than 3: losing one loses the etcd quorum (2 of 2) and automatic failover stops; use 3 or 5 "
                 "hosts in different racks"),
            ),
        ],
        id="dcs_two",
    ),
    pytest.param(
        lambda i: (set_host(i, "web1", rack="r4"), i["groups"].__setitem__("dcs", ["db1", "db2", "db3", "web1"])),
        [
            (
                "error",
                "DCS_SIZE",
                "dcs",
                ("db1", "db2", "db3", "web1"),
                ("dcs: 4 members (db1, db2, db3 and web1), an even number: the quorum is 3 of 4, so it survives 1 lost member, no more than 3 "
                 "members would; use an odd number of hosts (3 or 5) in different racks"),
            ),
        ],
        id="dcs_four",
    ),
    pytest.param(
        lambda i: i["groups"].__setitem__("dcs", ["db1", "db2", "db3", "web1", "web2"]),
        [],
        id="dcs_five_ok",
    ),
    pytest.param(
        lambda i: i["groups"].__setitem__("dcs", ["db1", "db2", "web1"]),
        [
            (
                "error",
                "DCS_DOMAIN_MAJORITY",
                "dcs",
                ("db1", "web1"),
                ("dcs: rack 'r1' (var rack) holds 2 of the 3 etcd members (db1 and web1); losing it leaves 1, short of the quorum of 2, so automatic "
                 "failover stops; spread the members so that no rack holds more than 1"),
            ),
        ],
        id="dcs_domain_majority",
    ),
    pytest.param(
        lambda i: i["groups"].__setitem__("dcs", ["db1", "db2", "db3", "web1", "lb1"]),
        [
            (
                "error",
                "DCS_DOMAIN_MAJORITY",
                "dcs",
                ("db1", "lb1", "web1"),
                ("dcs: rack 'r1' (var rack) holds 3 of the 5 etcd members (db1, web1 and lb1); losing it leaves 2, short of the quorum of 3, so "
                 "automatic failover stops; spread the members so that no rack holds more than 2"),
            ),
        ],
        id="dcs_five_domain_majority",
    ),
    pytest.param(
        lambda i: (i["groups"].__setitem__("dcs", ["db1", "db2", "etcd1"]), set_host(i, "etcd1", ansible_host="10.213.77.41", rack="r3")),
        [],
        id="dcs_only_host_ok",
    ),
    pytest.param(
        lambda i: (i["groups"].__setitem__("dcs", ["db1", "db2", "etcd1"]), set_host(i, "etcd1", ansible_host="10.213.77.41")),
        [
            (
                "error",
                "RACK_MISSING",
                "dcs",
                ("etcd1",),
                "dcs: etcd1 has no rack (var rack); set rack to the rack name of every cluster host so the validator can check the spread",
            ),
        ],
        id="dcs_only_host_rack_missing",
    ),
    pytest.param(
        lambda i: set_all(i, "ha_lamp_db_lease_ttl", 4),
        [
            (
                "error",
                "DB_LEASE_TTL_TOO_SHORT",
                "databases",
                (),
                ("databases: ha_lamp_db_lease_ttl is 4 s, below the minimum of 5 s = haproxy_db_check_inter 1s x haproxy_db_check_fall 2 + 2 s "
                 "margin + 1 s renewal slack, rounded up (HAProxy needs 2 s to stop sending writes to a dead primary, and that primary's lease must "
                 "outlast it before another node is promoted); set ha_lamp_db_lease_ttl to 5 or more, or shorten the HAProxy DB check"),
            ),
        ],
        id="lease_short",
    ),
    pytest.param(
        lambda i: set_all(i, "haproxy_db_check_inter", "3s"),
        [
            (
                "error",
                "DB_LEASE_TTL_TOO_SHORT",
                "databases",
                (),
                ("databases: ha_lamp_db_lease_ttl is 8 s (the default), below the minimum of 9 s = haproxy_db_check_inter 3s x haproxy_db_check_fall "
                 "2 + 2 s margin + 1 s renewal slack, rounded up (HAProxy needs 6 s to stop sending writes to a dead primary, and that primary's "
                 "lease must outlast it before another node is promoted); set ha_lamp_db_lease_ttl to 9 or more, or shorten the HAProxy DB check"),
            ),
        ],
        id="lease_default_too_short",
    ),
    pytest.param(
        lambda i: (set_all(i, "haproxy_db_check_inter", "500ms"), set_all(i, "haproxy_db_check_fall", 3), set_all(i, "ha_lamp_db_lease_ttl", 4)),
        [
            (
                "error",
                "DB_LEASE_TTL_TOO_SHORT",
                "databases",
                (),
                ("databases: ha_lamp_db_lease_ttl is 4 s, below the minimum of 5 s = haproxy_db_check_inter 500ms x haproxy_db_check_fall 3 + 2 s "
                 "margin + 1 s renewal slack, rounded up (HAProxy needs 1.5 s to stop sending writes to a dead primary, and that primary's lease "
                 "must outlast it before another node is promoted); set ha_lamp_db_lease_ttl to 5 or more, or shorten the HAProxy DB check"),
            ),
        ],
        id="lease_short_ms",
    ),
    pytest.param(
        lambda i: (set_all(i, "haproxy_db_check_inter", 2000), set_all(i, "haproxy_db_check_fall", 3)),
        [
            (
                "error",
                "DB_LEASE_TTL_TOO_SHORT",
                "databases",
                (),
                ("databases: ha_lamp_db_lease_ttl is 8 s (the default), below the minimum of 9 s = haproxy_db_check_inter 2000 x "
                 "haproxy_db_check_fall 3 + 2 s margin + 1 s renewal slack, rounded up (HAProxy needs 6 s to stop sending writes to a dead primary, "
                 "and that primary's lease must outlast it before another node is promoted); set ha_lamp_db_lease_ttl to 9 or more, or shorten the "
                 "HAProxy DB check"),
            ),
        ],
        id="lease_int_inter_is_ms",
    ),
    pytest.param(
        lambda i: (set_all(i, "haproxy_db_check_inter", "2000"), set_all(i, "haproxy_db_check_fall", "2"), set_all(i, "ha_lamp_db_lease_ttl", 7)),
        [],
        id="lease_at_minimum_ok",
    ),
    pytest.param(
        lambda i: set_all(i, "ha_lamp_db_lease_ttl", "8"),
        [
            (
                "error",
                "DB_LEASE_TTL_INVALID",
                "databases",
                (),
                ("databases: ha_lamp_db_lease_ttl is a string ('8'), not an integer (write it without quotes); set it to a whole number of seconds, "
                 "at least 5 (haproxy_db_check_inter 1s x haproxy_db_check_fall 2 + 2 s margin + 1 s renewal slack)"),
            ),
        ],
        id="lease_str",
    ),
    pytest.param(
        lambda i: set_all(i, "ha_lamp_db_lease_ttl", 0),
        [
            (
                "error",
                "DB_LEASE_TTL_INVALID",
                "databases",
                (),
                ("databases: ha_lamp_db_lease_ttl is 0, below 1; set it to a whole number of seconds, at least 5 (haproxy_db_check_inter 1s x "
                 "haproxy_db_check_fall 2 + 2 s margin + 1 s renewal slack)"),
            ),
        ],
        id="lease_zero",
    ),
    pytest.param(
        lambda i: set_all(i, "ha_lamp_db_lease_ttl", 7.5),
        [
            (
                "error",
                "DB_LEASE_TTL_INVALID",
                "databases",
                (),
                ("databases: ha_lamp_db_lease_ttl is a number (7.5), not an integer; set it to a whole number of seconds, at least 5 "
                 "(haproxy_db_check_inter 1s x haproxy_db_check_fall 2 + 2 s margin + 1 s renewal slack)"),
            ),
        ],
        id="lease_float",
    ),
    pytest.param(
        lambda i: (set_all(i, "ha_lamp_db_lease_ttl", 8), set_host(i, "db3", ha_lamp_db_lease_ttl=10)),
        [
            (
                "error",
                "CLUSTER_VAR_CONFLICT",
                "databases",
                ("db1", "db2", "db3", "lb1", "lb2", "web1", "web2"),
                ("ha_lamp_db_lease_ttl differs between hosts: 8 on lb1, lb2, web1, web2, db1 and db2; 10 on db3; set it once for the whole cluster "
                 "(group_vars/all)"),
            ),
        ],
        id="lease_conflict",
    ),
    pytest.param(
        lambda i: set_all(i, "haproxy_db_check_inter", "1 sec"),
        [
            (
                "error",
                "HAPROXY_DB_CHECK_INVALID",
                "loadbalancers",
                (),
                ("loadbalancers: haproxy_db_check_inter '1 sec' is not a HAProxy time (a positive number with an optional unit us, ms, s, m, h or d; "
                 "no unit = ms); set it to the DB health check interval, e.g. 1s or 500ms"),
            ),
        ],
        id="check_inter_bad",
    ),
    pytest.param(
        lambda i: set_all(i, "haproxy_db_check_inter", "0s"),
        [
            (
                "error",
                "HAPROXY_DB_CHECK_INVALID",
                "loadbalancers",
                (),
                ("loadbalancers: haproxy_db_check_inter '0s' is zero; HAProxy needs a positive check interval; set it to the DB health check "
                 "interval, e.g. 1s or 500ms"),
            ),
        ],
        id="check_inter_zero",
    ),
    pytest.param(
        lambda i: (set_all(i, "haproxy_db_check_fall", 0), set_all(i, "ha_lamp_db_lease_ttl", "x")),
        [
            (
                "error",
                "HAPROXY_DB_CHECK_INVALID",
                "loadbalancers",
                (),
                ("loadbalancers: haproxy_db_check_fall is 0, not a positive integer; set it to the number of failed DB health checks before HAProxy "
                 "marks a node down, e.g. 2"),
            ),
            (
                "error",
                "DB_LEASE_TTL_INVALID",
                "databases",
                (),
                "databases: ha_lamp_db_lease_ttl is a string ('x'), not an integer; set it to a whole number of seconds, 1 or more (default 8)",
            ),
        ],
        id="check_fall_bad",
    ),
    pytest.param(
        lambda i: set_all(i, "ha_lamp_db_failover_window", "300"),
        [
            (
                "error",
                "DB_FAILOVER_WINDOW_INVALID",
                "databases",
                (),
                ("databases: ha_lamp_db_failover_window is a string ('300'), not an integer (write it without quotes); set it to a whole number of "
                 "seconds, 0 or more (default 300)"),
            ),
        ],
        id="window_str",
    ),
    pytest.param(
        lambda i: set_all(i, "ha_lamp_db_failover_window", -1),
        [
            (
                "error",
                "DB_FAILOVER_WINDOW_INVALID",
                "databases",
                (),
                "databases: ha_lamp_db_failover_window is -1, below 0; set it to a whole number of seconds, 0 or more (default 300)",
            ),
        ],
        id="window_negative",
    ),
    pytest.param(
        lambda i: set_all(i, "ha_lamp_db_failover_window", 0),
        [],
        id="window_zero_ok",
    ),
    pytest.param(
        lambda i: set_host(i, "db3", ha_lamp_db_nofailover="yes"),
        [
            (
                "error",
                "DB_NOFAILOVER_INVALID",
                "databases",
                ("db3",),
                "db3: ha_lamp_db_nofailover is a string ('yes'), not a boolean; set it to true (never promote this node) or false",
            ),
        ],
        id="nofailover_invalid",
    ),
    pytest.param(
        lambda i: [set_host(i, h, ha_lamp_db_nofailover=v) for h, v in (("db1", False), ("db2", False), ("db3", True))],
        [],
        id="nofailover_replica_ok",
    ),
    pytest.param(
        lambda i: [set_host(i, h, ha_lamp_db_nofailover=True) for h in ("db1", "db2", "db3")],
        [
            (
                "error",
                "DB_FAILOVER_CANDIDATES_TOO_FEW",
                "databases",
                ("db1", "db2", "db3"),
                ("databases: every database (db1, db2 and db3) has ha_lamp_db_nofailover: true, so no node may ever be primary and automatic "
                 "failover is impossible; set it to false (or remove it) on at least 2 databases in different racks"),
            ),
        ],
        id="nofailover_all",
    ),
    pytest.param(
        lambda i: [set_host(i, h, ha_lamp_db_nofailover=True) for h in ("db2", "db3")],
        [
            (
                "error",
                "DB_FAILOVER_CANDIDATES_TOO_FEW",
                "databases",
                ("db1", "db2", "db3"),
                ("databases: only db1 may be promoted (ha_lamp_db_nofailover: true on db2 and db3); automatic failover needs at least 2 eligible "
                 "databases, one primary and one to promote; set ha_lamp_db_nofailover to false on another database, in another rack than db1"),
            ),
        ],
        id="nofailover_one_left",
    ),
    pytest.param(
        lambda i: set_host(i, "db1", ha_lamp_db_nofailover=True),
        [
            (
                "error",
                "DB_PRIMARY_NOFAILOVER",
                "databases",
                ("db1",),
                ("databases: the initial primary db1 (ha_lamp_db_primary) has ha_lamp_db_nofailover: true, but the first primary must be eligible "
                 "for promotion; set ha_lamp_db_primary to one of db2 and db3, or ha_lamp_db_nofailover to false on db1"),
            ),
        ],
        id="nofailover_primary",
    ),
    pytest.param(
        lambda i: (unset_all(i, "ha_lamp_db_primary"), set_host(i, "db1", ha_lamp_db_nofailover=True)),
        [
            (
                "error",
                "DB_PRIMARY_NOFAILOVER",
                "databases",
                ("db1",),
                ("databases: the initial primary db1 (the first databases host, as ha_lamp_db_primary is unset) has ha_lamp_db_nofailover: true, but "
                 "the first primary must be eligible for promotion; set ha_lamp_db_primary to one of db2 and db3, or ha_lamp_db_nofailover to false "
                 "on db1"),
            ),
        ],
        id="nofailover_primary_default",
    ),
    pytest.param(
        lambda i: [set_host(i, h, ha_lamp_db_nofailover=True) for h in ("db1", "db3")],
        [
            (
                "error",
                "DB_FAILOVER_CANDIDATES_TOO_FEW",
                "databases",
                ("db1", "db2", "db3"),
                ("databases: only db2 may be promoted (ha_lamp_db_nofailover: true on db1 and db3); automatic failover needs at least 2 eligible "
                 "databases, one primary and one to promote; set ha_lamp_db_nofailover to false on another database, in another rack than db2"),
            ),
            (
                "error",
                "DB_PRIMARY_NOFAILOVER",
                "databases",
                ("db1",),
                ("databases: the initial primary db1 (ha_lamp_db_primary) has ha_lamp_db_nofailover: true, but the first primary must be eligible "
                 "for promotion; set ha_lamp_db_primary to db2, or ha_lamp_db_nofailover to false on db1"),
            ),
        ],
        id="nofailover_primary_one_left",
    ),
    pytest.param(
        lambda i: set_all(i, "ha_lamp_switchover_target", "db2"),
        [],
        id="switchover_target_ok",
    ),
    pytest.param(
        lambda i: set_all(i, "ha_lamp_switchover_target", "db9"),
        [
            (
                "error",
                "DB_SWITCHOVER_TARGET_NOT_IN_DATABASES",
                "databases",
                ("db9",),
                ("databases: ha_lamp_switchover_target is 'db9', which is not in the databases group; name one of db1, db2 and db3, or leave it "
                 "unset to let the switchover pick the best replica"),
            ),
        ],
        id="switchover_target_unknown",
    ),
    pytest.param(
        lambda i: set_all(i, "ha_lamp_switchover_target", ["db2"]),
        [
            (
                "error",
                "DB_SWITCHOVER_TARGET_INVALID",
                "databases",
                (),
                'databases: ha_lamp_switchover_target is ["db2"]; name one of db1, db2 and db3, or leave it unset to let the switchover pick the best replica',
            ),
        ],
        id="switchover_target_list",
    ),
    pytest.param(
        lambda i: (set_host(i, "db3", ha_lamp_db_nofailover=True), set_all(i, "ha_lamp_switchover_target", "db3")),
        [
            (
                "error",
                "DB_SWITCHOVER_TARGET_NOFAILOVER",
                "databases",
                ("db3",),
                ("databases: ha_lamp_switchover_target is 'db3', which has ha_lamp_db_nofailover: true and may never be promoted; name one of db1 "
                 "and db2, or leave it unset to let the switchover pick the best replica"),
            ),
        ],
        id="switchover_target_nofailover",
    ),
    # -- network planes: VIP purposes, the database VIP, the management addresses --------------
    pytest.param(
        lambda i: set_all(i, "ha_lamp_vips", [{"name": "public", "address": "10.213.77.100/24", "vrid": 51}, INTERNAL_VIP]),
        [],
        id="planes_purpose_absent_is_public",
    ),
    pytest.param(
        lambda i: set_all(i, "ha_lamp_vips", [PUBLIC_VIP, dict(PUBLIC_VIP, name="public2", address="10.213.77.102/24", vrid=53), INTERNAL_VIP]),
        [],
        id="planes_two_public_vips",
    ),
    pytest.param(
        lambda i: (set_all(i, "ha_lamp_vips", [PUBLIC_VIP]), set_all(i, "ha_lamp_db_public_vip_allowed", True)),
        [],
        id="db_public_vip_allowed",
    ),
    pytest.param(
        lambda i: set_all(i, "ha_lamp_db_public_vip_allowed", False),
        [],
        id="db_public_vip_allowed_false_with_internal",
    ),
    pytest.param(
        lambda i: (unset_all(i, "ha_lamp_controller_addresses"), unset_all(i, "ha_lamp_admin_networks")),
        [],
        id="management_unset",
    ),
    pytest.param(
        lambda i: unset_all(i, "ha_lamp_admin_networks"),
        [],
        id="controller_only",
    ),
    pytest.param(
        lambda i: set_all(i, "ha_lamp_admin_networks", ["10.213.77.1"]),
        [],
        id="admin_network_bare_address",
    ),
    pytest.param(
        lambda i: (set_all(i, "ha_lamp_controller_addresses", ["10.213.77.1", "10.213.77.2"]), set_all(i, "ha_lamp_admin_networks", ["10.213.77.0/24"])),
        [],
        id="admin_network_wide_two_controllers",
    ),
    pytest.param(
        lambda i: (set_all(i, "ha_lamp_controller_addresses", ["10.213.77.1", "fd00::5"]),
                   set_all(i, "ha_lamp_admin_networks", ["10.213.77.1/32", "fd00::/64"])),
        [],
        id="controller_ipv6",
    ),
    pytest.param(
        lambda i: set_all(i, "ha_lamp_vips", [PUBLIC_VIP, dict(INTERNAL_VIP, purpose="database")]),
        [
            (
                'error',
                'VIP_PURPOSE_INVALID',
                'loadbalancers',
                ('lb1', 'lb2'),
                ("loadbalancers: VIP 'internal' purpose is 'database'; set it to public (client traffic, 80/443; the default when absent) or "
                 "internal (the database frontends, 3306/3307)"),
            ),
        ],
        id="vip_purpose_invalid",
    ),
    pytest.param(
        lambda i: set_all(i, "ha_lamp_vips", [dict(PUBLIC_VIP, purpose="Public"), INTERNAL_VIP]),
        [
            (
                'error',
                'VIP_PURPOSE_INVALID',
                'loadbalancers',
                ('lb1', 'lb2'),
                ("loadbalancers: VIP 'public' purpose is 'Public'; set it to public (client traffic, 80/443; the default when absent) or internal "
                 "(the database frontends, 3306/3307)"),
            ),
        ],
        id="vip_purpose_case",
    ),
    pytest.param(
        lambda i: set_all(i, "ha_lamp_vips", [PUBLIC_VIP, dict(INTERNAL_VIP, purpose=["internal"])]),
        [
            (
                'error',
                'VIP_PURPOSE_INVALID',
                'loadbalancers',
                ('lb1', 'lb2'),
                ('loadbalancers: VIP \'internal\' purpose is ["internal"]; set it to public (client traffic, 80/443; the default when absent) '
                 'or internal (the database frontends, 3306/3307)'),
            ),
        ],
        id="vip_purpose_not_string",
    ),
    pytest.param(
        lambda i: set_all(i, "ha_lamp_vips", [PUBLIC_VIP, dict(INTERNAL_VIP, purpose=None)]),
        [
            (
                'error',
                'VIP_PURPOSE_INVALID',
                'loadbalancers',
                ('lb1', 'lb2'),
                ("loadbalancers: VIP 'internal' purpose is null; set it to public (client traffic, 80/443; the default when absent) or internal (the "
                 "database frontends, 3306/3307)"),
            ),
        ],
        id="vip_purpose_null",
    ),
    pytest.param(
        lambda i: set_all(i, "ha_lamp_vips", [dict(PUBLIC_VIP, purpose="internal"), INTERNAL_VIP]),
        [
            (
                'error',
                'VIP_PUBLIC_MISSING',
                'loadbalancers',
                ('lb1', 'lb2'),
                ("loadbalancers: every VIP in ha_lamp_vips (VIP 'public' and VIP 'internal') has purpose internal, so clients have no address; add a "
                 "VIP with purpose: public for HTTP/HTTPS"),
            ),
        ],
        id="vip_public_missing",
    ),
    pytest.param(
        lambda i: set_all(i, "ha_lamp_vips", [PUBLIC_VIP]),
        [
            (
                'error',
                'DB_ON_PUBLIC_VIP',
                'loadbalancers',
                ('lb1', 'lb2'),
                ("loadbalancers: ha_lamp_vips has no VIP with purpose: internal, so HAProxy's database frontends (3306/3307) would listen on the "
                 "public VIP (VIP 'public') where clients connect; add an internal VIP ({name: internal, address: A.B.C.D/len, vrid: N, purpose: "
                 "internal}), or set ha_lamp_db_public_vip_allowed: true to accept the database on the public VIP"),
            ),
        ],
        id="db_on_public_vip",
    ),
    pytest.param(
        lambda i: set_all(i, "ha_lamp_vips", [{"name": "public", "address": "10.213.77.100/24", "vrid": 51}]),
        [
            (
                'error',
                'DB_ON_PUBLIC_VIP',
                'loadbalancers',
                ('lb1', 'lb2'),
                ("loadbalancers: ha_lamp_vips has no VIP with purpose: internal, so HAProxy's database frontends (3306/3307) would listen on the "
                 "public VIP (VIP 'public') where clients connect; add an internal VIP ({name: internal, address: A.B.C.D/len, vrid: N, purpose: "
                 "internal}), or set ha_lamp_db_public_vip_allowed: true to accept the database on the public VIP"),
            ),
        ],
        id="db_on_public_vip_no_purpose",
    ),
    pytest.param(
        lambda i: set_all(i, "ha_lamp_vips", [PUBLIC_VIP, dict(PUBLIC_VIP, name="public2", address="10.213.77.102/24", vrid=53)]),
        [
            (
                'error',
                'DB_ON_PUBLIC_VIP',
                'loadbalancers',
                ('lb1', 'lb2'),
                ("loadbalancers: ha_lamp_vips has no VIP with purpose: internal, so HAProxy's database frontends (3306/3307) would listen on the "
                 "public VIP (VIP 'public' and VIP 'public2') where clients connect; add an internal VIP ({name: internal, address: A.B.C.D/len, "
                 "vrid: N, purpose: internal}), or set ha_lamp_db_public_vip_allowed: true to accept the database on the public VIP"),
            ),
        ],
        id="db_on_public_vip_two",
    ),
    pytest.param(
        lambda i: (set_all(i, "ha_lamp_vips", [PUBLIC_VIP]), set_all(i, "ha_lamp_db_public_vip_allowed", False)),
        [
            (
                'error',
                'DB_ON_PUBLIC_VIP',
                'loadbalancers',
                ('lb1', 'lb2'),
                ("loadbalancers: ha_lamp_vips has no VIP with purpose: internal, so HAProxy's database frontends (3306/3307) would listen on the "
                 "public VIP (VIP 'public') where clients connect; add an internal VIP ({name: internal, address: A.B.C.D/len, vrid: N, purpose: "
                 "internal}), or set ha_lamp_db_public_vip_allowed: true to accept the database on the public VIP"),
            ),
        ],
        id="db_on_public_vip_explicit_false",
    ),
    pytest.param(
        lambda i: (set_all(i, "ha_lamp_vips", [PUBLIC_VIP]), set_all(i, "ha_lamp_db_public_vip_allowed", "true")),
        [
            (
                'error',
                'DB_PUBLIC_VIP_ALLOWED_INVALID',
                'loadbalancers',
                ('lb1', 'lb2'),
                ("loadbalancers: ha_lamp_db_public_vip_allowed is a string ('true'), not a boolean; set it to true or false (without quotes), or "
                 "leave it unset (false)"),
            ),
        ],
        id="db_public_vip_allowed_string",
    ),
    pytest.param(
        lambda i: (set_all(i, "ha_lamp_vips", [PUBLIC_VIP]), set_all(i, "ha_lamp_db_public_vip_allowed", False),
                   set_host(i, "lb2", ha_lamp_db_public_vip_allowed=True)),
        [
            (
                'error',
                'CLUSTER_VAR_CONFLICT',
                'loadbalancers',
                ('db1', 'db2', 'db3', 'lb1', 'lb2', 'web1', 'web2'),
                ('ha_lamp_db_public_vip_allowed differs between hosts: false on lb1, web1, web2, db1, db2 and db3; true on lb2; set it once for the '
                 'whole cluster (group_vars/all)'),
            ),
            (
                'error',
                'DB_ON_PUBLIC_VIP',
                'loadbalancers',
                ('lb1', 'lb2'),
                ("loadbalancers: ha_lamp_vips has no VIP with purpose: internal, so HAProxy's database frontends (3306/3307) would listen on the "
                 "public VIP (VIP 'public') where clients connect; add an internal VIP ({name: internal, address: A.B.C.D/len, vrid: N, purpose: "
                 "internal}), or set ha_lamp_db_public_vip_allowed: true to accept the database on the public VIP"),
            ),
        ],
        id="db_public_vip_allowed_conflict",
    ),
    pytest.param(
        lambda i: set_all(i, "ha_lamp_controller_addresses", "10.213.77.1"),
        [
            (
                'error',
                'CONTROLLER_ADDRESSES_INVALID',
                'cluster',
                (),
                "cluster: ha_lamp_controller_addresses is a string ('10.213.77.1'), not a list; write it as a list of IP addresses, e.g. [10.0.0.5]",
            ),
        ],
        id="controller_not_list",
    ),
    pytest.param(
        lambda i: set_all(i, "ha_lamp_controller_addresses", []),
        [
            (
                'error',
                'CONTROLLER_ADDRESSES_INVALID',
                'cluster',
                (),
                'cluster: ha_lamp_controller_addresses is an empty list; list at least one, e.g. [10.0.0.5]',
            ),
        ],
        id="controller_empty",
    ),
    pytest.param(
        lambda i: set_all(i, "ha_lamp_controller_addresses", ["controller.example"]),
        [
            (
                'error',
                'CONTROLLER_ADDRESSES_INVALID',
                'cluster',
                (),
                "cluster: ha_lamp_controller_addresses[0] is 'controller.example', not an IP address; write each entry as an IP address, e.g. 10.0.0.5",
            ),
        ],
        id="controller_hostname",
    ),
    pytest.param(
        lambda i: set_all(i, "ha_lamp_controller_addresses", ["10.213.77.1/32"]),
        [
            (
                'error',
                'CONTROLLER_ADDRESSES_INVALID',
                'cluster',
                (),
                "cluster: ha_lamp_controller_addresses[0] is '10.213.77.1/32', not an IP address; write each entry as an IP address, e.g. 10.0.0.5",
            ),
        ],
        id="controller_cidr",
    ),
    pytest.param(
        lambda i: set_all(i, "ha_lamp_controller_addresses", ["10.213.77.1", 5]),
        [
            (
                'error',
                'CONTROLLER_ADDRESSES_INVALID',
                'cluster',
                (),
                'cluster: ha_lamp_controller_addresses[1] is an integer (5), not a string; write each entry as an IP address, e.g. 10.0.0.5',
            ),
        ],
        id="controller_int",
    ),
    pytest.param(
        lambda i: set_all(i, "ha_lamp_admin_networks", {"lab": "10.213.77.1/32"}),
        [
            (
                'error',
                'ADMIN_NETWORKS_INVALID',
                'cluster',
                (),
                'cluster: ha_lamp_admin_networks is a mapping ({"lab": "10.213.77.1/32"}), not a list; write it as a list of CIDR networks, e.g. [10.0.0.0/28]',
            ),
        ],
        id="admin_not_list",
    ),
    pytest.param(
        lambda i: set_all(i, "ha_lamp_admin_networks", []),
        [
            (
                'error',
                'ADMIN_NETWORKS_INVALID',
                'cluster',
                (),
                'cluster: ha_lamp_admin_networks is an empty list; list at least one, e.g. [10.0.0.0/28]',
            ),
        ],
        id="admin_empty",
    ),
    pytest.param(
        lambda i: set_all(i, "ha_lamp_admin_networks", ["10.213.77.1/24"]),
        [
            (
                'error',
                'ADMIN_NETWORKS_INVALID',
                'cluster',
                (),
                ("cluster: ha_lamp_admin_networks[0] is '10.213.77.1/24', which has host bits set (the network is 10.213.77.0/24); write each entry "
                 "as a CIDR network, e.g. 10.0.0.0/28 or 10.0.0.5/32"),
            ),
        ],
        id="admin_host_bits",
    ),
    pytest.param(
        lambda i: set_all(i, "ha_lamp_admin_networks", ["anywhere"]),
        [
            (
                'error',
                'ADMIN_NETWORKS_INVALID',
                'cluster',
                (),
                "cluster: ha_lamp_admin_networks[0] is 'anywhere', not a CIDR network; write each entry as a CIDR network, e.g. 10.0.0.0/28 or 10.0.0.5/32",
            ),
        ],
        id="admin_garbage",
    ),
    pytest.param(
        lambda i: set_all(i, "ha_lamp_admin_networks", ["10.213.78.0/24"]),
        [
            (
                'error',
                'ADMIN_NETWORKS_LOCKOUT',
                'cluster',
                (),
                ('cluster: ha_lamp_controller_addresses 10.213.77.1 is outside every network of ha_lamp_admin_networks (10.213.78.0/24); the '
                 'firewall would lock the controller out of SSH: add 10.213.77.1/32 to ha_lamp_admin_networks'),
            ),
        ],
        id="admin_lockout",
    ),
    pytest.param(
        lambda i: set_all(i, "ha_lamp_controller_addresses", ["10.213.77.1", "10.213.77.2"]),
        [
            (
                'error',
                'ADMIN_NETWORKS_LOCKOUT',
                'cluster',
                (),
                ('cluster: ha_lamp_controller_addresses 10.213.77.2 is outside every network of ha_lamp_admin_networks (10.213.77.1/32); the '
                 'firewall would lock the controller out of SSH: add 10.213.77.2/32 to ha_lamp_admin_networks'),
            ),
        ],
        id="admin_lockout_one_of_two",
    ),
    pytest.param(
        lambda i: (set_all(i, "ha_lamp_controller_addresses", ["fd00::5"]), set_all(i, "ha_lamp_admin_networks", ["10.213.77.0/24"])),
        [
            (
                'error',
                'ADMIN_NETWORKS_LOCKOUT',
                'cluster',
                (),
                ('cluster: ha_lamp_controller_addresses fd00::5 is outside every network of ha_lamp_admin_networks (10.213.77.0/24); the firewall '
                 'would lock the controller out of SSH: add fd00::5/128 to ha_lamp_admin_networks'),
            ),
        ],
        id="admin_lockout_ipv6",
    ),
]


def test_lab_inventory_passes_clean():
    report = validate(lab())
    assert report["ok"] is True
    assert report["findings"] == []


@pytest.mark.parametrize("mutate, expected", CASES)
def test_rule(mutate, expected):
    assert_case(lab(), mutate, expected)


def test_every_rule_is_exercised():
    """Each rule id in RULES has at least one case here, in test_redundancy_storage.py, test_redundancy_dr.py or
    in test_redundancy_extra.py."""
    from .test_redundancy_dr import CASES as DR_CASES
    from .test_redundancy_extra import EXTRA_RULES
    from .test_redundancy_storage import CASES as STORAGE_CASES

    seen = {finding[1] for _mutate, expected in (case.values for case in CASES + STORAGE_CASES + DR_CASES) for finding in expected}
    assert set(RULES) - seen - EXTRA_RULES == set()
