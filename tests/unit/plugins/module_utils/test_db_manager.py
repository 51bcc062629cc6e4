# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests for the database manager's pure decisions (module_utils/db_manager.py)."""

import copy
import os
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, ".collections"))

from ansible_collections.onprem.ha_lamp.plugins.module_utils import db_manager as dm  # noqa: E402
from ansible_collections.onprem.ha_lamp.plugins.module_utils.dcs import b64  # noqa: E402

PREFIX = "/ha-lamp/c1/db/"
WINDOW = 300


# --- helpers --------------------------------------------------------------------------------------

def report(node, pos="0-1-10", io=None, role="replica", up=True, nofailover=False, leader=None,
           source="db1", io_running="Yes", sql_running="Yes", **extra):
    """A member report as member_report publishes it (pos: gtid_current_pos, io: gtid_io_pos)."""
    if not up:
        rep = {"node": node, "role": role, "nofailover": nofailover, "leader": leader,
               "mariadb": "down", "error": "connection refused"}
    else:
        rep = {"node": node, "role": role, "nofailover": nofailover, "leader": leader, "mariadb": "up",
               "read_only": "ON", "gtid_current_pos": pos, "gtid_binlog_pos": pos,
               "gtid_io_pos": pos if io is None else io, "io_running": io_running,
               "sql_running": sql_running, "lag": 0, "source": source}
    rep.update(extra)
    return rep


def kv(value, mod_revision=5, lease=77, key=None):
    return {"key": key, "value": value, "mod_revision": mod_revision, "lease": lease}


def view(*reports, leader=None, sync=None, pending=None, pause=False, force=False, last=None, revision=10,
         **keys):
    """A view as parse_view builds it; reports become members/<node> with mod_revision 5, 6, ..."""
    members = {}
    for index, rep in enumerate(reports):
        members[rep["node"]] = kv(rep, mod_revision=5 + index, key=PREFIX + "members/" + rep["node"])
    result = {"revision": revision, "members": members,
              "leader": kv({"node": leader}, mod_revision=9, lease=66) if leader else None,
              "sync": (kv({"nodes": list(sync), "pending": pending or {}, "leader": "db1"}, lease=0)
                       if sync is not None else None),
              "pause": kv({"by": "ops"}, lease=0) if pause else None,
              "force_failover": kv({"by": "ops"}, lease=0) if force else None,
              "last_failover": kv(last, lease=0) if last else None,
              "intent": None, "switchover": None, "switchover_result": None}
    result.update(keys)
    return result


# --- keys and view --------------------------------------------------------------------------------

def test_prefix_for():
    assert dm.prefix_for("c1") == PREFIX


def test_parse_view_sorts_keys_and_members():
    leader = kv({"node": "db1"}, mod_revision=9, lease=66)
    sync = kv({"nodes": ["db2"], "pending": {}}, lease=0)
    db2 = kv(report("db2"), mod_revision=5)
    db3 = kv(report("db3"), mod_revision=6)
    items = {None: 42, PREFIX + "leader": leader, PREFIX + "sync": sync, PREFIX + "members/db2": db2,
             PREFIX + "members/db3": db3, PREFIX + "unknown": kv("x"), "/ha-lamp/c2/db/members/db9": kv("y")}
    parsed = dm.parse_view(items, PREFIX)
    assert parsed == {"revision": 42, "members": {"db2": db2, "db3": db3}, "leader": leader, "sync": sync,
                      "pause": None, "force_failover": None, "last_failover": None, "intent": None,
                      "switchover": None, "switchover_result": None}


def test_parse_view_empty():
    parsed = dm.parse_view({}, PREFIX)
    assert parsed["revision"] == 0 and parsed["members"] == {}
    assert all(parsed[name] is None for name in dm.KEY_NAMES)


@pytest.mark.parametrize("leader,expected", [
    (None, None),
    ({"value": {"node": "db2"}}, "db2"),
    ({"value": "db2"}, None),          # not JSON object: nobody
    ({"value": None}, None),
    ({"value": {}}, None),
])
def test_leader_name(leader, expected):
    assert dm.leader_name({"leader": leader}) == expected


def test_leader_name_without_key():
    assert dm.leader_name({}) is None


# --- lease deadlines ------------------------------------------------------------------------------

@pytest.mark.parametrize("renewed,ttl,margin,window,expected", [
    (100.0, 10, 2, 3, (105.0, 108.0)),
    (0, 5, 1, 1.5, (2.5, 4)),
    (50.5, 10, 2.5, 0, (58.0, 58.0)),
])
def test_lease_deadlines(renewed, ttl, margin, window, expected):
    assert dm.lease_deadlines(renewed, ttl, margin, window) == expected


def test_lease_deadlines_writer_check_fails_before_fence_before_expiry():
    writer_until, fence_at = dm.lease_deadlines(1000.0, 10, 2, 3)
    assert writer_until < fence_at < 1000.0 + 10


# --- writer / reader checks -----------------------------------------------------------------------

PRIMARY = {"read_only": "OFF", "replica": None, "gtid_current_pos": "0-1-10"}
REPLICA = {"read_only": "ON", "gtid_current_pos": "0-1-10",
           "replica": {"master_host": "10.0.0.31", "io_running": "Yes", "sql_running": "Yes", "lag": 0,
                       "gtid_io_pos": "0-1-10"}}


@pytest.mark.parametrize("local,is_leader,opened,now,expected", [
    (PRIMARY, True, True, 10.0, (True, "writable primary, leader lease held")),
    # each refusal, in the order they are checked
    ({"error": "timed out"}, False, False, 99.0, (False, "database unreachable: timed out")),
    (PRIMARY, False, True, 10.0, (False, "does not hold the leader lease")),
    (dict(PRIMARY, read_only="ON"), False, False, 99.0, (False, "does not hold the leader lease")),
    (PRIMARY, True, True, 20.0, (False, "leader lease not renewed in time (fencing)")),
    (PRIMARY, True, True, 19.999, (True, "writable primary, leader lease held")),
    (PRIMARY, True, True, 30.0, (False, "leader lease not renewed in time (fencing)")),
    (PRIMARY, True, False, 30.0, (False, "leader lease not renewed in time (fencing)")),
    (PRIMARY, True, False, 10.0, (False, "leader, promotion not finished")),
    (dict(PRIMARY, read_only="ON"), True, False, 10.0, (False, "leader, promotion not finished")),
    (dict(PRIMARY, read_only="ON"), True, True, 10.0, (False, "read_only is ON")),
    ({"replica": None}, True, True, 10.0, (False, "read_only is ON")),
    (dict(PRIMARY, replica={"master_host": "10.0.0.32"}), True, True, 10.0,
     (False, "replication source configured (10.0.0.32)")),
    (dict(PRIMARY, replica={"io_running": "No"}), True, True, 10.0, (False, "replication source configured (?)")),
])
def test_writer_decision(local, is_leader, opened, now, expected):
    assert dm.writer_decision(local, is_leader, opened, now, writer_until=20.0) == expected


def replica(**kw):
    return dict(REPLICA, replica=dict(REPLICA["replica"], **kw))


@pytest.mark.parametrize("local,quarantined,expected", [
    (REPLICA, False, (True, "replica, lag 0s")),
    (replica(lag=10), False, (True, "replica, lag 10s")),
    (replica(lag="7"), False, (True, "replica, lag 7s")),
    (replica(lag=11), False, (False, "lag 11s above bound 10s")),
    (replica(lag=None), False, (False, "lag unknown (Seconds_Behind_Master is NULL)")),
    (replica(lag=""), False, (False, "lag unknown (Seconds_Behind_Master is NULL)")),
    (replica(lag="abc"), False, (False, "lag unknown ('abc')")),
    (replica(sql_running="No"), False, (False, "SQL thread not running")),
    (replica(sql_running=None), False, (False, "SQL thread not running")),
    # the IO thread may be reconnecting: the replica still serves what it applied
    (replica(io_running="Connecting"), False, (True, "replica, lag 0s")),
    (PRIMARY, False, (False, "not a replica")),
    ({"error": "refused"}, False, (False, "database unreachable: refused")),
    # order: unreachable, then quarantine, then the replica checks
    ({"error": "refused"}, True, (False, "database unreachable: refused")),
    (REPLICA, True, (False, "quarantined (errant transactions)")),
    (PRIMARY, True, (False, "quarantined (errant transactions)")),
    (replica(sql_running="No"), "0-1-105", (False, "quarantined (errant transactions)")),
])
def test_reader_decision(local, quarantined, expected):
    assert dm.reader_decision(local, 10, quarantined=quarantined) == expected


def test_reader_decision_default_is_not_quarantined():
    assert dm.reader_decision(REPLICA, 10) == (True, "replica, lag 0s")


# --- member report --------------------------------------------------------------------------------

def test_member_report_down():
    assert dm.member_report("db2", {"error": "connection refused"}, "replica", 1, leader="db1",
                            source="db1", errant="0-2-5") == {
        "node": "db2", "role": "replica", "nofailover": True, "leader": "db1",
        "mariadb": "down", "error": "connection refused"}


def test_member_report_replica():
    local = dict(REPLICA, gtid_binlog_pos="0-1-9")
    assert dm.member_report("db2", local, "replica", 0, leader="db1", source="db1") == {
        "node": "db2", "role": "replica", "nofailover": False, "leader": "db1", "mariadb": "up",
        "read_only": "ON", "gtid_current_pos": "0-1-10", "gtid_binlog_pos": "0-1-9", "gtid_io_pos": "0-1-10",
        "io_running": "Yes", "sql_running": "Yes", "lag": 0, "source": "db1"}


def test_member_report_primary_without_replication():
    assert dm.member_report("db1", {"read_only": "OFF", "replica": None}, "primary", False, leader="db1") == {
        "node": "db1", "role": "primary", "nofailover": False, "leader": "db1", "mariadb": "up",
        "read_only": "OFF", "gtid_current_pos": "", "gtid_binlog_pos": "", "gtid_io_pos": "",
        "io_running": None, "sql_running": None, "lag": None, "source": None}


def test_member_report_errant_only_when_set():
    local = dict(REPLICA)
    quarantined = dm.member_report("db1", local, "quarantined", False, errant="0-1-105")
    assert quarantined["errant"] == "0-1-105" and quarantined["leader"] is None
    assert "errant" not in dm.member_report("db1", local, "replica", False, errant="")


def test_member_report_is_stable_for_equal_input():
    # the manager publishes only when the report changes: equal inputs give equal reports
    assert dm.member_report("db2", dict(REPLICA), "replica", 0, "db1", "db1") == \
        dm.member_report("db2", dict(REPLICA), "replica", 0, "db1", "db1")


# --- election -------------------------------------------------------------------------------------

def test_election_leader_present():
    v = view(report("db2"), report("db3"), leader="db1")
    assert dm.election(v, "db2", 1000.0, WINDOW) == ("leader", "leader db1 holds the key", None)


def test_election_leader_present_wins_over_pause_and_anti_flap():
    v = view(report("db2"), leader="db1", pause=True, last={"at": 999.0, "from": "db3", "to": "db1"})
    assert dm.election(v, "db2", 1000.0, WINDOW)[0] == "leader"


def test_election_leader_key_without_a_node_names_no_leader():
    # an unreadable leader value names nobody; the claim's compare (key absent) still guards the key
    v = view(report("db2"))
    v["leader"] = kv("garbage", mod_revision=9)
    assert dm.election(v, "db2", 1000.0, WINDOW)[0] == "claim"
    assert dm.claim_compares(v, PREFIX)[0]["target"] == "CREATE"


def test_election_paused():
    v = view(report("db2"), pause=True, last={"at": 999.0, "from": "db1", "to": "db3"})
    assert dm.election(v, "db2", 1000.0, WINDOW) == ("wait", "automatic failover is paused", None)


def test_election_paused_even_when_forced():
    v = view(report("db2"), pause=True, force=True)
    assert dm.election(v, "db2", 1000.0, WINDOW) == ("wait", "automatic failover is paused", None)


def test_election_anti_flap_refuses():
    v = view(report("db2"), report("db3"), last={"at": 1000.0, "from": "db1", "to": "db2"})
    assert dm.election(v, "db3", 1100.0, WINDOW) == (
        "refuse", "anti-flap: the last automatic failover (db1 -> db2) was 100s ago, inside "
                  "ha_lamp_db_failover_window (300s); a person must decide", None)


def test_election_anti_flap_accepts_string_timestamp_and_truncates_seconds():
    v = view(report("db2"), last={"at": "1000.9", "from": "db1", "to": "db2"})
    verdict, reason, winner = dm.election(v, "db2", 1100.0, WINDOW)
    assert verdict == "refuse" and winner is None
    assert "was 99s ago" in reason


def test_election_anti_flap_window_ends():
    v = view(report("db2"), last={"at": 1000.0, "from": "db1", "to": "db2"})
    assert dm.election(v, "db2", 1000.0 + WINDOW, WINDOW)[0] == "claim"
    assert dm.election(v, "db2", 1000.0 + WINDOW - 0.5, WINDOW)[0] == "refuse"


def test_election_last_failover_without_time_is_ignored():
    v = view(report("db2"), last={"from": "db1", "to": "db2"})
    assert dm.election(v, "db2", 1000.0, WINDOW)[0] == "claim"


def test_election_forced_bypasses_anti_flap_and_sync():
    v = view(report("db2"), report("db3", up=False), sync=["db3"], force=True,
             last={"at": 1000.0, "from": "db1", "to": "db2"})
    assert dm.election(v, "db2", 1010.0, WINDOW) == (
        "claim", "most advanced eligible node (received 0-1-10); forced by an operator", "db2")


def test_election_forced_still_requires_dominance():
    v = view(report("db2", "0-1-10"), report("db3", "0-1-12", nofailover=True), force=True)
    verdict, reason, winner = dm.election(v, "db2", 1000.0, WINDOW)
    assert verdict == "refuse" and winner is None


def test_election_forced_still_waits_for_stale_reports():
    v = view(report("db2"), report("db3", leader="db1"), force=True)
    assert dm.election(v, "db2", 1000.0, WINDOW) == (
        "wait", "waiting for db3 to report after the leader key disappeared", None)


def test_election_stale_reports_wait():
    v = view(report("db3", leader="db1"), report("db2", leader="db1"), report("db4"))
    assert dm.election(v, "db4", 1000.0, WINDOW) == (
        "wait", "waiting for db2, db3 to report after the leader key disappeared", None)


def test_election_stale_report_of_a_down_node_does_not_block():
    v = view(report("db2"), report("db3", up=False, leader="db1"))
    assert dm.election(v, "db2", 1000.0, WINDOW)[0] == "claim"


def test_election_stale_check_comes_before_sync():
    v = view(report("db2", leader="db1"), sync=["db3"])
    assert dm.election(v, "db2", 1000.0, WINDOW)[0] == "wait"


def test_election_sync_replica_missing_singular():
    v = view(report("db2"), sync=["db3"])
    assert dm.election(v, "db2", 1000.0, WINDOW) == (
        "refuse", "db3 may hold the newest acknowledged writes (semi-sync replica of the last primary) and "
                  "is not reporting: promoting another node could lose them", None)


def test_election_sync_replicas_missing_plural():
    v = view(report("db2"), report("db4", up=False), sync=["db4", "db3", "db2"])
    assert dm.election(v, "db2", 1000.0, WINDOW) == (
        "refuse", "db3, db4 may hold the newest acknowledged writes (semi-sync replica of the last primary) "
                  "and are not reporting: promoting another node could lose them", None)


def test_election_sync_replica_down_counts_as_missing():
    v = view(report("db2"), report("db3", up=False), sync=["db2", "db3"])
    verdict, reason = dm.election(v, "db2", 1000.0, WINDOW)[:2]
    assert verdict == "refuse" and reason.startswith("db3 may hold the newest acknowledged writes")


def test_election_sync_replica_with_non_object_report_counts_as_missing():
    v = view(report("db2"), sync=["db3"])
    v["members"]["db3"] = kv("not json")
    verdict, reason = dm.election(v, "db2", 1000.0, WINDOW)[:2]
    assert verdict == "refuse" and reason.startswith("db3 may hold")


def test_election_sync_replicas_all_reporting():
    v = view(report("db2", "0-1-12"), report("db3", "0-1-10"), sync=["db2", "db3"])
    assert dm.election(v, "db3", 1000.0, WINDOW) == (
        "other", "most advanced eligible node (received 0-1-12)", "db2")


def test_election_empty_sync_value():
    v = view(report("db2"), sync=[])
    assert dm.election(v, "db2", 1000.0, WINDOW)[0] == "claim"
    v["sync"] = kv(None, lease=0)
    assert dm.election(v, "db2", 1000.0, WINDOW)[0] == "claim"


def test_election_no_eligible_node():
    v = view(report("db2", nofailover=True), report("db3", up=False))
    assert dm.election(v, "db2", 1000.0, WINDOW) == ("refuse", "no eligible node reports (up: db2)", None)


def test_election_nobody_up():
    v = view(report("db2", up=False), report("db3", up=False))
    assert dm.election(v, "db2", 1000.0, WINDOW) == ("refuse", "no eligible node reports (up: none)", None)
    assert dm.election(view(), "db2", 1000.0, WINDOW) == ("refuse", "no eligible node reports (up: none)", None)


def test_election_nofailover_excluded_but_counted_for_dominance():
    # db3 may not be promoted, but it received more than db2: promoting db2 would lose 0-1-11..12
    v = view(report("db2", "0-1-10"), report("db3", "0-1-12", nofailover=True))
    assert dm.election(v, "db2", 1000.0, WINDOW) == (
        "refuse", "no eligible node received everything the others received (db2=0-1-10, db3=0-1-12)", None)


def test_election_nofailover_excluded_equal_position():
    v = view(report("db2", "0-1-10"), report("db3", "0-1-12", nofailover=True), report("db4", "0-1-12"))
    assert dm.election(v, "db2", 1000.0, WINDOW) == (
        "other", "most advanced eligible node (received 0-1-12)", "db4")


@pytest.mark.parametrize("bad", [
    report("db3", "0-1-12", role="quarantined"),
    report("db3", "0-1-12", errant="0-1-12"),
])
def test_election_quarantined_or_errant_excluded(bad):
    v = view(report("db2", "0-1-12"), bad)
    assert dm.election(v, "db3", 1000.0, WINDOW) == (
        "other", "most advanced eligible node (received 0-1-12)", "db2")


def test_election_quarantined_only():
    v = view(report("db2", role="quarantined"), report("db3", errant="0-3-1"))
    assert dm.election(v, "db2", 1000.0, WINDOW) == ("refuse", "no eligible node reports (up: db2, db3)", None)


def test_election_winner_is_the_most_advanced():
    v = view(report("db2", "0-1-10"), report("db3", "0-1-12"), report("db4", "0-1-11"))
    assert dm.election(v, "db3", 1000.0, WINDOW) == (
        "claim", "most advanced eligible node (received 0-1-12)", "db3")
    assert dm.election(v, "db2", 1000.0, WINDOW) == (
        "other", "most advanced eligible node (received 0-1-12)", "db3")


def test_election_received_not_executed():
    # db2 executed less but RECEIVED more (relay log): it wins
    v = view(report("db2", "0-1-8", io="0-1-15"), report("db3", "0-1-12"))
    assert dm.election(v, "db3", 1000.0, WINDOW) == (
        "other", "most advanced eligible node (received 0-1-15)", "db2")


def test_election_empty_io_pos_uses_executed():
    v = view(report("db2", "0-1-12", io=""), report("db3", "0-1-11"))
    assert dm.election(v, "db2", 1000.0, WINDOW)[2] == "db2"


def test_election_nothing_received_anywhere():
    v = view(report("db2", ""), report("db3", ""))
    assert dm.election(v, "db2", 1000.0, WINDOW) == (
        "claim", "most advanced eligible node (received nothing)", "db2")


def test_election_ties_go_to_bootstrap_hint_then_name():
    v = view(report("db3"), report("db2"), report("db4"))
    assert dm.election(v, "db2", 1000.0, WINDOW, bootstrap_hint="db4")[2] == "db4"
    assert dm.election(v, "db4", 1000.0, WINDOW)[2] == "db2"
    # a hint that is not among the winners is ignored
    assert dm.election(v, "db2", 1000.0, WINDOW, bootstrap_hint="db9")[2] == "db2"


def test_election_hint_does_not_beat_a_more_advanced_node():
    v = view(report("db2", "0-1-10"), report("db3", "0-1-12"))
    assert dm.election(v, "db2", 1000.0, WINDOW, bootstrap_hint="db2")[2] == "db3"


def test_election_hint_must_be_eligible():
    v = view(report("db2"), report("db3", nofailover=True))
    assert dm.election(v, "db2", 1000.0, WINDOW, bootstrap_hint="db3")[:3:2] == ("claim", "db2")


def test_election_multi_domain_winner():
    v = view(report("db2", "0-1-10,1-2-5"), report("db3", "0-1-10,1-2-4"))
    assert dm.election(v, "db2", 1000.0, WINDOW) == (
        "claim", "most advanced eligible node (received 0-1-10,1-2-5)", "db2")


def test_election_diverged_positions_refuse():
    v = view(report("db2", "0-1-10,1-2-5"), report("db3", "0-1-12"))
    assert dm.election(v, "db2", 1000.0, WINDOW) == (
        "refuse", "no eligible node received everything the others received "
                  "(db2=0-1-10,1-2-5, db3=0-1-12)", None)


def test_election_diverged_names_empty_positions():
    v = view(report("db2", "0-1-10"), report("db3", "1-3-1"), report("db4", ""))
    assert dm.election(v, "db2", 1000.0, WINDOW) == (
        "refuse", "no eligible node received everything the others received "
                  "(db2=0-1-10, db3=1-3-1, db4=empty)", None)


def test_election_ignores_non_object_reports():
    v = view(report("db2"))
    v["members"]["db3"] = kv("garbage")
    v["members"]["db4"] = kv(None)
    assert dm.election(v, "db2", 1000.0, WINDOW) == (
        "claim", "most advanced eligible node (received 0-1-10)", "db2")


def test_election_does_not_modify_the_view():
    v = view(report("db2", "0-1-10"), report("db3", "0-1-12"), sync=["db2", "db3"])
    before = copy.deepcopy(v)
    dm.election(v, "db2", 1000.0, WINDOW)
    assert v == before


def test_election_me_not_a_member():
    v = view(report("db2"))
    assert dm.election(v, "db9", 1000.0, WINDOW)[::2] == ("other", "db2")


# --- claim compare-and-swap -----------------------------------------------------------------------

def test_claim_compares():
    v = view(report("db3"), report("db2"))   # db3 mod_revision 5, db2 mod_revision 6
    assert dm.claim_compares(v, PREFIX) == [
        {"key": b64(PREFIX + "leader"), "target": "CREATE", "result": "EQUAL", "create_revision": "0"},
        {"key": b64(PREFIX + "members/db2"), "target": "MOD", "result": "EQUAL", "mod_revision": "6"},
        {"key": b64(PREFIX + "members/db3"), "target": "MOD", "result": "EQUAL", "mod_revision": "5"},
    ]


def test_claim_compares_without_members():
    assert dm.claim_compares(view(), PREFIX) == [
        {"key": b64(PREFIX + "leader"), "target": "CREATE", "result": "EQUAL", "create_revision": "0"}]


# --- sync set -------------------------------------------------------------------------------------

def received(pos, io=None):
    return {"gtid_current_pos": pos, "gtid_io_pos": pos if io is None else io}


def test_next_sync_set_grows():
    assert dm.next_sync_set(None, ["db3", "db2"], {}, "0-1-10") == {"nodes": ["db2", "db3"], "pending": {}}
    assert dm.next_sync_set({"nodes": ["db2"], "pending": {}}, ["db2", "db3"], {}, "0-1-10") == \
        {"nodes": ["db2", "db3"], "pending": {}}


def test_next_sync_set_empty():
    assert dm.next_sync_set(None, [], {}, "0-1-10") == {"nodes": [], "pending": {}}
    assert dm.next_sync_set({}, [], {}, "") == {"nodes": [], "pending": {}}


def test_next_sync_set_disconnect_records_primary_position():
    sync = {"nodes": ["db2", "db3"], "pending": {}}
    members = {"db2": received("0-1-10")}
    assert dm.next_sync_set(sync, ["db2"], members, "0-1-12") == \
        {"nodes": ["db2", "db3"], "pending": {"db3": "0-1-12"}}


def test_next_sync_set_pending_keeps_its_first_position():
    sync = {"nodes": ["db2", "db3"], "pending": {"db3": "0-1-12"}}
    members = {"db2": received("0-1-11")}
    assert dm.next_sync_set(sync, ["db2"], members, "0-1-20") == \
        {"nodes": ["db2", "db3"], "pending": {"db3": "0-1-12"}}


def test_next_sync_set_pending_cleared_when_covered():
    sync = {"nodes": ["db2", "db3"], "pending": {"db3": "0-1-12"}}
    # db2 RECEIVED 0-1-12 (executed only 0-1-9): it holds everything db3 could have acknowledged
    members = {"db2": received("0-1-9", io="0-1-12")}
    assert dm.next_sync_set(sync, ["db2"], members, "0-1-20") == {"nodes": ["db2"], "pending": {}}


def test_next_sync_set_covered_on_first_sight():
    sync = {"nodes": ["db2", "db3"], "pending": {}}
    members = {"db2": received("0-1-12")}
    assert dm.next_sync_set(sync, ["db2"], members, "0-1-12") == {"nodes": ["db2"], "pending": {}}


def test_next_sync_set_pending_cleared_on_reconnect():
    sync = {"nodes": ["db2", "db3"], "pending": {"db3": "0-1-12"}}
    members = {"db2": received("0-1-5"), "db3": received("0-1-5")}
    assert dm.next_sync_set(sync, ["db2", "db3"], members, "0-1-20") == {"nodes": ["db2", "db3"], "pending": {}}


def test_next_sync_set_never_shrinks_without_coverage():
    sync = {"nodes": ["db2", "db3"], "pending": {}}
    assert dm.next_sync_set(sync, [], {"db2": received("0-1-99")}, "0-1-12") == \
        {"nodes": ["db2", "db3"], "pending": {"db2": "0-1-12", "db3": "0-1-12"}}


def test_next_sync_set_disconnected_node_does_not_cover_another():
    sync = {"nodes": ["db2", "db3"], "pending": {"db3": "0-1-12"}}
    # db4 is connected but has no report yet; db2's report is ahead but db2 is disconnected
    members = {"db2": received("0-1-99")}
    assert dm.next_sync_set(sync, ["db4"], members, "0-1-12") == \
        {"nodes": ["db2", "db3", "db4"], "pending": {"db2": "0-1-12", "db3": "0-1-12"}}


def test_next_sync_set_connected_report_not_an_object():
    sync = {"nodes": ["db2", "db3"], "pending": {}}
    assert dm.next_sync_set(sync, ["db2"], {"db2": "garbage"}, "0-1-12") == \
        {"nodes": ["db2", "db3"], "pending": {"db3": "0-1-12"}}


def test_next_sync_set_coverage_is_per_domain():
    sync = {"nodes": ["db2", "db3"], "pending": {"db3": "0-1-12,1-1-4"}}
    assert dm.next_sync_set(sync, ["db2"], {"db2": received("0-1-50")}, "0-1-50,1-1-4")["pending"] == \
        {"db3": "0-1-12,1-1-4"}
    assert dm.next_sync_set(sync, ["db2"], {"db2": received("0-1-12,1-1-4")}, "0-1-50,1-1-4") == \
        {"nodes": ["db2"], "pending": {}}


def test_next_sync_set_nothing_written_yet():
    sync = {"nodes": ["db2", "db3"], "pending": {}}
    assert dm.next_sync_set(sync, ["db2"], {"db2": received("")}, "") == {"nodes": ["db2"], "pending": {}}


def test_next_sync_set_does_not_modify_its_input():
    sync = {"nodes": ["db2", "db3"], "pending": {"db4": "0-1-1"}}
    before = copy.deepcopy(sync)
    dm.next_sync_set(sync, ["db2"], {"db2": received("0-1-0")}, "0-1-12")
    assert sync == before


# --- rejoin ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("local,leader,expected", [
    ({"gtid_binlog_state": "0-1-100"}, {"gtid_binlog_state": "0-1-100,0-2-120"}, (True, "")),
    ({"gtid_binlog_state": ""}, {"gtid_binlog_state": "0-1-100"}, (True, "")),
    ({}, {}, (True, "")),
    # the errant tail of a killed primary, compared per server_id: 105 > 100 although 105 < 120
    ({"gtid_binlog_state": "0-1-105"}, {"gtid_binlog_state": "0-1-100,0-2-120"}, (False, "0-1-105")),
    ({"gtid_binlog_state": "0-1-105,0-2-120,1-1-3"}, {"gtid_binlog_state": "0-1-100,0-2-120"},
     (False, "0-1-105,1-1-3")),
    # leader restored by mariabackup: its history is in gtid_slave_pos
    ({"gtid_binlog_state": "0-1-50"}, {"gtid_binlog_state": "0-2-60", "gtid_slave_pos": "0-1-50"}, (True, "")),
    ({"gtid_binlog_state": "0-1-51"}, {"gtid_binlog_state": "0-2-60", "gtid_slave_pos": "0-1-50"},
     (False, "0-1-51")),
])
def test_rejoin_verdict(local, leader, expected):
    assert dm.rejoin_verdict(local, leader) == expected


# --- switchover -----------------------------------------------------------------------------------

def switch_view(*reports):
    return view(report("db1", "0-1-12", role="primary", source=None, leader="db1"), *reports, leader="db1")


@pytest.mark.parametrize("target_report,target,problem", [
    (report("db2"), "db2", None),
    (report("db2"), "db9", "db9 is not a reporting database member"),
    (report("db2"), "db1", "db1 is already the primary"),
    (report("db2", nofailover=True), "db2", "db2 is marked ha_lamp_db_nofailover"),
    (report("db2", up=False), "db2", "db2: MariaDB is down"),
    (report("db2", role="quarantined"), "db2",
     "db2 does not replicate from the primary db1 (role quarantined, source db1)"),
    (report("db2", source="db3"), "db2", "db2 does not replicate from the primary db1 (role replica, source db3)"),
    (report("db2", source=None), "db2", "db2 does not replicate from the primary db1 (role replica, source None)"),
    (report("db2", io_running="Connecting"), "db2", "db2: replication threads not running (IO Connecting, SQL Yes)"),
    (report("db2", sql_running="No"), "db2", "db2: replication threads not running (IO Yes, SQL No)"),
])
def test_switchover_check(target_report, target, problem):
    assert dm.switchover_check(switch_view(target_report), target, "db1") == problem


def test_switchover_check_non_object_report():
    v = switch_view()
    v["members"]["db2"] = kv("garbage")
    assert dm.switchover_check(v, "db2", "db1") == "db2 is not a reporting database member"


def test_switchover_check_order():
    # nofailover is reported before down, down before the replication checks
    assert dm.switchover_check(switch_view(report("db2", nofailover=True, up=False)), "db2", "db1") == \
        "db2 is marked ha_lamp_db_nofailover"
    assert dm.switchover_check(switch_view(report("db2", up=False, role="quarantined")), "db2", "db1") == \
        "db2: MariaDB is down"


def handed_over_view(*reports, leader="db2"):
    return view(*reports, leader=leader)


@pytest.mark.parametrize("reports,leader,missing", [
    # settled: db2 takes writes, db3 follows it (db1, the old primary, may still be repointing)
    ([report("db1", role="candidate", source=None), report("db2", role="primary", source=None),
      report("db3", source="db2")], "db2", None),
    # the old primary following is enough in a two-node tier
    ([report("db1", source="db2"), report("db2", role="primary", source=None)], "db2", None),
    # ... but not while another live replica still follows the old primary
    ([report("db1", source="db2"), report("db2", role="primary", source=None), report("db3", source="db1")], "db2",
     "no replica besides db1 replicates from db2 yet (replicas: db3)"),
    # a down or quarantined third node is not waited for
    ([report("db1", source="db2"), report("db2", role="primary", source=None), report("db3", up=False)], "db2", None),
    ([report("db1", source="db2"), report("db2", role="primary", source=None),
      report("db3", role="quarantined", source=None)], "db2", None),
    ([report("db1", role="primary", source=None), report("db2")], "db1", "the leader key is held by db1, not db2"),
    ([report("db1"), report("db2")], None, "the leader key is held by nobody, not db2"),
    ([report("db1"), report("db2", role="candidate", source=None)], "db2", "db2 has not opened writes yet (role candidate)"),
    ([report("db1")], "db2", "db2 has not opened writes yet (role None)"),
    ([report("db1", role="candidate", source=None), report("db2", role="primary", source=None),
      report("db3", source="db1")], "db2", "no replica besides db1 replicates from db2 yet (replicas: db3)"),
    ([report("db1", up=False), report("db2", role="primary", source=None), report("db3", source="db2", io_running="Connecting")],
     "db2", "no replica besides db1 replicates from db2 yet (replicas: db3)"),
    ([report("db1", up=False), report("db2", role="primary", source=None), report("db3", up=False)], "db2",
     "no replica replicates from db2 yet"),
])
def test_switchover_unsettled(reports, leader, missing):
    assert dm.switchover_unsettled(handed_over_view(*reports, leader=leader), "db2", "db1") == missing


def test_switchover_unsettled_without_the_old_primary_named():
    v = handed_over_view(report("db2", role="primary", source=None), report("db3", source="db2"))
    assert dm.switchover_unsettled(v, "db2") is None
    v = handed_over_view(report("db2", role="primary", source=None), report("db3", source="db1"))
    assert dm.switchover_unsettled(v, "db2") == "no replica replicates from db2 yet"


def test_choose_switchover_target_most_received():
    v = switch_view(report("db2", "0-1-10"), report("db3", "0-1-9", io="0-1-12"), report("db4", "0-1-11"))
    assert dm.choose_switchover_target(v, "db1") == "db3"


def test_choose_switchover_target_tie_goes_to_name():
    v = switch_view(report("db3"), report("db2"))
    assert dm.choose_switchover_target(v, "db1") == "db2"


def test_choose_switchover_target_skips_ineligible():
    v = switch_view(report("db2", "0-1-10"), report("db3", "0-1-12", nofailover=True),
                    report("db4", "0-1-12", sql_running="No"))
    assert dm.choose_switchover_target(v, "db1") == "db2"


def test_choose_switchover_target_diverged_falls_back_to_name():
    v = switch_view(report("db3", "0-1-10,1-2-5"), report("db2", "0-1-12"))
    assert dm.choose_switchover_target(v, "db1") == "db2"


def test_choose_switchover_target_none():
    assert dm.choose_switchover_target(switch_view(), "db1") is None
    assert dm.choose_switchover_target(switch_view(report("db2", up=False)), "db1") is None


# --- events ---------------------------------------------------------------------------------------

def test_event_drops_none_fields():
    assert dm.event("failover", "db2", previous="db1", reason=None, ms=0, forced=False) == {
        "event": "failover", "node": "db2", "previous": "db1", "ms": 0, "forced": False}


def test_event_minimal():
    assert dm.event("fenced", "db1") == {"event": "fenced", "node": "db1"}
