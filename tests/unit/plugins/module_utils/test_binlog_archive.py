# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests for the binlog archiver's pure decisions (module_utils/binlog_archive.py)."""

import json
import os
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, ".collections"))

from ansible_collections.onprem.ha_lamp.plugins.module_utils import binlog_archive as ba  # noqa: E402
from ansible_collections.onprem.ha_lamp.plugins.module_utils.mysql_topology import GtidError  # noqa: E402


def up(read_only=False, server_id=1, replica=False, pos="0-1-10", state="0-1-10"):
    return ba.observation(read_only=read_only, server_id=server_id, gtid_binlog_pos=pos, gtid_binlog_state=state,
                          replica=replica)


def down(error="Can't connect to MySQL server on '10.0.0.31' (timed out)"):
    return ba.observation(error=error)


def segment(seg_id, files, server_id=1, gap=False, started_at=100.0):
    host = seg_id.split("-", 1)[1]
    return {"id": seg_id, "host": host, "server_id": server_id, "started_at": started_at, "gap_before": gap,
            "files": [{"name": n, "start_state": s} for n, s in files]}


# --- GTID states ------------------------------------------------------------------------------------

@pytest.mark.parametrize("info,state", [
    ("[]", ""),
    ("[0-1-100]", "0-1-100"),
    ("[0-2-9,0-1-8,1-2-1]", "0-1-8,0-2-9,1-2-1"),
    (" [0-1-8, 0-2-9] ", "0-1-8,0-2-9"),
])
def test_gtid_list_from_info(info, state):
    assert ba.gtid_list_from_info(info) == state


@pytest.mark.parametrize("info", ["", None, "0-1-8", "[0-1]", "[a-b-c]"])
def test_gtid_list_from_info_refuses_garbage(info):
    with pytest.raises(GtidError):
        ba.gtid_list_from_info(info)


def test_start_state_from_events_reads_the_gtid_list_row():
    rows = [{"Event_type": "Format_desc", "Info": "Server ver: 10.11.19-MariaDB-log, Binlog ver: 4"},
            {"Event_type": "Gtid_list", "Info": "[0-1-8,0-2-9,1-2-1]"},
            {"Event_type": "Binlog_checkpoint", "Info": "mariadb-bin.000002"}]
    assert ba.start_state_from_events(rows) == "0-1-8,0-2-9,1-2-1"
    assert ba.start_state_from_events(rows[:1]) is None
    assert ba.start_state_from_events([]) is None


def test_start_state_from_dump_reads_mariadb_binlog_text():
    # mariadb-binlog 10.11 prints one GTID per line after the first
    text = ("# at 256\n#261203  3:23:21 server id 1  end_log_pos 331 CRC32 0x9614e188 \tGtid list [0-1-8,\n"
            "# 0-2-9,\n# 1-2-1]\n# at 331\n")
    assert ba.start_state_from_dump(text) == "0-1-8,0-2-9,1-2-1"
    assert ba.start_state_from_dump("#... \tGtid list []\n") == ""
    assert ba.start_state_from_dump("ERROR: Error in Log_event::read_log_event(): 'Event truncated'") is None
    assert ba.start_state_from_dump("") is None


def test_containment_is_per_domain_and_server_id():
    # the new primary continued domain 0 at seq 101 with its own server_id: same seq, other transactions
    assert ba.contained("0-1-100", "0-1-105")
    assert ba.contained("", "0-1-105")
    assert not ba.contained("0-1-100,0-2-103", "0-1-105")
    assert ba.contained("0-1-100,0-2-103", "0-1-105,0-2-103")
    assert not ba.contained("0-1-106", "0-1-105")
    assert not ba.contained("1-2-1", "0-1-105")


# --- primary selection -----------------------------------------------------------------------------------

def test_exactly_one_primary_is_chosen():
    obs = {"db1": up(), "db2": up(read_only=True, replica=True), "db3": up(read_only=True, replica=True)}
    assert ba.select_primary(obs) == ("db1", "")


def test_no_primary_when_all_are_fenced_or_down():
    obs = {"db1": up(read_only=True), "db2": down("timed out"), "db3": up(read_only=True, replica=True)}
    assert ba.select_primary(obs) == (None, "no primary: db1 read-only; db2 unreachable (timed out); db3 read-only")


def test_two_writable_nodes_are_no_decision():
    obs = {"db1": up(), "db2": up(server_id=2), "db3": up(read_only=True)}
    assert ba.select_primary(obs) == (None, "several writable primaries: db1, db2")


def test_a_writable_replica_is_not_a_primary():
    obs = {"db1": up(), "db2": up(read_only=False, replica=True)}
    assert ba.select_primary(obs) == ("db1", "")
    assert ba.describe_node("db2", obs["db2"]) == "db2 is a replica"


def test_unreachable_node_is_never_primary():
    obs = {"db1": down(), "db2": up(server_id=2)}
    assert ba.select_primary(obs) == ("db2", "")


def test_choose_source_keeps_the_current_writable_source_without_a_decision():
    obs = {"db1": up(), "db2": up(server_id=2)}
    source, reason = ba.choose_source(obs, "db2")
    assert source == "db2" and reason == "several writable primaries: db1, db2; keeping db2"


def test_choose_source_drops_a_fenced_source_without_a_decision():
    obs = {"db1": up(read_only=True), "db2": up(read_only=True, server_id=2)}
    source, reason = ba.choose_source(obs, "db1")
    assert source is None and reason.startswith("no primary: db1 read-only")


def test_choose_source_follows_the_new_primary():
    obs = {"db1": up(read_only=True), "db2": up(server_id=2)}
    assert ba.choose_source(obs, "db1") == ("db2", "")


def test_server_id_clash():
    obs = {"db1": up(server_id=1), "db2": up(server_id=4001), "db3": down()}
    assert ba.server_id_clash(4001, obs) == "db2"
    assert ba.server_id_clash(4002, obs) is None


# --- where a stream starts ------------------------------------------------------------------------------

STATES = {"mysql-bin.000001": "", "mysql-bin.000002": "0-1-50", "mysql-bin.000003": "0-1-100",
          "mysql-bin.000004": "0-1-100,0-2-120"}
LOGS = sorted(STATES)


def test_first_run_starts_at_the_oldest_file():
    plan = ba.plan_start(ba.empty_index(), "db1", 1, LOGS, STATES.get, "")
    assert plan["action"] == "new" and plan["file"] == "mysql-bin.000001" and plan["gap_before"] is False


def test_restart_continues_the_last_segment_from_its_last_file():
    index = {"segments": [segment("000001-db1", [("mysql-bin.000002", "0-1-50"), ("mysql-bin.000003", "0-1-100")])]}
    plan = ba.plan_start(index, "db1", 1, LOGS, STATES.get, "0-1-100")
    assert plan == {"action": "continue", "segment": "000001-db1", "file": "mysql-bin.000003",
                    "reason": "continuing 000001-db1 from mysql-bin.000003"}


def test_restart_after_the_last_file_was_purged_opens_a_new_segment():
    index = {"segments": [segment("000001-db1", [("mysql-bin.000001", "")])]}
    plan = ba.plan_start(index, "db1", 1, LOGS[2:], STATES.get, "0-1-100")
    assert plan["action"] == "new" and plan["file"] == "mysql-bin.000003" and not plan["gap_before"]
    assert plan["reason"].startswith("db1 no longer has mysql-bin.000001 (purged); ")


def test_a_rebuilt_server_with_the_same_file_names_is_not_continued():
    index = {"segments": [segment("000001-db1", [("mysql-bin.000001", "0-1-7")])]}
    plan = ba.plan_start(index, "db1", 1, ["mysql-bin.000001"], {"mysql-bin.000001": ""}.get, "0-1-7")
    assert plan["action"] == "new" and plan["file"] == "mysql-bin.000001" and plan["gap_before"] is False
    assert "starts at [], the archived copy at [0-1-7]" in plan["reason"]


def test_failover_starts_at_the_newest_contained_file():
    index = {"segments": [segment("000001-db1", [("mysql-bin.000009", "0-1-90")])]}
    states = {"db2-bin.000001": "0-1-40", "db2-bin.000002": "0-1-95", "db2-bin.000003": "0-1-100,0-2-120"}
    plan = ba.plan_start(index, "db2", 2, sorted(states), states.get, "0-1-105")
    assert plan["action"] == "new" and plan["file"] == "db2-bin.000002" and plan["gap_before"] is False


def test_failover_with_an_errant_archived_tail_does_not_skip_the_new_primarys_transactions():
    # archived 0-1-101..105 the new primary never had; its file at [0-1-100,0-2-103] is not contained
    index = {"segments": [segment("000001-db1", [("mysql-bin.000009", "0-1-90")])]}
    states = {"db2-bin.000001": "0-1-100", "db2-bin.000002": "0-1-100,0-2-103"}
    plan = ba.plan_start(index, "db2", 2, sorted(states), states.get, "0-1-105")
    assert plan["file"] == "db2-bin.000001" and not plan["gap_before"]


def test_failover_without_a_contained_file_is_a_gap():
    index = {"segments": [segment("000001-db1", [("mysql-bin.000009", "0-1-90")])]}
    states = {"db2-bin.000007": "0-1-200", "db2-bin.000008": "0-1-250"}
    plan = ba.plan_start(index, "db2", 2, sorted(states), states.get, "0-1-105")
    assert plan["action"] == "new" and plan["file"] == "db2-bin.000007" and plan["gap_before"] is True
    assert plan["reason"].startswith("GAP: no binary log of db2 starts inside the archived state [0-1-105]")


def test_without_a_caught_up_state_the_last_archived_start_state_is_the_bound():
    index = {"segments": [segment("000001-db1", [("mysql-bin.000009", "0-1-90")])]}
    states = {"db2-bin.000001": "0-1-80", "db2-bin.000002": "0-1-95"}
    assert ba.archived_state(index, "") == "0-1-90"
    assert ba.plan_start(index, "db2", 2, sorted(states), states.get, "")["file"] == "db2-bin.000001"


def test_an_unknown_start_state_means_wait():
    index = {"segments": [segment("000001-db1", [("mysql-bin.000009", "0-1-90")])]}
    plan = ba.plan_start(index, "db2", 2, ["db2-bin.000001"], lambda name: None, "0-1-90")
    assert plan["action"] == "wait" and "unknown" in plan["reason"]
    assert ba.plan_start(ba.empty_index(), "db1", 1, [], STATES.get, "")["action"] == "wait"


# --- the index ------------------------------------------------------------------------------------------

def test_segment_ids_count_up_and_name_the_host():
    index, first = ba.add_segment(ba.empty_index(), "db1", 1, 100.0, False)
    index = ba.record_files(index, first, [("mysql-bin.000001", "")])
    index, second = ba.add_segment(index, "db2", 2, 200.0, True)
    assert (first, second) == ("000001-db1", "000002-db2")
    assert index["segments"][1] == {"id": "000002-db2", "host": "db2", "server_id": 2, "started_at": 200.0,
                                    "gap_before": True, "files": []}


def test_an_empty_last_segment_is_replaced_and_its_gap_kept():
    index = ba.add_segment(ba.empty_index(), "db1", 1, 100.0, True)[0]
    replaced, seg_id = ba.add_segment(index, "db2", 2, 200.0, False, drop_empty_last=True)
    assert seg_id == "000001-db2" and len(replaced["segments"]) == 1 and replaced["segments"][0]["gap_before"]
    kept, seg_id = ba.add_segment(index, "db2", 2, 200.0, False)
    assert seg_id == "000002-db2" and len(kept["segments"]) == 2
    assert index["segments"][0]["id"] == "000001-db1"     # the input is not modified


def test_record_files_keeps_binlog_order_and_ignores_repeats():
    index, seg_id = ba.add_segment(ba.empty_index(), "db1", 1, 100.0, False)
    index = ba.record_files(index, seg_id, [("mysql-bin.1000000", "0-1-9"), ("mysql-bin.999999", "0-1-5")])
    index = ba.record_files(index, seg_id, [("mysql-bin.999999", "0-1-777")])
    assert [(f["name"], f["start_state"]) for f in index["segments"][0]["files"]] == [
        ("mysql-bin.999999", "0-1-5"), ("mysql-bin.1000000", "0-1-9")]


def test_unindexed_files_skip_temporary_and_foreign_names():
    seg = segment("000001-db1", [("mysql-bin.000001", "")])
    names = ["mysql-bin.000003", "mysql-bin.000001", "mysql-bin.000002", ".index.json.x.tmp", "mysql-bin.index",
             "notes.txt", "mysql-bin.000004.tmp"]
    assert ba.unindexed_files(seg, names) == ["mysql-bin.000002", "mysql-bin.000003"]


@pytest.mark.parametrize("index,message", [
    ([], "expected"),
    ({"segments": [{"id": "1-db1", "host": "db1", "files": []}]}, "does not match"),
    ({"segments": [{"id": "000001-db1", "host": "db2", "files": []}]}, "does not match"),
    ({"segments": [segment("000001-db1", []), segment("000001-db1", [])]}, "duplicate"),
    ({"segments": [dict(segment("000001-db1", []), files={})]}, "files is not a list"),
    ({"segments": [segment("000001-db1", [("../etc/passwd", "")])]}, "bad file entry"),
])
def test_check_index_refuses_broken_indexes(index, message):
    with pytest.raises(ba.ArchiveIndexError, match=message):
        ba.check_index(index)


def test_dumps_index_is_the_contract_format():
    index, seg_id = ba.add_segment(ba.empty_index(), "db1", 1, 100.0, False)
    index = ba.record_files(index, seg_id, [("mysql-bin.000003", "0-1-100")])
    assert json.loads(ba.dumps_index(index)) == {"segments": [{
        "id": "000001-db1", "host": "db1", "server_id": 1, "started_at": 100.0, "gap_before": False,
        "files": [{"name": "mysql-bin.000003", "start_state": "0-1-100"}]}]}


def test_restart_backoff_doubles_up_to_a_cap():
    assert [ba.restart_backoff(n) for n in (1, 2, 3, 4, 5, 6, 7)] == [1, 2, 4, 8, 16, 30, 30]


# --- lag ------------------------------------------------------------------------------------------------

def test_caught_up_needs_the_local_copy_to_reach_the_position():
    assert ba.caught_up(1616, 1616) and ba.caught_up(2000, 1616)
    assert not ba.caught_up(1415, 1616)
    assert not ba.caught_up(None, 1616)        # the primary's current file is not archived at all


def test_lag_counts_from_the_last_catch_up_or_from_the_start():
    assert ba.lag_seconds(1000.0, 1000.0, 10.0) == 0.0
    assert ba.lag_seconds(1012.5, 1000.0, 10.0) == 12.5
    assert ba.lag_seconds(1000.0, 0, 900.0) == 100.0
    assert ba.lag_seconds(999.0, 1000.0, 0) == 0.0


def test_build_state_has_the_documented_keys():
    state = ba.build_state(1010.0, "db2", "000002-db2", True, 1000.0, "0-2-130", "0-1-100,0-2-130", 900.0,
                           "0-2-131", False, "")
    assert state == {"source": "db2", "segment": "000002-db2", "streaming": True, "caught_up_at": 1000.0,
                     "caught_up_gtid": "0-2-130", "caught_up_state": "0-1-100,0-2-130", "lag_seconds": 10.0,
                     "primary_gtid": "0-2-131", "updated_at": 1010.0, "gap": False, "error": "",
                     "witnessed_gtid": "", "refused": False}


# --- Prometheus textfile ------------------------------------------------------------------------------

def test_render_metrics():
    state = ba.build_state(1010.0, "db2", "000002-db2", True, 1000.0, "0-2-130", "", 0, "", True, "")
    text = ba.render_metrics(state)
    samples = [line for line in text.splitlines() if not line.startswith("#")]
    assert samples == ["ha_lamp_binlog_archive_lag_seconds 10.0",
                       "ha_lamp_binlog_archive_streaming 1",
                       "ha_lamp_binlog_archive_caught_up_timestamp_seconds 1000.0",
                       "ha_lamp_binlog_archive_gap 1",
                       "ha_lamp_binlog_archive_history_refused 0",
                       'ha_lamp_binlog_archive_info{source="db2",gtid="0-2-130"} 1']
    for name in ("lag_seconds", "streaming", "caught_up_timestamp_seconds", "gap", "history_refused", "info"):
        assert "# HELP ha_lamp_binlog_archive_%s " % name in text
        assert "# TYPE ha_lamp_binlog_archive_%s gauge" % name in text
    assert text.endswith("\n")


def test_render_metrics_escapes_label_values_and_never_caught_up():
    state = ba.build_state(50.0, 'a"b\\c', "", False, 0, "0-1-1,\n0-2-2", "", 20.0, "", False, "")
    text = ba.render_metrics(state)
    assert 'ha_lamp_binlog_archive_info{source="a\\"b\\\\c",gtid="0-1-1,\\n0-2-2"} 1' in text
    assert "ha_lamp_binlog_archive_lag_seconds 30.0" in text
    assert "ha_lamp_binlog_archive_caught_up_timestamp_seconds 0.0" in text
    assert "ha_lamp_binlog_archive_streaming 0" in text


# --- configuration -------------------------------------------------------------------------------------

def good_config(**changes):
    cfg = {"nodes": {"db1": "10.0.0.31", "db2": "10.0.0.32"}, "port": 3306, "user": "ha_lamp_backup",
           "password_file": "/etc/ha-lamp-backup/db.password", "tls_ca": "/etc/ha-lamp-backup/pki/ca.crt",
           "archive_dir": "/var/lib/ha-lamp-backup/binlogs/", "state_file": "/var/lib/ha-lamp-backup/binlog-archive.json",
           "textfile": "/var/lib/ha-lamp-backup/metrics/binlog_archive.prom", "replica_server_id": 4001,
           "tick": 1.0, "connect_timeout": 2}
    cfg.update(changes)
    return cfg


def test_check_config_applies_defaults():
    raw = good_config()
    del raw["port"], raw["tick"]
    cfg = ba.check_config(raw)
    assert cfg["port"] == 3306 and cfg["tick"] == 1.0 and cfg["read_timeout"] == 10
    assert cfg["archive_dir"] == "/var/lib/ha-lamp-backup/binlogs"
    assert cfg["mariadb_binlog"] == "/usr/bin/mariadb-binlog"
    assert ba.check_config(good_config(tls_ca=""))["tls_ca"] == ""


@pytest.mark.parametrize("changes,message", [
    ({"port": "3306"}, 'key "port": expected an integer 1..65535, got "3306"'),
    ({"port": 0}, 'key "port": expected an integer 1..65535, got 0'),
    ({"port": True}, 'key "port": expected an integer 1..65535, got true'),
    ({"replica_server_id": 0}, 'key "replica_server_id": expected an integer 1..4294967295, got 0'),
    ({"tick": 0}, 'key "tick": expected a number > 0 and <= 60, got 0'),
    ({"connect_timeout": "2"}, 'key "connect_timeout": expected a number > 0 and <= 60, got "2"'),
    ({"nodes": {}}, 'key "nodes": expected a non-empty object {name: address}, got {}'),
    ({"nodes": {"db 1": "10.0.0.31"}}, 'key "nodes": expected node names of letters, digits, \'.\', \'_\' or \'-\', got "db 1"'),
    ({"nodes": {"db1": ""}}, 'key "nodes.db1": expected a host name or address, got ""'),
    ({"archive_dir": "binlogs"}, 'key "archive_dir": expected an absolute path, got "binlogs"'),
    ({"tls_ca": "ca.crt"}, 'key "tls_ca": expected an absolute path or "", got "ca.crt"'),
    ({"user": "x; DROP"}, 'key "user": expected a MariaDB user name, got "x; DROP"'),
    ({"tls-ca": ""}, 'unknown key "tls-ca" (known: '),
])
def test_check_config_names_the_key_and_value(changes, message):
    with pytest.raises(ba.ConfigError) as err:
        ba.check_config(good_config(**changes))
    assert str(err.value).startswith(message)
    assert "\n" not in str(err.value)


def test_check_config_missing_key_and_not_an_object():
    raw = good_config()
    del raw["tls_ca"]
    with pytest.raises(ba.ConfigError, match='^key "tls_ca" is missing$'):
        ba.check_config(raw)
    with pytest.raises(ba.ConfigError, match="^expected a JSON object, got list$"):
        ba.check_config([])


# --- which history the archive follows ----------------------------------------------------------------

def replica(pos):
    return ba.observation(read_only=True, server_id=9, gtid_binlog_pos=pos, replica=True)


def test_witness_keeps_the_highest_position_per_domain_that_a_replica_held():
    observations = {"db1": ba.observation(read_only=False, gtid_binlog_pos="0-1-900"),   # the primary: not a witness
                    "db2": replica("0-1-120,1-2-7"), "db3": replica("0-1-150"),
                    "db4": ba.observation(error="timed out"),
                    "db5": replica("garbage")}
    assert ba.witness("", observations) == "0-1-150,1-2-7"
    assert ba.witness("0-1-200,2-3-4", observations) == "0-1-200,1-2-7,2-3-4"


def test_witness_never_goes_back():
    assert ba.witness("0-1-500", {"db1": replica("0-1-30")}) == "0-1-500"


@pytest.mark.parametrize("position, reference, rows", [
    ("0-1-100", "0-1-100", []),
    ("0-2-130", "0-1-100", []),                      # a new primary continues the domain's sequence
    ("0-1-30", "0-2-900", [(0, 30, 900)]),
    ("1-1-5", "0-1-10,1-1-5", [(0, None, 10)]),
    ("", "0-1-10", [(0, None, 10)]),
    ("0-1-10", "", []),
])
def test_behind(position, reference, rows):
    assert ba.behind(position, reference) == rows


def test_a_primary_at_or_past_what_the_replicas_held_is_followed():
    assert ba.follow_history("db2", "0-2-101", "0-1-100", None) == ("follow", "")


def test_a_rebuilt_tier_is_refused_with_what_to_do():
    assert ba.follow_history("db1", "0-1-30", "0-2-900", None) == ("refuse", (
        "REFUSED: db1 at [0-1-30] is behind what the archive saw replicated (domain 0 at 30 where 900 was "
        "replicated): a rebuilt or rewound tier. The archive keeps the old history for restore.yml; a whole-tier "
        "restore makes the archive follow the restored history, or run `ha-lamp-backup accept-history --gtid "
        "0-1-30` on the backup host to archive this history as it is"))


def test_a_restored_tier_is_followed_once_it_reaches_the_accepted_position():
    assert ba.follow_history("db2", "0-2-700", "0-2-900", "0-2-750")[0] == "refuse"   # still replaying
    assert ba.follow_history("db2", "0-2-750", "0-2-900", "0-2-750") == ("accept", (
        "db2 at [0-2-750] is behind the history the archive followed (domain 0 at 750 where 900 was "
        "replicated); accepted at [0-2-750]"))


def test_an_acceptance_is_used_up_by_a_primary_that_is_not_behind():
    assert ba.follow_history("db1", "0-1-950", "0-2-900", "0-1-950") == (
        "accept", "db1 at [0-1-950] reached the accepted [0-1-950]")


@pytest.mark.parametrize("raw, gtid", [
    ({"gtid": "0-2-9, 0-1-8", "at": 1.0, "by": "restore-x"}, "0-1-8,0-2-9"),
    ({"gtid": ""}, ""),
    ({"gtid": "0-1"}, None),
    ({"gtid": 5}, None),
    (["0-1-1"], None),
    (None, None),
])
def test_accepted_history_reads_the_declaration(raw, gtid):
    assert ba.accepted_history(raw) == gtid
