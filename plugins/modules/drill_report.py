#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: drill_report
short_description: Turn a drill's recorded probe events into report.json, report.md and a timeline PNG
version_added: 0.1.0
description:
  - With O(mode=drill), reads the events file written by M(onprem.ha_lamp.drill_probe), combines
    it with the fault and recovery instants and the observer samples the playbook took, and
    computes RTO, failed requests, lost acknowledged writes, RPO in rows and seconds, latency
    percentiles, double VIP holders and double writable primaries.
  - Adds or replaces the drill's entry (by O(name)) in C(report.json) (a list) under O(report_dir),
    rewrites C(report.md) with the table of all drills there, writes C(<name>.json) with the full
    report and, with O(timeline=true), C(<name>.png).
  - With O(mode=median), reads several C(report.json) files (one per suite run) and writes
    C(median.json) and C(median.md) with the median of each metric per drill.
  - "Definitions: RTO runs from the first failed request after the fault (by send time) to the
    first successful request after the last failure; 0 when nothing failed; null with
    C(status=not_recovered) when the stream ends in failures. Failures answered before the fault
    are reported separately as C(failed_before_fault). The full definitions are in
    C(plugins/module_utils/drill_report.py)."
author:
  - onprem.ha_lamp maintainers (@onprem)
requirements:
  - matplotlib on the host running the module (normally the controller) when O(timeline=true).
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Computes and returns the report without writing files.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
options:
  mode:
    description:
      - V(drill) reports one drill; V(median) summarises several suite runs.
    type: str
    choices: [drill, median]
    default: drill
  report_dir:
    description:
      - Folder receiving report.json, report.md, the per-drill JSON and PNG (created if missing).
    type: path
    required: true
  name:
    description:
      - Drill name, for example V(lb_kill). Required with O(mode=drill).
    type: str
  events_path:
    description:
      - Events file written by M(onprem.ha_lamp.drill_probe). Required with O(mode=drill).
    type: path
  fault_at:
    description:
      - Epoch seconds when the fault was injected (for example C(now(utc=true).timestamp())
        taken right before the fault task). Without it every event counts.
    type: float
  recovery_at:
    description:
      - Epoch seconds when the recovery action completed (failover done, node back), drawn on
        the timeline.
    type: float
  marks:
    description:
      - Further instants to draw on the timeline. A mark labelled C(<playbook> started) (the
        drill role adds one when it starts an operator playbook) also gives the report's
        C(operator_to_first_write_s), the seconds from that instant to the first write accepted
        after the last write outage.
    type: list
    elements: dict
    default: []
    suboptions:
      label:
        description: Text of the mark.
        type: str
        required: true
      t:
        description: Epoch seconds.
        type: float
        required: true
  until:
    description:
      - Ignore events sent after this epoch (for example when a restore step ran while the
        probe was still running).
    type: float
  restored:
    description:
      - Whether the cluster was brought back to full redundancy after the drill.
    type: bool
    default: false
  restore_s:
    description:
      - Seconds it took to restore full redundancy.
    type: float
  vip_samples:
    description:
      - Observer samples of VIP holders taken during the drill, each C({t, holders}), where
        C(holders) lists the nodes that had the VIP address at that instant.
    type: list
    elements: dict
    default: []
  primary_samples:
    description:
      - Observer samples of writable primaries (C(read_only=OFF)), each C({t, holders}).
    type: list
    elements: dict
    default: []
  read_gate:
    description:
      - Apply the read-only page gate - list in the report's C(read_gate_breaches) a drill whose
        read-only page requests (the probe's C(kind=read) stream, see the read_url option of M(onprem.ha_lamp.drill_probe))
        failed more than O(read_gate_max_failures) times after the fault, or that recorded none.
      - The drill role turns it on for the database drills, where a writer gap must not take reads down.
    type: bool
    default: false
  read_gate_max_failures:
    description:
      - Failed read-only page requests after the fault that O(read_gate) tolerates.
    type: int
    default: 0
  notes:
    description:
      - Free text stored with the report (for example why restoring failed).
    type: str
  timeline:
    description:
      - Draw C(<name>.png).
    type: bool
    default: true
  bucket_s:
    description:
      - Width of the timeline buckets in seconds.
    type: float
    default: 1
  runs:
    description:
      - report.json files (or folders holding one) of several suite runs. Required with
        O(mode=median).
    type: list
    elements: path
seealso:
  - module: onprem.ha_lamp.drill_probe
'''

EXAMPLES = r'''
- name: Report the lb_kill drill
  onprem.ha_lamp.drill_report:
    name: lb_kill
    events_path: "{{ drill_report_dir }}/lb_kill.events.jsonl"
    report_dir: "{{ drill_report_dir }}"
    fault_at: "{{ drill_fault_at }}"
    recovery_at: "{{ drill_recovery_at }}"
    restored: "{{ drill_restored }}"
    restore_s: "{{ drill_restore_s }}"
    vip_samples: "{{ drill_vip_samples }}"
    primary_samples: "{{ drill_primary_samples }}"
  delegate_to: localhost
  register: drill_report_lb_kill

- name: Fail on a correctness breach
  ansible.builtin.assert:
    that:
      - drill_report_lb_kill.report.lost_writes == 0
      - not drill_report_lb_kill.report.double_vip_seen
      - not drill_report_lb_kill.report.double_primary_seen
      - drill_report_lb_kill.report.restored

- name: Median of five suite runs
  onprem.ha_lamp.drill_report:
    mode: median
    runs: "{{ query('ansible.builtin.fileglob', 'drill-reports/*/report.json') }}"
    report_dir: drill-reports/median
  delegate_to: localhost
'''

RETURN = r'''
report:
  description:
    - The drill report. Always has C(name), C(rto_s), C(failed_requests), C(lost_writes),
      C(double_vip_seen), C(double_primary_seen), C(restored), C(restore_s); also C(status),
      C(rto_lower_bound_s), C(outage_windows), C(failed_before_fault), C(requests_total),
      C(requests_ok), C(p50_ms), C(p99_ms), C(writes_total), C(writes_acknowledged),
      C(write_rto_s), C(operator_to_first_write_s), C(rpo_rows), C(rpo_s), C(verified), C(web_nodes), C(db_nodes) and more.
    - "The read-only page stream: C(read_requests_total), C(read_requests_ok), C(read_requests_in_scope),
      C(read_failed_requests) (failed after the fault), C(read_success_ratio) (0..1, null without
      requests in scope), C(read_status), C(read_rto_s), C(read_outage_windows), C(read_error_classes),
      C(read_via) (reader/writer counts of the answers), C(read_p50_ms), C(read_p99_ms), and the gate's
      C(read_gate), C(read_gate_max_failures), C(read_gate_breaches) (empty when passed or off)."
    - C(lost_writes), C(rpo_rows) and C(rpo_s) are null when no verification result exists.
  returned: mode=drill
  type: dict
  sample:
    name: lb_kill
    status: recovered
    rto_s: 2.35
    failed_requests: 41
    lost_writes: 0
    double_vip_seen: false
    double_primary_seen: false
    restored: true
    restore_s: 14.2
median:
  description: One row per drill with median timings and counts of correctness breaches.
  returned: mode=median
  type: list
  elements: dict
report_json:
  description: Path of report.json (mode=drill) or median.json (mode=median).
  returned: always
  type: str
report_md:
  description: Path of report.md or median.md.
  returned: always
  type: str
timeline_png:
  description: Path of the timeline picture, null when not drawn.
  returned: mode=drill
  type: str
markdown:
  description: The Markdown table written.
  returned: always
  type: str
'''

import json
import os
import re
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.onprem.ha_lamp.plugins.module_utils.drill_probe import load_events
from ansible_collections.onprem.ha_lamp.plugins.module_utils.drill_report import (
    build_report,
    markdown_table,
    median_summary,
    median_table,
)
from ansible_collections.onprem.ha_lamp.plugins.module_utils.drill_timeline import (
    HAS_MATPLOTLIB,
    MATPLOTLIB_MISSING_MSG,
    render_timeline,
)

_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def _write_atomic(path, text):
    """Replace path in one rename, so a concurrent reader never sees half a report."""
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except Exception:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _load_reports(path):
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    if not isinstance(data, list):
        raise ValueError("%s does not hold a list of drill reports" % path)
    return data


def _samples(module, key):
    samples = module.params[key]
    for idx, sample in enumerate(samples):
        if "t" not in sample or not isinstance(sample.get("holders"), list):
            module.fail_json(msg="%s[%d] must be a dict with 't' and a list 'holders', got %r"
                                 % (key, idx, sample))
    return samples


def _report_md(reports):
    lines = ["# Drill reports", "", markdown_table(reports)]
    for rep in reports:
        lines.append("## %s" % rep["name"])
        lines.append("")
        if rep.get("timeline_png"):
            lines.append("![%s timeline](%s)" % (rep["name"], rep["timeline_png"]))
            lines.append("")
        lines.append("- status: %s; requests %s (ok %s), p50 %s ms, p99 %s ms"
                     % (rep.get("status"), rep.get("requests_total"), rep.get("requests_ok"),
                        rep.get("p50_ms"), rep.get("p99_ms")))
        lines.append("- writes acknowledged %s of %s; verified: %s%s"
                     % (rep.get("writes_acknowledged"), rep.get("writes_total"), rep.get("verified"),
                        "" if not rep.get("verify_error") else " (%s)" % rep["verify_error"]))
        if rep.get("read_requests_total"):
            ratio = rep.get("read_success_ratio")
            lines.append("- read-only page: ok %s of %s; failed after the fault %s (success %s); via %s; gate: %s"
                         % (rep.get("read_requests_ok"), rep.get("read_requests_total"),
                            rep.get("read_failed_requests"),
                            "n/a" if ratio is None else "%.2f%%" % (ratio * 100),
                            ", ".join("%s %s" % kv for kv in sorted((rep.get("read_via") or {}).items())) or "n/a",
                            ("; ".join(rep.get("read_gate_breaches") or []) or "passed") if rep.get("read_gate") else "off"))
        errors = ", ".join("%s: %s" % kv for kv in sorted((rep.get("error_classes") or {}).items()))
        lines.append("- failed before the fault: %s; request errors: %s"
                     % (rep.get("failed_before_fault"), errors or "none"))
        if rep.get("notes"):
            lines.append("- notes: %s" % rep["notes"])
        lines.append("")
    return "\n".join(lines)


def run_drill(module):
    p = module.params
    for key in ("name", "events_path"):
        if not p[key]:
            module.fail_json(msg="mode=drill requires %s" % key)
    if not _SAFE_NAME.match(p["name"]):
        module.fail_json(msg="name must match [A-Za-z0-9_.-]+ (it becomes a file name), got %r" % p["name"])
    if p["timeline"] and not HAS_MATPLOTLIB:
        module.fail_json(msg=MATPLOTLIB_MISSING_MSG)
    try:
        events = load_events(p["events_path"])
    except (IOError, OSError) as exc:
        module.fail_json(msg="cannot read events %s: %s" % (p["events_path"], to_native(exc)))
    report = build_report(
        p["name"], events, fault_at=p["fault_at"], recovery_at=p["recovery_at"],
        restored=p["restored"], restore_s=p["restore_s"],
        vip_samples=_samples(module, "vip_samples"),
        primary_samples=_samples(module, "primary_samples"),
        until=p["until"], notes=p["notes"], marks=p["marks"], read_gate=p["read_gate"],
        read_gate_max_failures=p["read_gate_max_failures"])
    report["events_path"] = p["events_path"]
    report_json = os.path.join(p["report_dir"], "report.json")
    report_md = os.path.join(p["report_dir"], "report.md")
    png = os.path.join(p["report_dir"], "%s.png" % p["name"]) if p["timeline"] else None
    report["timeline_png"] = os.path.basename(png) if png else None
    if module.check_mode:
        module.exit_json(changed=True, report=report, report_json=report_json, report_md=report_md,
                         timeline_png=png, markdown=markdown_table([report]))
    try:
        os.makedirs(p["report_dir"], exist_ok=True)
        reports = [r for r in _load_reports(report_json) if r.get("name") != p["name"]]
        reports.append(report)
        if png:
            render_timeline(png, report, events, bucket_s=p["bucket_s"], extra_marks=p["marks"])
        _write_atomic(os.path.join(p["report_dir"], "%s.json" % p["name"]),
                      json.dumps(report, indent=2, sort_keys=True) + "\n")
        _write_atomic(report_json, json.dumps(reports, indent=2, sort_keys=True) + "\n")
        _write_atomic(report_md, _report_md(reports))
    except (IOError, OSError, ValueError) as exc:
        module.fail_json(msg="cannot write the drill report in %s: %s" % (p["report_dir"], to_native(exc)))
    module.exit_json(changed=True, report=report, report_json=report_json, report_md=report_md,
                     timeline_png=png, markdown=markdown_table(reports))


def run_median(module):
    p = module.params
    if not p["runs"]:
        module.fail_json(msg="mode=median requires runs (report.json files or their folders)")
    reports = []
    try:
        for run in p["runs"]:
            path = os.path.join(run, "report.json") if os.path.isdir(run) else run
            reports.extend(_load_reports(path))
    except (IOError, OSError, ValueError) as exc:
        module.fail_json(msg="cannot read drill reports: %s" % to_native(exc))
    summary = median_summary(reports)
    table = median_table(reports)
    median_json = os.path.join(p["report_dir"], "median.json")
    median_md = os.path.join(p["report_dir"], "median.md")
    if not module.check_mode:
        try:
            os.makedirs(p["report_dir"], exist_ok=True)
            _write_atomic(median_json, json.dumps(summary, indent=2, sort_keys=True) + "\n")
            _write_atomic(median_md, "# Drill figures: median of %d suite runs\n\n%s"
                          % (len(p["runs"]), table))
        except (IOError, OSError) as exc:
            module.fail_json(msg="cannot write the median report in %s: %s"
                                 % (p["report_dir"], to_native(exc)))
    module.exit_json(changed=True, median=summary, report_json=median_json, report_md=median_md,
                     markdown=table)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            mode=dict(type="str", choices=["drill", "median"], default="drill"),
            report_dir=dict(type="path", required=True),
            name=dict(type="str"),
            events_path=dict(type="path"),
            fault_at=dict(type="float"),
            recovery_at=dict(type="float"),
            marks=dict(type="list", elements="dict", default=[],
                       options=dict(label=dict(type="str", required=True),
                                    t=dict(type="float", required=True))),
            until=dict(type="float"),
            restored=dict(type="bool", default=False),
            restore_s=dict(type="float"),
            vip_samples=dict(type="list", elements="dict", default=[]),
            primary_samples=dict(type="list", elements="dict", default=[]),
            notes=dict(type="str"),
            read_gate=dict(type="bool", default=False),
            read_gate_max_failures=dict(type="int", default=0),
            timeline=dict(type="bool", default=True),
            bucket_s=dict(type="float", default=1),
            runs=dict(type="list", elements="path"),
        ),
        required_if=[("mode", "drill", ["name", "events_path"]), ("mode", "median", ["runs"])],
        supports_check_mode=True,
    )
    if module.params["mode"] == "median":
        run_median(module)
    else:
        run_drill(module)


if __name__ == "__main__":
    main()
