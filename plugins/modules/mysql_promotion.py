#!/usr/bin/python
# -*- coding: utf-8 -*-
# SPDX-License-Identifier: Apache-2.0
"""Plan and run MariaDB switchover, failover and rejoin (critical section in module_utils/promotion)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: mysql_promotion
short_description: Switchover, failover and rejoin for MariaDB GTID semi-sync replication
description:
  - Runs on the controller and talks to every database node's port directly with PyMySQL.
  - C(plan_*) actions only read (topology, health, semi-sync observations) and decide; they
    refuse with an explanation when the promotion would be unsafe.
  - C(switchover), C(failover) and C(rejoin) run the critical section in one process, each
    step logged with a UTC timestamp in C(log).
  - The playbooks write the new epoch file between plan and run, so HAProxy's writer check
    stops sending writes to the old primary before it is fenced.
version_added: 0.1.0
author: onprem.ha_lamp maintainers
options:
  action:
    description: What to do.
    type: str
    required: true
    choices: [status, plan_switchover, switchover, plan_failover, failover, plan_rejoin, rejoin]
  nodes:
    description: "C({name: address}) of every database node."
    type: dict
    required: true
  epoch:
    description:
      - The newest epoch file content (C(epoch), C(primary), C(reason), C(changed_at)).
      - Default, the newest epoch the nodes' health agents report on C(/status).
    type: dict
  login_user:
    description: Admin account on every node.
    type: str
    required: true
  login_password:
    description: Its password.
    type: str
    required: true
  login_port:
    description: MariaDB port of every node.
    type: int
    default: 3306
  replication_user:
    description: Account replicas use to connect (CHANGE MASTER).
    type: str
  replication_password:
    description: Its password.
    type: str
  replication_ssl:
    description: MASTER_SSL of repointed replicas.
    type: bool
    default: false
  admin_users:
    description: Accounts whose sessions the fence does not kill.
    type: list
    elements: str
    default: []
  primary:
    description: Current primary (switchover, failover; rejoin defaults to the epoch's primary).
    type: str
  candidate:
    description: Node to promote (switchover, failover).
    type: str
  target:
    description: Requested switchover target; empty picks the replica that received the most.
    type: str
  others:
    description: Other replicas to repoint (switchover, failover) or nodes to rejoin (rejoin, plan_rejoin filter).
    type: list
    elements: str
    default: []
  max_lag:
    description: Largest replica lag (s) accepted by the switchover preflight.
    type: int
    default: 10
  catchup_timeout:
    description: "Seconds the candidate gets to apply everything (switchover: else the fence is undone)."
    type: int
    default: 10
  confirm_timeout:
    description: Seconds failover waits for the replicas' IO threads to lose the primary.
    type: int
    default: 10
  semisync_max_age:
    description: Newest semi-sync ON observation must be at most this old (s) for an unforced failover.
    type: int
    default: 30
  window:
    description: Anti-flap window (s) after a failover during which another one is refused.
    type: int
    default: 3600
  force:
    description: Override the semi-sync and anti-flap refusals of failover.
    type: bool
    default: false
  agent_port:
    description: Health agent port (failover reads C(/status) for semi-sync observations).
    type: int
    default: 9200
  verify_timeout:
    description: Seconds to wait for repointed replicas to run both threads.
    type: int
    default: 15
  old_binlog_pos:
    description: For failover from a primary that restarted read-only, its gtid_binlog_pos (from plan_failover).
    type: str
    default: ""
attributes:
  check_mode:
    support: partial
    details: plan_* and status run in check mode; the other actions are skipped.
requirements:
  - PyMySQL on the host running the module (the controller)
'''

EXAMPLES = r'''
- name: Plan a switchover to db2
  onprem.ha_lamp.mysql_promotion:
    action: plan_switchover
    nodes: {db1: 10.0.0.31, db2: 10.0.0.32, db3: 10.0.0.33}
    epoch: {epoch: 1, primary: db1}
    target: db2
    login_user: ha_lamp_admin
    login_password: "{{ ha_lamp_db_root_password }}"
  no_log: true
'''

RETURN = r'''
plan:
  description: Decision of a plan_* action (primary, candidate, replicas, ...).
  returned: plan_* actions
  type: dict
log:
  description: Timestamped steps (time, node, step, detail).
  returned: always
  type: list
  elements: dict
survey:
  description: State of every node (status action).
  returned: action=status
  type: dict
'''

import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native
from ansible_collections.onprem.ha_lamp.plugins.module_utils import promotion as pr


def run(module):
    p = module.params
    cluster = pr.Cluster(p["nodes"], p["login_user"], p["login_password"], port=p["login_port"],
                         repl_user=p["replication_user"], repl_password=p["replication_password"],
                         agent_port=p["agent_port"], repl_ssl=p["replication_ssl"])
    action = p["action"]
    result = {"changed": False}
    try:
        if action == "status":
            survey = cluster.survey()
            agents = cluster.agent_statuses()
            for name in survey:
                survey[name]["agent"] = agents.get(name, {})
            result["survey"] = survey
        elif action == "plan_switchover":
            epoch = _epoch(module, cluster)
            plan = pr.plan_switchover(cluster, epoch, p["target"] or None, p["max_lag"])
            plan.pop("survey", None)
            plan["others"] = [n for n in plan["replicas"] if n != plan["candidate"]]
            plan["epoch"] = epoch
            result["plan"] = plan
        elif action == "plan_failover":
            epoch = _epoch(module, cluster)
            plan = pr.plan_failover(cluster, epoch, p["confirm_timeout"], p["max_lag"],
                                    p["semisync_max_age"], p["force"], p["window"])
            plan["others"] = [n for n in plan["replicas"] if n != plan["candidate"]]
            plan["epoch"] = epoch
            result["plan"] = plan
        elif action == "plan_rejoin":
            epoch = _epoch(module, cluster)
            result["plan"] = pr.plan_rejoin(cluster, epoch, only=p["others"] or None)
            result["plan"]["epoch"] = epoch
        elif module.check_mode:
            result["skipped"] = True
            result["msg"] = "%s changes servers: skipped in check mode" % action
        else:
            _require(module, ("replication_user", "replication_password"))
            result["changed"] = True
            if action == "switchover":
                _require(module, ("primary", "candidate"))
                problems = pr.run_switchover(cluster, p["primary"], p["candidate"], p["others"], p["catchup_timeout"],
                                             p["admin_users"], p["verify_timeout"])
            elif action == "failover":
                _require(module, ("primary", "candidate"))
                problems = pr.run_failover(cluster, p["primary"], p["candidate"], p["others"], p["catchup_timeout"],
                                           p["verify_timeout"], p["old_binlog_pos"] or "")
            else:
                primary = p["primary"] or _epoch(module, cluster)["primary"]
                problems = pr.run_rejoin(cluster, primary, p["others"], p["verify_timeout"])
            if problems:
                module.fail_json(msg="%s finished with problems: %s" % (action, "; ".join(problems)),
                                 log=cluster.log, changed=True)
    except pr.PromotionError as exc:
        module.fail_json(msg=to_native(exc), log=cluster.log, changed=bool(result["changed"]))
    except Exception as exc:  # pylint: disable=broad-except
        # A server error in the middle of a critical section: report what was done so far.
        module.fail_json(msg="%s failed: %s" % (action, to_native(exc)), log=cluster.log, changed=result["changed"])
    finally:
        cluster.close()
    result["log"] = cluster.log
    result["finished_at"] = time.time()
    module.exit_json(**result)


def _epoch(module, cluster):
    """The epoch given by the playbook, else the newest one the agents report."""
    epoch = module.params["epoch"]
    if epoch:
        if "primary" not in epoch or "epoch" not in epoch:
            module.fail_json(msg="epoch needs 'epoch' and 'primary'")
        return epoch
    return cluster.newest_epoch()


def _require(module, names):
    missing = [n for n in names if not module.params.get(n)]
    if missing:
        module.fail_json(msg="%s requires %s" % (module.params["action"], ", ".join(missing)))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            action=dict(type="str", required=True, choices=["status", "plan_switchover", "switchover", "plan_failover",
                                                            "failover", "plan_rejoin", "rejoin"]),
            nodes=dict(type="dict", required=True),
            epoch=dict(type="dict"),
            login_user=dict(type="str", required=True),
            login_password=dict(type="str", required=True, no_log=True),
            login_port=dict(type="int", default=3306),
            replication_user=dict(type="str"),
            replication_password=dict(type="str", no_log=True),
            replication_ssl=dict(type="bool", default=False),
            admin_users=dict(type="list", elements="str", default=[]),
            primary=dict(type="str"),
            candidate=dict(type="str"),
            target=dict(type="str"),
            others=dict(type="list", elements="str", default=[]),
            max_lag=dict(type="int", default=10),
            catchup_timeout=dict(type="int", default=10),
            confirm_timeout=dict(type="int", default=10),
            semisync_max_age=dict(type="int", default=30),
            window=dict(type="int", default=3600),
            force=dict(type="bool", default=False),
            agent_port=dict(type="int", default=9200),
            verify_timeout=dict(type="int", default=15),
            old_binlog_pos=dict(type="str", default=""),
        ),
        supports_check_mode=True,
    )
    try:
        run(module)
    except pr.PromotionError as exc:
        module.fail_json(msg=to_native(exc))


if __name__ == "__main__":
    main()
