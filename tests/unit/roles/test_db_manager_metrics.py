# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests for the database manager's metrics file (roles/mysql/files/ha_lamp_db_manager.py):
the text it renders for a primary, a replica and a node whose server is down, the event counters,
the atomic write, and that a failing write never raises into the main loop and is logged once
(no MariaDB, no etcd: the manager is built with an http:// endpoint it never calls)."""

import importlib.util
import json
import math
import os
import re
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
os.environ.setdefault("HA_LAMP_LIB", os.path.join(ROOT, ".collections"))
sys.path.insert(0, os.path.join(ROOT, ".collections"))

_SPEC = importlib.util.spec_from_file_location(
    "ha_lamp_db_manager", os.path.join(ROOT, "roles", "mysql", "files", "ha_lamp_db_manager.py"))
mgr = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(mgr)

LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{' + LABEL + r'(?:,' + LABEL + r')*\})? (\S+)$')


def parse(text):
    """{(name, labels): value}; fails on a line that is not valid exposition text."""
    samples = {}
    assert text.endswith("\n")
    for line in text.splitlines():
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            continue
        match = SAMPLE.match(line)
        assert match, "not a sample line: %r" % line
        samples[(match.group(1), match.group(2) or "")] = float(match.group(3))
    return samples


PRIMARY_LOCAL = {"read_only": "OFF", "replica": None, "gtid_binlog_pos": "0-1-10",
                 "semisync_status": {"Rpl_semi_sync_master_status": "ON", "Rpl_semi_sync_master_clients": "2",
                                     "Rpl_semi_sync_slave_status": "OFF"}}
REPLICA_LOCAL = {"read_only": "ON", "semisync_status": {"Rpl_semi_sync_master_status": "OFF",
                                                        "Rpl_semi_sync_slave_status": "ON"},
                 "replica": {"master_host": "10.0.0.31", "io_running": "Yes", "sql_running": "No", "lag": None}}


def snap(**over):
    base = {"time": 1700000000.5, "role": "primary", "leader": True, "opened": True, "lease_held": True,
            "etcd_ok": True, "quarantined": False, "local": PRIMARY_LOCAL, "events": {}}
    base.update(over)
    return base


def test_the_alerted_events_are_exported_at_zero_from_the_start():
    # increase() sees nothing in a counter that first appears at 1: the rules' events must exist before.
    out = parse(mgr.render_metrics(snap(events={"lease_lost": 1})))
    events = {labels: value for (name, labels), value in out.items() if name == "ha_lamp_db_manager_events_total"}
    assert events == {'{event="fenced"}': 0, '{event="lease_lost"}': 1, '{event="promoted"}': 0,
                      '{event="server_killed"}': 0}


def test_primary():
    out = parse(mgr.render_metrics(snap(events={"fenced": 2, "promoted": 1})))
    assert out[("ha_lamp_db_manager_metrics_timestamp_seconds", "")] == 1700000000.5
    assert out[("ha_lamp_db_manager_role", '{role="primary"}')] == 1
    assert sum(v for (name, _labels), v in out.items() if name == "ha_lamp_db_manager_role") == 1
    for name in ("leader", "lease_held", "writes_open", "etcd_ok", "mariadb_up", "semisync_primary_status"):
        assert out[("ha_lamp_db_manager_" + name, "")] == 1, name
    assert out[("ha_lamp_db_manager_read_only", "")] == 0
    assert out[("ha_lamp_db_manager_semisync_primary_clients", "")] == 2
    assert out[("ha_lamp_db_manager_events_total", '{event="fenced"}')] == 2
    assert out[("ha_lamp_db_manager_events_total", '{event="promoted"}')] == 1
    assert not any(name.startswith("ha_lamp_db_manager_replica") for name, _labels in out)


def test_replica_with_unknown_lag_reports_nan():
    out = parse(mgr.render_metrics(snap(role="replica", leader=False, opened=False, local=REPLICA_LOCAL)))
    assert out[("ha_lamp_db_manager_role", '{role="replica"}')] == 1
    assert out[("ha_lamp_db_manager_read_only", "")] == 1
    assert out[("ha_lamp_db_manager_writes_open", "")] == 0
    assert out[("ha_lamp_db_manager_semisync_replica_status", "")] == 1
    assert out[("ha_lamp_db_manager_replica_io_running", "")] == 1
    assert out[("ha_lamp_db_manager_replica_sql_running", "")] == 0
    assert math.isnan(out[("ha_lamp_db_manager_replication_lag_seconds", "")])


def test_replica_lag():
    local = dict(REPLICA_LOCAL, replica=dict(REPLICA_LOCAL["replica"], lag=17))
    out = parse(mgr.render_metrics(snap(role="replica", local=local)))
    assert out[("ha_lamp_db_manager_replication_lag_seconds", "")] == 17


def test_down_server_leaves_out_what_is_unknown():
    out = parse(mgr.render_metrics(snap(role="down", opened=False, local={"error": "Can't connect"})))
    assert out[("ha_lamp_db_manager_mariadb_up", "")] == 0
    assert out[("ha_lamp_db_manager_role", '{role="down"}')] == 1
    assert ("ha_lamp_db_manager_read_only", "") not in out
    assert ("ha_lamp_db_manager_semisync_primary_status", "") not in out


def test_unknown_role_and_label_escaping():
    out = parse(mgr.render_metrics(snap(role="weird", events={'a"b\\c': 1})))
    assert out[("ha_lamp_db_manager_role", '{role="unknown"}')] == 1
    assert out[("ha_lamp_db_manager_events_total", '{event="a\\"b\\\\c"}')] == 1


def make_manager(tmp_path, **cfg):
    config = dict(mgr.DEFAULTS, node="db1", cluster="t", nodes={"db1": "127.0.0.1"}, server_ids={"db1": 1},
                  etcd_endpoints=["http://127.0.0.1:9"], socket="/nonexistent", local_user="x", monitor_user="m",
                  monitor_password="p", repl_user="r", repl_password="p", ttl=10, listen="127.0.0.1",
                  agent_ca="", agent_cert="", agent_key="", metrics_file=str(tmp_path / "m" / "db.prom"),
                  metrics_interval=0)
    config.update(cfg)
    return mgr.Manager(config)


def test_notify_counts_events_once_keys_included(tmp_path, capsys):
    manager = make_manager(tmp_path)
    manager.notify("fenced", reason="x")
    manager.notify("fenced", reason="y")
    manager.notify("etcd_unreachable", once_key="a")
    manager.notify("etcd_unreachable", once_key="a")   # said already: not an event
    assert manager.event_counts == {"fenced": 2, "etcd_unreachable": 1}
    capsys.readouterr()


def test_export_writes_atomically(tmp_path):
    manager = make_manager(tmp_path)
    os.makedirs(tmp_path / "m")
    manager.publish("candidate", None)      # no lease: records the role, publishes nothing
    manager.export_metrics()
    path = tmp_path / "m" / "db.prom"
    out = parse(path.read_text())
    assert out[("ha_lamp_db_manager_role", '{role="candidate"}')] == 1
    assert out[("ha_lamp_db_manager_mariadb_up", "")] == 0          # "not read yet"
    assert out[("ha_lamp_db_manager_lease_held", "")] == 0
    assert os.listdir(tmp_path / "m") == ["db.prom"]                 # no temporary file left
    assert (os.stat(path).st_mode & 0o777) == 0o644


def test_export_is_throttled(tmp_path):
    manager = make_manager(tmp_path, metrics_interval=3600)
    os.makedirs(tmp_path / "m")
    manager.export_metrics()
    path = tmp_path / "m" / "db.prom"
    first = path.read_text()
    manager.role = "replica"
    manager.export_metrics()
    assert path.read_text() == first


def test_failed_write_never_raises_and_is_logged_once(tmp_path, capsys):
    manager = make_manager(tmp_path)        # tmp_path/m does not exist: every write fails
    for _attempt in range(3):
        manager.export_metrics()
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [line["msg"] for line in lines] == ["cannot write the metrics file; failover is not affected"]
    assert "FileNotFoundError" in lines[0]["error"]
    os.makedirs(tmp_path / "m")
    manager.export_metrics()
    manager.export_metrics()
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [line["msg"] for line in lines] == ["metrics file written again"]
    assert (tmp_path / "m" / "db.prom").exists()


def test_a_bug_in_rendering_does_not_escape(tmp_path, capsys, monkeypatch):
    manager = make_manager(tmp_path)
    os.makedirs(tmp_path / "m")
    monkeypatch.setattr(mgr, "render_metrics", lambda _snap: 1 / 0)
    manager.export_metrics()
    assert "ZeroDivisionError" in capsys.readouterr().err
    assert os.listdir(tmp_path / "m") == []


def test_no_metrics_file_configured_writes_nothing(tmp_path):
    manager = make_manager(tmp_path, metrics_file="")
    manager.export_metrics()
    assert not (tmp_path / "m").exists()


def test_config_defaults_keep_metrics_off(tmp_path):
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps({k: "x" for k in mgr.REQUIRED}))
    cfg = mgr.load_config(str(path))
    assert cfg["metrics_file"] == "" and cfg["metrics_interval"] == 2.0
