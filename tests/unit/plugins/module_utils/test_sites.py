# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""module_utils/sites.py: the hosts of a group on the same site as a given host (main site or DR site).

    .venv/bin/python -m pytest -q tests/unit/plugins/module_utils/test_sites.py

The inventory is the lab's (tests/unit/plugins/module_utils/inventory_cases.py) plus, where a case says so,
the DR site of test_redundancy_dr.py: lbdr1, lbdr2, webdr1 and dbdr1 with site: dr.
"""

import copy
from collections.abc import Mapping

import pytest

from ansible_collections.onprem.ha_lamp.plugins.module_utils.redundancy import validate
from ansible_collections.onprem.ha_lamp.plugins.module_utils.redundancy_model import DEFAULT_DR_SITE, DR_SITE_VAR
from ansible_collections.onprem.ha_lamp.plugins.module_utils.sites import SiteMembersError, site_members

from .inventory_cases import lab as lab_inventory
from .test_redundancy_dr import lab as dr_inventory

LBS = ["lb1", "lb2", "lbdr1", "lbdr2"]
WEBS = ["web1", "web2", "webdr1"]
DBS = ["db1", "db2", "db3", "dbdr1"]
FIX = (
    "set it to the site of the DR site's hosts (var site; default 'dr'), a non-empty string without surrounding "
    "spaces, or leave it unset"
)


def one_site():
    return lab_inventory()["hostvars"]


def with_dr(site="dr"):
    return dr_inventory(site=site)["hostvars"]


def sites(hostvars, **placement):
    for host, site in placement.items():
        hostvars[host]["site"] = site
    return hostvars


def everywhere(hostvars, var, value):
    for variables in hostvars.values():
        variables[var] = value
    return hostvars


class LazyHostvars(Mapping):
    """Like Ansible's hostvars: a Mapping (not a dict) of host name to a Mapping of variables."""

    def __init__(self, data):
        self._data = data

    def __getitem__(self, key):
        return LazyVars(self._data[key])

    def __iter__(self):
        return iter(self._data)

    def __len__(self):
        return len(self._data)


class LazyVars(Mapping):
    def __init__(self, data):
        self._data = data

    def __getitem__(self, key):
        return self._data[key]

    def __iter__(self):
        return iter(self._data)

    def __len__(self):
        return len(self._data)


def test_the_dr_site_is_the_validators():
    assert DR_SITE_VAR == "ha_lamp_dr_site"
    assert DEFAULT_DR_SITE == "dr"


@pytest.mark.parametrize("hostvars, hosts, host, expected", [
    # -- one site: every host sees the whole list, whoever asks ----------------------------------------
    pytest.param(one_site(), ["db1", "db2", "db3"], "db1", ["db1", "db2", "db3"], id="no_site_at_all"),
    pytest.param(one_site(), ["db1", "db2", "db3"], "lb2", ["db1", "db2", "db3"], id="no_site_other_tier_asks"),
    pytest.param(one_site(), ["lb1", "lb2"], "web1", ["lb1", "lb2"], id="no_site_load_balancers"),
    pytest.param(
        sites(one_site(), lb1="a", lb2="b", web1="a", web2="b", db1="a", db2="b", db3="c"),
        ["db1", "db2", "db3"], "db2", ["db1", "db2", "db3"], id="main_spread_over_sites_a_b_c",
    ),
    pytest.param(
        sites(one_site(), lb1="a", lb2="b", web1="a", web2="b", db1="a", db2="b", db3="b"),
        ["lb1", "lb2", "web1", "web2"], "db3", ["lb1", "lb2", "web1", "web2"], id="main_spread_over_sites_a_b",
    ),
    pytest.param(sites(one_site(), db1="a"), ["db1", "db2", "db3"], "db3", ["db1", "db2", "db3"], id="site_on_some_hosts_only"),
    pytest.param(sites(one_site(), db3="DR"), ["db1", "db2", "db3"], "db1", ["db1", "db2", "db3"], id="site_DR_is_not_dr"),
    pytest.param(sites(one_site(), db3="dr "), ["db1", "db2", "db3"], "db1", ["db1", "db2", "db3"], id="site_with_a_space_is_main"),
    pytest.param(sites(one_site(), db3=42), ["db1", "db2", "db3"], "db3", ["db1", "db2", "db3"], id="invalid_site_stays_main"),
    pytest.param(sites(one_site(), db3=None), ["db1", "db2", "db3"], "db1", ["db1", "db2", "db3"], id="site_null_is_main"),
    pytest.param(one_site(), [], "db1", [], id="empty_list"),
    pytest.param(one_site(), ("db2", "db1"), "db1", ["db2", "db1"], id="tuple_in_list_out"),
    pytest.param(one_site(), ["db3", "db1", "db2"], "db1", ["db3", "db1", "db2"], id="order_kept"),
    pytest.param(one_site(), ["db1", "db1"], "db1", ["db1", "db1"], id="duplicates_kept"),
    pytest.param(one_site(), ["lb1", "db1"], "lb1", ["lb1", "db1"], id="mixed_groups"),
    pytest.param(everywhere(one_site(), DR_SITE_VAR, "standby"), ["db1", "db2", "db3"], "db1", ["db1", "db2", "db3"],
                 id="dr_site_named_but_empty"),
    # -- a DR site: each side sees its own ------------------------------------------------------------
    pytest.param(with_dr(), DBS, "db1", ["db1", "db2", "db3"], id="main_database_sees_main_databases"),
    pytest.param(with_dr(), DBS, "dbdr1", ["dbdr1"], id="dr_database_sees_itself"),
    pytest.param(with_dr(), LBS, "lb2", ["lb1", "lb2"], id="main_load_balancer_pair"),
    pytest.param(with_dr(), LBS, "lbdr2", ["lbdr1", "lbdr2"], id="dr_load_balancer_pair"),
    pytest.param(with_dr(), WEBS, "lbdr1", ["webdr1"], id="dr_load_balancer_sees_dr_web_backends"),
    pytest.param(with_dr(), WEBS, "lb1", ["web1", "web2"], id="main_load_balancer_sees_main_web_backends"),
    pytest.param(with_dr(), DBS, "webdr1", ["dbdr1"], id="dr_web_server_sees_dr_database"),
    pytest.param(with_dr(), ["db1", "db2", "db3"], "dbdr1", [], id="dr_host_no_dr_member_in_list"),
    pytest.param(with_dr(), ["lbdr1", "lbdr2"], "lb1", [], id="main_host_only_dr_members_in_list"),
    pytest.param(with_dr(), ["dbdr1", "db3", "lbdr1", "db1"], "db2", ["db3", "db1"], id="dr_interleaved_order_kept"),
    pytest.param(with_dr(), ["dbdr1", "db3", "lbdr1", "db1"], "webdr1", ["dbdr1", "lbdr1"], id="dr_side_order_kept"),
    pytest.param(
        sites(with_dr(), lb1="a", lb2="b", web1="a", web2="b", db1="a", db2="b", db3="c"),
        DBS, "db3", ["db1", "db2", "db3"], id="main_over_sites_a_b_c_beside_dr",
    ),
    pytest.param(
        sites(with_dr(), lb1="a", lb2="b", web1="a", web2="b", db1="a", db2="b", db3="c"),
        DBS, "dbdr1", ["dbdr1"], id="dr_beside_main_over_sites",
    ),
    pytest.param(sites(with_dr(), db3="DR"), DBS, "db3", ["db1", "db2", "db3"], id="site_names_are_case_sensitive"),
    pytest.param(everywhere(with_dr(), DR_SITE_VAR, None), DBS, "dbdr1", ["dbdr1"], id="dr_site_null_means_default"),
    pytest.param(everywhere(with_dr(), DR_SITE_VAR, "dr"), DBS, "db1", ["db1", "db2", "db3"], id="dr_site_set_to_default"),
    # -- a custom ha_lamp_dr_site ---------------------------------------------------------------------
    pytest.param(everywhere(with_dr("standby"), DR_SITE_VAR, "standby"), DBS, "dbdr1", ["dbdr1"], id="custom_dr_site_dr_side"),
    pytest.param(everywhere(with_dr("standby"), DR_SITE_VAR, "standby"), DBS, "db2", ["db1", "db2", "db3"],
                 id="custom_dr_site_main_side"),
    pytest.param(with_dr("standby"), DBS, "dbdr1", DBS, id="site_standby_without_ha_lamp_dr_site_is_main"),
    pytest.param(
        # Named elsewhere, 'dr' is just another main-site site.
        everywhere(with_dr(), DR_SITE_VAR, "standby"), DBS, "db1", DBS, id="site_dr_is_main_when_dr_site_named_elsewhere",
    ),
    pytest.param(
        sites(everywhere(with_dr("standby"), DR_SITE_VAR, "standby"), db1="dr", db2="a", db3="a"),
        DBS, "db1", ["db1", "db2", "db3"], id="custom_dr_site_main_hosts_with_site_dr",
    ),
    pytest.param(
        # The DR site's name is the given host's: db1 names it 'standby', so nobody is in it.
        dict(with_dr(), db1=dict(with_dr()["db1"], ha_lamp_dr_site="standby")), DBS, "db1", DBS,
        id="dr_site_read_from_the_given_host",
    ),
])
def test_site_members(hostvars, hosts, host, expected):
    before = copy.deepcopy(hostvars)
    assert site_members(hosts, hostvars, host) == expected
    assert hostvars == before


def test_returns_a_new_list():
    hosts = ["db1", "db2", "db3"]
    result = site_members(hosts, one_site(), "db1")
    assert result == hosts
    assert result is not hosts


def test_lazy_mappings_like_ansible_hostvars():
    hostvars = LazyHostvars(with_dr())
    assert site_members(DBS, hostvars, "db1") == ["db1", "db2", "db3"]
    assert site_members(DBS, hostvars, "dbdr1") == ["dbdr1"]


@pytest.mark.parametrize("host", ["lb1", "lb2", "web1", "web2", "db1", "db2", "db3", "lbdr1", "lbdr2", "webdr1", "dbdr1"])
def test_the_sides_are_the_validators(host):
    """Each host's side is the one the validator gives it: main-site groups in the summary, or the dr_site."""
    inventory = dr_inventory()
    summary = validate(inventory)["summary"]
    dr = summary["dr_site"]["tiers"]
    for tier in ("loadbalancers", "webservers", "databases"):
        main = summary["tiers"][tier]["hosts"]
        expected = dr[tier] if host in summary["dr_site"]["hosts"] else main
        assert site_members(inventory["groups"][tier], inventory["hostvars"], host) == expected


def test_a_one_site_inventory_changes_nothing_for_any_host_or_group():
    inventory = lab_inventory()
    for host in inventory["hostvars"]:
        for members in inventory["groups"].values():
            assert site_members(members, inventory["hostvars"], host) == members


def _bad_host_entry(hostvars):
    hostvars["db1"] = None
    return hostvars


@pytest.mark.parametrize("hosts, hostvars, host, message", [
    pytest.param(DBS, [], "db1", "hostvars must be the mapping of host name to variables (hostvars), got a list", id="hostvars_list"),
    pytest.param(DBS, None, "db1", "hostvars must be the mapping of host name to variables (hostvars), got null", id="hostvars_none"),
    pytest.param(DBS, "hostvars", "db1", "hostvars must be the mapping of host name to variables (hostvars), got a string",
                 id="hostvars_string"),
    pytest.param(DBS, with_dr(), None, "the host must be an inventory host name (inventory_hostname), got null (null)", id="host_none"),
    pytest.param(DBS, with_dr(), "", "the host must be an inventory host name (inventory_hostname), got a string ('')", id="host_empty"),
    pytest.param(DBS, with_dr(), 5, "the host must be an inventory host name (inventory_hostname), got an integer (5)", id="host_integer"),
    pytest.param(DBS, with_dr(), ["db1"], 'the host must be an inventory host name (inventory_hostname), got a list (["db1"])',
                 id="host_list"),
    pytest.param(DBS, with_dr(), "db9", "host 'db9' is not in hostvars: name an inventory host (inventory_hostname)",
                 id="host_not_in_hostvars"),
    pytest.param(DBS, with_dr(), "DB1", "host 'DB1' is not in hostvars: name an inventory host (inventory_hostname)",
                 id="host_names_are_case_sensitive"),
    pytest.param("db1", with_dr(), "db1",
                 "the hosts must be a list of inventory host names (e.g. groups['databases']), got a string ('db1')", id="hosts_string"),
    pytest.param(None, with_dr(), "db1",
                 "the hosts must be a list of inventory host names (e.g. groups['databases']), got null (null)", id="hosts_none"),
    pytest.param({"db1": {}}, with_dr(), "db1",
                 'the hosts must be a list of inventory host names (e.g. groups[\'databases\']), got a mapping ({"db1": {}})',
                 id="hosts_mapping"),
    pytest.param(["db1", 3], with_dr(), "db1", "entry 1 of the hosts is an integer (3), not an inventory host name", id="entry_integer"),
    pytest.param(["db1", ""], with_dr(), "db1", "entry 1 of the hosts is a string (''), not an inventory host name", id="entry_empty"),
    pytest.param([None], with_dr(), "db1", "entry 0 of the hosts is null (null), not an inventory host name", id="entry_none"),
    pytest.param([["db1"]], with_dr(), "db1", 'entry 0 of the hosts is a list (["db1"]), not an inventory host name', id="entry_list"),
    pytest.param(["db1", "db9"], with_dr(), "db1", "entry 1 of the hosts, 'db9', is not in hostvars: list inventory hosts only",
                 id="entry_not_in_hostvars"),
    pytest.param(DBS, everywhere(with_dr(), DR_SITE_VAR, 5), "db1",
                 "ha_lamp_dr_site of db1 is an integer (5), not a site name; " + FIX, id="dr_site_integer"),
    pytest.param(DBS, everywhere(with_dr(), DR_SITE_VAR, True), "dbdr1",
                 "ha_lamp_dr_site of dbdr1 is a boolean (true), not a site name; " + FIX, id="dr_site_boolean"),
    pytest.param(DBS, everywhere(with_dr(), DR_SITE_VAR, ["dr"]), "lb1",
                 'ha_lamp_dr_site of lb1 is a list (["dr"]), not a site name; ' + FIX, id="dr_site_list"),
    pytest.param(DBS, everywhere(with_dr(), DR_SITE_VAR, ""), "db1",
                 "ha_lamp_dr_site of db1 is a string (''), not a site name; " + FIX, id="dr_site_empty"),
    pytest.param(DBS, everywhere(with_dr(), DR_SITE_VAR, " dr"), "db1",
                 "ha_lamp_dr_site of db1 is a string (' dr'), not a site name; " + FIX, id="dr_site_with_spaces"),
    pytest.param(DBS, _bad_host_entry(with_dr()), "db2", "hostvars['db1'] is null, not a mapping of variables",
                 id="hostvars_entry_of_a_member_not_a_mapping"),
    pytest.param(DBS, _bad_host_entry(with_dr()), "db1", "hostvars['db1'] is null, not a mapping of variables",
                 id="hostvars_entry_of_the_host_not_a_mapping"),
])
def test_bad_input_names_the_host_variable_or_value(hosts, hostvars, host, message):
    with pytest.raises(SiteMembersError) as err:
        site_members(hosts, hostvars, host)
    assert str(err.value) == message


def test_an_invalid_dr_site_on_another_host_is_not_read():
    """Only the given host's ha_lamp_dr_site counts (the validator reports hosts that disagree)."""
    hostvars = with_dr()
    hostvars["db3"][DR_SITE_VAR] = 5
    assert site_members(DBS, hostvars, "db1") == ["db1", "db2", "db3"]
