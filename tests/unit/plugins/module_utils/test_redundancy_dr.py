"""Unit tests of the DR site rules (issue 18): hosts with site: dr (or ha_lamp_dr_site) beside the main site.

Each case adds the DR site below to the lab inventory (or varies it) and asserts the exact findings:
severity, rule id, tier, hosts and message. The DR site is lbdr1 and lbdr2 (its LB pair), webdr1 and
dbdr1, in racks dr-r1 and dr-r2 and the subnet 10.213.78.0/24 with its own VIPs, dbdr1 never promoted.
The main site's findings must be exactly those of the lab alone: without a DR host, and whatever
ha_lamp_dr_site says, a report is byte for byte what it was before the DR site existed."""

import copy

import pytest

from ansible_collections.onprem.ha_lamp.plugins.module_utils.redundancy import RULES, inventory_from, render_text, validate
from ansible_collections.onprem.ha_lamp.plugins.module_utils.redundancy_dr import DR_RULES

from .inventory_cases import assert_case, keyed, set_all, set_host
from .test_redundancy_rules import CASES as RULE_CASES
from .test_redundancy_rules import PLANES
from .test_redundancy_rules import lab as _lab_rules
from .test_redundancy_storage import CASES as STORAGE_CASES

DR_VIPS = [
    {"name": "public", "address": "10.213.78.100/24", "vrid": 61, "purpose": "public"},
    {"name": "internal", "address": "10.213.78.101/24", "vrid": 62, "purpose": "internal"},
]
# name -> (tier, last octet of its address, rack)
DR_HOSTS = {
    "lbdr1": ("loadbalancers", 11, "dr-r1"),
    "lbdr2": ("loadbalancers", 12, "dr-r2"),
    "webdr1": ("webservers", 21, "dr-r1"),
    "dbdr1": ("databases", 31, "dr-r2"),
}
DR_LBS = ("lbdr1", "lbdr2")

FIX_VIPS = "set ha_lamp_vips on the DR site's load balancers to VIPs (address/prefix length) in the DR site's own subnet"
VIP_WHY = "a DR VIP needs a subnet of its own, or a fault of the main site's segment takes the DR site's VIP with it"
MAIN_VIPS = "10.213.77.0/24 (VIP 'public' 10.213.77.100/24, VIP 'internal' 10.213.77.101/24)"
NEVER_PROMOTE = (
    "the main site's automatic failover must never promote a DR database (taking over a site is an operator's decision)"
)
NO_VOTE = (
    "a DR host must not vote in the main site's quorum, or the main site's automatic failover depends on the link between "
    "the sites"
)
SHARED_RACK = "losing that one rack would hit both sites, and the DR site is there to survive the main site's loss"
DR_FOLLOWS = (
    "it replicates asynchronously from the main site's primary over the link between the sites, and only an operator's "
    "site failover promotes it"
)
PICK_MAIN = "name one of db1, db2 and db3, or leave it unset to let the switchover pick the best replica"


def lab(site="dr"):
    """The lab inventory plus the DR site (hosts with ``site``; group_vars/all as on the lab's hosts)."""
    inventory = _lab_rules()
    common = copy.deepcopy(inventory["hostvars"]["lb1"])
    for name, (tier, last, rack) in DR_HOSTS.items():
        values = copy.deepcopy(common)
        values.update(ansible_host="10.213.78.%d" % last, rack=rack, site=site)
        if tier == "loadbalancers":
            values["ha_lamp_vips"] = copy.deepcopy(DR_VIPS)
        if tier == "databases":
            values["ha_lamp_db_nofailover"] = True
        inventory["hostvars"][name] = values
        inventory["groups"][tier].append(name)
    return inventory


def drop(inventory, tier, *names):
    for name in names:
        inventory["groups"][tier].remove(name)
        inventory["hostvars"].pop(name)


def add(inventory, name, tier, last, rack, **extra):
    values = copy.deepcopy(inventory["hostvars"]["webdr1"])
    values.update(ansible_host="10.213.78.%d" % last, rack=rack, **extra)
    inventory["hostvars"][name] = values
    inventory["groups"][tier].append(name)


def dr_vips(inventory, value):
    for name in DR_LBS:
        if value is None:
            inventory["hostvars"][name].pop("ha_lamp_vips", None)
        else:
            set_host(inventory, name, ha_lamp_vips=copy.deepcopy(value))


def sites(inventory, **placement):
    for host, site in placement.items():
        set_host(inventory, host, site=site)


def vip_overlap(label, address, verb="is in", main="subnet " + MAIN_VIPS):
    return (
        "error",
        "DR_VIP_SUBNET",
        "dr",
        DR_LBS,
        "DR site 'dr': %s %s (ha_lamp_vips on lbdr1 and lbdr2) %s the main site's VIP %s; %s; %s"
        % (label, address, verb, main, VIP_WHY, FIX_VIPS),
    )


def nofailover(problem):
    return (
        "error",
        "DR_DB_FAILOVER",
        "dr",
        ("dbdr1",),
        "dbdr1: ha_lamp_db_nofailover is %s, but dbdr1 is a database of the DR site 'dr' (var site); %s: set "
        "ha_lamp_db_nofailover: true on dbdr1" % (problem, NEVER_PROMOTE),
    )


def in_storage(name, site="dr"):
    return (
        "error",
        "DR_IN_STORAGE",
        "dr",
        (name,),
        "%s: in the group storage, the main site's GlusterFS volume, but in the DR site '%s' (var site); the main site's "
        "volume must not have a brick across the link between the sites, or its uploads wait on that link (a write needs "
        "2 of the 3 bricks) and a fault of the link costs the volume a brick: remove %s from storage (the volume's 3 "
        "bricks belong on main-site hosts)" % (name, site, name),
    )


def dr_primary(name, site="dr"):
    return (
        "error",
        "DB_PRIMARY_NOT_IN_DATABASES",
        "databases",
        (name,),
        "databases: ha_lamp_db_primary is '%s', a database of the DR site '%s' (var site), which can never be the main "
        "site's primary: %s; set it to one of the main site's databases (db1, db2 and db3)" % (name, site, DR_FOLLOWS),
    )


def dr_switchover_target(name, site="dr"):
    return (
        "error",
        "DB_SWITCHOVER_TARGET_NOT_IN_DATABASES",
        "databases",
        (name,),
        "databases: ha_lamp_switchover_target is '%s', a database of the DR site '%s' (var site), which can never be the "
        "target of the main site's switchover: %s; %s" % (name, site, DR_FOLLOWS, PICK_MAIN),
    )


def in_dcs(name):
    return (
        "error",
        "DR_DB_IN_DCS",
        "dr",
        (name,),
        "%s: in the group dcs, the main site's etcd quorum, but in the DR site 'dr' (var site); %s: remove %s from dcs "
        "(the DR database follows the leader key as an etcd client)" % (name, NO_VOTE, name),
    )


CASES = [
    # -- good ------------------------------------------------------------------------------------------
    pytest.param(lambda i: None, [], id="dr_site_ok"),
    pytest.param(
        lambda i: (add(i, "webdr2", "webservers", 22, "dr-r2"), add(i, "dbdr2", "databases", 32, "dr-r1", ha_lamp_db_nofailover=True)),
        [],
        id="dr_site_with_two_web_and_two_db_ok",
    ),
    pytest.param(
        # The DR site is judged as a site: a one-rack DR site is no main-site TIER_SINGLE_DOMAIN.
        lambda i: [set_host(i, name, rack="dr-r1") for name in DR_HOSTS],
        [],
        id="dr_site_in_one_rack_ok",
    ),
    pytest.param(
        lambda i: (set_all(i, "ha_lamp_dr_site", "standby"), sites(i, **{name: "standby" for name in DR_HOSTS})),
        [],
        id="dr_site_named_by_ha_lamp_dr_site_ok",
    ),
    pytest.param(
        # Main site over three sites at site level, DR beside it: the main rules see a, b and c only.
        lambda i: (
            set_all(i, "ha_lamp_failure_domain", "site"),
            sites(i, lb1="a", lb2="b", web1="a", web2="b", db1="a", db2="b", db3="c"),
        ),
        [],
        id="multi_site_main_and_dr_ok",
    ),
    pytest.param(
        # site set on every host, main included: no SITE_PARTIAL, no TIER_SINGLE_SITE (the DR site is no main site).
        lambda i: sites(i, lb1="main", lb2="main", web1="main", web2="main", db1="main", db2="main", db3="main"),
        [],
        id="main_site_named_too_ok",
    ),
    pytest.param(
        lambda i: dr_vips(i, [{"name": "public", "address": "fd00:78::100/64", "vrid": 61}]),
        [],
        id="dr_vip_ipv6_beside_ipv4_main_ok",
    ),
    pytest.param(
        lambda i: [set_host(i, name, ha_lamp_admin_networks=["10.213.78.1/32"], ha_lamp_controller_addresses=["10.213.78.1"])
                   for name in DR_HOSTS],
        [],
        id="dr_site_own_management_values_are_no_conflict",
    ),
    # -- DR_TIER_MISSING -------------------------------------------------------------------------------
    pytest.param(
        lambda i: drop(i, "loadbalancers", "lbdr2"),
        [
            (
                "error",
                "DR_TIER_MISSING",
                "dr",
                ("lbdr1",),
                "DR site 'dr': only lbdr1 of the loadbalancers group has site 'dr' (var site); a DR site needs 2 load balancers "
                "(a keepalived pair for the DR site's own VIP): add 1 more to the loadbalancers group with site: dr",
            ),
        ],
        id="one_dr_load_balancer",
    ),
    pytest.param(
        lambda i: drop(i, "loadbalancers", "lbdr1", "lbdr2"),
        [
            (
                "error",
                "DR_TIER_MISSING",
                "dr",
                (),
                "DR site 'dr': no host of the loadbalancers group has site 'dr' (var site); a DR site needs 2 load balancers "
                "(a keepalived pair for the DR site's own VIP): add them to the loadbalancers group with site: dr",
            ),
        ],
        id="no_dr_load_balancer_no_vip_rule",
    ),
    pytest.param(
        lambda i: drop(i, "webservers", "webdr1"),
        [
            (
                "error",
                "DR_TIER_MISSING",
                "dr",
                (),
                "DR site 'dr': no host of the webservers group has site 'dr' (var site); a DR site needs at least 1 web server "
                "(to serve the site after a site failover): add one to the webservers group with site: dr",
            ),
        ],
        id="no_dr_web_server",
    ),
    pytest.param(
        lambda i: drop(i, "databases", "dbdr1"),
        [
            (
                "error",
                "DR_TIER_MISSING",
                "dr",
                (),
                "DR site 'dr': no host of the databases group has site 'dr' (var site); a DR site needs at least 1 database "
                "(a replica of the main site to promote in a site failover): add one to the databases group with site: dr",
            ),
        ],
        id="no_dr_database",
    ),
    pytest.param(
        lambda i: (drop(i, "loadbalancers", "lbdr1", "lbdr2"), drop(i, "webservers", "webdr1")),
        [
            (
                "error",
                "DR_TIER_MISSING",
                "dr",
                (),
                "DR site 'dr': no host of the loadbalancers group has site 'dr' (var site); a DR site needs 2 load balancers "
                "(a keepalived pair for the DR site's own VIP): add them to the loadbalancers group with site: dr",
            ),
            (
                "error",
                "DR_TIER_MISSING",
                "dr",
                (),
                "DR site 'dr': no host of the webservers group has site 'dr' (var site); a DR site needs at least 1 web server "
                "(to serve the site after a site failover): add one to the webservers group with site: dr",
            ),
        ],
        id="dr_database_alone",
    ),
    # -- DR_SHARES_RACK --------------------------------------------------------------------------------
    pytest.param(
        lambda i: set_host(i, "dbdr1", rack="r3"),
        [
            (
                "error",
                "DR_SHARES_RACK",
                "dr",
                ("dbdr1",),
                "DR site 'dr': dbdr1 is in rack 'r3' (var rack), which also holds the main-site host db3; %s: set rack on "
                "dbdr1 to a rack of the DR site, a name no main-site host uses" % SHARED_RACK,
            ),
        ],
        id="dr_database_in_a_main_rack",
    ),
    pytest.param(
        lambda i: (set_host(i, "lbdr1", rack="r1"), set_host(i, "dbdr1", rack="r1"), set_host(i, "webdr1", rack="r2")),
        [
            (
                "error",
                "DR_SHARES_RACK",
                "dr",
                ("dbdr1", "lbdr1"),
                "DR site 'dr': lbdr1 and dbdr1 are in rack 'r1' (var rack), which also holds the main-site hosts lb1, web1 "
                "and db1; %s: set rack on lbdr1 and dbdr1 to a rack of the DR site, a name no main-site host uses" % SHARED_RACK,
            ),
            (
                "error",
                "DR_SHARES_RACK",
                "dr",
                ("webdr1",),
                "DR site 'dr': webdr1 is in rack 'r2' (var rack), which also holds the main-site hosts lb2, web2 and db2; %s: "
                "set rack on webdr1 to a rack of the DR site, a name no main-site host uses" % SHARED_RACK,
            ),
        ],
        id="dr_hosts_in_two_main_racks",
    ),
    pytest.param(
        # Rack names are compared as plain names, even when the main site spans sites of its own.
        lambda i: (sites(i, lb1="a", lb2="b", web1="a", web2="b", db1="a", db2="b", db3="c"), set_host(i, "lbdr2", rack="r2")),
        [
            (
                "error",
                "DR_SHARES_RACK",
                "dr",
                ("lbdr2",),
                "DR site 'dr': lbdr2 is in rack 'r2' (var rack), which also holds the main-site hosts lb2, web2 and db2; %s: "
                "set rack on lbdr2 to a rack of the DR site, a name no main-site host uses" % SHARED_RACK,
            ),
        ],
        id="rack_names_compared_across_sites",
    ),
    pytest.param(
        # A DR host without a rack cannot be judged: the common host rule says so, under its tier.
        lambda i: i["hostvars"]["webdr1"].pop("rack"),
        [
            (
                "error",
                "RACK_MISSING",
                "webservers",
                ("webdr1",),
                "webservers: webdr1 has no rack (var rack); set rack to the rack name of every cluster host so the validator "
                "can check the spread",
            ),
        ],
        id="dr_host_without_rack",
    ),
    pytest.param(
        lambda i: set_host(i, "webdr1", rack=["dr-r1"]),
        [
            (
                "error",
                "RACK_INVALID",
                "webservers",
                ("webdr1",),
                'webdr1: rack ["dr-r1"] is a list, not a string; set exactly one rack name per host, as a string',
            ),
        ],
        id="dr_host_rack_list",
    ),
    # -- DR_VIP_SUBNET ---------------------------------------------------------------------------------
    pytest.param(
        # The usual mistake: the DR load balancers inherit the main site's VIPs from group_vars/all.
        lambda i: dr_vips(i, PLANES["ha_lamp_vips"]),
        [
            vip_overlap("VIP 'public'", "10.213.77.100/24"),
            vip_overlap("VIP 'internal'", "10.213.77.101/24"),
        ],
        id="dr_vips_inherited_from_main",
    ),
    pytest.param(
        lambda i: dr_vips(i, [DR_VIPS[0], {"name": "internal", "address": "10.213.77.201/25", "vrid": 62, "purpose": "internal"}]),
        [vip_overlap("VIP 'internal'", "10.213.77.201/25")],
        id="dr_vip_in_a_smaller_subnet_of_main",
    ),
    pytest.param(
        lambda i: dr_vips(i, [{"name": "public", "address": "10.213.78.100/16", "vrid": 61}]),
        [vip_overlap("VIP 'public'", "10.213.78.100/16", verb="overlaps")],
        id="dr_vip_subnet_holds_main_subnet",
    ),
    pytest.param(
        lambda i: (
            set_all(i, "ha_lamp_vips", [{"name": "public", "address": "10.213.77.100/24", "vrid": 51},
                                        {"name": "internal", "address": "10.213.77.20/27", "vrid": 52, "purpose": "internal"}]),
            dr_vips(i, [{"name": "public", "address": "10.213.78.100/16", "vrid": 61}]),
        ),
        [
            vip_overlap(
                "VIP 'public'",
                "10.213.78.100/16",
                verb="overlaps",
                main="subnets 10.213.77.0/24 (VIP 'public' 10.213.77.100/24); 10.213.77.0/27 (VIP 'internal' 10.213.77.20/27)",
            )
        ],
        id="dr_vip_overlaps_two_main_subnets",
    ),
    pytest.param(
        lambda i: dr_vips(i, None),
        [
            (
                "error",
                "DR_VIP_SUBNET",
                "dr",
                DR_LBS,
                "DR site 'dr': ha_lamp_vips is unset on lbdr1 and lbdr2, so the DR site has no VIP; %s" % FIX_VIPS,
            ),
        ],
        id="dr_vips_unset",
    ),
    pytest.param(
        lambda i: dr_vips(i, []),
        [
            (
                "error",
                "DR_VIP_SUBNET",
                "dr",
                DR_LBS,
                "DR site 'dr': ha_lamp_vips is an empty list on lbdr1 and lbdr2, so the DR site has no VIP; %s" % FIX_VIPS,
            ),
        ],
        id="dr_vips_empty",
    ),
    pytest.param(
        lambda i: dr_vips(i, "10.213.78.100/24"),
        [
            (
                "error",
                "DR_VIP_SUBNET",
                "dr",
                DR_LBS,
                "DR site 'dr': ha_lamp_vips on lbdr1 and lbdr2 is a string ('10.213.78.100/24'), not a list of VIPs; %s" % FIX_VIPS,
            ),
        ],
        id="dr_vips_string",
    ),
    pytest.param(
        lambda i: dr_vips(i, [{"name": "public", "address": "10.213.78.100", "vrid": 61}, {"vrid": 62}, "10.213.78.102/24"]),
        [
            (
                "error",
                "DR_VIP_SUBNET",
                "dr",
                DR_LBS,
                "DR site 'dr': VIP 'public' address is '10.213.78.100' in ha_lamp_vips on lbdr1 and lbdr2, not 'A.B.C.D/len', "
                "so its subnet is unknown; %s" % FIX_VIPS,
            ),
            (
                "error",
                "DR_VIP_SUBNET",
                "dr",
                DR_LBS,
                "DR site 'dr': ha_lamp_vips[1] address is missing in ha_lamp_vips on lbdr1 and lbdr2, not 'A.B.C.D/len', so its "
                "subnet is unknown; %s" % FIX_VIPS,
            ),
            (
                "error",
                "DR_VIP_SUBNET",
                "dr",
                DR_LBS,
                "DR site 'dr': ha_lamp_vips[2] address is missing in ha_lamp_vips on lbdr1 and lbdr2, not 'A.B.C.D/len', so its "
                "subnet is unknown; %s" % FIX_VIPS,
            ),
        ],
        id="dr_vip_addresses_unparseable",
    ),
    pytest.param(
        lambda i: i["hostvars"]["lbdr2"].pop("ha_lamp_vips"),
        [
            (
                "error",
                "CLUSTER_VAR_CONFLICT",
                "loadbalancers",
                DR_LBS,
                'ha_lamp_vips differs between hosts: [{"address": "10.213.78.100/24", "name": "public", "purpose": "public", '
                '"vrid": 61}, {"address": "10.213.78.101/24", "name": "internal", "purpose": "internal... on lbdr1; unset on '
                "lbdr2; set it once for the DR site's load balancers (group_vars of a group holding them)",
            ),
        ],
        id="dr_vips_differ_between_dr_load_balancers",
    ),
    pytest.param(
        # The main site's VIP rules still see only the main site: a broken main VIP is theirs, not a DR finding.
        lambda i: [set_host(i, name, ha_lamp_vips="junk") for name in ("lb1", "lb2")],
        [
            (
                "error",
                "VIPS_MALFORMED",
                "loadbalancers",
                ("lb1", "lb2"),
                "loadbalancers: ha_lamp_vips is a string ('junk'), not a list; write it as a list of mappings "
                "({name, address: A.B.C.D/len, vrid})",
            ),
        ],
        id="main_vips_malformed_dr_rule_quiet",
    ),
    # -- DR_DB_IN_DCS ----------------------------------------------------------------------------------
    pytest.param(lambda i: i["groups"]["dcs"].append("dbdr1"), [in_dcs("dbdr1")], id="dr_database_in_dcs"),
    pytest.param(
        # In place of a main member: the main site's quorum is then 2 members, which DCS_SIZE reports too.
        lambda i: i["groups"].update(dcs=["db1", "db2", "dbdr1"]),
        [
            (
                "error",
                "DCS_SIZE",
                "dcs",
                ("db1", "db2"),
                "dcs: 2 members (db1 and db2), fewer than 3: losing one loses the etcd quorum (2 of 2) and automatic failover "
                "stops; use 3 or 5 hosts in different racks",
            ),
            in_dcs("dbdr1"),
        ],
        id="dr_database_in_place_of_a_dcs_member",
    ),
    pytest.param(
        lambda i: i["groups"]["dcs"].extend(["dbdr1", "webdr1"]),
        [in_dcs("dbdr1"), in_dcs("webdr1")],
        id="any_dr_host_in_dcs",
    ),
    pytest.param(
        lambda i: i["groups"].update(dcs=["dbdr1"]),
        [
            (
                "error",
                "DCS_MISSING",
                "dcs",
                (),
                "dcs: the group has only hosts of the DR site 'dr', but automatic database failover needs etcd members to hold "
                "the leader lease; add a group dcs with 3 or 5 hosts in different racks (for example the databases hosts)",
            ),
            in_dcs("dbdr1"),
        ],
        id="dcs_of_dr_hosts_only",
    ),
    # -- DR_DB_FAILOVER --------------------------------------------------------------------------------
    pytest.param(lambda i: i["hostvars"]["dbdr1"].pop("ha_lamp_db_nofailover"), [nofailover("unset")], id="dr_database_nofailover_unset"),
    pytest.param(lambda i: set_host(i, "dbdr1", ha_lamp_db_nofailover=False), [nofailover("false")], id="dr_database_nofailover_false"),
    pytest.param(
        lambda i: set_host(i, "dbdr1", ha_lamp_db_nofailover="yes"),
        [nofailover("a string ('yes'), not the boolean true")],
        id="dr_database_nofailover_string",
    ),
    pytest.param(
        # The DR database's flag never counts for the main site: its 3 databases stay its failover candidates.
        lambda i: (set_host(i, "db3", ha_lamp_db_nofailover=True), set_host(i, "db2", ha_lamp_db_nofailover=True)),
        [
            (
                "error",
                "DB_FAILOVER_CANDIDATES_TOO_FEW",
                "databases",
                ("db1", "db2", "db3"),
                "databases: only db1 may be promoted (ha_lamp_db_nofailover: true on db2 and db3); automatic failover needs at "
                "least 2 eligible databases, one primary and one to promote; set ha_lamp_db_nofailover to false on another "
                "database, in another rack than db1",
            ),
        ],
        id="main_failover_candidates_count_main_databases_only",
    ),
    # -- DR_IN_STORAGE ---------------------------------------------------------------------------------
    pytest.param(lambda i: i["groups"].update(storage=["web1", "web2", "db3"]), [], id="main_site_storage_ok"),
    pytest.param(
        # The main site's volume has its 3 bricks; the DR host would be a fourth, across the link.
        lambda i: i["groups"].update(storage=["web1", "web2", "db3", "dbdr1"]),
        [in_storage("dbdr1")],
        id="dr_database_in_storage_beside_three_main_hosts",
    ),
    pytest.param(
        lambda i: i["groups"].update(storage=["web1", "webdr1", "db3"]),
        [
            (
                "error",
                "STORAGE_SIZE",
                "storage",
                ("db3", "web1"),
                "storage: 2 hosts (web1 and db3), but the shared uploads volume is one GlusterFS replica 3 volume with an "
                "arbiter (the first two hosts in inventory order carry the data bricks, the third the arbiter); two hosts "
                "cannot break a tie, so losing one stops writes (or, without quorum, risks split brain); list exactly 3 hosts "
                "in the storage group, each in a different rack",
            ),
            in_storage("webdr1"),
        ],
        id="dr_web_server_as_a_data_brick",
    ),
    pytest.param(
        # Only DR hosts: no main-site volume to judge, each DR host named.
        lambda i: i["groups"].update(storage=["lbdr1", "webdr1", "dbdr1"]),
        [in_storage("lbdr1"), in_storage("webdr1"), in_storage("dbdr1")],
        id="storage_of_dr_hosts_only",
    ),
    pytest.param(
        lambda i: (
            set_all(i, "ha_lamp_dr_site", "standby"),
            sites(i, **{name: "standby" for name in DR_HOSTS}),
            i["groups"].update(storage=["web1", "web2", "db3", "webdr1"]),
        ),
        [in_storage("webdr1", site="standby")],
        id="dr_host_in_storage_dr_site_named_standby",
    ),
    # -- the main site's primary and switchover target are never a DR database ---------------------------
    pytest.param(lambda i: set_all(i, "ha_lamp_db_primary", "dbdr1"), [dr_primary("dbdr1")], id="dr_database_as_primary"),
    pytest.param(
        # Set in group_vars/all of the main site only: the DR hosts do not carry it.
        lambda i: [set_host(i, name, ha_lamp_db_primary="dbdr1") for name in ("lb1", "lb2", "web1", "web2", "db1", "db2", "db3")],
        [dr_primary("dbdr1")],
        id="dr_database_as_primary_main_hosts_only",
    ),
    pytest.param(
        lambda i: (
            set_all(i, "ha_lamp_dr_site", "standby"),
            sites(i, **{name: "standby" for name in DR_HOSTS}),
            set_all(i, "ha_lamp_db_primary", "dbdr1"),
        ),
        [dr_primary("dbdr1", site="standby")],
        id="dr_database_as_primary_dr_site_named_standby",
    ),
    pytest.param(
        # A DR host of another tier is simply not a database.
        lambda i: set_all(i, "ha_lamp_db_primary", "webdr1"),
        [
            (
                "error",
                "DB_PRIMARY_NOT_IN_DATABASES",
                "databases",
                ("webdr1",),
                "databases: ha_lamp_db_primary is 'webdr1', which is not in the databases group (db1, db2 and db3); set it "
                "to one of them",
            ),
        ],
        id="dr_web_server_as_primary",
    ),
    pytest.param(lambda i: set_all(i, "ha_lamp_db_primary", "db2"), [], id="main_database_as_primary_ok"),
    pytest.param(
        lambda i: set_all(i, "ha_lamp_switchover_target", "dbdr1"),
        [dr_switchover_target("dbdr1")],
        id="dr_database_as_switchover_target",
    ),
    pytest.param(
        lambda i: (
            set_all(i, "ha_lamp_dr_site", "standby"),
            sites(i, **{name: "standby" for name in DR_HOSTS}),
            set_all(i, "ha_lamp_switchover_target", "dbdr1"),
        ),
        [dr_switchover_target("dbdr1", site="standby")],
        id="dr_database_as_switchover_target_dr_site_named_standby",
    ),
    pytest.param(
        lambda i: set_all(i, "ha_lamp_switchover_target", "lbdr1"),
        [
            (
                "error",
                "DB_SWITCHOVER_TARGET_NOT_IN_DATABASES",
                "databases",
                ("lbdr1",),
                "databases: ha_lamp_switchover_target is 'lbdr1', which is not in the databases group; %s" % PICK_MAIN,
            ),
        ],
        id="dr_load_balancer_as_switchover_target",
    ),
    pytest.param(lambda i: set_all(i, "ha_lamp_switchover_target", "db3"), [], id="main_database_as_switchover_target_ok"),
    pytest.param(
        # Both at once, and the DR database's own findings stay the DR rules' (here: none).
        lambda i: (set_all(i, "ha_lamp_db_primary", "dbdr1"), set_all(i, "ha_lamp_switchover_target", "dbdr1")),
        [dr_primary("dbdr1"), dr_switchover_target("dbdr1")],
        id="dr_database_as_primary_and_switchover_target",
    ),
    # -- the partition: main-site groups, both sites' host checks ---------------------------------------
    pytest.param(
        lambda i: i["groups"].update(loadbalancers=list(DR_LBS)),
        [
            (
                "error",
                "TIER_MISSING",
                "loadbalancers",
                (),
                "loadbalancers: the group has only hosts of the DR site 'dr' (lbdr1 and lbdr2); add at least 2 main-site hosts "
                "in different failure domains to it",
            ),
        ],
        id="every_load_balancer_in_the_dr_site",
    ),
    pytest.param(
        lambda i: set_host(i, "webdr1", ansible_host="10.213.77.21"),
        [
            (
                "error",
                "ADDRESS_DUPLICATE",
                "webservers",
                ("web1", "webdr1"),
                "web1 and webdr1 share the address 10.213.77.21: web1 (ansible_host), webdr1 (ansible_host); give every host "
                "its own address",
            ),
        ],
        id="dr_host_with_a_main_host_address",
    ),
    pytest.param(
        lambda i: set_host(i, "webdr1", ansible_host="10.213.77.100"),
        [
            (
                "error",
                "VIP_ADDRESS_CONFLICT",
                "loadbalancers",
                ("webdr1",),
                "loadbalancers: VIP 'public' address 10.213.77.100 is also webdr1's ansible_host; a VIP must be an otherwise "
                "unused address, pick a free one in 10.213.77.0/24",
            ),
        ],
        id="dr_host_on_the_main_vip",
    ),
    pytest.param(
        lambda i: (set_host(i, "db1", mysql_server_id=7), set_host(i, "dbdr1", mysql_server_id=7)),
        [
            (
                "error",
                "DB_SERVER_ID_DUPLICATE",
                "databases",
                ("db1", "dbdr1"),
                "databases: db1 and dbdr1 share mysql_server_id 7; replication ignores events from its own server id, so give "
                "every database a unique mysql_server_id",
            ),
        ],
        id="server_id_shared_across_sites",
    ),
    pytest.param(
        # Not the DR site's name: another site of the main site (which then spans two sites), judged by the main rules.
        lambda i: set_host(i, "db3", site="DR"),
        [
            (
                "warning",
                "SITE_PARTIAL",
                "cluster",
                ("db1", "db2", "lb1", "lb2", "web1", "web2"),
                "site is set on some hosts but not on lb1, lb2, web1, web2, db1 and db2, which count as site 'default'; set "
                "site on every host or on none",
            ),
            (
                "warning",
                "TIER_SINGLE_SITE",
                "loadbalancers",
                ("lb1", "lb2"),
                "loadbalancers: every host (lb1 and lb2) is in site 'default' (var site) while the cluster spans sites 'DR', "
                "'default'; losing site 'default' stops the loadbalancers tier; add a host in another site",
            ),
            (
                "warning",
                "TIER_SINGLE_SITE",
                "webservers",
                ("web1", "web2"),
                "webservers: every host (web1 and web2) is in site 'default' (var site) while the cluster spans sites 'DR', "
                "'default'; losing site 'default' stops the webservers tier; add a host in another site",
            ),
            (
                "warning",
                "DB_EVEN_SITES",
                "databases",
                ("db1", "db2", "db3"),
                "databases: spread over 2 sites (DR, default) with no cluster host in another site to break a tie; after a "
                "split between the sites neither side can tell it holds the majority, so failover across sites must stay "
                "manual; add a host (replica or witness) in a third site",
            ),
        ],
        id="site_names_are_case_sensitive",
    ),
    # -- ha_lamp_dr_site -------------------------------------------------------------------------------
    pytest.param(
        lambda i: set_all(i, "ha_lamp_dr_site", 5),
        [
            (
                "error",
                "SITE_INVALID",
                "cluster",
                (),
                "ha_lamp_dr_site is an integer (5), not a site name; set it to the site of the DR site's hosts (var site; "
                "default 'dr'), a non-empty string without surrounding spaces, or leave it unset",
            ),
        ],
        id="dr_site_name_not_a_string_falls_back_to_dr",
    ),
    pytest.param(
        lambda i: set_all(i, "ha_lamp_dr_site", " dr"),
        [
            (
                "error",
                "SITE_INVALID",
                "cluster",
                (),
                "ha_lamp_dr_site is a string (' dr'), not a site name; set it to the site of the DR site's hosts (var site; "
                "default 'dr'), a non-empty string without surrounding spaces, or leave it unset",
            ),
        ],
        id="dr_site_name_with_spaces",
    ),
    pytest.param(
        # The first value wins, as for every cluster-wide variable: the DR site stays 'dr'.
        lambda i: (set_all(i, "ha_lamp_dr_site", "dr"), set_host(i, "db3", ha_lamp_dr_site="standby")),
        [
            (
                "error",
                "CLUSTER_VAR_CONFLICT",
                "cluster",
                ("db1", "db2", "db3", "dbdr1", "lb1", "lb2", "lbdr1", "lbdr2", "web1", "web2", "webdr1"),
                "ha_lamp_dr_site differs between hosts: 'dr' on lb1, lb2, lbdr1, lbdr2, web1, web2, webdr1, db1, db2 and "
                "dbdr1; 'standby' on db3; set it once for the whole cluster (group_vars/all)",
            ),
        ],
        id="dr_site_name_differs_between_hosts",
    ),
]


@pytest.mark.parametrize("mutate, expected", CASES)
def test_dr_rule(mutate, expected):
    assert_case(lab(), mutate, expected)


def test_dr_rules_are_registered_with_their_severity():
    assert DR_RULES == {
        "DR_TIER_MISSING": "error",
        "DR_SHARES_RACK": "error",
        "DR_VIP_SUBNET": "error",
        "DR_DB_IN_DCS": "error",
        "DR_DB_FAILOVER": "error",
        "DR_IN_STORAGE": "error",
    }
    for rule, severity in DR_RULES.items():
        assert RULES[rule] == severity


def test_every_dr_rule_is_exercised():
    seen = {finding[1] for _mutate, expected in (case.values for case in CASES) for finding in expected}
    assert set(DR_RULES) <= seen


def _one_site_cases():
    """Each case of the other rule tests with the lab it mutates."""
    from .test_redundancy_storage import lab as storage_lab

    for cases, base in ((RULE_CASES, _lab_rules), (STORAGE_CASES, storage_lab)):
        for case in cases:
            yield pytest.param(base, case.values[0], id=case.id)


@pytest.mark.parametrize("base, mutate", list(_one_site_cases()))
@pytest.mark.parametrize("dr_site", [None, "dr", "standby"])
def test_one_site_inventory_gives_todays_report(base, mutate, dr_site):
    """Every single-site case of the other rule tests, with ha_lamp_dr_site unset, 'dr' or another name
    (and no host in that site): the whole report equals the one without the variable."""
    before = base()
    mutate(before)
    after = copy.deepcopy(before)
    if dr_site is not None:
        for variables in after["hostvars"].values():
            if isinstance(variables, dict):
                variables["ha_lamp_dr_site"] = dr_site
    assert validate(after) == validate(before)


def test_dr_site_named_elsewhere_leaves_its_hosts_in_the_main_site():
    inventory = lab()
    set_all(inventory, "ha_lamp_dr_site", "standby")
    report = validate(inventory)
    assert "dr_site" not in report["summary"]
    assert report["summary"]["hosts"] == 11
    assert report["summary"]["sites"] == ["default", "dr"]
    assert not [finding for finding in report["findings"] if finding["rule"] in DR_RULES]


def test_summary_names_the_dr_site_and_keeps_the_main_site_alone():
    report = validate(lab())
    assert report["ok"] is True
    assert report["summary"]["hosts"] == 7
    assert report["summary"]["sites"] == ["default"]
    assert report["summary"]["tiers"]["loadbalancers"]["hosts"] == ["lb1", "lb2"]
    assert report["summary"]["dcs"]["hosts"] == ["db1", "db2", "db3"]
    assert report["summary"]["dr_site"] == {
        "name": "dr",
        "hosts": ["lbdr1", "lbdr2", "webdr1", "dbdr1"],
        "tiers": {"loadbalancers": ["lbdr1", "lbdr2"], "webservers": ["webdr1"], "databases": ["dbdr1"]},
    }
    # The availability estimate is the main site's: the DR site takes over by an operator's decision only.
    assert report["availability"] == validate(_lab_rules())["availability"]
    assert "dr_site" not in validate(_lab_rules())["summary"]


def test_dr_site_template_error_is_reported_once_not_as_missing():
    inventory = lab()
    inventory["hostvars"]["webdr1"].pop("rack")
    inventory["var_errors"] = {"webdr1": {"rack": "'rack_of_webdr1' is undefined"}}
    assert keyed(validate(inventory)) == [
        (
            "error",
            "VAR_TEMPLATE_ERROR",
            "webservers",
            ("webdr1",),
            "webdr1: variable rack could not be templated ('rack_of_webdr1' is undefined); fix the expression or set a plain value",
        ),
    ]


def test_inventory_from_reads_the_dr_site_name():
    inventory = lab(site="standby")
    set_all(inventory, "ha_lamp_dr_site", "standby")
    hostvars = {host: dict(values, unrelated="never-read") for host, values in inventory["hostvars"].items()}
    built = inventory_from(inventory["groups"], hostvars)
    assert built["hostvars"]["lbdr1"]["ha_lamp_dr_site"] == "standby"
    assert "unrelated" not in built["hostvars"]["lbdr1"]
    report = validate(built)
    assert report["findings"] == []
    assert report["summary"]["dr_site"]["name"] == "standby"


def test_render_text_lists_dr_findings_last_under_their_own_heading():
    inventory = lab()
    inventory["groups"]["dcs"] = ["db1", "db2", "dbdr1"]
    text = render_text(validate(inventory), include_availability=False)
    assert text.index("  [dcs]") < text.index("  [dr]")
    assert "    DR_DB_IN_DCS dbdr1: in the group dcs, the main site's etcd quorum, but in the DR site 'dr' (var site);" in text
