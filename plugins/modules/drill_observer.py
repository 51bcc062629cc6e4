#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: drill_observer
short_description: Watch VIP holders and writable databases during a failure drill
version_added: 0.1.0
description:
  - The split-brain checks of the failure drills (playbooks/drill.yml). Four modes.
  - V(sample) runs on a cluster node (load balancer or database) with C(async), for a bounded
    time, and samples every O(interval) seconds whether this node holds one of O(vip_addresses)
    (O(kind=vip)) or whether its local MariaDB is writable, C(read_only=OFF) (O(kind=primary)).
    Samples go to O(path) on the node, one JSON line each, flushed, appended. Sampling on the node
    itself is what lets a drill see a node that is cut off from its peers and from the controller.
    The folder of O(path) is created with mode 0700 and must be a plain directory owned by the user the module
    runs as, with no group or other access; the file is opened with C(O_NOFOLLOW) and created 0600, so a
    local user cannot redirect root's writes through a planted symlink.
  - V(lb_state) runs on a load balancer and reports whether keepalived and haproxy are active,
    which VIP addresses it holds and its HAProxy server states (stats CSV).
  - V(merge) runs on the controller over the fetched sample files and returns the merged
    C([{t, holders}]) timeline that M(onprem.ha_lamp.drill_report) takes as C(vip_samples) or
    C(primary_samples), with per-node coverage and the windows with two holders.
  - V(assess) runs on the controller over the registered V(lb_state) results and says whether the
    cluster is fully redundant, and if not, what is missing.
  - Merge rules and redundancy rules are documented in C(plugins/module_utils/drill_observer.py).
author:
  - onprem.ha_lamp maintainers (@onprem)
requirements:
  - PyMySQL on database nodes for O(kind=primary) (the mysql role installs python3-pymysql).
  - iproute2 (C(ip)) on load balancers.
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: partial
    details: V(merge) and V(assess) run in check mode; V(sample) and V(lb_state) do nothing there.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
options:
  mode:
    description: What to do (see the description).
    type: str
    choices: [sample, lb_state, merge, assess]
    required: true
  kind:
    description: V(vip) for load balancers, V(primary) for databases. Required for V(sample) and V(merge).
    type: str
    choices: [vip, primary]
  node:
    description: Name recorded in the samples (the inventory hostname). Required for V(sample).
    type: str
  path:
    description: Samples file on the node (V(sample), appended to).
    type: path
  duration:
    description: Hard bound of the sampling, seconds (at most 3600).
    type: float
    default: 300
  interval:
    description: Seconds between samples (the resolution of the split-brain check).
    type: float
    default: 0.25
  stop_file:
    description: Stop sampling early once this file exists on the node.
    type: path
  vip_addresses:
    description: VIP addresses without prefix length. Required for O(kind=vip), V(lb_state) and V(assess).
    type: list
    elements: str
    default: []
  db_socket:
    description: Unix socket of the local MariaDB server (O(kind=primary)).
    type: path
    default: /run/mysqld/mysqld.sock
  db_user:
    description: Local account used over the socket (unix_socket authentication, no password).
    type: str
    default: root
  stats_url:
    description: HAProxy stats CSV URL of this load balancer (V(lb_state)), for example C(http://192.0.2.11:8404/;csv).
    type: str
  stats_user:
    description: HAProxy stats user.
    type: str
    default: admin
  stats_password:
    description: HAProxy stats password.
    type: str
  paths:
    description: Fetched sample files to merge (V(merge)).
    type: list
    elements: path
    default: []
  since:
    description: Ignore samples before this epoch (V(merge)).
    type: float
  until:
    description: Ignore samples after this epoch (V(merge)).
    type: float
  max_gap_s:
    description: Longest gap between two samples of a node that still counts as holding throughout (V(merge)).
    type: float
    default: 1.0
  lb_results:
    description: The registered results of V(lb_state) looped over the load balancers (V(assess)).
    type: list
    elements: dict
    default: []
  web_hosts:
    description: Web node names (HAProxy server names) that must be UP (V(assess)).
    type: list
    elements: str
    default: []
  db_hosts:
    description: Database node names that must be UP as writer or readers (V(assess)).
    type: list
    elements: str
    default: []
seealso:
  - module: onprem.ha_lamp.drill_report
  - module: onprem.ha_lamp.drill_probe
'''

EXAMPLES = r'''
- name: Sample VIP holders on every load balancer for at most 5 minutes
  onprem.ha_lamp.drill_observer:
    mode: sample
    kind: vip
    node: "{{ item }}"
    vip_addresses: [192.0.2.100]
    path: /var/lib/ha-lamp/drill/run1-vip.jsonl
    stop_file: /var/lib/ha-lamp/drill/run1.stop
    duration: 300
  delegate_to: "{{ item }}"
  loop: "{{ groups['loadbalancers'] }}"
  async: 330
  poll: 0

- name: Merge the fetched samples
  onprem.ha_lamp.drill_observer:
    mode: merge
    kind: vip
    paths: "{{ query('ansible.builtin.fileglob', 'drill-reports/x/lb_kill.observer/*-vip.jsonl') }}"
  register: drill_vip
'''

RETURN = r'''
samples:
  description: V(merge) - the merged timeline, C([{t, holders}]), for drill_report.
  returned: mode=merge
  type: list
  elements: dict
coverage:
  description: V(merge) - per node, samples, first, last, max_gap_s, unknown, holding.
  returned: mode=merge
  type: dict
double_windows:
  description: V(merge) - spans where more than one node held, C([{start, end, holders}]).
  returned: mode=merge
  type: list
  elements: dict
summary:
  description: V(sample) - counts of samples, holding and unknown, and why sampling stopped.
  returned: mode=sample
  type: dict
services:
  description: V(lb_state) - state of keepalived and haproxy (C(systemctl is-active) words).
  returned: mode=lb_state
  type: dict
vip_held:
  description: V(lb_state) - VIP addresses this node holds.
  returned: mode=lb_state
  type: list
  elements: str
csv:
  description: V(lb_state) - HAProxy stats CSV, null when unreadable (C(error) says why).
  returned: mode=lb_state
  type: str
servers:
  description: "V(lb_state) - HAProxy server states, C({backend: {server: status}})."
  returned: mode=lb_state
  type: dict
assessment:
  description: V(assess) - the verdict with C(redundant), C(missing), C(vip_holder), C(vip_holders), C(primary), C(replicas), C(per_lb).
  returned: mode=assess
  type: dict
'''

import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native
from ansible.module_utils.urls import open_url

from ansible_collections.onprem.ha_lamp.plugins.module_utils.drill_observer import (
    ObserverError,
    ReadOnlyProbe,
    Sampler,
    addresses_from_ip,
    assess,
    coverage,
    double_windows,
    holders_timeline,
    load_samples,
    parse_haproxy_csv,
    vip_probe,
)


def run_sample(module):
    p = module.params
    for key in ("kind", "node", "path"):
        if not p[key]:
            module.fail_json(msg="mode=sample requires %s" % key)
    if module.check_mode:
        module.exit_json(changed=False, skipped=True, msg="sampling skipped in check mode")
    if p["kind"] == "vip":
        if not p["vip_addresses"]:
            module.fail_json(msg="kind=vip requires vip_addresses")
        ip = module.get_bin_path("ip", required=True)
        probe = vip_probe(p["vip_addresses"], ip_command=(ip, "-o", "-4", "addr", "show"))
    else:
        probe = ReadOnlyProbe(socket_path=p["db_socket"], user=p["db_user"])
    try:
        summary = Sampler(p["node"], p["kind"], probe, p["path"], p["duration"], p["interval"],
                          p["stop_file"]).run()
    except (ObserverError, IOError, OSError) as exc:
        module.fail_json(msg="drill observer: %s" % to_native(exc))
    finally:
        if isinstance(probe, ReadOnlyProbe):
            probe.close()
    module.exit_json(changed=False, summary=summary)


def run_lb_state(module):
    p = module.params
    if module.check_mode:
        module.exit_json(changed=False, skipped=True)
    services = {}
    systemctl = module.get_bin_path("systemctl", required=True)
    for unit in ("keepalived", "haproxy"):
        rc, out, err = module.run_command([systemctl, "is-active", unit])
        services[unit] = (out or err).strip().splitlines()[0] if (out or err).strip() else "unknown"
    ip = module.get_bin_path("ip", required=True)
    rc, out, err = module.run_command([ip, "-o", "-4", "addr", "show"])
    if rc != 0:
        module.fail_json(msg="ip addr show failed: %s" % err.strip())
    held = sorted(set(p["vip_addresses"]) & set(addresses_from_ip(out)))
    csv_text, error = None, None
    if p["stats_url"]:
        try:
            resp = open_url(p["stats_url"], url_username=p["stats_user"], url_password=p["stats_password"],
                            force_basic_auth=True, timeout=3, validate_certs=False)
            csv_text = to_native(resp.read())
        except Exception as exc:  # reported to the assessment, which names the node
            error = "stats %s: %s" % (p["stats_url"], to_native(exc))
    module.exit_json(changed=False, services=services, vip_held=held, csv=csv_text,
                     servers=parse_haproxy_csv(csv_text), error=error)


def run_merge(module):
    p = module.params
    if not p["kind"]:
        module.fail_json(msg="mode=merge requires kind")
    paths = [path for path in p["paths"] if os.path.isfile(path)]
    try:
        samples = load_samples(paths)
        timeline = holders_timeline(samples, p["kind"], max_gap_s=p["max_gap_s"], since=p["since"],
                                    until=p["until"])
    except (ObserverError, IOError, OSError) as exc:
        module.fail_json(msg="drill observer merge: %s" % to_native(exc))
    module.exit_json(changed=False, samples=timeline, coverage=coverage(samples, p["kind"]),
                     double_windows=double_windows(timeline), files=paths,
                     missing_files=sorted(set(p["paths"]) - set(paths)))


def run_assess(module):
    p = module.params
    lbs = {}
    for result in p["lb_results"]:
        name = result.get("item") or result.get("_ansible_delegated_vars", {}).get("ansible_host")
        if not name:
            module.fail_json(msg="lb_results entries must carry 'item' (loop over the load balancers)")
        reachable = not result.get("unreachable") and not result.get("failed") and not result.get("skipped")
        lbs[name] = {"reachable": reachable, "services": result.get("services") or {},
                     "vip_held": result.get("vip_held") or [], "csv": result.get("csv"),
                     "error": result.get("error") or result.get("msg")}
    module.exit_json(changed=False, assessment=assess(p["vip_addresses"], lbs, p["web_hosts"], p["db_hosts"]))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            mode=dict(type="str", required=True, choices=["sample", "lb_state", "merge", "assess"]),
            kind=dict(type="str", choices=["vip", "primary"]),
            node=dict(type="str"),
            path=dict(type="path"),
            duration=dict(type="float", default=300),
            interval=dict(type="float", default=0.25),
            stop_file=dict(type="path"),
            vip_addresses=dict(type="list", elements="str", default=[]),
            db_socket=dict(type="path", default="/run/mysqld/mysqld.sock"),
            db_user=dict(type="str", default="root"),
            stats_url=dict(type="str"),
            stats_user=dict(type="str", default="admin"),
            stats_password=dict(type="str", no_log=True),
            paths=dict(type="list", elements="path", default=[]),
            since=dict(type="float"),
            until=dict(type="float"),
            max_gap_s=dict(type="float", default=1.0),
            lb_results=dict(type="list", elements="dict", default=[]),
            web_hosts=dict(type="list", elements="str", default=[]),
            db_hosts=dict(type="list", elements="str", default=[]),
        ),
        supports_check_mode=True,
    )
    mode = module.params["mode"]
    {"sample": run_sample, "lb_state": run_lb_state, "merge": run_merge, "assess": run_assess}[mode](module)


if __name__ == "__main__":
    main()
