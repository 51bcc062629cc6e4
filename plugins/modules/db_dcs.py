#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Read and steer the database tier's state in etcd (leader, members, pause, switchover)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: db_dcs
short_description: Read and steer the database tier's automatic failover state in etcd
version_added: "0.2.0"
description:
  - Reads the keys the database managers keep in etcd (leader, member reports, sync replicas,
    pause) and writes the few requests operators make through playbooks. These are a planned
    switchover, pausing or resuming automatic failover, and a forced failover that accepts RPO > 0.
  - Runs on a host that holds an etcd client certificate (a DB node). Every call has a timeout.
options:
  action:
    description:
      - C(view) reads the state; C(health) adds each etcd member's status; C(switchover) asks the leader's manager to hand the lease to
        I(target) and waits for the result; C(pause) and C(resume) switch automatic failover off and
        on; C(force_failover) lets the next election promote without the semi-sync replicas.
    type: str
    choices: [view, health, switchover, pause, resume, force_failover]
    default: view
  cluster:
    description: Cluster name (C(ha_lamp_cluster_name)); the keys live under C(/ha-lamp/<cluster>/db/).
    type: str
    required: true
  target:
    description:
      - The replica that becomes the primary (I(action=switchover)). Default the eligible replica
        that received the most.
    type: str
  timeout:
    description:
      - Seconds to wait for a switchover, until the new primary takes writes and a replica follows it (one other
        than the old primary, when the tier has another replica).
    type: float
    default: 30
extends_documentation_fragment:
  - onprem.ha_lamp.etcd_client
author:
  - onprem.ha_lamp maintainers (@onprem)
"""

EXAMPLES = r"""
- name: Read the database tier's state in etcd
  onprem.ha_lamp.db_dcs:
    cluster: lab
    endpoints: [https://10.213.77.31:2379, https://10.213.77.32:2379, https://10.213.77.33:2379]
    ca_file: /etc/ha-lamp/etcd/ca.crt
    cert_file: /etc/ha-lamp/etcd/admin.crt
    key_file: /etc/ha-lamp/etcd/admin.key
  register: dcs

- name: Hand the primary role to db3
  onprem.ha_lamp.db_dcs:
    action: switchover
    target: db3
    cluster: lab
    endpoints: "{{ dcs_endpoints }}"
"""

RETURN = r"""
leader:
  description: The node that holds the leader key, or null.
  returned: always
  type: str
leader_revision:
  description: Revision of the leader key (the fencing token).
  returned: always
  type: int
members:
  description: Each manager's last report (role, MariaDB up or down, positions).
  returned: always
  type: dict
sync:
  description: Replicas that may hold the newest acknowledged write.
  returned: always
  type: list
paused:
  description: Whether automatic failover is paused.
  returned: always
  type: bool
initialized:
  description: Whether the tier ever had a leader (the sync key exists).
  returned: always
  type: bool
etcd:
  description: Each endpoint's status (version, raft leader, member id) or its error.
  returned: when action is health
  type: dict
result:
  description: The switchover's result as the leader's manager wrote it.
  returned: when action is switchover
  type: dict
handover_seconds:
  description: Seconds from the request to the handed-over lease.
  returned: when action is switchover
  type: float
seconds:
  description: Seconds from the request until the new primary took writes and a replica followed it.
  returned: when action is switchover
  type: float
"""

import time
import uuid

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.onprem.ha_lamp.plugins.module_utils.db_manager import (
    choose_switchover_target, leader_name, parse_view, prefix_for, switchover_check, switchover_unsettled)
from ansible_collections.onprem.ha_lamp.plugins.module_utils.dcs import DcsError, Etcd, absent, put_op


def summary(view):
    sync = (view.get("sync") or {}).get("value") or {}
    return {"leader": leader_name(view), "leader_revision": (view.get("leader") or {}).get("mod_revision", 0),
            "members": {n: kv.get("value") for n, kv in view["members"].items()},
            "sync": sync.get("nodes") or [], "paused": bool(view.get("pause")),
            "initialized": bool(view.get("sync")), "intent": (view.get("intent") or {}).get("value"),
            "last_failover": (view.get("last_failover") or {}).get("value")}


def switchover(module, etcd, prefix, view):
    leader = leader_name(view)
    if not leader:
        module.fail_json(msg="switchover refused: no leader holds the lease; see playbooks/db_status.yml", **summary(view))
    target = module.params["target"] or choose_switchover_target(view, leader)
    if not target:
        module.fail_json(msg="switchover refused: no replica is eligible (%s)" % "; ".join(
            switchover_check(view, n, leader) for n in sorted(view["members"]) if n != leader), **summary(view))
    problem = switchover_check(view, target, leader)
    if problem:
        module.fail_json(msg="switchover refused: %s" % problem, **summary(view))
    request_id = uuid.uuid4().hex[:12]
    started = time.time()
    if not etcd.txn([absent(prefix + "switchover")], [put_op(prefix + "switchover", {"to": target, "id": request_id})]):
        module.fail_json(msg="switchover refused: another switchover request is pending", **summary(view))
    deadline = started + module.params["timeout"]
    while time.time() < deadline:
        time.sleep(0.1)
        view = parse_view(etcd.get_prefix(prefix), prefix)
        result = (view.get("switchover_result") or {}).get("value") or {}
        if result.get("id") == request_id:
            if not result.get("ok"):
                module.fail_json(msg="switchover to %s failed: %s" % (target, result.get("reason")), result=result,
                                 **summary(view))
            return settled(module, etcd, prefix, target, leader, result, started, deadline)
    module.fail_json(msg="switchover to %s: no result from the leader's manager within %ss" % (
        target, module.params["timeout"]), **summary(view))
    return None


def settled(module, etcd, prefix, target, previous, result, started, deadline):
    """Return once the new primary takes writes and a replica follows it, one other than the old primary
    when there is one (callers restart the old primary next), or fail at the deadline with what is missing."""
    handed_over = round(time.time() - started, 2)
    while True:
        view = parse_view(etcd.get_prefix(prefix), prefix)
        missing = switchover_unsettled(view, target, previous)
        if missing is None:
            return dict(summary(view), result=result, changed=True, handover_seconds=handed_over,
                        seconds=round(time.time() - started, 2))
        if time.time() >= deadline:
            module.fail_json(msg="switchover to %s: handed over in %ss, but after %ss %s" % (
                target, handed_over, module.params["timeout"], missing), result=result, changed=True, **summary(view))
        time.sleep(0.1)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            action=dict(type="str", default="view", choices=["view", "health", "switchover", "pause", "resume", "force_failover"]),
            cluster=dict(type="str", required=True),
            endpoints=dict(type="list", elements="str", required=True),
            ca_file=dict(type="path"), cert_file=dict(type="path"), key_file=dict(type="path", no_log=False),
            target=dict(type="str"),
            timeout=dict(type="float", default=30),
        ),
        supports_check_mode=True,
    )
    params = module.params
    prefix = prefix_for(params["cluster"])
    try:
        etcd = Etcd(params["endpoints"], params["ca_file"], params["cert_file"], params["key_file"], timeout=2)
        view = parse_view(etcd.get_prefix(prefix), prefix)
        action = params["action"]
        if action == "health":
            module.exit_json(changed=False, etcd=etcd.member_status(), **summary(view))
        if action == "view" or module.check_mode:
            module.exit_json(changed=False, **summary(view))
        if action == "switchover":
            module.exit_json(**switchover(module, etcd, prefix, view))
        if action == "pause":
            changed = not view.get("pause")
            if changed:
                etcd.put(prefix + "pause", {"at": time.time()})
        elif action == "resume":
            changed = bool(view.get("pause"))
            if changed:
                etcd.delete(prefix + "pause")
        else:
            if leader_name(view):
                module.fail_json(msg="failover refused: %s holds the leader lease and is alive; use playbooks/switchover.yml"
                                 % leader_name(view), **summary(view))
            changed = True
            etcd.put(prefix + "force_failover", {"at": time.time()})
        view = parse_view(etcd.get_prefix(prefix), prefix)
        module.exit_json(changed=changed, **summary(view))
    except DcsError as exc:
        module.fail_json(msg="etcd at %s: %s" % (", ".join(params["endpoints"]), exc))


if __name__ == "__main__":
    main()
