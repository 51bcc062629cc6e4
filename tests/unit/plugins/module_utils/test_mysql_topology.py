# SPDX-License-Identifier: Apache-2.0
"""Unit tests for module_utils/mysql_topology.py and the health agent's decision functions."""

import importlib.util
import os
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, ".collections"))

from ansible_collections.onprem.ha_lamp.plugins.module_utils import mysql_topology as mt  # noqa: E402


def load_agent():
    path = os.path.join(ROOT, "roles", "mysql", "files", "ha_lamp_db_agent.py")
    spec = importlib.util.spec_from_file_location("ha_lamp_db_agent", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


agent = load_agent()
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
    assert mt.is_contained(node, ref) is (not missing)


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

def node(read_only="ON", source=None, state=""):
    return {"read_only": read_only, "gtid_binlog_state": state,
            "replica": {"Master_Host": ADDR[source]} if source else None}


def test_plan_first_deploy():
    plan = mt.plan_topology({"db1": node(), "db2": node(), "db3": node()}, "db1", ADDR)
    assert plan == {"primary": "db1", "bootstrap": True, "open_writes": True,
                    "attach": ["db2", "db3"], "keep": [], "leave": {}}


def test_plan_first_deploy_resumes_after_users_were_created():
    plan = mt.plan_topology({"db1": node("OFF", state="0-1-10"), "db2": node(), "db3": node()}, "db1", ADDR)
    assert plan["primary"] == "db1" and plan["attach"] == ["db2", "db3"] and not plan["open_writes"]


def test_plan_keeps_a_promoted_primary_against_the_inventory():
    nodes = {"db1": node(source="db2", state="0-1-10,0-2-30"), "db2": node("OFF", state="0-1-10,0-2-30"),
             "db3": node(source="db2", state="0-1-10,0-2-30")}
    plan = mt.plan_topology(nodes, "db1", ADDR, epoch_primary="db2")
    assert plan == {"primary": "db2", "bootstrap": False, "open_writes": False,
                    "attach": [], "keep": ["db1", "db3"], "leave": {}}


def test_plan_leaves_an_old_primary_outside_the_topology():
    nodes = {"db1": node(state="0-1-105"), "db2": node("OFF", state="0-1-100,0-2-120"),
             "db3": node(source="db2", state="0-1-100,0-2-120")}
    plan = mt.plan_topology(nodes, "db1", ADDR, epoch_primary="db2")
    assert plan["primary"] == "db2"
    assert plan["leave"] == {"db1": "outside the topology with its own transactions (0-1-105): "
                                    "run playbooks/rejoin.yml"}
    assert plan["attach"] == []


def test_plan_refuses_two_writers():
    with pytest.raises(ValueError) as err:
        mt.plan_topology({"db1": node("OFF"), "db2": node("OFF"), "db3": node()}, "db1", ADDR)
    assert str(err.value).startswith("several writable primaries (db1, db2): refusing to touch replication")


def test_plan_reopens_a_restarted_primary():
    nodes = {"db1": node(state="0-1-10"), "db2": node(source="db1", state="0-1-10"),
             "db3": node(source="db1", state="0-1-10")}
    plan = mt.plan_topology(nodes, "db1", ADDR, epoch_primary="db1")
    assert plan["primary"] == "db1" and plan["open_writes"] is True and plan["keep"] == ["db2", "db3"]


def test_plan_does_not_reopen_against_the_epoch():
    nodes = {"db1": node(state="0-1-10"), "db2": node(source="db1", state="0-1-10"), "db3": node(state="")}
    with pytest.raises(ValueError) as err:
        mt.plan_topology(nodes, "db1", ADDR, epoch_primary="db3")
    assert str(err.value) == ("no writable primary: replicas follow db1 but the promotion epoch names db3. "
                              "Run playbooks/db_status.yml and resolve by hand.")


def test_plan_dead_primary_points_to_failover():
    nodes = {"db2": node(source="db1", state="0-1-10"), "db3": node(source="db1", state="0-1-10")}
    with pytest.raises(ValueError) as err:
        mt.plan_topology(nodes, "db1", ADDR, epoch_primary="db1")
    assert str(err.value) == ("no writable primary: the replicas follow db1, which is unreachable. "
                              "Run playbooks/failover.yml.")


def test_plan_refuses_ambiguous_data():
    with pytest.raises(ValueError) as err:
        mt.plan_topology({"db1": node(), "db2": node(state="0-2-3"), "db3": node()}, "db1", ADDR)
    assert str(err.value) == ("no replication configured but db2 already hold transactions: cannot tell which "
                              "node is authoritative. Make one primary by hand or reseed the others.")


def test_plan_leaves_chained_replica():
    nodes = {"db1": node("OFF", state="0-1-10"), "db2": node(source="db1", state="0-1-10"),
             "db3": node(source="db2", state="0-1-10")}
    plan = mt.plan_topology(nodes, "db1", ADDR)
    assert plan["leave"] == {"db3": "replicates from db2, not from the primary db1"}


# --- health agent decisions ------------------------------------------------------------------

PRIMARY = {"read_only": "OFF", "replica": None}
REPLICA = {"read_only": "ON", "replica": {"Master_Host": "10.0.0.31", "Slave_SQL_Running": "Yes",
                                          "Seconds_Behind_Master": 0}}
EPOCH = {"epoch": 3, "primary": "db1"}


@pytest.mark.parametrize("state,epoch,node_name,expected", [
    (PRIMARY, EPOCH, "db1", (True, "writable primary, epoch 3")),
    (PRIMARY, EPOCH, "db2", (False, "epoch 3 names db1, not db2")),
    (dict(PRIMARY, read_only="ON"), EPOCH, "db1", (False, "read_only is ON")),
    (dict(PRIMARY, replica={"Master_Host": "10.0.0.32"}), EPOCH, "db1",
     (False, "replication source configured (10.0.0.32)")),
    (PRIMARY, {"error": "cannot read /x: No such file or directory"}, "db1",
     (False, "no valid epoch: cannot read /x: No such file or directory")),
    (PRIMARY, None, "db1", (False, "no valid epoch: missing")),
    ({"error": "timed out"}, EPOCH, "db1", (False, "database unreachable: timed out")),
])
def test_writer_decision(state, epoch, node_name, expected):
    assert agent.writer_decision(state, epoch, node_name) == expected


def replica(**kw):
    r = dict(REPLICA["replica"], **kw)
    return {"read_only": "ON", "replica": r}


@pytest.mark.parametrize("state,expected", [
    (REPLICA, (True, "replica, lag 0s")),
    (replica(Seconds_Behind_Master=10), (True, "replica, lag 10s")),
    (replica(Seconds_Behind_Master=11), (False, "lag 11s above bound 10s")),
    (replica(Seconds_Behind_Master=None), (False, "lag unknown (Seconds_Behind_Master is NULL)")),
    (replica(Slave_SQL_Running="No"), (False, "SQL thread not running")),
    (PRIMARY, (False, "not a replica")),
    ({"error": "refused"}, (False, "database unreachable: refused")),
])
def test_reader_decision(state, expected):
    assert agent.reader_decision(state, 10) == expected


@pytest.mark.parametrize("text,error", [
    ('{"epoch": 2, "primary": "db2"}', None),
    ("nope", "epoch file is not JSON"),
    ("[1]", "epoch file is not a JSON object"),
    ('{"epoch": "2", "primary": "db2"}', "epoch file has no integer 'epoch'"),
    ('{"epoch": true, "primary": "db2"}', "epoch file has no integer 'epoch'"),
    ('{"epoch": 2}', "epoch file has no 'primary'"),
])
def test_parse_epoch(text, error):
    data, err = agent.parse_epoch(text)
    if error is None:
        assert data == {"epoch": 2, "primary": "db2"} and err is None
    else:
        assert data is None and err.startswith(error)


def test_observation_tracks_on_off_and_unreachable():
    rec = agent.update_observation({}, "10.0.0.31", {"Rpl_semi_sync_master_status": "ON",
                                                     "Rpl_semi_sync_master_clients": "2"}, 100.0)
    assert rec == {"primary": "10.0.0.31", "status": "ON", "clients": 2, "no_tx": None,
                   "observed_at": 100.0, "last_on_at": 100.0}
    rec = agent.update_observation(rec, "10.0.0.31", {"Rpl_semi_sync_master_status": "OFF"}, 101.0)
    assert rec["status"] == "OFF" and rec["last_off_at"] == 101.0 and rec["last_on_at"] == 100.0
    rec = agent.update_observation(rec, "10.0.0.31", None, 102.0)
    rec = agent.update_observation(rec, "10.0.0.31", None, 103.0)
    assert rec["unreachable_since"] == 102.0 and rec["last_error_at"] == 103.0 and rec["status"] == "OFF"
    rec = agent.update_observation(rec, "10.0.0.32", {"Rpl_semi_sync_master_status": "ON"}, 104.0)
    assert rec["primary"] == "10.0.0.32" and "last_off_at" not in rec and "unreachable_since" not in rec
