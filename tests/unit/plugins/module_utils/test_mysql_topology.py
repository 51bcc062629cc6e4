# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests for module_utils/mysql_topology.py (GTID logic and the mysql role's topology plan).

The database managers' decisions are tested in test_db_manager.py.
"""

import os
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, ".collections"))

from ansible_collections.onprem.ha_lamp.plugins.module_utils import mysql_topology as mt  # noqa: E402

ADDR = {"db1": "10.0.0.31", "db2": "10.0.0.32", "db3": "10.0.0.33"}


# --- GTID parsing -----------------------------------------------------------------------

@pytest.mark.parametrize("text,expected", [
    ("", {}),
    (None, {}),
    ("0-1-10", {(0, 1): 10}),
    ("0-1-10,1-2-5", {(0, 1): 10, (1, 2): 5}),
    (" 0-1-10 , 0-2-12 ", {(0, 1): 10, (0, 2): 12}),
    ("0-1-10,\n0-1-3", {(0, 1): 10}),
])
def test_parse_gtid_list(text, expected):
    assert mt.parse_gtid_list(text) == expected


@pytest.mark.parametrize("text,message", [
    ("0-1", "invalid GTID '0-1' (expected domain-server_id-seq)"),
    ("a-1-2", "invalid GTID 'a-1-2' (non-numeric part)"),
    ("0-1-2-3", "invalid GTID '0-1-2-3' (expected domain-server_id-seq)"),
])
def test_parse_gtid_list_errors(text, message):
    with pytest.raises(mt.GtidError) as err:
        mt.parse_gtid_list(text)
    assert str(err.value) == message


def test_domain_positions_keeps_highest_seq_per_domain():
    assert mt.domain_positions("0-1-100,0-2-120,1-3-4") == {0: (120, 2), 1: (4, 3)}


@pytest.mark.parametrize("node,ref,missing", [
    ("", "0-1-10", []),
    ("0-1-10", "0-1-10", []),
    ("0-1-10", "0-1-12", []),
    ("0-1-10", "0-1-100,0-2-120", []),
    # the errant tail of a killed primary: 105 > 100 for server 1 although 105 < 120 overall
    ("0-1-105", "0-1-100,0-2-120", [(0, 1, 105)]),
    ("0-1-10,1-1-3", "0-1-10", [(1, 1, 3)]),
    ("0-3-1", "0-1-10", [(0, 3, 1)]),
])
def test_missing_gtids(node, ref, missing):
    assert mt.missing_gtids(node, ref) == missing


@pytest.mark.parametrize("node,ref,ref_slave_pos,missing", [
    # reference restored by mariabackup: empty binlog state, history in gtid_slave_pos
    ("0-1-3984,0-2-3592", "", "0-1-3984", []),
    ("0-1-3985,0-2-3592", "", "0-1-3984", [(0, 1, 3985)]),
    # ... and after it wrote as the new primary: server 1's entry is still judged by the slave pos
    ("0-1-3984,0-2-3592", "0-2-3990", "0-1-3984", []),
    # a server the reference has in its binlog is judged by that entry, not by the slave pos
    ("0-2-3995", "0-2-3990", "0-1-4000", [(0, 2, 3995)]),
    # an unknown server above the replicated position is errant
    ("0-5-50", "0-1-100", "0-1-40", [(0, 5, 50)]),
])
def test_missing_gtids_with_reference_slave_pos(node, ref, ref_slave_pos, missing):
    assert mt.missing_gtids(node, ref, ref_slave_pos) == missing


@pytest.mark.parametrize("a,b,expected", [
    ("0-1-10", "0-1-9", True),
    ("0-1-10", "0-1-10", True),
    ("0-1-9", "0-1-10", False),
    ("0-2-11", "0-1-10", True),
    ("0-1-10", "0-1-10,1-1-1", False),
    ("0-1-10,1-1-1", "", True),
])
def test_dominates(a, b, expected):
    assert mt.dominates(a, b) is expected


def test_received_position_merges_io_and_executed():
    assert mt.received_position({"gtid_io_pos": "0-1-10", "gtid_current_pos": "0-1-12,1-2-3"}) == "0-1-12,1-2-3"
    assert mt.received_position({"gtid_io_pos": "", "gtid_current_pos": "0-1-7"}) == "0-1-7"


# --- topology plan ------------------------------------------------------------------------

NO_LEADER_MESSAGE = (
    "no database node holds the leader lease in etcd, and the tier had a primary before: "
    "the managers are electing one or refuse to (a semi-sync replica is missing, or the "
    "anti-flap window). Run playbooks/db_status.yml; playbooks/failover.yml "
    "-e ha_lamp_failover_force=true accepts losing acknowledged writes.")


def node(read_only="ON", source=None, state="", host=None):
    """One node as the role gathers it; source names the inventory node it replicates from
    (given by address, as Master_Host is), host a raw Master_Host value instead."""
    replica = None
    if source:
        replica = {"Master_Host": ADDR[source]}
    elif host:
        replica = {"Master_Host": host}
    return {"read_only": read_only, "gtid_binlog_state": state, "replica": replica}


def test_plan_first_deploy():
    plan = mt.plan_topology({"db1": node(), "db2": node(), "db3": node()}, "db1", ADDR)
    assert plan == {"primary": "db1", "bootstrap": True, "attach": ["db2", "db3"], "keep": [], "leave": {}}


def test_plan_never_opens_writes():
    for plan in (mt.plan_topology({"db1": node(), "db2": node()}, "db1", ADDR),
                 mt.plan_topology({"db1": node("OFF", state="0-1-10"), "db2": node(source="db1", state="0-1-10")},
                                  "db1", ADDR, leader="db1", initialized=True)):
        assert "open_writes" not in plan
        assert set(plan) == {"primary", "bootstrap", "attach", "keep", "leave"}


def test_plan_first_deploy_resumes_after_users_were_created():
    # a first run stopped after the initial primary wrote (users, schema): it is still a first deploy
    plan = mt.plan_topology({"db1": node("OFF", state="0-1-10"), "db2": node(), "db3": node()}, "db1", ADDR)
    assert plan == {"primary": "db1", "bootstrap": True, "attach": ["db2", "db3"], "keep": [], "leave": {}}


def test_plan_first_deploy_resumes_with_replication_already_set_up():
    nodes = {"db1": node(state="0-1-10"), "db2": node(source="db1"), "db3": node()}
    plan = mt.plan_topology(nodes, "db1", ADDR)
    assert plan == {"primary": "db1", "bootstrap": True, "attach": ["db3"], "keep": ["db2"], "leave": {}}


def test_plan_first_deploy_ignores_read_only():
    # the role does not judge writability any more: the lease holder opens writes
    plan = mt.plan_topology({"db1": node("OFF"), "db2": node("OFF"), "db3": node()}, "db1", ADDR)
    assert plan["primary"] == "db1" and plan["attach"] == ["db2", "db3"]


def test_plan_first_deploy_with_data_elsewhere_raises():
    with pytest.raises(ValueError) as err:
        mt.plan_topology({"db1": node(), "db2": node(state="0-2-3"), "db3": node()}, "db1", ADDR)
    assert str(err.value) == ("first deploy, but db2 already hold transactions: cannot tell which node is "
                              "authoritative. Reseed them or empty them.")


def test_plan_first_deploy_with_data_on_primary_and_elsewhere_names_all():
    nodes = {"db1": node(state="0-1-10"), "db2": node(), "db3": node(state="0-3-1")}
    with pytest.raises(ValueError) as err:
        mt.plan_topology(nodes, "db1", ADDR)
    assert str(err.value) == ("first deploy, but db1, db3 already hold transactions: cannot tell which node is "
                              "authoritative. Reseed them or empty them.")


def test_plan_first_deploy_with_data_on_a_replica_of_the_primary_raises():
    # even a replica following the initial primary: without a leader key nothing says which is right
    nodes = {"db1": node(), "db2": node(source="db1", state="0-1-10")}
    with pytest.raises(ValueError) as err:
        mt.plan_topology(nodes, "db1", ADDR)
    assert str(err.value).startswith("first deploy, but db2 already hold transactions")


def test_plan_first_deploy_needs_the_initial_primary():
    with pytest.raises(ValueError) as err:
        mt.plan_topology({"db2": node(), "db3": node()}, "db1", ADDR)
    assert str(err.value) == "first deploy needs the initial primary db1 in the play"


def test_plan_first_deploy_data_check_comes_before_the_missing_primary():
    with pytest.raises(ValueError) as err:
        mt.plan_topology({"db2": node(state="0-2-1"), "db3": node()}, "db1", ADDR)
    assert str(err.value).startswith("first deploy, but db2 already hold transactions")


def test_plan_no_leader_after_initialization_raises():
    nodes = {"db1": node(state="0-1-10"), "db2": node(source="db1", state="0-1-10"),
             "db3": node(source="db1", state="0-1-10")}
    with pytest.raises(ValueError) as err:
        mt.plan_topology(nodes, "db1", ADDR, leader=None, initialized=True)
    assert str(err.value) == NO_LEADER_MESSAGE


def test_plan_no_leader_after_initialization_raises_even_when_all_empty():
    with pytest.raises(ValueError) as err:
        mt.plan_topology({"db1": node(), "db2": node()}, "db1", ADDR, initialized=True)
    assert str(err.value) == NO_LEADER_MESSAGE


def test_plan_leader_keeps_its_replicas():
    nodes = {"db1": node("OFF", state="0-1-10"), "db2": node(source="db1", state="0-1-10"),
             "db3": node(source="db1", state="0-1-10")}
    plan = mt.plan_topology(nodes, "db1", ADDR, leader="db1", initialized=True)
    assert plan == {"primary": "db1", "bootstrap": False, "attach": [], "keep": ["db2", "db3"], "leave": {}}


def test_plan_leader_wins_over_the_inventory():
    nodes = {"db1": node(source="db2", state="0-1-10,0-2-30"), "db2": node("OFF", state="0-1-10,0-2-30"),
             "db3": node(source="db2", state="0-1-10,0-2-30")}
    plan = mt.plan_topology(nodes, "db1", ADDR, leader="db2", initialized=True)
    assert plan == {"primary": "db2", "bootstrap": False, "attach": [], "keep": ["db1", "db3"], "leave": {}}


def test_plan_leader_without_initialized_flag_is_not_a_first_deploy():
    nodes = {"db1": node(source="db2", state="0-2-30"), "db2": node("OFF", state="0-2-30"), "db3": node()}
    plan = mt.plan_topology(nodes, "db1", ADDR, leader="db2")
    assert plan == {"primary": "db2", "bootstrap": False, "attach": ["db3"], "keep": ["db1"], "leave": {}}


def test_plan_leader_attaches_fresh_nodes():
    nodes = {"db1": node("OFF", state="0-1-10"), "db2": node(source="db1", state="0-1-10"), "db3": node()}
    plan = mt.plan_topology(nodes, "db1", ADDR, leader="db1", initialized=True)
    assert plan == {"primary": "db1", "bootstrap": False, "attach": ["db3"], "keep": ["db2"], "leave": {}}


def test_plan_leader_does_not_judge_read_only():
    # the lease holder may still be read-only (promotion in progress): the plan is the same
    nodes = {"db1": node("ON", state="0-1-10"), "db2": node(source="db1", state="0-1-10")}
    plan = mt.plan_topology(nodes, "db1", ADDR, leader="db1", initialized=True)
    assert plan == {"primary": "db1", "bootstrap": False, "attach": [], "keep": ["db2"], "leave": {}}


def test_plan_leaves_an_old_primary_with_its_own_transactions():
    nodes = {"db1": node(state="0-1-105"), "db2": node("OFF", state="0-1-100,0-2-120"),
             "db3": node(source="db2", state="0-1-100,0-2-120")}
    plan = mt.plan_topology(nodes, "db1", ADDR, leader="db2", initialized=True)
    assert plan == {"primary": "db2", "bootstrap": False, "attach": [], "keep": ["db3"],
                    "leave": {"db1": "holds its own transactions (0-1-105): its manager rejoins or "
                                     "quarantines it"}}


def test_plan_leaves_chained_replica():
    nodes = {"db1": node("OFF", state="0-1-10"), "db2": node(source="db1", state="0-1-10"),
             "db3": node(source="db2", state="0-1-10")}
    plan = mt.plan_topology(nodes, "db1", ADDR, leader="db1", initialized=True)
    assert plan["keep"] == ["db2"]
    assert plan["leave"] == {"db3": "replicates from db2, not from the primary db1"}


def test_plan_leaves_a_replica_of_the_old_primary_even_when_empty():
    # replication configured towards a node that is no longer the primary: the manager re-points it
    nodes = {"db1": node(state="0-1-10"), "db2": node("OFF", state="0-1-10,0-2-3"), "db3": node(source="db1")}
    plan = mt.plan_topology(nodes, "db1", ADDR, leader="db2", initialized=True)
    assert plan["attach"] == []
    assert plan["leave"] == {
        "db1": "holds its own transactions (0-1-10): its manager rejoins or quarantines it",
        "db3": "replicates from db1, not from the primary db2"}


def test_plan_unknown_source_host_is_reported_unchanged():
    nodes = {"db1": node("OFF", state="0-1-10"), "db2": node(host="10.9.9.9", state="0-1-10")}
    plan = mt.plan_topology(nodes, "db1", ADDR, leader="db1", initialized=True)
    assert plan["leave"] == {"db2": "replicates from 10.9.9.9, not from the primary db1"}


def test_plan_source_given_by_name_is_recognised():
    nodes = {"db1": node("OFF", state="0-1-10"), "db2": node(host="db1", state="0-1-10")}
    plan = mt.plan_topology(nodes, "db1", ADDR, leader="db1", initialized=True)
    assert plan["keep"] == ["db2"] and plan["leave"] == {}


def test_plan_leader_outside_the_play():
    # the leader is unreachable from the controller: its replicas are still recognised
    nodes = {"db2": node(source="db1", state="0-1-10"), "db3": node(source="db1", state="0-1-10")}
    plan = mt.plan_topology(nodes, "db1", ADDR, leader="db1", initialized=True)
    assert plan == {"primary": "db1", "bootstrap": False, "attach": [], "keep": ["db2", "db3"], "leave": {}}


def test_plan_does_not_modify_its_input():
    nodes = {"db1": node("OFF", state="0-1-10"), "db2": node(source="db1", state="0-1-10"), "db3": node()}
    before = repr(nodes)
    mt.plan_topology(nodes, "db1", ADDR, leader="db1", initialized=True)
    assert repr(nodes) == before
