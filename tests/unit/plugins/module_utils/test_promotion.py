# SPDX-License-Identifier: Apache-2.0
"""Unit tests for the pure decisions in module_utils/promotion.py."""

import os
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, ".collections"))

from ansible_collections.onprem.ha_lamp.plugins.module_utils import promotion as pr  # noqa: E402


def rep(io="0-1-10", cur="0-1-10", lag=0, sql_error="", error=None):
    r = {"gtid_io_pos": io, "gtid_current_pos": cur, "lag": lag, "sql_error": sql_error,
         "io_running": "Yes", "sql_running": "Yes"}
    if error:
        r = {"error": error}
    return r


# --- candidate choice (C2) -----------------------------------------------------------------------

def test_choose_most_received_not_most_executed():
    # db3 executed less but RECEIVED more: it must win.
    name, reason = pr.choose_candidate({"db2": rep(io="0-1-10", cur="0-1-10"), "db3": rep(io="0-1-12", cur="0-1-8")})
    assert (name, reason) == ("db3", "received 0-1-12")


def test_choose_tie_goes_to_smallest_lag_then_name():
    assert pr.choose_candidate({"db2": rep(lag=3), "db3": rep(lag=1)})[0] == "db3"
    assert pr.choose_candidate({"db3": rep(), "db2": rep()})[0] == "db2"


def test_choose_excludes_unreachable_and_broken_replicas():
    name, reason = pr.choose_candidate({"db2": rep(error="timed out"), "db3": rep(io="0-1-9", cur="0-1-9")})
    assert name == "db3"
    assert reason == "received 0-1-9; excluded: db2 (unreachable: timed out)"


def test_choose_refuses_when_the_best_replica_is_broken():
    with pytest.raises(pr.PromotionError) as err:
        pr.choose_candidate({"db2": rep(io="0-1-12", sql_error="Duplicate entry"), "db3": rep(io="0-1-10")})
    assert str(err.value) == ("no eligible replica received everything the others received "
                              "(db2=0-1-12, db3=0-1-10): refusing to promote")


def test_choose_target_behind_is_refused_in_failover_mode():
    with pytest.raises(pr.PromotionError) as err:
        pr.choose_candidate({"db2": rep(io="0-1-10"), "db3": rep(io="0-1-12")}, target="db2")
    assert str(err.value) == ("target db2 received less than db3 (0-1-10 vs 0-1-12): promoting it would lose "
                              "transactions; wait for it to catch up or choose another target")


def test_choose_target_behind_is_accepted_for_switchover():
    assert pr.choose_candidate({"db2": rep(io="0-1-10"), "db3": rep(io="0-1-12")}, target="db2",
                               require_superset=False)[0] == "db2"


def test_choose_switchover_best_effort_picks_most_received():
    assert pr.choose_candidate({"db2": rep(io="0-1-11", cur="0-1-11"), "db3": rep(io="0-1-12", cur="0-1-12", lag=5)},
                               require_superset=False)[0] == "db3"


def test_choose_unknown_target():
    with pytest.raises(pr.PromotionError) as err:
        pr.choose_candidate({"db2": rep()}, target="db9")
    assert str(err.value) == "target db9 is not a replica of the primary (replicas: db2)"


def test_choose_target_not_eligible():
    with pytest.raises(pr.PromotionError) as err:
        pr.choose_candidate({"db2": rep(lag=50), "db3": rep()}, target="db2", max_lag=10)
    assert str(err.value) == "target db2 is not eligible: db2 (lag 50s > 10s)"


def test_choose_nothing():
    with pytest.raises(pr.PromotionError) as err:
        pr.choose_candidate({})
    assert str(err.value) == "no replica is reachable: nothing to promote"


def test_choose_multi_domain_needs_superset_everywhere():
    with pytest.raises(pr.PromotionError):
        pr.choose_candidate({"db2": rep(io="0-1-12,1-5-3", cur=""), "db3": rep(io="0-1-10,1-5-4", cur="")})
    assert pr.choose_candidate({"db2": rep(io="0-1-12,1-5-4", cur=""), "db3": rep(io="0-1-10,1-5-4", cur="")})[0] == "db2"


# --- primary confirmed dead (C1) -------------------------------------------------------------------

def test_dead_needs_controller_and_replicas():
    assert pr.primary_confirmed_dead(None, {"db2": "Connecting"}) == (
        False, "the primary answers the controller: use playbooks/switchover.yml")
    assert pr.primary_confirmed_dead("timed out", {"db2": "Yes", "db3": "Connecting"}) == (
        False, "the controller cannot reach the primary (timed out) but db2 still replicate from it: "
               "network partition between the controller and the primary, not a dead primary")
    assert pr.primary_confirmed_dead("timed out", {"db2": None}) == (
        False, "no replica is reachable to confirm the primary is gone")
    assert pr.primary_confirmed_dead("refused", {"db2": "Connecting", "db3": "No", "db4": None}) == (
        True, "controller: refused; replica IO threads: db2=Connecting, db3=No")


# --- semi-sync verdict (C9) -------------------------------------------------------------------------

@pytest.mark.parametrize("obs,expected", [
    ({}, (False, "no replica observed the primary's semi-sync state")),
    ({"db2": {"observed_at": 95, "last_off_at": 95}}, (False, "semi-sync was never seen ON on the primary")),
    ({"db2": {"observed_at": 98, "last_on_at": 90, "last_off_at": 98}},
     (False, "semi-sync had fallen back to asynchronous replication (seen OFF 2s ago, after the last ON)")),
    ({"db2": {"observed_at": 98, "last_on_at": 98}, "db3": {"observed_at": 97, "last_on_at": 90, "last_off_at": 97}},
     (True, "semi-sync ON 2s before now")),
    ({"db2": {"observed_at": 50, "last_on_at": 50}},
     (False, "last semi-sync ON observation is 50s old (bound 30s): a fallback may have gone unseen")),
    ({"db2": {"observed_at": 99, "last_on_at": 99, "last_off_at": 40}}, (True, "semi-sync ON 1s before now")),
])
def test_semisync_verdict(obs, expected):
    assert pr.semisync_verdict(obs, 100.0, 30) == expected


# --- epoch and anti-flap (C11) ------------------------------------------------------------------------

NOW = pr.parse_time("2026-11-22T03:00:00Z")


def test_parse_time():
    assert pr.parse_time("1970-01-01T00:01:00Z") == 60
    assert pr.parse_time("garbage") is None
    assert pr.parse_time(None) is None


@pytest.mark.parametrize("epoch,expected", [
    (None, (True, "previous promotion was not a failover")),
    ({"epoch": 2, "primary": "db2", "reason": "switchover", "changed_at": "2026-11-22T02:59:00Z"},
     (True, "previous promotion was not a failover")),
    ({"epoch": 3, "primary": "db2", "reason": "failover", "changed_at": "2026-11-22T02:50:00Z"},
     (False, "last failover (epoch 3, to db2) was 600s ago, within the 3600s window")),
    ({"epoch": 3, "primary": "db2", "reason": "failover", "changed_at": "2026-11-22T01:00:00Z"},
     (True, "last failover was 7200s ago")),
    ({"epoch": 3, "primary": "db2", "reason": "failover"},
     (False, "epoch 3 records a failover without a valid changed_at")),
])
def test_failover_window(epoch, expected):
    assert pr.failover_window_verdict(epoch, NOW, 3600) == expected


def test_newest_epoch():
    assert pr.newest_epoch([None, {"epoch": 2, "primary": "db2"}, {"epoch": 5, "primary": "db3"}, {"x": 1}]) == {
        "epoch": 5, "primary": "db3"}
    with pytest.raises(pr.PromotionError) as err:
        pr.newest_epoch([None, {"error": "down"}])
    assert str(err.value) == "no node has a valid epoch file (/var/lib/ha-lamp/epoch): run site.yml first"


def test_next_epoch():
    assert pr.next_epoch({"epoch": 4, "primary": "db1"}, "db2", "failover", NOW) == {
        "epoch": 5, "primary": "db2", "reason": "failover", "changed_at": "2026-11-22T03:00:00Z", "previous": "db1"}


# --- rejoin (C3, C10) ----------------------------------------------------------------------------------

def test_rejoin_contained():
    assert pr.rejoin_verdict("db1", "0-1-100", "db2", "0-1-100,0-2-120") == (True, "db1's transactions are all on db2")


def test_rejoin_errant_tail_refused_with_reseed_command():
    ok, reason = pr.rejoin_verdict("db1", "0-1-105", "db2", "0-1-100,0-2-120")
    assert ok is False
    assert reason == ("db1 holds transactions the primary db2 lacks (0-1-105; primary has 0-1-100,0-2-120). "
                      "Replicating would fail (gtid_strict_mode) or silently diverge. Reseed it from a healthy "
                      "replica: ansible-playbook playbooks/rejoin.yml -e ha_lamp_rejoin_reseed=db1")


def test_rejoin_local_write_on_a_replica_is_errant():
    ok, reason = pr.rejoin_verdict("db3", "0-1-100,0-3-1", "db2", "0-1-100,0-2-120")
    assert ok is False and "(0-3-1;" in reason


# --- switchover preflight -------------------------------------------------------------------------------

def test_preflight_ok():
    primary = {"semisync_status": {"Rpl_semi_sync_master_status": "ON", "Rpl_semi_sync_master_clients": "2"}}
    assert pr.switchover_preflight(primary, {"db2": rep(), "db3": rep(lag=3)}, 10) == []


def test_preflight_problems():
    primary = {"semisync_status": {"Rpl_semi_sync_master_status": "OFF", "Rpl_semi_sync_master_clients": "0"}}
    broken = dict(rep(), sql_running="No")
    assert pr.switchover_preflight(primary, {"db2": broken, "db3": rep(lag=30), "db4": rep(error="refused")}, 10) == [
        "semi-sync is OFF on the primary (asynchronous replication)",
        "the primary has no semi-sync replica connected",
        "db2 replication threads not running (IO=Yes, SQL=No)",
        "db3 lag 30 above 10s",
        "db4 unreachable: refused",
    ]


def test_choose_excludes_replica_with_errant_transactions():
    errant = dict(rep(io="0-1-12"), errant="0-3-1")
    name, reason = pr.choose_candidate({"db2": errant, "db3": rep(io="0-1-12")}, require_superset=False)
    assert (name, reason) == ("db3", "received 0-1-12; excluded: db2 (errant transactions 0-3-1)")


@pytest.mark.parametrize("version,expected", [
    ("10.11.18-MariaDB-0+deb12u1-log", "10.11"), ("11.8.6-MariaDB-0+deb13u1 from Debian-log", "11.8"), ("", ""), (None, "")])
def test_series(version, expected):
    assert pr.series(version) == expected


def test_choose_donor_prefers_same_series_replica_then_primary():
    versions = {"db1": "10.11", "db2": "10.11", "db3": "11.8"}
    assert pr.choose_donor("db1", versions, ["db3", "db2"], "db2") == "db2"
    assert pr.choose_donor("db1", versions, ["db3"], "db2") == "db2"
    assert pr.choose_donor("db3", versions, ["db2"], "db1") == ""
    assert pr.choose_donor("db2", {"db1": "10.11", "db2": "10.11", "db4": "10.11"}, ["db4"], "db1") == "db4"
