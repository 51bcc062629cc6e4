#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Survey the database nodes, and plan and run a rejoin (SQL building blocks in module_utils/promotion)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: mysql_promotion
short_description: Status and rejoin for MariaDB GTID semi-sync replication
description:
  - Runs on the controller and talks to every database node's port directly with PyMySQL.
  - Failover and switchover are not done here; the database managers on the nodes
    (roles/mysql/files/ha_lamp_db_manager.py) run them through the leader lease in etcd.
  - C(status) reads every node's replication state and its database manager's C(/status).
  - C(plan_rejoin) only reads and decides which nodes outside the topology may replicate from
    the current primary; it refuses a node holding errant transactions, with an explanation.
  - C(rejoin) makes the given nodes read-only semi-sync replicas of the primary, each step
    logged with a UTC timestamp in C(log).
  - "The current primary is the leader in etcd, read through the managers' C(/status) field
    C(epoch) = C({epoch: revision of the leader key, primary: leader})."
version_added: 0.1.0
author: onprem.ha_lamp maintainers (@onprem)
options:
  action:
    description: What to do.
    type: str
    required: true
    choices: [status, plan_rejoin, rejoin]
  nodes:
    description: "C({name: address}) of every database node."
    type: dict
    required: true
  epoch:
    description:
      - "The current leader as C({epoch: leader key revision, primary: leader}) (plan_rejoin, and
        rejoin without C(primary))."
      - Default, the newest one the nodes' database managers report in C(/status) (field C(epoch)).
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
  login_ssl_ca:
    description:
      - File on the controller holding the CA that signed the servers' certificates.
      - Given (or O(login_ssl_ca_content)), every connection uses TLS 1.2+ and verifies the server's
        certificate and its address against the certificate's SANs (the admin account is created C(REQUIRE SSL)).
      - Both empty, the connections are in clear text.
      - Mutually exclusive with O(login_ssl_ca_content).
    type: path
  login_ssl_ca_content:
    description:
      - The same CA as PEM text (an operator-supplied CA kept in a variable, such as C(mysql_tls_ca)).
      - Mutually exclusive with O(login_ssl_ca).
    type: str
  replication_user:
    description: Account replicas use to connect (CHANGE MASTER); required by rejoin.
    type: str
  replication_password:
    description: Its password; required by rejoin.
    type: str
  replication_ssl:
    description:
      - Rejoined replicas connect to the primary over TLS and verify its certificate and address
        (C(MASTER_SSL=1, MASTER_SSL_CA, MASTER_SSL_VERIFY_SERVER_CERT=1)).
      - false writes C(MASTER_SSL=0).
    type: bool
    default: true
  replication_ssl_ca:
    description:
      - Path of the CA file on the replicas for C(MASTER_SSL_CA).
      - Default, each replica's own C(@@ssl_ca); a replica without one is refused.
    type: str
  primary:
    description: Primary the nodes rejoin (rejoin; default, the leader in C(epoch)).
    type: str
  others:
    description: Nodes to rejoin (rejoin), or the only nodes to consider (plan_rejoin; empty, all).
    type: list
    elements: str
    default: []
  agent_port:
    description: HTTP port of the database managers (C(/status)).
    type: int
    default: 9200
  agent_ca_file:
    description:
      - CA file that signed the database managers' certificates. Given, C(/status) is read over HTTPS
        and the manager's certificate and address are verified.
    type: path
  agent_cert_file:
    description: Client certificate presented to the database managers (mTLS), with I(agent_ca_file).
    type: path
  agent_key_file:
    description: Key of I(agent_cert_file).
    type: path
  verify_timeout:
    description: Seconds to wait for rejoined replicas to run both threads.
    type: int
    default: 15
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: partial
    details: plan_rejoin and status run in check mode; rejoin is skipped.
requirements:
  - PyMySQL on the host running the module (the controller)
'''

EXAMPLES = r'''
- name: Find nodes outside the topology and check them for errant transactions
  onprem.ha_lamp.mysql_promotion:
    action: plan_rejoin
    nodes: {db1: 10.0.0.31, db2: 10.0.0.32, db3: 10.0.0.33}
    login_user: ha_lamp_admin
    login_password: "{{ ha_lamp_db_root_password }}"
    login_ssl_ca: ~/.ha-lamp/pki/lab/services/ca.crt
  register: plan
  no_log: true

- name: Rejoin db1 as a replica of the current primary
  onprem.ha_lamp.mysql_promotion:
    action: rejoin
    nodes: {db1: 10.0.0.31, db2: 10.0.0.32, db3: 10.0.0.33}
    primary: "{{ plan.plan.primary }}"
    others: [db1]
    login_user: ha_lamp_admin
    login_password: "{{ ha_lamp_db_root_password }}"
    login_ssl_ca: ~/.ha-lamp/pki/lab/services/ca.crt
    replication_user: ha_lamp_repl
    replication_password: "{{ ha_lamp_db_replication_password }}"
    replication_ssl: true
  no_log: true
'''

RETURN = r'''
plan:
  description: >-
    Decision of plan_rejoin: primary, nodes ({name: {action: rejoin|refuse|none|skip, reason}}),
    versions (MariaDB series), donors (reseed donor per node) and epoch (the leader it used).
  returned: action=plan_rejoin
  type: dict
log:
  description: Timestamped steps (time, node, step, detail).
  returned: always
  type: list
  elements: dict
survey:
  description: State of every node, with its database manager's /status under C(agent) (status action).
  returned: action=status
  type: dict
replicas:
  description: Reachable nodes that replicate from a source (status action).
  returned: action=status
  type: list
  elements: str
replicas_without_tls:
  description: >-
    Replicas whose replication does not run over verified TLS (Master_SSL_Allowed and
    Master_SSL_Verify_Server_Cert not both C(Yes)) (status action).
  returned: action=status
  type: list
  elements: str
'''

import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native
from ansible_collections.onprem.ha_lamp.plugins.module_utils import promotion as pr


def run(module):
    p = module.params
    agent_tls = None
    if p["agent_ca_file"]:
        agent_tls = {"ca": p["agent_ca_file"], "cert": p["agent_cert_file"], "key": p["agent_key_file"]}
    if p["login_ssl_ca"] and p["login_ssl_ca_content"]:
        module.fail_json(msg="login_ssl_ca (a file) and login_ssl_ca_content (PEM text) are mutually exclusive: "
                             "give one CA")
    ssl_ca = p["login_ssl_ca_content"] or p["login_ssl_ca"]
    try:
        cluster = pr.Cluster(p["nodes"], p["login_user"], p["login_password"], port=p["login_port"],
                             repl_user=p["replication_user"], repl_password=p["replication_password"],
                             agent_port=p["agent_port"], repl_ssl=p["replication_ssl"],
                             repl_ssl_ca=p["replication_ssl_ca"], ssl_ca=ssl_ca or None, agent_tls=agent_tls)
    except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
        module.fail_json(msg="cannot load the TLS files (login_ssl_ca, agent_ca_file, agent_cert_file, "
                             "agent_key_file): %s" % to_native(exc))
    action = p["action"]
    result = {"changed": False}
    try:
        if action == "status":
            survey = cluster.survey()
            agents = cluster.agent_statuses()
            for name in survey:
                survey[name]["agent"] = agents.get(name, {})
            result["survey"] = survey
            result["replicas"] = sorted(n for n, st in survey.items() if not st.get("error") and st.get("replica"))
            result["replicas_without_tls"] = pr.replicas_without_tls(survey)
        elif action == "plan_rejoin":
            epoch = _epoch(module, cluster)
            result["plan"] = pr.plan_rejoin(cluster, epoch, only=p["others"] or None)
            result["plan"]["epoch"] = epoch
        elif module.check_mode:
            result["skipped"] = True
            result["msg"] = "%s changes servers: skipped in check mode" % action
        else:
            result["changed"] = True
            primary = p["primary"] or _epoch(module, cluster)["primary"]
            problems = pr.run_rejoin(cluster, primary, p["others"], p["verify_timeout"])
            if problems:
                module.fail_json(msg="%s finished with problems: %s" % (action, "; ".join(problems)),
                                 log=cluster.log, changed=True)
    except pr.PromotionError as exc:
        module.fail_json(msg=to_native(exc), log=cluster.log, changed=bool(result["changed"]))
    except Exception as exc:  # pylint: disable=broad-except
        # A server error in the middle of a rejoin: report what was done so far.
        module.fail_json(msg="%s failed: %s" % (action, to_native(exc)), log=cluster.log, changed=result["changed"])
    finally:
        cluster.close()
    result["log"] = cluster.log
    result["finished_at"] = time.time()
    module.exit_json(**result)


def _epoch(module, cluster):
    """The leader given by the playbook, else the newest one the database managers report."""
    epoch = module.params["epoch"]
    if epoch:
        if "primary" not in epoch or "epoch" not in epoch:
            module.fail_json(msg="epoch needs 'epoch' and 'primary'")
        return epoch
    return cluster.newest_epoch()


def main():
    module = AnsibleModule(
        argument_spec=dict(
            action=dict(type="str", required=True, choices=["status", "plan_rejoin", "rejoin"]),
            nodes=dict(type="dict", required=True),
            epoch=dict(type="dict"),
            login_user=dict(type="str", required=True),
            login_password=dict(type="str", required=True, no_log=True),
            login_port=dict(type="int", default=3306),
            login_ssl_ca=dict(type="path"),
            login_ssl_ca_content=dict(type="str"),
            replication_user=dict(type="str"),
            replication_password=dict(type="str", no_log=True),
            replication_ssl=dict(type="bool", default=True),
            replication_ssl_ca=dict(type="str"),
            primary=dict(type="str"),
            others=dict(type="list", elements="str", default=[]),
            agent_port=dict(type="int", default=9200),
            agent_ca_file=dict(type="path"),
            agent_cert_file=dict(type="path"),
            agent_key_file=dict(type="path"),
            verify_timeout=dict(type="int", default=15),
        ),
        required_together=[("agent_cert_file", "agent_key_file")],
        required_by={"agent_cert_file": ("agent_ca_file",)},
        required_if=[("action", "rejoin", ("replication_user", "replication_password"))],
        supports_check_mode=True,
    )
    try:
        run(module)
    except pr.PromotionError as exc:
        module.fail_json(msg=to_native(exc))


if __name__ == "__main__":
    main()
