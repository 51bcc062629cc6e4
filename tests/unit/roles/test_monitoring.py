# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Static checks of the monitoring files (roles/monitoring/files): every alert rule has a promtool test
that fires it and one that keeps it silent (tests/promtool, run by tests/promtool.sh), the Grafana
dashboard is valid JSON, and every metric a rule or a panel reads is one the cluster exports (the
collection's own textfile metrics, rendered or read from their writers, and the upstream exporters'
names listed below). Also: the redundancy validator does not require a `monitoring` group."""

import glob
import importlib.util
import json
import os
import re
import sys

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
os.environ.setdefault("HA_LAMP_LIB", os.path.join(ROOT, ".collections"))
sys.path.insert(0, os.path.join(ROOT, ".collections"))
RULES = sorted(glob.glob(os.path.join(ROOT, "roles", "monitoring", "files", "rules", "*.rules.yml")))
TESTS = sorted(glob.glob(os.path.join(ROOT, "tests", "promtool", "*.test.yml")))
DASHBOARD = os.path.join(ROOT, "roles", "monitoring", "files", "grafana", "ha_lamp.json")

# Upstream exporters' metrics the rules and the dashboard use (node exporter 1.5, HAProxy 2.6's
# prometheus-exporter service, mysqld exporter 0.14, etcd 3.4/3.5), plus Prometheus' own.
UPSTREAM = {
    "up", "ALERTS",
    "node_textfile_scrape_error", "node_cpu_seconds_total", "node_memory_MemAvailable_bytes",
    "node_memory_MemTotal_bytes", "node_filesystem_avail_bytes", "node_filesystem_size_bytes",
    "haproxy_server_status", "haproxy_backend_active_servers", "haproxy_frontend_http_requests_total",
    "mysql_global_status_queries", "mysql_global_status_threads_connected",
    "etcd_server_has_leader",
}
KEYWORDS = {"and", "or", "unless", "by", "on", "without", "bool", "ignoring", "group_left", "group_right", "offset"}


def _load_manager():
    spec = importlib.util.spec_from_file_location(
        "ha_lamp_db_manager", os.path.join(ROOT, "roles", "mysql", "files", "ha_lamp_db_manager.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _read(*parts):
    with open(os.path.join(ROOT, *parts), encoding="utf-8") as handle:
        return handle.read()


def own_vocabulary():
    mgr = _load_manager()
    names = set()
    replica = {"read_only": "ON", "semisync_status": {}, "replica": {"io_running": "Yes", "sql_running": "Yes", "lag": 1}}
    for local in (replica, {"read_only": "OFF", "semisync_status": {}, "replica": None}):
        text = mgr.render_metrics({"time": 1.0, "role": "replica", "local": local, "events": {"fenced": 1}})
        names |= {line.split("{")[0].split(" ")[0] for line in text.splitlines() if not line.startswith("#")}
    names |= set(re.findall(r"ha_lamp_(?:certificate|vip)_[a-z_]+", _read("roles", "exporters", "files", "ha_lamp_textfile_metrics.py")))
    names |= set(re.findall(r"ha_lamp_backup_[a-z_]+", _read("roles", "backup", "files", "ha_lamp_backup.py")))
    names |= set(re.findall(r"ha_lamp_binlog_archive_[a-z_]+", _read("plugins", "module_utils", "binlog_archive.py")))
    return names


def metric_names(expr):
    """Metric names a PromQL expression reads: identifiers that are not functions, keywords, label
    names, label values or durations."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = re.sub(r"\b(by|on|without|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    names = set()
    for match in re.finditer(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?", text):
        if match.group(2) or match.group(1) in KEYWORDS:
            continue
        names.add(match.group(1))
    return names


def alerts():
    out = {}
    for path in RULES:
        for group in yaml.safe_load(_read(path))["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    out[rule["alert"]] = rule["expr"]
    return out


def dashboard_exprs():
    with open(DASHBOARD, encoding="utf-8") as handle:
        dash = json.load(handle)
    exprs = [t["expr"] for panel in dash["panels"] for t in panel.get("targets", [])]
    exprs += [a["expr"] for a in dash.get("annotations", {}).get("list", []) if "expr" in a]
    return exprs


def test_rules_and_tests_exist():
    assert RULES and TESTS


def test_every_alert_has_a_firing_and_a_silent_test():
    fired, silent = set(), set()
    for path in TESTS:
        for case in yaml.safe_load(_read(path))["tests"]:
            for check in case.get("alert_rule_test", []):
                (fired if check.get("exp_alerts") else silent).add(check["alertname"])
    names = set(alerts())
    assert sorted(names - fired) == [], "alerts no test fires"
    assert sorted(names - silent) == [], "alerts no test shows silent"
    assert sorted((fired | silent) - names) == [], "tests of alerts that do not exist"


@pytest.mark.parametrize("expr,names", [
    ('sum by (vip) (changes(ha_lamp_vip_held[10m])) > 0', {"ha_lamp_vip_held"}),
    ('haproxy_server_status{proxy="web", state="DOWN"} == 1', {"haproxy_server_status"}),
    ('(count(up{job="etcd"} == 1) or vector(0)) < on () (floor(count(up) / 2) + 1)', {"up"}),
    ('a and on (instance) (time() - b < 30)', {"a", "b"}),
])
def test_metric_name_extraction(expr, names):
    assert metric_names(expr) == names


def test_rules_read_only_exported_metrics():
    vocabulary = own_vocabulary() | UPSTREAM
    unknown = {name: sorted(metric_names(expr) - vocabulary) for name, expr in alerts().items()}
    assert {k: v for k, v in unknown.items() if v} == {}


def test_dashboard_is_valid_and_reads_only_exported_metrics():
    vocabulary = own_vocabulary() | UPSTREAM
    exprs = dashboard_exprs()
    assert len(exprs) >= 10
    unknown = sorted({name for expr in exprs for name in metric_names(expr)} - vocabulary)
    assert unknown == []
    # The dashboard shows the managers' state, the VIP, the backups and the certificates.
    used = {name for expr in exprs for name in metric_names(expr)}
    assert {"ha_lamp_db_manager_role", "ha_lamp_db_manager_replication_lag_seconds", "ha_lamp_vip_held",
            "ha_lamp_backup_last_timestamp_seconds", "ha_lamp_certificate_not_after_seconds"} <= used


def test_the_validator_does_not_require_a_monitoring_group():
    from ansible_collections.onprem.ha_lamp.plugins.module_utils import redundancy
    hosts = {"lb1": "r1", "lb2": "r2", "web1": "r1", "web2": "r2", "db1": "r1", "db2": "r2", "db3": "r3"}
    groups = {"loadbalancers": ["lb1", "lb2"], "webservers": ["web1", "web2"], "databases": ["db1", "db2", "db3"]}
    hostvars = {h: {"rack": r, "ansible_host": "192.0.2.%d" % i} for i, (h, r) in enumerate(hosts.items(), 1)}
    hostvars["lb1"]["ha_lamp_vips"] = hostvars["lb2"]["ha_lamp_vips"] = [{"name": "public", "address": "192.0.2.100/24", "vrid": 51}]
    without = redundancy.validate(redundancy.inventory_from(groups, hostvars))
    with_group = redundancy.validate(redundancy.inventory_from(dict(groups, monitoring=["db3"]), hostvars))
    assert without == with_group
    assert not [f for f in without.get("findings", without.get("errors", [])) if "monitoring" in json.dumps(f)]
