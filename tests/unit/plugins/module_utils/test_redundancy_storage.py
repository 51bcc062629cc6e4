"""Unit tests of the storage rules (the GlusterFS replica 3 arbiter 1 volume of shared uploads).

Each case adds a storage group to the lab inventory (or varies it) and asserts the exact findings:
severity, rule id, tier, hosts and message. The lab's own layout is web1, web2 (data bricks) and
db3 (arbiter), one per rack, which must stay clean."""

import pytest

from ansible_collections.onprem.ha_lamp.plugins.module_utils.redundancy import RULES, inventory_from, render_text, validate
from ansible_collections.onprem.ha_lamp.plugins.module_utils.redundancy_storage import STORAGE_RULES, brick_roles

from .inventory_cases import CLUSTER_VARS, assert_case, keyed, set_all, set_host
from .test_redundancy_rules import PLANES
from .test_redundancy_rules import lab as _lab_rules

LAB_STORAGE = ["web1", "web2", "db3"]

VOLUME = (
    "but the shared uploads volume is one GlusterFS replica 3 volume with an arbiter (the first two hosts in "
    "inventory order carry the data bricks, the third the arbiter)"
)
NO_DATA = "and no copy of the data is left (the arbiter holds metadata only)"


def lab(storage=None):
    """The lab inventory with the lab's storage group (or ``storage``)."""
    inventory = _lab_rules()
    inventory["groups"]["storage"] = list(LAB_STORAGE if storage is None else storage)
    return inventory


def storage(inventory, members):
    inventory["groups"]["storage"] = members


def nas(inventory, *racks, first=41, **extra):
    """Storage-only hosts nas1.. with addresses 10.213.77.41.. and the given racks (None = no rack)."""
    names = []
    for index, rack in enumerate(racks, start=1):
        name = "nas%d" % index
        values = {"ansible_host": "10.213.77.%d" % (first + index - 1)}
        values.update(CLUSTER_VARS)
        values.update(PLANES)
        if rack is not None:
            values["rack"] = rack
        values.update(extra)
        inventory["hostvars"][name] = values
        names.append(name)
    inventory["groups"]["storage"] = names
    return names


def sites(inventory, **placement):
    for host, site in placement.items():
        set_host(inventory, host, site=site)


THREE_SITES = {"lb1": "a", "lb2": "b", "web1": "a", "web2": "b", "db1": "a", "db2": "b", "db3": "c"}


CASES = [
    # -- good ------------------------------------------------------------------------------------------
    pytest.param(lambda i: None, [], id="lab_layout_ok_no_multi_tier_warning"),
    pytest.param(lambda i: i["groups"].pop("storage"), [], id="no_storage_group_no_rule"),
    pytest.param(lambda i: storage(i, []), [], id="empty_storage_group_no_rule"),
    pytest.param(lambda i: storage(i, None), [], id="null_storage_group_no_rule"),
    pytest.param(lambda i: nas(i, "r1", "r2", "r3"), [], id="storage_only_hosts_ok"),
    pytest.param(lambda i: storage(i, ["db1", "db2", "db3"]), [], id="databases_as_storage_ok"),
    pytest.param(lambda i: storage(i, ["web1", "web1", "web2", "db3"]), [], id="duplicate_entry_counted_once"),
    pytest.param(
        lambda i: (set_all(i, "ha_lamp_failure_domain", "site"), sites(i, **THREE_SITES)),
        [],
        id="site_level_three_sites_ok",
    ),
    pytest.param(
        lambda i: (set_all(i, "ha_lamp_failure_domain", "site"), sites(i, **THREE_SITES), storage(i, ["web1", "db2", "db3"])),
        [],
        id="site_level_mixed_tiers_ok",
    ),
    # -- STORAGE_SIZE ----------------------------------------------------------------------------------
    pytest.param(
        lambda i: storage(i, ["web1"]),
        [
            (
                "error",
                "STORAGE_SIZE",
                "storage",
                ("web1",),
                "storage: 1 host (web1), %s; one host is a single point of failure for every upload; list exactly 3 hosts "
                "in the storage group, each in a different rack" % VOLUME,
            ),
        ],
        id="size_one",
    ),
    pytest.param(
        lambda i: storage(i, ["web1", "web2"]),
        [
            (
                "error",
                "STORAGE_SIZE",
                "storage",
                ("web1", "web2"),
                "storage: 2 hosts (web1 and web2), %s; two hosts cannot break a tie, so losing one stops writes (or, "
                "without quorum, risks split brain); list exactly 3 hosts in the storage group, each in a different rack"
                % VOLUME,
            ),
        ],
        id="size_two",
    ),
    pytest.param(
        lambda i: storage(i, ["web1", "web1"]),
        [
            (
                "error",
                "STORAGE_SIZE",
                "storage",
                ("web1",),
                "storage: 1 host (web1), %s; one host is a single point of failure for every upload; list exactly 3 hosts "
                "in the storage group, each in a different rack" % VOLUME,
            ),
        ],
        id="size_two_entries_one_host",
    ),
    pytest.param(
        lambda i: storage(i, ["web1", "web2", "db3", "db1"]),
        [
            (
                "error",
                "STORAGE_SIZE",
                "storage",
                ("db1", "db3", "web1", "web2"),
                "storage: 4 hosts (web1, web2, db3 and db1), %s; the volume has exactly 3 bricks, so db1 would hold none; "
                "list exactly 3 hosts in the storage group, each in a different rack" % VOLUME,
            ),
        ],
        id="size_four",
    ),
    pytest.param(
        lambda i: storage(i, ["web1", "web2", "db3", "db1", "db2"]),
        [
            (
                "error",
                "STORAGE_SIZE",
                "storage",
                ("db1", "db2", "db3", "web1", "web2"),
                "storage: 5 hosts (web1, web2, db3, db1 and db2), %s; the volume has exactly 3 bricks, so db1 and db2 "
                "would hold none; list exactly 3 hosts in the storage group, each in a different rack" % VOLUME,
            ),
        ],
        id="size_five",
    ),
    pytest.param(
        # Two hosts in one rack AND too few: only the size is reported (a 2-host volume has no spread to judge).
        lambda i: (set_all(i, "ha_lamp_failure_domain", "site"), sites(i, **THREE_SITES), storage(i, ["web1", "db1"])),
        [
            (
                "error",
                "STORAGE_SIZE",
                "storage",
                ("db1", "web1"),
                "storage: 2 hosts (web1 and db1), %s; two hosts cannot break a tie, so losing one stops writes (or, "
                "without quorum, risks split brain); list exactly 3 hosts in the storage group, each in a different site"
                % VOLUME,
            ),
        ],
        id="size_two_site_level_says_site",
    ),
    # -- STORAGE_DOMAINS -------------------------------------------------------------------------------
    pytest.param(
        lambda i: storage(i, ["web1", "db1", "db3"]),
        [
            (
                "error",
                "STORAGE_DOMAINS",
                "storage",
                ("db1", "web1"),
                "storage: rack 'r1' (var rack) holds 2 of the 3 bricks, web1 and db1, both data bricks; losing it leaves 1, "
                "short of the client quorum of 2, so the volume refuses writes %s; place the 3 storage hosts in 3 different "
                "racks" % NO_DATA,
            ),
        ],
        id="both_data_bricks_in_one_rack",
    ),
    pytest.param(
        lambda i: storage(i, ["web1", "web2", "db2"]),
        [
            (
                "error",
                "STORAGE_DOMAINS",
                "storage",
                ("db2", "web2"),
                "storage: rack 'r2' (var rack) holds 2 of the 3 bricks, web2 (data) and db2 (arbiter); losing it leaves 1, "
                "short of the client quorum of 2, so the volume refuses writes; place the 3 storage hosts in 3 different racks",
            ),
        ],
        id="data_and_arbiter_in_one_rack",
    ),
    pytest.param(
        lambda i: nas(i, "r1", "r1", "r1"),
        [
            (
                "error",
                "STORAGE_DOMAINS",
                "storage",
                ("nas1", "nas2", "nas3"),
                "storage: rack 'r1' (var rack) holds all of the 3 bricks, nas1 (data), nas2 (data) and nas3 (arbiter); "
                "losing it leaves 0, short of the client quorum of 2, so the volume refuses writes %s; place the 3 storage "
                "hosts in 3 different racks" % NO_DATA,
            ),
        ],
        id="all_bricks_in_one_rack",
    ),
    pytest.param(
        lambda i: (set_all(i, "ha_lamp_failure_domain", "site"), sites(i, **THREE_SITES), storage(i, ["web1", "db3", "db1"])),
        [
            (
                "error",
                "STORAGE_DOMAINS",
                "storage",
                ("db1", "web1"),
                "storage: site 'a' (var site) holds 2 of the 3 bricks, web1 (data) and db1 (arbiter); losing it leaves 1, "
                "short of the client quorum of 2, so the volume refuses writes; place the 3 storage hosts in 3 different sites",
            ),
        ],
        id="site_level_two_bricks_in_one_site",
    ),
    pytest.param(
        # Multi-site at rack level: racks are qualified by their site; r1 of dc1 and r1 of dc2 differ.
        lambda i: (
            [set_host(i, h, site="dc1") for h in ("lb1", "web1", "db1", "db3")],
            [set_host(i, h, site="dc2") for h in ("lb2", "web2", "db2")],
            set_host(i, "db3", rack="r1"),
            set_host(i, "db1", rack="r3"),
            nas(i, "r1", "r1", "r2", site="dc2"),
            set_host(i, "nas3", site="dc3"),  # a third site breaks the databases' tie (no DB_EVEN_SITES)
        ),
        [
            (
                "error",
                "STORAGE_DOMAINS",
                "storage",
                ("nas1", "nas2"),
                "storage: rack 'dc2/r1' (var rack) holds 2 of the 3 bricks, nas1 and nas2, both data bricks; losing it "
                "leaves 1, short of the client quorum of 2, so the volume refuses writes %s; place the 3 storage hosts in "
                "3 different racks" % NO_DATA,
            ),
        ],
        id="multi_site_rack_labels",
    ),
    # -- STORAGE_NO_CLIENTS ----------------------------------------------------------------------------
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
            (
                "warning",
                "STORAGE_NO_CLIENTS",
                "storage",
                ("db3", "web1", "web2"),
                "storage: web1, web2 and db3 hold the shared uploads volume but there are no webservers to mount it; "
                "add the webservers group, or remove the storage group",
            ),
        ],
        id="no_webservers_group",
    ),
    pytest.param(
        lambda i: (i["groups"].update(webservers=[]), storage(i, ["db1"])),
        [
            (
                "error",
                "TIER_MISSING",
                "webservers",
                (),
                "webservers: the group is empty; add at least 2 hosts in different failure domains to it",
            ),
            (
                "error",
                "STORAGE_SIZE",
                "storage",
                ("db1",),
                "storage: 1 host (db1), %s; one host is a single point of failure for every upload; list exactly 3 hosts "
                "in the storage group, each in a different rack" % VOLUME,
            ),
            (
                "warning",
                "STORAGE_NO_CLIENTS",
                "storage",
                ("db1",),
                "storage: db1 holds the shared uploads volume but there are no webservers to mount it; "
                "add the webservers group, or remove the storage group",
            ),
        ],
        id="empty_webservers_one_storage_host",
    ),
    # -- storage hosts are cluster hosts: rack, address, malformed group --------------------------------
    pytest.param(
        lambda i: nas(i, "r1", "r2", None),
        [
            (
                "error",
                "RACK_MISSING",
                "storage",
                ("nas3",),
                "storage: nas3 has no rack (var rack); set rack to the rack name of every cluster host so the validator "
                "can check the spread",
            ),
        ],
        id="storage_only_host_without_rack",
    ),
    pytest.param(
        lambda i: nas(i, "r1", "r1", None),
        [
            (
                "error",
                "RACK_MISSING",
                "storage",
                ("nas3",),
                "storage: nas3 has no rack (var rack); set rack to the rack name of every cluster host so the validator "
                "can check the spread",
            ),
            (
                "error",
                "STORAGE_DOMAINS",
                "storage",
                ("nas1", "nas2"),
                "storage: rack 'r1' (var rack) holds 2 of the 3 bricks, nas1 and nas2, both data bricks; losing it leaves 1, "
                "short of the client quorum of 2, so the volume refuses writes %s; place the 3 storage hosts in 3 different "
                "racks" % NO_DATA,
            ),
        ],
        id="rack_missing_and_two_in_one_rack",
    ),
    pytest.param(
        lambda i: (nas(i, "r1", "r2", "r3"), set_host(i, "nas3", rack=["r3", "r4"])),
        [
            (
                "error",
                "RACK_INVALID",
                "storage",
                ("nas3",),
                'nas3: rack ["r3", "r4"] is a list, not a string; set exactly one rack name per host, as a string',
            ),
        ],
        id="storage_only_host_rack_list",
    ),
    pytest.param(
        lambda i: (nas(i, "r1", "r2", "r3"), set_host(i, "nas2", ansible_host="10.213.77.21")),
        [
            (
                "error",
                "ADDRESS_DUPLICATE",
                "webservers",
                ("nas2", "web1"),
                "web1 and nas2 share the address 10.213.77.21: web1 (ansible_host), nas2 (ansible_host); "
                "give every host its own address",
            ),
        ],
        id="storage_host_duplicates_web_address",
    ),
    pytest.param(
        lambda i: (nas(i, "r1", "r2", "r3"), set_host(i, "nas1", ansible_host="10.213.77.300")),
        [
            (
                "error",
                "ADDRESS_INVALID",
                "storage",
                ("nas1",),
                "nas1: ansible_host '10.213.77.300' does not parse as an IP address; set it to the host's IP address or DNS name",
            ),
        ],
        id="storage_only_host_bad_address",
    ),
    pytest.param(
        lambda i: storage(i, "web1,web2,db3"),
        [
            (
                "error",
                "GROUP_MALFORMED",
                "storage",
                (),
                "storage: the group is a string ('web1,web2,db3'), not a list of host names; define it as an inventory group "
                "with hosts",
            ),
        ],
        id="storage_group_string",
    ),
    pytest.param(
        lambda i: storage(i, [None, 7]),
        [
            (
                "error",
                "GROUP_MALFORMED",
                "storage",
                (),
                "storage: the group contains null (null), not a host name; list host names only",
            ),
            (
                "error",
                "GROUP_MALFORMED",
                "storage",
                (),
                "storage: the group contains an integer (7), not a host name; list host names only",
            ),
        ],
        id="storage_group_only_junk",
    ),
]


@pytest.mark.parametrize("mutate, expected", CASES)
def test_storage_rule(mutate, expected):
    assert_case(lab(), mutate, expected)


def test_storage_rules_are_registered_with_their_severity():
    assert STORAGE_RULES == {"STORAGE_SIZE": "error", "STORAGE_DOMAINS": "error", "STORAGE_NO_CLIENTS": "warning"}
    for rule, severity in STORAGE_RULES.items():
        assert RULES[rule] == severity


def test_every_storage_rule_is_exercised():
    seen = {finding[1] for _mutate, expected in (case.values for case in CASES) for finding in expected}
    assert set(STORAGE_RULES) <= seen


def test_arbiter_is_the_last_host_in_inventory_order():
    assert brick_roles(["web2", "web1", "db3"]) == {"web2": "data", "web1": "data", "db3": "arbiter"}


def test_storage_host_rack_template_error_is_reported_once_not_as_missing():
    inventory = lab()
    nas(inventory, "r1", "r2", None)
    inventory["var_errors"] = {"nas3": {"rack": "'rack_of_nas3' is undefined"}}
    assert keyed(validate(inventory)) == [
        (
            "error",
            "VAR_TEMPLATE_ERROR",
            "storage",
            ("nas3",),
            "nas3: variable rack could not be templated ('rack_of_nas3' is undefined); fix the expression or set a plain value",
        ),
    ]


def test_storage_only_hosts_count_as_cluster_hosts():
    inventory = lab()
    nas(inventory, "r1", "r2", "r3")
    report = validate(inventory)
    assert report["summary"]["hosts"] == 10
    lab_report = validate(lab())
    assert lab_report["summary"]["hosts"] == 7  # co-located storage adds no host


def test_inventory_from_reads_storage_hosts():
    inventory = lab()
    nas(inventory, "r1", "r2", "r3")
    hostvars = {host: dict(values, unrelated="never-read") for host, values in inventory["hostvars"].items()}
    built = inventory_from(inventory["groups"], hostvars)
    assert built["groups"]["storage"] == ["nas1", "nas2", "nas3"]
    assert built["hostvars"]["nas3"]["rack"] == "r3"
    assert "unrelated" not in built["hostvars"]["nas3"]
    assert validate(built)["findings"] == []


def test_render_text_lists_storage_after_dcs():
    inventory = lab(["web1", "db1", "db3"])
    inventory["groups"]["dcs"] = ["db1", "db2"]
    text = render_text(validate(inventory), include_availability=False)
    assert text.index("  [dcs]") < text.index("  [storage]")
    assert "    STORAGE_DOMAINS storage: rack 'r1' (var rack) holds 2 of the 3 bricks, web1 and db1, both data bricks;" in text
