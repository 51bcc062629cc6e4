"""Unit tests of the validator beyond single rules: input handling, options, templating errors,
the availability estimate and the text report."""

import json
import math

import pytest

from ansible_collections.onprem.ha_lamp.plugins.module_utils import availability
from ansible_collections.onprem.ha_lamp.plugins.module_utils.redundancy import (
    OptionError,
    inventory_from,
    render_text,
    validate,
)

from ansible_collections.onprem.ha_lamp.plugins.module_utils.redundancy_model import CONTRACT_VARS, format_seconds, parse_haproxy_time

from .inventory_cases import keyed, set_host
from .test_redundancy_rules import lab

# Rules exercised here rather than in test_redundancy_rules.py.
EXTRA_RULES = {"VAR_TEMPLATE_ERROR"}


# -- unusable input and options ------------------------------------------------------------------


@pytest.mark.parametrize(
    "inventory, message",
    [
        pytest.param(["lb1"], "the inventory must be a mapping with groups and hostvars, got a list", id="not-a-mapping"),
        pytest.param(
            {"groups": ["lb1"], "hostvars": {}}, "groups must be a mapping of group name to host list, got a list", id="groups-list"
        ),
        pytest.param(
            {"groups": {}, "hostvars": "x"}, "hostvars must be a mapping of host name to variables, got a string", id="hostvars-str"
        ),
        pytest.param(
            {"groups": {}, "hostvars": {}, "options": {"host_availability": 1.5}},
            "host_availability must be a number in (0, 1], got 1.5",
            id="availability-range",
        ),
        pytest.param(
            {"groups": {}, "hostvars": {}, "options": {"domain_availability": "high"}},
            "domain_availability must be a number in (0, 1], got 'high'",
            id="domain-availability-str",
        ),
        pytest.param(
            {"groups": {}, "hostvars": {}, "options": {"failure_domain": "row"}},
            "failure_domain must be one of rack, site, got 'row'",
            id="failure-domain",
        ),
        pytest.param(
            {"groups": {}, "hostvars": {}, "options": {"colour": 1}},
            "unknown option(s): colour; known: domain_availability, failure_domain, host_availability, message_host_limit",
            id="unknown-option",
        ),
    ],
)
def test_unusable_input_raises_option_error(inventory, message):
    with pytest.raises(OptionError) as info:
        validate(inventory)
    assert str(info.value) == message


def test_options_override_inventory_failure_domain():
    report = validate(dict(lab(), options={"failure_domain": "site"}))
    assert report["summary"]["failure_domain"] == "site"
    assert {f["rule"] for f in report["findings"]} == {"TIER_SINGLE_DOMAIN", "DB_NO_REMOTE_REPLICA", "DCS_DOMAIN_MAJORITY"}


def test_availability_string_option_is_accepted():
    report = validate(dict(lab(), options={"host_availability": "0.95"}))
    assert report["availability"]["host_availability"] == 0.95


def test_everything_malformed_at_once_gives_findings_not_a_traceback():
    inventory = {
        "groups": {"loadbalancers": "lb1", "webservers": [None, "web1"], "databases": ["db1"]},
        "hostvars": {
            "web1": {
                "rack": ["a"],
                "site": 3,
                "ansible_host": {"x": 1},
                "ha_lamp_failure_domain": ["rack"],
                "ha_lamp_db_primary": {"a": 1},
            },
            "db1": "not a mapping",
        },
    }
    report = validate(inventory)
    json.dumps(report)  # JSON-serialisable whatever the input
    assert render_text(report)
    rules = [(f["rule"], tuple(f["hosts"])) for f in report["findings"]]
    assert rules == [
        ("FAILURE_DOMAIN_INVALID", ()),
        ("GROUP_MALFORMED", ()),
        ("GROUP_MALFORMED", ()),
        ("RACK_INVALID", ("web1",)),
        ("SITE_INVALID", ("web1",)),
        ("ADDRESS_INVALID", ("web1",)),
        ("TIER_TOO_FEW_HOSTS", ("web1",)),
        ("TIER_TOO_FEW_HOSTS", ("db1",)),
        ("RACK_MISSING", ("db1",)),
        ("DB_PRIMARY_INVALID", ()),
        ("DCS_MISSING", ()),
        ("SITE_PARTIAL", ("db1",)),
    ]


# -- templating errors and the Ansible adapter -----------------------------------------------------


class FailingVars(dict):
    """Stands in for Ansible's HostVarsVars: reading a variable templates it, and may fail."""

    def __init__(self, values, failing):
        super().__init__(values)
        self.failing = failing

    def __getitem__(self, key):
        if key in self.failing:
            raise ValueError("'%s' is undefined" % self.failing[key])
        return super().__getitem__(key)

    def __contains__(self, key):
        return key in self.failing or super().__contains__(key)


def test_inventory_from_reads_only_contract_vars_and_records_template_errors():
    inventory = lab()
    hostvars = {}
    for host, values in inventory["hostvars"].items():
        values = dict(values, ansible_podman_host="never-read")
        failing = {"ansible_podman_host": "inventory_hostname_typo"}
        if host.startswith("web"):
            values.pop("rack")
            failing["rack"] = "rack_of_host"
        hostvars[host] = FailingVars(values, failing)
    groups = dict(inventory["groups"], all=["lb1"], ungrouped=[])
    built = inventory_from(groups, hostvars)
    assert set(built["groups"]) == {"loadbalancers", "webservers", "databases", "dcs"}
    assert "ansible_podman_host" not in built["hostvars"]["lb1"]
    assert built["var_errors"] == {
        "web1": {"rack": "'rack_of_host' is undefined"},
        "web2": {"rack": "'rack_of_host' is undefined"},
    }
    assert keyed(validate(built)) == [
        (
            "error",
            "VAR_TEMPLATE_ERROR",
            "webservers",
            ("web1", "web2"),
            "web1 and web2: variable rack could not be templated ('rack_of_host' is undefined); fix the expression or set a plain value",
        ),
    ]


@pytest.mark.parametrize(
    "value",
    ["{{ rack_of_host[inventory_hostname] }}", "r{% if x %}1{% endif %}", ["r1", "{{ x }}"], {"rack": "{{ x }}"}],
)
def test_inventory_from_reports_a_value_left_as_a_template(value):
    # ansible-core before 2.19 returns an undefined name's template text instead of raising.
    inventory = lab()
    inventory["hostvars"]["web1"]["rack"] = value
    built = inventory_from(inventory["groups"], inventory["hostvars"])
    assert "rack" not in built["hostvars"]["web1"]
    assert built["var_errors"] == {
        "web1": {"rack": "%r is still a template after templating (an undefined variable in it?)" % (value,)},
    }
    assert [(f["rule"], f["hosts"]) for f in validate(built)["findings"]] == [("VAR_TEMPLATE_ERROR", ["web1"])]


@pytest.mark.parametrize("value", ["r1", "rack {1}", "{ r1 }", 7])
def test_inventory_from_keeps_plain_values_with_braces(value):
    inventory = lab()
    inventory["hostvars"]["web1"]["rack"] = value
    built = inventory_from(inventory["groups"], inventory["hostvars"])
    assert built["hostvars"]["web1"]["rack"] == value
    assert built["var_errors"] == {}


def test_inventory_from_host_missing_from_hostvars():
    inventory = lab()
    del inventory["hostvars"]["db3"]
    report = validate(inventory_from(inventory["groups"], inventory["hostvars"]))
    assert [(f["rule"], f["hosts"]) for f in report["findings"]] == [("RACK_MISSING", ["db3"])]


def test_inventory_from_rejects_non_mappings():
    with pytest.raises(OptionError, match="groups must be a mapping"):
        inventory_from(["loadbalancers"], {})
    with pytest.raises(OptionError, match="hostvars must be a mapping"):
        inventory_from({}, 42)


def test_message_names_at_most_limit_hosts():
    groups = {"loadbalancers": ["lb%d" % n for n in range(15)], "webservers": ["web1", "web2"], "databases": ["db1", "db2"]}
    groups["dcs"] = ["lb0", "db1", "db2"]  # racks r1, 1 and 2
    hostvars = {
        host: {"ansible_host": "10.0.%d.%d" % (n // 200, n % 200 + 1), "rack": "r1"}
        for n, host in enumerate(groups["loadbalancers"] + groups["webservers"] + groups["databases"])
    }
    for host in groups["webservers"] + groups["databases"]:
        hostvars[host]["rack"] = host[-1]
    for host in hostvars:
        hostvars[host]["ha_lamp_vips"] = [
            {"name": "public", "address": "10.0.0.250/16", "vrid": 1},
            {"name": "internal", "address": "10.0.0.251/16", "vrid": 2, "purpose": "internal"},
        ]
    report = validate({"groups": groups, "hostvars": hostvars, "options": {"message_host_limit": 3}})
    (finding,) = report["findings"]
    assert finding["rule"] == "TIER_SINGLE_DOMAIN"
    assert len(finding["hosts"]) == 15
    assert finding["message"].startswith("loadbalancers: lb0, lb1, lb2 and 12 more are all in rack 'r1' (var rack)")


def test_multi_site_racks_are_qualified_by_site():
    inventory = lab()
    for host, site in (("lb1", "a"), ("lb2", "b"), ("web1", "a"), ("web2", "b"), ("db1", "a"), ("db2", "b"), ("db3", "c")):
        set_host(inventory, host, site=site, rack="r1")
    report = validate(inventory)
    assert report["findings"] == []
    assert report["summary"]["tiers"]["loadbalancers"]["domains"] == {"a/r1": 1, "b/r1": 1}


# -- automatic failover: dcs group and HAProxy check timing ------------------------------------------


def test_dcs_only_member_is_a_cluster_host_but_no_tier():
    inventory = lab()
    inventory["groups"]["dcs"] = ["db1", "db2", "etcd1"]
    set_host(inventory, "etcd1", ansible_host="10.213.77.21", rack="r3")  # web1's address
    report = validate(inventory)
    assert [(f["rule"], f["tier"], f["hosts"]) for f in report["findings"]] == [("ADDRESS_DUPLICATE", "webservers", ["etcd1", "web1"])]
    assert report["summary"]["hosts"] == 8
    assert report["summary"]["dcs"] == {"hosts": ["db1", "db2", "etcd1"], "domains": {"r1": 1, "r2": 1, "r3": 1}}
    assert "etcd1" not in report["summary"]["tiers"]["databases"]["hosts"]


def test_inventory_from_reads_dcs_members_and_failover_vars():
    inventory = lab()
    inventory["groups"]["dcs"] = ["db1", "db2", "etcd1"]
    hostvars = dict(inventory["hostvars"], etcd1={"ansible_host": "10.213.77.41", "rack": "r3", "other": 1})
    for variables in hostvars.values():
        variables.update(ha_lamp_switchover_target="db2", haproxy_db_check_inter="500ms", ha_lamp_db_lease_ttl=5)
    built = inventory_from(dict(inventory["groups"], all=list(hostvars)), hostvars)
    assert built["groups"]["dcs"] == ["db1", "db2", "etcd1"]
    assert built["hostvars"]["etcd1"]["rack"] == "r3"
    assert "other" not in built["hostvars"]["etcd1"]
    assert built["hostvars"]["lb1"]["ha_lamp_switchover_target"] == "db2"
    assert validate(built)["findings"] == []


@pytest.mark.parametrize(
    "value, micros",
    [("1s", 1000000), ("500ms", 500000), ("2000", 2000000), (2000, 2000000), (" 2m ", 120000000), ("1h", 3600000000), ("250us", 250)],
)
def test_parse_haproxy_time(value, micros):
    assert parse_haproxy_time(value) == (micros, None)


@pytest.mark.parametrize("value", ["", "1 sec", "-1s", "1.5s", "0", 0, True, 1.5, None, ["1s"]])
def test_parse_haproxy_time_rejects(value):
    micros, problem = parse_haproxy_time(value)
    assert micros is None and problem


def test_format_seconds():
    assert [format_seconds(us) for us in (2000000, 1500000, 250000, 250)] == ["2 s", "1.5 s", "0.25 s", "0.00025 s"]


# -- availability ----------------------------------------------------------------------------------


def test_tier_unavailability_formula():
    # two hosts in two racks: each rack-and-host pair is down with 1 - d*a
    a, d = 0.99, 0.999
    assert availability.tier_unavailability({"r1": 1, "r2": 1}, a, d) == pytest.approx((1 - d * a) ** 2)
    # two hosts in one rack: the rack is down, or it is up and both hosts are down
    assert availability.tier_unavailability({"r1": 2}, a, d) == pytest.approx((1 - d) + d * (1 - a) ** 2)
    # d = 1: plain independent hosts
    assert availability.tier_unavailability({"r1": 3}, a, 1.0) == pytest.approx((1 - a) ** 3)
    assert availability.tier_unavailability({}, a, d) == 1.0


def test_lab_availability_figures():
    estimate = validate(dict(lab(), options={"domain_availability": 1.0}))["availability"]
    lbs = estimate["tiers"]["loadbalancers"]
    assert lbs["unavailability"] == pytest.approx(1e-4)
    assert lbs["nines"] == 4.0
    assert lbs["downtime_minutes_per_year"] == pytest.approx(52.596)
    assert estimate["tiers"]["databases"]["unavailability"] == pytest.approx(1e-6)
    stack_down = 1 - (1 - 1e-4) * (1 - 1e-4) * (1 - 1e-6)
    assert estimate["stack"]["unavailability"] == pytest.approx(stack_down)
    assert estimate["worst_domain_loss"] == {
        "level": "rack",
        "domain": "r1",
        "tier_hosts": 3,
        "stops": [],
        "primary_lost": True,
    }
    assert [(loss["domain"], loss["stops"]) for loss in estimate["domain_losses"]] == [("r1", []), ("r2", []), ("r3", [])]


def test_domain_loss_names_stopped_tiers():
    inventory = lab()
    set_host(inventory, "lb2", rack="r1")
    set_host(inventory, "web2", rack="r1")
    estimate = validate(inventory)["availability"]
    assert estimate["worst_domain_loss"]["domain"] == "r1"
    assert estimate["worst_domain_loss"]["stops"] == ["loadbalancers", "webservers"]
    assert availability.describe_loss(estimate["worst_domain_loss"]) == (
        "losing rack r1 stops: loadbalancers, webservers (the primary database is there: writes pause until a replica is promoted)"
    )
    assert availability.describe_loss({"level": "rack", "domain": "r2", "stops": [], "primary_lost": False}) == (
        "losing rack r2 stops: none"
    )


def test_site_losses_are_reported_for_multi_site_rack_level():
    inventory = lab()
    for host, site in (("lb1", "a"), ("lb2", "a"), ("web1", "a"), ("web2", "b"), ("db1", "a"), ("db2", "b"), ("db3", "c")):
        set_host(inventory, host, site=site)
    estimate = validate(inventory)["availability"]
    site_losses = {loss["domain"]: loss["stops"] for loss in estimate["domain_losses"] if loss["level"] == "site"}
    assert site_losses == {"a": ["loadbalancers"], "b": [], "c": []}
    assert estimate["worst_domain_loss"]["level"] == "site"
    assert estimate["worst_domain_loss"]["domain"] == "a"


def test_missing_tier_makes_stack_unavailable():
    inventory = lab()
    del inventory["groups"]["webservers"]
    estimate = validate(inventory)["availability"]
    assert estimate["tiers"]["webservers"]["availability"] == 0.0
    assert estimate["stack"]["availability"] == 0.0
    assert estimate["stack"]["nines"] == 0.0


def test_tiny_unavailability_keeps_precision():
    figures = availability.figures(1e-18)
    assert figures["nines"] == 18.0
    assert figures["availability"] == 1.0
    assert availability.figures(0.0)["nines"] is None
    assert math.isclose(availability.figures(1e-3)["downtime_minutes_per_year"], 525.96)


def test_describe_figures():
    assert availability.describe_figures(availability.figures(1e-4)) == "99.990% (4.0 nines, 52.6 min/year)"
    assert availability.describe_figures(availability.figures(1e-3)) == "99.90% (3.0 nines, 526 min/year)"
    assert availability.describe_figures(availability.figures(1e-7)) == "99.999990% (7.0 nines, 3.2 s/year)"


# -- human report ---------------------------------------------------------------------------------


def test_render_text_groups_errors_first_by_tier():
    inventory = lab()
    set_host(inventory, "db2", rack="r1")  # warning (databases)
    inventory["groups"]["dcs"] = ["db1", "db3", "web2"]  # etcd members still one per rack
    set_host(inventory, "lb2", rack="r1")  # error (loadbalancers)
    set_host(inventory, "web2", ansible_host="10.213.77.21")  # error (webservers)
    text = render_text(validate(inventory))
    lines = text.splitlines()
    assert lines[0] == "Inventory redundancy report: 2 error(s), 1 warning(s); failure domain: rack; 7 cluster hosts"
    assert lines[1] == "ERRORS (deployment refused until fixed)"
    assert lines[2] == "  [loadbalancers]"
    assert lines[3].startswith("    TIER_SINGLE_DOMAIN loadbalancers: lb1 and lb2 are both in rack 'r1'")
    assert lines[4] == "  [webservers]"
    assert lines[5].startswith("    ADDRESS_DUPLICATE web1 and web2 share the address 10.213.77.21")
    assert lines[6] == "WARNINGS"
    assert lines[7] == "  [databases]"
    assert lines[8].startswith("    DB_REPLICA_SHARES_PRIMARY_DOMAIN databases: replica db2 shares rack 'r1'")
    assert lines[9] == "AVAILABILITY ESTIMATE"
    assert lines[10].startswith("  model: independent host failures (availability 0.99 per host)")
    # loadbalancers: both in r1, down when r1 is down or both hosts are: 0.001 + 0.999 * 0.01**2 = 0.0010999
    assert lines[11] == "  loadbalancers      2 host(s) in    1 rack(s): 99.89% (3.0 nines, 579 min/year)"
    # stack: 1 - (1 - 0.0010999) * (1 - 0.01099**2) * (1 - 0.0010999 * 0.01099) = 0.0012326 -> 648 min/year
    assert lines[14] == "  stack                              all tiers: 99.88% (2.9 nines, 648 min/year)"
    assert "  worst single failure domain: losing rack r1 stops: loadbalancers" in text


# -- robustness: junk anywhere is a finding, never an exception --------------------------------------

JUNK = [
    None,
    "",
    " ",
    "x",
    "10.0.0.999",
    "::1",
    "fe80::1%eth0",
    "10.213.77.100/24",
    0,
    -1,
    7,
    2**40,
    1.5,
    True,
    [],
    ["r1"],
    {},
    {"a": 1},
    [{"name": "v", "address": "10.213.77.100/24", "vrid": 51}],
    [None],
    [{"name": 1, "address": 2, "vrid": "3", "interface": 4}],
    [{"name": "a", "address": "fd00::10/64", "vrid": 9}],
    "{{ x }}",
    object(),
]


@pytest.mark.parametrize("seed", range(100))
def test_random_junk_never_raises(seed):
    import random

    rng = random.Random(seed)
    inventory = lab()
    hosts = list(inventory["hostvars"])
    for _change in range(rng.randint(1, 8)):
        host = rng.choice(hosts)
        var = rng.choice(CONTRACT_VARS)
        inventory["hostvars"][host][var] = rng.choice(JUNK)
    if rng.random() < 0.3:
        inventory["groups"][rng.choice(list(inventory["groups"]))] = rng.choice(JUNK)
    report = validate(inventory)
    json.dumps(report)  # strictly JSON, whatever the input
    render_text(report)
    for finding in report["findings"]:
        assert finding["severity"] in ("error", "warning")
        assert finding["message"]


def test_addresses_are_compared_in_canonical_form():
    inventory = lab()
    set_host(inventory, "web1", ansible_host="fd00:77::21")
    set_host(inventory, "web2", ansible_host="FD00:77:0:0:0:0:0:21")
    set_host(inventory, "db1", ansible_host="DB1.example.com.")
    set_host(inventory, "db2", ansible_host="db1.example.com")
    assert [(f["rule"], f["hosts"]) for f in validate(inventory)["findings"]] == [
        ("ADDRESS_DUPLICATE", ["web1", "web2"]),
        ("ADDRESS_DUPLICATE", ["db1", "db2"]),
    ]
