# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests for the backup tooling's pure decisions (module_utils/backup_plan.py).

Every refusal's exact text is asserted: operators read these messages, the scripts print them as is.
"""

import os
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, ".collections"))

from ansible_collections.onprem.ha_lamp.plugins.module_utils import backup_plan as bp  # noqa: E402


# --- helpers --------------------------------------------------------------------------------------

def at(text):
    """Epoch of a 'YYYY-MM-DD HH:MM:SS' UTC time."""
    return bp.parse_utc(text)


def full(bid, when, gtid, to_lsn=1000, source="db2", verified=None, **extra):
    record = {"id": bid, "kind": "full", "source": source, "parent": None, "time": at(when), "gtid": gtid,
              "from_lsn": 0, "to_lsn": to_lsn, "verified": verified}
    record.update(extra)
    return record


def inc(bid, parent, when, gtid, from_lsn, to_lsn, source="db2", verified=None, **extra):
    record = {"id": bid, "kind": "incremental", "source": source, "parent": parent, "time": at(when),
              "gtid": gtid, "from_lsn": from_lsn, "to_lsn": to_lsn, "verified": verified}
    record.update(extra)
    return record


def ids(backups):
    return [b["id"] for b in backups]


def message(excinfo):
    return str(excinfo.value)


# Two chains: F1 (Dec 3) with I1, I2; F2 (Dec 4) with I3.
F1 = full("F1", "2026-12-03 03:15:00", "0-1-100", to_lsn=1000)
I1 = inc("I1", "F1", "2026-12-03 09:15:00", "0-1-120", 1000, 1200)
I2 = inc("I2", "I1", "2026-12-03 15:15:00", "0-1-140", 1200, 1400)
F2 = full("F2", "2026-12-04 03:15:00", "0-1-200", to_lsn=2000)
I3 = inc("I3", "F2", "2026-12-04 09:15:00", "0-1-220", 2000, 2200)
CATALOGUE = [I3, F2, I2, F1, I1]  # any order in, chains come out sorted


def segment(sid, *files, host=None):
    return {"id": sid, "host": host or sid.split("-")[-1], "server_id": 1, "started_at": 0,
            "files": [{"name": name, "start_state": state} for name, state in files]}


# db1 is primary until 0-1-130, then db2 takes over (its binlog.000007 starts at 0-1-130).
SEG1 = segment("000001-db1", ("mysql-bin.000003", "0-1-50"), ("mysql-bin.000004", "0-1-90"),
               ("mysql-bin.000005", "0-1-120"), ("mysql-bin.000006", "0-1-135"))
SEG2 = segment("000002-db2", ("mysql-bin.000007", "0-1-130"), ("mysql-bin.000008", "0-2-160"))
INDEX = {"segments": [SEG1, SEG2]}


# --- GTIDs ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("text,expected", [
    ("0-1-100", (0, 1, 100)),
    ("4294967295-4294967295-18446744073709551615", (4294967295, 4294967295, 18446744073709551615)),
])
def test_parse_gtid(text, expected):
    assert bp.parse_gtid(text) == expected


@pytest.mark.parametrize("text,expected", [
    ("0-1", "not a GTID: '0-1' (expected domain-server-seq)"),
    ("a-1-2", "not a GTID: 'a-1-2' (expected domain-server-seq)"),
    ("0-1-2-3", "not a GTID: '0-1-2-3' (expected domain-server-seq)"),
    (" 0-1-2", "not a GTID: ' 0-1-2' (expected domain-server-seq)"),
    ("+0-1-2", "not a GTID: '+0-1-2' (expected domain-server-seq)"),
    ("0-1--2", "not a GTID: '0-1--2' (expected domain-server-seq)"),
    ("", "not a GTID: '' (expected domain-server-seq)"),
    (None, "not a GTID: None (expected domain-server-seq)"),
    ("0-4294967296-1", "not a GTID: '0-4294967296-1' (domain and server id must fit in 32 bits, seq in 64)"),
    ("0-1-18446744073709551616",
     "not a GTID: '0-1-18446744073709551616' (domain and server id must fit in 32 bits, seq in 64)"),
])
def test_parse_gtid_refuses(text, expected):
    with pytest.raises(bp.PlanError) as excinfo:
        bp.parse_gtid(text)
    assert message(excinfo) == expected


def test_plan_error_is_a_value_error():
    assert issubclass(bp.PlanError, ValueError)
    assert issubclass(bp.ArchiveGapError, bp.PlanError)


@pytest.mark.parametrize("text,expected", [
    ("", {}),
    ("   ", {}),
    ("0-1-100", {0: (1, 100)}),
    ("1-3-7,0-1-100", {0: (1, 100), 1: (3, 7)}),
    (" 0-1-100 ,\n1-3-7 ", {0: (1, 100), 1: (3, 7)}),
])
def test_parse_state(text, expected):
    assert bp.parse_state(text) == expected


@pytest.mark.parametrize("text,expected", [
    ("0-1", "not a GTID state: '0-1' (expected domain-server-seq, comma-separated)"),
    ("0-1-5,", "not a GTID state: '0-1-5,' (expected domain-server-seq, comma-separated)"),
    ("0-1-5,,1-2-3", "not a GTID state: '0-1-5,,1-2-3' (expected domain-server-seq, comma-separated)"),
    ("0-1-5;1-2-3", "not a GTID state: '0-1-5;1-2-3' (expected domain-server-seq, comma-separated)"),
    (None, "not a GTID state: None (expected domain-server-seq, comma-separated)"),
    (5, "not a GTID state: 5 (expected domain-server-seq, comma-separated)"),
    ("0-1-5,0-2-6", "GTID state '0-1-5,0-2-6' names domain 0 twice"),
])
def test_parse_state_refuses(text, expected):
    with pytest.raises(bp.PlanError) as excinfo:
        bp.parse_state(text)
    assert message(excinfo) == expected


@pytest.mark.parametrize("state,expected", [
    ({}, ""),
    ({1: (3, 7), 0: (1, 100)}, "0-1-100,1-3-7"),
    ("1-3-7, 0-1-100", "0-1-100,1-3-7"),
])
def test_format_state_sorts_domains(state, expected):
    assert bp.format_state(state) == expected


def test_format_parse_round_trip():
    text = "0-2-130,1-3-7,4294967295-1-1"
    assert bp.format_state(bp.parse_state(text)) == text


@pytest.mark.parametrize("text,expected", [
    ("0-1-100,0-2-130", "0-2-130"),          # failover: the new primary's GTID is the newest
    ("0-2-130,0-1-100", "0-2-130"),          # order in the list does not matter
    ("0-1-100,\n0-2-130,1-3-7", "0-2-130,1-3-7"),
    ("", ""),
])
def test_state_from_gtid_list(text, expected):
    assert bp.state_from_gtid_list(text) == expected


def test_state_from_gtid_list_refuses():
    with pytest.raises(bp.PlanError) as excinfo:
        bp.state_from_gtid_list("0-1-100,junk")
    assert message(excinfo) == "not a GTID list: '0-1-100,junk' (expected domain-server-seq, comma-separated)"


@pytest.mark.parametrize("a,b,expected", [
    ("0-1-100", "0-1-100", True),
    ("0-1-101", "0-1-100", True),
    ("0-1-99", "0-1-100", False),
    ("0-2-130", "0-1-100", True),            # server id ignored: seq orders the domain
    ("0-1-100", "0-2-130", False),
    ("0-1-100", "", True),
    ("", "", True),
    ("", "0-1-1", False),
    ("0-1-100", "0-1-100,1-3-7", False),      # a has nothing of domain 1
    ("0-1-100,1-3-7", "0-1-100", True),
    ({0: (1, 100)}, "0-1-99", True),          # parsed states are accepted too
])
def test_contains(a, b, expected):
    assert bp.contains(a, b) is expected


@pytest.mark.parametrize("a,b,expected", [
    ("0-1-100,1-3-7", "0-2-90,2-1-1", "0-2-90"),   # only domains both have
    ("0-1-100", "0-2-100", "0-1-100"),               # equal seq: a's GTID
    ("0-1-100", "1-1-100", ""),
    ("0-1-100,1-3-7", "1-3-9,0-1-150", "0-1-100,1-3-7"),
])
def test_state_min(a, b, expected):
    assert bp.state_min(a, b) == expected


# --- times ------------------------------------------------------------------------------------------

def test_utc_round_trip_and_fractions():
    epoch = bp.parse_utc("2026-12-03 03:15:00")
    assert epoch == 1796267700.0
    assert bp.format_utc(epoch) == "2026-12-03 03:15:00"
    assert bp.format_utc(epoch + 0.999) == "2026-12-03 03:15:00"   # floored: never past the instant


@pytest.mark.parametrize("text", ["2026-12-03T03:15:00", "2026-12-03 03:15", "2026-02-30 00:00:00",
                                  "2026-12-03 03:15:00Z", " 2026-12-03 03:15:00", None])
def test_parse_utc_refuses(text):
    with pytest.raises(bp.PlanError) as excinfo:
        bp.parse_utc(text, "restore target time")
    assert message(excinfo) == "restore target time %r is not a valid 'YYYY-MM-DD HH:MM:SS' UTC time" % (text,)


# --- chains -----------------------------------------------------------------------------------------

def test_chains_sorts_fulls_and_follows_parents():
    assert [ids(chain) for chain in bp.chains(CATALOGUE)] == [["F1", "I1", "I2"], ["F2", "I3"]]
    assert bp.broken_backups(CATALOGUE) == {}


def test_chains_return_the_records_themselves():
    chain = bp.chains(CATALOGUE)[0]
    assert chain[0] is F1 and chain[2] is I2


def test_chains_empty_catalogue():
    assert bp.chains([]) == []
    assert bp.broken_backups([]) == {}


@pytest.mark.parametrize("bad,reason", [
    (inc("X", "F9", "2026-12-03 10:00:00", "0-1-130", 1200, 1300), "parent F9 is not in the catalogue"),
    (inc("X", None, "2026-12-03 10:00:00", "0-1-130", 1200, 1300), "incremental without a parent"),
    (inc("X", "I1", "2026-12-03 10:00:00", "0-1-130", 1200, 1300, source="db3"),
     "taken on db3, its parent I1 on db2"),
    (inc("X", "I1", "2026-12-03 10:00:00", "0-1-130", 1150, 1300),
     "from_lsn 1150 does not continue its parent I1 (to_lsn 1200)"),
    (inc("X", "I1", "2026-12-03 16:00:00", "0-1-150", 1200, 1500),
     "its parent I1 is already continued by I2"),
])
def test_broken_incrementals_are_excluded_with_a_reason(bad, reason):
    catalogue = CATALOGUE + [bad]
    assert [ids(chain) for chain in bp.chains(catalogue)] == [["F1", "I1", "I2"], ["F2", "I3"]]
    assert bp.broken_backups(catalogue) == {"X": reason}


def test_a_broken_link_excludes_the_rest_of_the_chain():
    bad_i1 = inc("I1", "F1", "2026-12-03 09:15:00", "0-1-120", 999, 1200)
    catalogue = [F1, bad_i1, I2]
    assert [ids(chain) for chain in bp.chains(catalogue)] == [["F1"]]
    assert bp.broken_backups(catalogue) == {"I1": "from_lsn 999 does not continue its parent F1 (to_lsn 1000)",
                                            "I2": "parent I1 is excluded"}


def test_older_sibling_continues_the_chain():
    """Two incrementals on one parent (a retried run): the older continues, the other is reported."""
    retry = inc("I1b", "F1", "2026-12-03 09:20:00", "0-1-121", 1000, 1210)
    catalogue = [F1, retry, I1, I2]
    assert [ids(chain) for chain in bp.chains(catalogue)] == [["F1", "I1", "I2"]]
    assert bp.broken_backups(catalogue) == {"I1b": "its parent F1 is already continued by I1"}


@pytest.mark.parametrize("change,reason", [
    ({"kind": "diff"}, "invalid record: kind 'diff' is neither full nor incremental"),
    ({"source": ""}, "invalid record: no source host"),
    ({"time": "yesterday"}, "invalid record: time 'yesterday' is not a number"),
    ({"time": True}, "invalid record: time True is not a number"),
    ({"gtid": "0-1"}, "invalid record: gtid: not a GTID state: '0-1' (expected domain-server-seq, "
                      "comma-separated)"),
    ({"to_lsn": "1000"}, "invalid record: from_lsn/to_lsn 0/'1000' are not LSNs"),
    ({"from_lsn": 2000}, "invalid record: to_lsn 1000 is below from_lsn 2000"),
    ({"verified": "yes"}, "invalid record: verified 'yes' is neither true, false nor null"),
])
def test_malformed_records_are_reported_not_fatal(change, reason):
    bad = dict(F1, **change)
    catalogue = [bad, I1, F2]
    assert [ids(chain) for chain in bp.chains(catalogue)] == [["F2"]]
    assert bp.broken_backups(catalogue) == {"F1": reason, "I1": "parent F1 is excluded"}


def test_duplicate_id_stops_everything():
    with pytest.raises(bp.PlanError) as excinfo:
        bp.chains([F1, dict(F1)])
    assert message(excinfo) == "backup id F1 appears twice in the catalogue"


def test_record_without_id_stops_everything():
    with pytest.raises(bp.PlanError) as excinfo:
        bp.chains([{"kind": "full"}])
    assert message(excinfo) == "a backup record has no id: {'kind': 'full'}"


def test_parent_cycle_among_incrementals_terminates():
    a = inc("A", "B", "2026-12-03 10:00:00", "0-1-130", 5, 5)
    b = inc("B", "A", "2026-12-03 11:00:00", "0-1-131", 5, 5)
    assert [ids(chain) for chain in bp.chains([F1, a, b])] == [["F1"]]
    assert bp.broken_backups([F1, a, b]) == {"A": "parent B is excluded", "B": "parent A is excluded"}


# --- choosing what to restore -------------------------------------------------------------------------

def test_latest_is_the_newest_chain_whole():
    assert ids(bp.choose_restore_chain(CATALOGUE)) == ["F2", "I3"]


@pytest.mark.parametrize("to_time,expected", [
    ("2026-12-03 12:00:00", ["F1", "I1"]),
    ("2026-12-03 09:15:00", ["F1", "I1"]),            # a backup exactly at the target qualifies
    ("2026-12-03 09:14:59", ["F1"]),
    ("2026-12-04 03:14:59", ["F1", "I1", "I2"]),
    ("2026-12-04 03:15:00", ["F2"]),
    ("2026-12-05 00:00:00", ["F2", "I3"]),
])
def test_time_target_takes_the_newest_prefix_at_or_before_it(to_time, expected):
    assert ids(bp.choose_restore_chain(CATALOGUE, to_time=to_time)) == expected


def test_time_target_may_be_an_epoch():
    assert ids(bp.choose_restore_chain(CATALOGUE, to_time=at("2026-12-03 12:00:00"))) == ["F1", "I1"]


@pytest.mark.parametrize("to_gtid,expected", [
    ("0-1-120", ["F1", "I1"]),
    ("0-1-139", ["F1", "I1"]),
    ("0-2-205", ["F2"]),              # server id of the target does not matter
    ("0-1-100,1-3-7", ["F1"]),        # extra domains in the target are fine
])
def test_gtid_target_takes_the_newest_prefix_it_contains(to_gtid, expected):
    assert ids(bp.choose_restore_chain(CATALOGUE, to_gtid=to_gtid)) == expected


def test_failed_verification_cuts_the_chain_there():
    bad_i2 = dict(I2, verified=False)
    assert ids(bp.choose_restore_chain([F1, I1, bad_i2])) == ["F1", "I1"]


def test_failed_full_makes_the_older_chain_the_latest():
    bad_f2 = dict(F2, verified=False)
    assert ids(bp.choose_restore_chain([F1, I1, I2, bad_f2, I3])) == ["F1", "I1", "I2"]


def test_the_candidate_closest_to_the_target_wins():
    """A full from another host taken between two incrementals: the longer prefix of the older chain
    ends nearer the target, so less binlog is replayed."""
    other = full("F3", "2026-12-03 12:00:00", "0-1-130", source="db3")
    assert ids(bp.choose_restore_chain([F1, I1, I2, other], to_time="2026-12-03 18:00:00")) == ["F1", "I1", "I2"]
    assert ids(bp.choose_restore_chain([F1, I1, I2, other], to_time="2026-12-03 13:00:00")) == ["F3"]


def test_time_target_before_the_oldest_backup():
    with pytest.raises(bp.PlanError) as excinfo:
        bp.choose_restore_chain(CATALOGUE, to_time="2026-12-03 02:00:00")
    assert message(excinfo) == ("restore target 2026-12-03 02:00:00 UTC is before the oldest usable backup "
                                "F1 (2026-12-03 03:15:00 UTC, GTID 0-1-100)")


def test_gtid_target_before_the_oldest_backup():
    with pytest.raises(bp.PlanError) as excinfo:
        bp.choose_restore_chain(CATALOGUE, to_gtid="0-1-99")
    assert message(excinfo) == ("restore target GTID 0-1-99 is before the oldest usable backup "
                                "F1 (2026-12-03 03:15:00 UTC, GTID 0-1-100)")


def test_gtid_target_missing_a_domain_of_the_backups():
    catalogue = [full("F1", "2026-12-03 03:15:00", "0-1-100,1-3-7")]
    with pytest.raises(bp.PlanError) as excinfo:
        bp.choose_restore_chain(catalogue, to_gtid="0-1-500")
    assert message(excinfo) == ("restore target GTID 0-1-500 is not at or after any usable backup: the oldest, "
                                "F1 (2026-12-03 03:15:00 UTC, GTID 0-1-100,1-3-7), has transactions in domain 1 "
                                "and the target names no position there")


@pytest.mark.parametrize("kwargs,expected", [
    ({}, "no backups in the catalogue: take one first (playbooks/backup.yml)"),
    ({"to_gtid": "0-1-1", "to_time": "2026-12-03 02:00:00"}, "give a target time or a target GTID, not both"),
    ({"to_time": "yesterday"}, "restore target time 'yesterday' is not a valid 'YYYY-MM-DD HH:MM:SS' UTC time"),
    ({"to_gtid": "latest"},
     "restore target GTID 'latest' is not a GTID (domain-server-seq, comma-separated for several domains)"),
])
def test_choose_restore_chain_refusals_on_an_empty_catalogue(kwargs, expected):
    with pytest.raises(bp.PlanError) as excinfo:
        bp.choose_restore_chain([], **kwargs)
    assert message(excinfo) == expected


def test_no_usable_backup():
    catalogue = [dict(F1, verified=False), I1, inc("X", "F9", "2026-12-03 10:00:00", "0-1-1", 0, 1)]
    with pytest.raises(bp.PlanError) as excinfo:
        bp.choose_restore_chain(catalogue)
    assert message(excinfo) == ("no usable backup: the 3 backups in the catalogue failed verification or have "
                                "a broken chain (ha-lamp-backup status lists them)")


def test_incremental_parent_is_the_end_of_the_newest_chain():
    assert bp.incremental_parent(CATALOGUE) is I3
    assert bp.incremental_parent([F1, I1]) is I1
    assert bp.incremental_parent([]) is None


@pytest.mark.parametrize("catalogue", [
    [F1, I1, dict(I2, verified=False)],     # the newest backup failed verification
    [F1, dict(I1, verified=False), I2],     # one in the middle did
    [dict(F1, verified=False)],
])
def test_incremental_parent_none_when_the_newest_chain_is_damaged(catalogue):
    assert bp.incremental_parent(catalogue) is None


def test_oldest_restorable_state():
    assert bp.oldest_restorable_state(CATALOGUE) == "0-1-100"
    assert bp.oldest_restorable_state(CATALOGUE, keep_ids={"F2", "I3"}) == "0-1-200"
    assert bp.oldest_restorable_state([dict(F1, verified=False)]) is None


# --- retention --------------------------------------------------------------------------------------

def fulls_at(*times):
    """Full backups named by their time, e.g. 'F 2026-12-03 03:00:00'."""
    return [full("F " + when, when, "0-1-%d" % number) for number, when in enumerate(times, 1)]


def test_keep_last_only():
    catalogue = fulls_at("2026-12-01 03:00:00", "2026-12-02 03:00:00", "2026-12-03 03:00:00")
    keep, forget = bp.retention(catalogue, 0, 0, 0, keep_last=2)
    assert keep == ["F 2026-12-02 03:00:00", "F 2026-12-03 03:00:00"]
    assert forget == ["F 2026-12-01 03:00:00"]


def test_daily_keeps_the_newest_of_each_of_the_last_days():
    catalogue = fulls_at("2026-12-01 03:00:00", "2026-12-01 15:00:00", "2026-12-02 03:00:00",
                         "2026-12-02 15:00:00", "2026-12-04 03:00:00")
    keep, forget = bp.retention(catalogue, 2, 0, 0)
    # days with a backup, newest first: Dec 4, Dec 2 (Dec 3 has none and does not count)
    assert keep == ["F 2026-12-02 15:00:00", "F 2026-12-04 03:00:00"]
    assert forget == ["F 2026-12-01 03:00:00", "F 2026-12-01 15:00:00", "F 2026-12-02 03:00:00"]


def test_daily_bucket_edge_is_midnight_utc():
    catalogue = fulls_at("2026-12-02 23:59:59", "2026-12-03 00:00:00")
    keep, forget = bp.retention(catalogue, 2, 0, 0)
    assert (keep, forget) == (["F 2026-12-02 23:59:59", "F 2026-12-03 00:00:00"], [])
    keep, forget = bp.retention(fulls_at("2026-12-03 00:00:00", "2026-12-03 23:59:59"), 2, 0, 0)
    assert (keep, forget) == (["F 2026-12-03 23:59:59"], ["F 2026-12-03 00:00:00"])


def test_weekly_uses_iso_weeks_across_the_new_year():
    # ISO week 2026-W53 runs Mon 2026-12-28 .. Sun 2027-01-03; 2027-W01 starts Mon 2027-01-04.
    catalogue = fulls_at("2026-12-27 12:00:00", "2026-12-28 12:00:00", "2027-01-03 23:59:59",
                         "2027-01-04 00:00:00")
    keep, forget = bp.retention(catalogue, 0, 3, 0)
    assert keep == ["F 2026-12-27 12:00:00", "F 2027-01-03 23:59:59", "F 2027-01-04 00:00:00"]
    assert forget == ["F 2026-12-28 12:00:00"]


def test_weekly_week_belongs_to_the_next_iso_year():
    # Mon 2024-12-30 is in 2025-W01 together with Wed 2025-01-01.
    catalogue = fulls_at("2024-12-29 12:00:00", "2024-12-30 12:00:00", "2025-01-01 12:00:00")
    keep, forget = bp.retention(catalogue, 0, 5, 0)
    assert keep == ["F 2024-12-29 12:00:00", "F 2025-01-01 12:00:00"]
    assert forget == ["F 2024-12-30 12:00:00"]


def test_monthly_bucket_edges_at_month_ends():
    catalogue = fulls_at("2028-01-31 23:59:59", "2028-02-01 00:00:00", "2028-02-29 23:59:59",
                         "2028-03-01 00:00:00", "2028-03-15 00:00:00")
    keep, forget = bp.retention(catalogue, 0, 0, 3)
    assert keep == ["F 2028-01-31 23:59:59", "F 2028-02-29 23:59:59", "F 2028-03-15 00:00:00"]
    assert forget == ["F 2028-02-01 00:00:00", "F 2028-03-01 00:00:00"]


def test_policies_combine_like_restic():
    # 10 nightly fulls Dec 1..10: 3 daily + 2 weekly (ISO weeks 49: Nov 30-Dec 6, 50: Dec 7-13) + 1 monthly.
    catalogue = fulls_at(*["2026-12-%02d 03:00:00" % day for day in range(1, 11)])
    keep, forget = bp.retention(catalogue, 3, 2, 1)
    assert keep == ["F 2026-12-06 03:00:00", "F 2026-12-08 03:00:00", "F 2026-12-09 03:00:00",
                    "F 2026-12-10 03:00:00"]
    assert len(forget) == 6


def test_incrementals_follow_their_full():
    keep, forget = bp.retention(CATALOGUE, 1, 0, 0)
    assert keep == ["F2", "I3"]
    assert forget == ["F1", "I1", "I2"]


def test_failed_full_takes_no_bucket_and_leaves_with_the_window():
    bad_new = full("F3", "2026-12-04 20:00:00", "0-1-300", verified=False)
    keep, forget = bp.retention([F1, I1, F2, I3, bad_new], 1, 0, 0)
    # F2 keeps Dec 4 although F3 is newer that day; F3 stays (inside the window) for status to show it
    assert keep == ["F2", "F3", "I3"]
    assert forget == ["F1", "I1"]
    bad_old = full("F0", "2026-12-02 20:00:00", "0-1-50", verified=False)
    keep, forget = bp.retention([bad_old, F1, F2], 1, 0, 0)
    assert (keep, forget) == (["F2"], ["F0", "F1"])


def test_orphan_incremental_stays_only_inside_the_window():
    young = inc("Y", "gone", "2026-12-04 10:00:00", "0-1-230", 5, 6)
    old = inc("O", "gone", "2026-12-03 10:00:00", "0-1-130", 5, 6)
    keep, forget = bp.retention([F1, F2, young, old], 1, 0, 0)
    assert (keep, forget) == (["F2", "Y"], ["F1", "O"])


def test_malformed_records_are_never_forgotten():
    odd = dict(F1, id="ODD", time="soon")
    keep, forget = bp.retention([odd, F1, F2], 1, 0, 0)
    assert (keep, forget) == (["F2", "ODD"], ["F1"])


def test_nothing_is_forgotten_without_a_usable_full():
    catalogue = [dict(F1, verified=False), I1]
    assert bp.retention(catalogue, 1, 1, 1) == (["F1", "I1"], [])


@pytest.mark.parametrize("counts,expected", [
    ((-1, 0, 0, 1), "retention keep_daily must be a whole number of at least 0, not -1"),
    ((7, "4", 6, 1), "retention keep_weekly must be a whole number of at least 0, not '4'"),
    ((7, 4, True, 1), "retention keep_monthly must be a whole number of at least 0, not True"),
    ((7, 4, 6, 0), "retention keep_last must be at least 1: the newest full backup is always kept"),
])
def test_retention_refuses_bad_counts(counts, expected):
    daily, weekly, monthly, last = counts
    with pytest.raises(bp.PlanError) as excinfo:
        bp.retention(CATALOGUE, daily, weekly, monthly, keep_last=last)
    assert message(excinfo) == expected


# --- binlog replay ----------------------------------------------------------------------------------

def test_replay_to_the_end_across_a_failover():
    steps = bp.replay_plan(INDEX, "0-1-100", archive_dir="/srv/binlogs")
    assert steps == [
        {"segment": "000001-db1",
         "files": ["/srv/binlogs/000001-db1/mysql-bin.000004", "/srv/binlogs/000001-db1/mysql-bin.000005"],
         "start_position": "0-1-100", "stop_position": "0-1-130", "stop_datetime": None},
        {"segment": "000002-db2",
         "files": ["/srv/binlogs/000002-db2/mysql-bin.000007", "/srv/binlogs/000002-db2/mysql-bin.000008"],
         "start_position": "0-1-130", "stop_position": None, "stop_datetime": None},
    ]


def test_old_primary_tail_past_the_failover_is_never_read():
    """db1's mysql-bin.000006 starts at 0-1-135, past where db2 took over (0-1-130): db1 logged
    transactions nobody acknowledged. The first step stops at 0-1-130 and does not even list that file."""
    files = bp.replay_plan(INDEX, "0-1-100")[0]["files"]
    assert "000001-db1/mysql-bin.000006" not in files


def test_replay_to_a_gtid_inside_the_first_segment():
    assert bp.replay_plan(INDEX, "0-1-60", to_gtid="0-1-95") == [
        {"segment": "000001-db1", "files": ["000001-db1/mysql-bin.000003", "000001-db1/mysql-bin.000004"],
         "start_position": "0-1-60", "stop_position": "0-1-95", "stop_datetime": None}]


def test_replay_to_the_failover_point_stays_in_the_first_segment():
    steps = bp.replay_plan(INDEX, "0-1-100", to_gtid="0-1-130")
    assert [(s["segment"], s["stop_position"]) for s in steps] == [("000001-db1", "0-1-130")]


def test_replay_to_a_gtid_in_the_second_segment():
    steps = bp.replay_plan(INDEX, "0-1-100", to_gtid="0-2-150")
    assert [(s["segment"], s["start_position"], s["stop_position"]) for s in steps] == [
        ("000001-db1", "0-1-100", "0-1-130"), ("000002-db2", "0-1-130", "0-2-150")]
    assert steps[1]["files"] == ["000002-db2/mysql-bin.000007"]   # .000008 starts after the target


def test_replay_from_inside_the_second_segment_skips_the_first():
    steps = bp.replay_plan(INDEX, "0-2-165")
    assert steps == [{"segment": "000002-db2", "files": ["000002-db2/mysql-bin.000008"],
                      "start_position": "0-2-165", "stop_position": None, "stop_datetime": None}]


def test_replay_from_exactly_the_failover_point_skips_the_first():
    assert [s["segment"] for s in bp.replay_plan(INDEX, "0-1-130")] == ["000002-db2"]


def test_replay_to_a_time_carries_stop_datetime_on_every_step():
    steps = bp.replay_plan(INDEX, "0-1-100", to_time="2026-12-03 12:00:00")
    assert [(s["stop_position"], s["stop_datetime"]) for s in steps] == [
        ("0-1-130", "2026-12-03 12:00:00"), (None, "2026-12-03 12:00:00")]


def test_replay_nothing_when_the_backup_is_the_target():
    assert bp.replay_plan(INDEX, "0-1-130", to_gtid="0-1-130") == []
    assert bp.replay_plan({"segments": []}, "0-1-130", to_gtid="0-2-130") == []


def test_replay_refuses_a_backup_past_the_target():
    with pytest.raises(bp.PlanError) as excinfo:
        bp.replay_plan(INDEX, "0-1-140", to_gtid="0-1-120")
    assert message(excinfo) == ("the restored backup is already past the target: it is at GTID 0-1-140, the target "
                                "is 0-1-120 (choose_restore_chain picks a backup at or before it)")


def test_replay_with_an_empty_archive():
    assert bp.replay_plan({"segments": []}, "0-1-100") == []
    with pytest.raises(bp.PlanError) as excinfo:
        bp.replay_plan({"segments": []}, "0-1-100", to_time="2026-12-03 12:00:00")
    assert message(excinfo) == "the binlog archive is empty: nothing can replay from GTID 0-1-100 to the target"


def closed(seg, end_state):
    return dict(seg, end_state=end_state)


def test_gap_between_segments_is_named():
    """The archive held db1 up to 0-1-100, and db2's segment could only start at 0-2-130 (db2 had
    purged older binlogs): the transactions in between are nowhere."""
    db1 = closed(segment("000001-db1", ("mysql-bin.000001", "0-1-10")), "0-1-100")
    db2 = segment("000003-db2", ("mysql-bin.000009", "0-2-130"))
    with pytest.raises(bp.ArchiveGapError) as excinfo:
        bp.replay_plan({"segments": [db1, db2]}, "0-1-50")
    assert message(excinfo) == ("the binlog archive has a gap: nothing covers 0-1-100 .. 0-2-130 "
                                "(segment 000003-db2 starts at 0-2-130)")


def test_gap_starts_at_the_backup_when_it_is_past_the_archived_end():
    db1 = closed(segment("000001-db1", ("mysql-bin.000001", "0-1-10")), "0-1-100")
    db2 = segment("000003-db2", ("mysql-bin.000009", "0-2-130"))
    with pytest.raises(bp.ArchiveGapError) as excinfo:
        bp.replay_plan({"segments": [db1, db2]}, "0-1-110")
    assert message(excinfo) == ("the binlog archive has a gap: nothing covers 0-1-110 .. 0-2-130 "
                                "(segment 000003-db2 starts at 0-2-130)")


def test_a_target_before_a_gap_is_still_reachable():
    db1 = closed(segment("000001-db1", ("mysql-bin.000001", "0-1-10")), "0-1-100")
    db2 = segment("000003-db2", ("mysql-bin.000009", "0-2-130"))
    steps = bp.replay_plan({"segments": [db1, db2]}, "0-1-50", to_gtid="0-1-90")
    assert [(s["segment"], s["stop_position"]) for s in steps] == [("000001-db1", "0-1-90")]
    with pytest.raises(bp.ArchiveGapError):
        bp.replay_plan({"segments": [db1, db2]}, "0-1-50", to_gtid="0-1-120")


def test_closed_segments_without_a_gap_replay_normally():
    index = {"segments": [closed(SEG1, "0-1-137"), SEG2]}
    assert bp.replay_plan(index, "0-1-100") == bp.replay_plan(INDEX, "0-1-100")


def test_without_end_state_the_archiver_continuity_is_trusted():
    """No end_state: segment 1 is taken to hold everything up to where segment 2 starts."""
    db1 = segment("000001-db1", ("mysql-bin.000001", "0-1-10"))
    db2 = segment("000003-db2", ("mysql-bin.000009", "0-2-130"))
    steps = bp.replay_plan({"segments": [db1, db2]}, "0-1-50")
    assert [(s["segment"], s["stop_position"]) for s in steps] == [("000001-db1", "0-2-130"), ("000003-db2", None)]


def test_gap_before_the_first_segment():
    with pytest.raises(bp.ArchiveGapError) as excinfo:
        bp.replay_plan(INDEX, "0-1-20")
    assert message(excinfo) == ("the binlog archive has a gap: nothing covers 0-1-20 .. 0-1-50 "
                                "(segment 000001-db1 starts at 0-1-50)")


def test_segments_without_files_and_empty_ranges_are_skipped():
    empty = {"id": "000002-db3", "files": []}
    instant = segment("000003-db3", ("b.000001", "0-1-130"))        # db3 primary for no transaction
    later = segment("000004-db2", ("a.000002", "0-1-130"))
    index = {"segments": [SEG1, empty, instant, later]}
    assert [s["segment"] for s in bp.replay_plan(index, "0-1-100")] == ["000001-db1", "000004-db2"]


def test_domains_missing_from_the_next_start_keep_their_position():
    index = {"segments": [segment("000001-db1", ("m.000001", "0-1-50,1-1-5")),
                          segment("000002-db2", ("m.000001", "0-1-80"))]}
    steps = bp.replay_plan(index, "0-1-60,1-1-9")
    assert [(s["start_position"], s["stop_position"]) for s in steps] == [
        ("0-1-60,1-1-9", "0-1-80"), ("0-1-80,1-1-9", None)]


def test_index_start_states_are_gtid_lists():
    """The archiver records each file's Gtid_list: one GTID per domain AND server id. db1 logged an
    unacknowledged tail 0-1-101..105; db2 was promoted at 0-1-100 and logged 0-2-101.. (same seqs,
    other transactions). db2's first archived file starts at [0-1-100]; its next one at
    [0-1-100,0-2-103]; after a switchover back, db1's new segment starts at [0-1-105,0-2-150] (its
    binlog state still remembers its own tail)."""
    index = {"segments": [
        segment("000001-db1", ("db1-bin.000001", "0-1-50"), ("db1-bin.000002", "0-1-95")),
        segment("000002-db2", ("db2-bin.000004", "0-1-100"), ("db2-bin.000005", "0-1-100,0-2-103")),
        segment("000003-db1", ("db1-bin.000003", "0-1-105,0-2-150")),
    ]}
    steps = bp.replay_plan(index, "0-1-90")
    assert [(s["segment"], s["start_position"], s["stop_position"]) for s in steps] == [
        ("000001-db1", "0-1-90", "0-1-100"),         # db1's tail after 0-1-100 is never replayed
        ("000002-db2", "0-1-100", "0-2-150"),
        ("000003-db1", "0-2-150", None)]
    assert steps[1]["files"] == ["000002-db2/db2-bin.000004", "000002-db2/db2-bin.000005"]
    to_102 = bp.replay_plan(index, "0-1-90", to_gtid="0-2-102")
    assert to_102[-1] == {"segment": "000002-db2", "files": ["000002-db2/db2-bin.000004"],
                          "start_position": "0-1-100", "stop_position": "0-2-102", "stop_datetime": None}


def test_gap_before_flag_stops_a_replay_crossing_it():
    db2 = dict(segment("000003-db2", ("mysql-bin.000009", "0-1-200,0-2-230")), gap_before=True)
    index = {"segments": [SEG1, db2]}
    with pytest.raises(bp.ArchiveGapError) as excinfo:
        bp.replay_plan(index, "0-1-100")
    # the previous segment's end is unknown: its last file's start is what is known to be covered
    assert message(excinfo) == ("the binlog archive has a gap: nothing covers 0-1-135 .. 0-2-230 "
                                "(segment 000003-db2 starts at 0-2-230)")
    assert [s["segment"] for s in bp.replay_plan(index, "0-1-100", to_gtid="0-1-125")] == ["000001-db1"]
    assert [s["segment"] for s in bp.replay_plan(index, "0-2-240")] == ["000003-db2"]
    assert bp.archive_covers(index, "0-1-100") is False
    assert bp.archive_covers(index, "0-2-230") is True


@pytest.mark.parametrize("index,expected", [
    ([], "binlog archive index: expected {\"segments\": [...]}, got []"),
    ({"segments": ["x"]}, "binlog archive index: segment 'x' is not a mapping"),
    ({"segments": [segment("../etc", ("a", "0-1-1"))]}, "binlog archive index: segment id '../etc' is not a "
                                                        "plain file name"),
    ({"segments": [segment("s1", ("../../passwd", "0-1-1"))]},
     "binlog archive index: file name in segment s1: '../../passwd' is not a plain file name"),
    ({"segments": [segment("s1", ("a", "0-1"))]},
     "binlog archive index: segment s1, file a: not a GTID list: '0-1' (expected domain-server-seq, "
     "comma-separated)"),
    ({"segments": [segment("s1", ("a", "0-1-9"), ("b", "0-1-5"))]},
     "binlog archive index: segment s1, file b starts at 0-1-5, before the previous file (0-1-9)"),
    ({"segments": [closed(segment("s1", ("a", "0-1-1"), ("b", "0-1-9")), "0-1-5")]},
     "binlog archive index: segment s1 ends at 0-1-5, before its last file b starts (0-1-9)"),
    ({"segments": [closed(segment("s1", ("a", "0-1-1")), "0-1")]},
     "binlog archive index: segment s1, end_state: not a GTID list: '0-1' (expected domain-server-seq, "
     "comma-separated)"),
])
def test_malformed_index_is_refused(index, expected):
    with pytest.raises(bp.PlanError) as excinfo:
        bp.replay_plan(index, "0-1-1")
    assert message(excinfo) == expected


def test_step_reached_stop():
    first, last = bp.replay_plan(INDEX, "0-1-100", to_time="2026-12-03 12:00:00")
    assert bp.step_reached_stop(first, "0-1-130") is True
    assert bp.step_reached_stop(first, "0-1-117") is False   # the stop time came first: stop here
    assert bp.step_reached_stop(last, "0-2-150") is True


# --- archive coverage and pruning ---------------------------------------------------------------------

@pytest.mark.parametrize("state,expected", [
    ("0-1-50", True),
    ("0-1-100", True),
    ("0-2-500", True),      # past the newest archived event: the last segment still covers it
    ("0-1-49", False),
    ("", False),
])
def test_archive_covers(state, expected):
    assert bp.archive_covers(INDEX, state) is expected


def test_archive_covers_nothing_when_empty_or_gapped():
    assert bp.archive_covers({"segments": []}, "0-1-1") is False
    gapped = {"segments": [closed(SEG1, "0-1-137"), segment("000003-db2", ("x.000001", "0-2-140"))]}
    assert bp.archive_covers(gapped, "0-1-100") is False
    assert bp.archive_covers(gapped, "0-2-140") is True     # past the gap: covered again


def test_prunable_files_inside_a_segment():
    assert bp.prunable_files(INDEX, "0-1-95", archive_dir="/a") == ["/a/000001-db1/mysql-bin.000003"]
    assert bp.prunable_files(INDEX, "0-1-120") == ["000001-db1/mysql-bin.000003", "000001-db1/mysql-bin.000004"]


def test_prunable_files_whole_segment_behind_the_oldest_needed():
    assert bp.prunable_files(INDEX, "0-1-130") == ["000001-db1/mysql-bin.000003", "000001-db1/mysql-bin.000004",
                                                   "000001-db1/mysql-bin.000005", "000001-db1/mysql-bin.000006"]


def test_prunable_files_never_the_newest_file():
    pruned = bp.prunable_files(INDEX, "0-2-999")
    assert "000002-db2/mysql-bin.000007" in pruned
    assert "000002-db2/mysql-bin.000008" not in pruned


def test_prunable_files_nothing_before_the_archive():
    assert bp.prunable_files(INDEX, "0-1-10") == []
    assert bp.prunable_files({"segments": []}, "0-1-10") == []


def test_pruned_files_are_never_needed_by_a_later_replay():
    oldest = "0-1-120"
    pruned = set(bp.prunable_files(INDEX, oldest))
    for start in ("0-1-120", "0-1-125", "0-1-130", "0-2-161"):
        for step in bp.replay_plan(INDEX, start):
            assert not pruned & set(step["files"])


# --- restore target checks ----------------------------------------------------------------------------

NOW = at("2026-12-04 12:00:00")
ARCHIVED_AT = at("2026-12-04 11:59:15")


@pytest.mark.parametrize("kwargs", [
    {},
    {"to_time": "2026-12-04 11:00:00"},
    {"to_time": "2026-12-04 11:59:15"},
    {"to_gtid": "0-2-240"},
    {"to_gtid": "0-1-200"},
])
def test_check_target_accepts(kwargs):
    assert bp.check_target(CATALOGUE, "0-2-250", ARCHIVED_AT, now=NOW, **kwargs) is None


def test_check_target_accepts_a_binlog_state_as_archive_state():
    assert bp.check_target(CATALOGUE, "0-1-210,0-2-250", ARCHIVED_AT, to_gtid="0-2-240", now=NOW) is None


def test_check_target_gtid_of_a_backup_needs_no_archive():
    assert bp.check_target(CATALOGUE, "", None, to_gtid="0-1-220", now=NOW) is None


@pytest.mark.parametrize("kwargs,expected", [
    ({"to_time": "2026-12-04T11:00:00"},
     "restore target time '2026-12-04T11:00:00' is not a valid 'YYYY-MM-DD HH:MM:SS' UTC time"),
    ({"to_gtid": "0-2"},
     "restore target GTID '0-2' is not a GTID (domain-server-seq, comma-separated for several domains)"),
    ({"to_time": "2026-12-04 11:00:00", "to_gtid": "0-2-240"}, "give a target time or a target GTID, not both"),
    ({"to_time": "2026-12-05 00:00:00"},
     "restore target 2026-12-05 00:00:00 UTC is in the future (now 2026-12-04 12:00:00 UTC)"),
    ({"to_time": "2026-12-01 00:00:00"},
     "restore target 2026-12-01 00:00:00 UTC is before the oldest usable backup F1 (2026-12-03 03:15:00 UTC, "
     "GTID 0-1-100)"),
    ({"to_time": "2026-12-04 11:59:30"},
     "restore target 2026-12-04 11:59:30 UTC is after the newest archived binlog event (2026-12-04 11:59:15 "
     "UTC, GTID 0-2-250; the archive lags 45 s behind now): wait for the archive to catch up or choose an "
     "earlier target"),
    ({"to_gtid": "0-2-251"},
     "restore target GTID 0-2-251 is after the newest archived binlog event (2026-12-04 11:59:15 UTC, GTID "
     "0-2-250; the archive lags 45 s behind now): wait for the archive to catch up or choose an earlier target"),
])
def test_check_target_refuses(kwargs, expected):
    with pytest.raises(bp.PlanError) as excinfo:
        bp.check_target(CATALOGUE, "0-2-250", ARCHIVED_AT, now=NOW, **kwargs)
    assert message(excinfo) == expected


def test_check_target_without_now_gives_no_lag():
    with pytest.raises(bp.PlanError) as excinfo:
        bp.check_target(CATALOGUE, "0-2-250", ARCHIVED_AT, to_time="2026-12-04 11:59:30")
    assert message(excinfo) == ("restore target 2026-12-04 11:59:30 UTC is after the newest archived binlog event "
                                "(2026-12-04 11:59:15 UTC, GTID 0-2-250): wait for the archive to catch up or "
                                "choose an earlier target")


@pytest.mark.parametrize("archive_state", ["", None])
def test_check_target_with_nothing_archived(archive_state):
    with pytest.raises(bp.PlanError) as excinfo:
        bp.check_target(CATALOGUE, archive_state, None, to_time="2026-12-04 11:00:00", now=NOW)
    assert message(excinfo) == ("restore target 2026-12-04 11:00:00 UTC is after the newest archived binlog event "
                                "(nothing archived yet): wait for the archive to catch up or choose an earlier "
                                "target")


def test_check_target_latest_needs_only_a_usable_backup():
    assert bp.check_target([F1], "", None) is None
    with pytest.raises(bp.PlanError) as excinfo:
        bp.check_target([], "", None)
    assert message(excinfo) == "no backups in the catalogue: take one first (playbooks/backup.yml)"


# --- the printed plan ---------------------------------------------------------------------------------

def test_describe_plan_to_a_gtid():
    chain = [dict(F1, verified=True), I1]
    steps = bp.replay_plan(INDEX, I1["gtid"], to_gtid="0-2-150", archive_dir="/srv/binlogs")
    assert bp.describe_plan(chain, steps, "0-2-150") == [
        "restore target: GTID 0-2-150 (up to and including it)",
        "backups to restore, in order (2):",
        "  1. F1: full from db2, consistent at 2026-12-03 03:15:00 UTC, GTID 0-1-100, verified",
        "  2. I1: incremental from db2, consistent at 2026-12-03 09:15:00 UTC, GTID 0-1-120, not verified yet",
        "binlog replay (2 steps):",
        "  1. segment 000001-db1, 1 file (mysql-bin.000005): after GTID 0-1-120 up to GTID 0-1-130 inclusive",
        "  2. segment 000002-db2, 1 file (mysql-bin.000007): after GTID 0-1-130 up to GTID 0-2-150 inclusive",
        "warning: 1 of these backups has not been verified yet (I1)",
    ]


def test_describe_plan_to_a_time():
    steps = bp.replay_plan(INDEX, "0-1-100", to_time="2026-12-03 12:00:00")
    lines = bp.describe_plan([F1], steps, "2026-12-03 12:00:00")
    assert lines == [
        "restore target: 2026-12-03 12:00:00 UTC (transactions logged before this second)",
        "backups to restore, in order (1):",
        "  1. F1: full from db2, consistent at 2026-12-03 03:15:00 UTC, GTID 0-1-100, not verified yet",
        "binlog replay (2 steps):",
        "  1. segment 000001-db1, 2 files (mysql-bin.000004 .. mysql-bin.000005): after GTID 0-1-100 up to GTID "
        "0-1-130 inclusive, or until 2026-12-03 12:00:00 UTC if that comes first",
        "  2. segment 000002-db2, 2 files (mysql-bin.000007 .. mysql-bin.000008): after GTID 0-1-130 until "
        "2026-12-03 12:00:00 UTC (exclusive)",
        "warning: 1 of these backups has not been verified yet (F1)",
    ]


def test_describe_plan_latest_without_replay():
    chain = [dict(F2, verified=True), dict(I3, verified=True)]
    assert bp.describe_plan(chain, [], "latest") == [
        "restore target: latest (the newest backup, then every archived transaction)",
        "backups to restore, in order (2):",
        "  1. F2: full from db2, consistent at 2026-12-04 03:15:00 UTC, GTID 0-1-200, verified",
        "  2. I3: incremental from db2, consistent at 2026-12-04 09:15:00 UTC, GTID 0-1-220, verified",
        "binlog replay: none",
    ]
    assert bp.describe_plan(chain, [], None)[0] == bp.describe_plan(chain, [], "latest")[0]


def test_describe_plan_latest_to_the_end_of_the_archive():
    steps = bp.replay_plan(INDEX, "0-2-165")
    lines = bp.describe_plan([dict(F2, verified=True), dict(I3, verified=False)], steps, "latest")
    assert lines[-2:] == [
        "  1. segment 000002-db2, 1 file (mysql-bin.000008): after GTID 0-2-165 to the end of the archive",
        "warning: 1 of these backups has not been verified yet (I3)",
    ]
    assert lines[3].endswith("GTID 0-1-220, FAILED verification")


def test_describe_plan_refuses_an_empty_chain():
    with pytest.raises(bp.PlanError) as excinfo:
        bp.describe_plan([], [], "latest")
    assert message(excinfo) == "nothing to restore: the chain of backups is empty"


def test_describe_plan_from_an_empty_state():
    empty_full = full("E", "2026-12-01 00:00:00", "")
    steps = bp.replay_plan({"segments": [segment("000001-db1", ("m.000001", ""))]}, "")
    lines = bp.describe_plan([empty_full, dict(F1, id="G")], steps, "latest")
    assert lines[2] == "  1. E: full from db2, consistent at 2026-12-01 00:00:00 UTC, GTID (empty), not verified yet"
    assert lines[5] == "  1. segment 000001-db1, 1 file (m.000001): from the start to the end of the archive"
    assert lines[6] == "warning: 2 of these backups have not been verified yet (E, G)"
