#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Discover a MariaDB node's replication state, or plan the topology from all nodes' states."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: mysql_topology
short_description: Discover MariaDB replication state and plan the live topology
description:
  - C(mode=discover) reads the local server's replication state (read_only, replication source,
    GTID positions, semi-sync variables and status). It never changes anything.
  - C(mode=plan) takes the discovered state of every database node and decides which node is
    the primary, which fresh nodes to attach and which to leave alone. A writable node without a
    replication source is the primary even when the inventory names another one, so re-running
    the role after a failover does not undo it.
version_added: 0.1.0
author: onprem.ha_lamp maintainers (@onprem)
options:
  mode:
    description: What to do.
    type: str
    choices: [discover, plan]
    default: discover
  login_unix_socket:
    description: Socket to connect to (discover).
    type: str
    default: /run/mysqld/mysqld.sock
  login_user:
    description: User for discover; root over the socket uses unix_socket authentication.
    type: str
    default: root
  login_password:
    description: Password for I(login_user), if any.
    type: str
  nodes:
    description: "For plan, C({name: discovered_state}) of every reachable database node."
    type: dict
  addresses:
    description: "For plan, C({name: address}) to map C(Master_Host) values to node names."
    type: dict
  inventory_primary:
    description: For plan, the initial primary used on a first deploy.
    type: str
  leader:
    description: For plan, the node holding the leader key in etcd, if any.
    type: str
  initialized:
    description: For plan, whether the tier has had a leader before (etcd holds its sync key).
    type: bool
    default: false
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
requirements:
  - PyMySQL (discover)
'''

EXAMPLES = r'''
- name: Discover replication state
  onprem.ha_lamp.mysql_topology:
    mode: discover
  register: __state

- name: Plan the topology
  onprem.ha_lamp.mysql_topology:
    mode: plan
    nodes: "{{ dict(groups['databases'] | zip(groups['databases'] | map('extract', hostvars, ['__state', 'state']))) }}"
    addresses: {db1: 10.0.0.31, db2: 10.0.0.32, db3: 10.0.0.33}
    inventory_primary: db1
  run_once: true
'''

RETURN = r'''
state:
  description: Discovered state (discover).
  returned: mode=discover
  type: dict
plan:
  description: primary, bootstrap, attach, keep, leave (plan).
  returned: mode=plan
  type: dict
'''

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native
from ansible_collections.onprem.ha_lamp.plugins.module_utils.mysql_topology import plan_topology

try:
    import pymysql
    import pymysql.cursors
except ImportError:
    pymysql = None

REPLICA_KEYS = ("Master_Host", "Master_Port", "Master_User", "Slave_IO_Running", "Slave_SQL_Running",
                "Seconds_Behind_Master", "Gtid_IO_Pos", "Using_Gtid", "Last_IO_Error", "Last_SQL_Error",
                "Last_IO_Errno", "Last_SQL_Errno")


def discover(module):
    if pymysql is None:
        module.fail_json(msg="PyMySQL is required on the database node (install python3-pymysql)")
    try:
        conn = pymysql.connect(unix_socket=module.params["login_unix_socket"], user=module.params["login_user"],
                               password=module.params["login_password"] or "", connect_timeout=5,
                               cursorclass=pymysql.cursors.DictCursor, autocommit=True)
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json(msg="cannot connect to MariaDB on %s: %s" % (module.params["login_unix_socket"], to_native(exc)))
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT @@global.read_only AS read_only, @@global.server_id AS server_id, "
                        "@@global.gtid_binlog_pos AS gtid_binlog_pos, @@global.gtid_binlog_state AS gtid_binlog_state, "
                        "@@global.gtid_current_pos AS gtid_current_pos, @@global.gtid_slave_pos AS gtid_slave_pos, "
                        "@@global.log_bin AS log_bin, @@hostname AS hostname, @@version AS version, "
                        "@@global.rpl_semi_sync_master_enabled AS semisync_master_enabled, "
                        "@@global.rpl_semi_sync_slave_enabled AS semisync_slave_enabled")
            state = dict(cur.fetchone())
            cur.execute("SHOW SLAVE STATUS")
            row = cur.fetchone()
            state["replica"] = ({k: row.get(k) for k in REPLICA_KEYS} if row and row.get("Master_Host") else None)
            cur.execute("SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_%'")
            state["semisync_status"] = {r["Variable_name"]: r["Value"] for r in cur.fetchall()}
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json(msg="cannot read replication state: %s" % to_native(exc))
    finally:
        conn.close()
    for key in ("read_only", "log_bin", "semisync_master_enabled", "semisync_slave_enabled"):
        state[key] = "ON" if str(state[key]) in ("1", "ON") else "OFF"
    module.exit_json(changed=False, state=state)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            mode=dict(type="str", choices=["discover", "plan"], default="discover"),
            login_unix_socket=dict(type="str", default="/run/mysqld/mysqld.sock"),
            login_user=dict(type="str", default="root"),
            login_password=dict(type="str", no_log=True),
            nodes=dict(type="dict"),
            addresses=dict(type="dict"),
            inventory_primary=dict(type="str"),
            leader=dict(type="str"),
            initialized=dict(type="bool", default=False),
        ),
        required_if=[("mode", "plan", ("nodes", "addresses", "inventory_primary"))],
        supports_check_mode=True,
    )
    if module.params["mode"] == "discover":
        discover(module)
    try:
        plan = plan_topology(module.params["nodes"], module.params["inventory_primary"],
                             module.params["addresses"], module.params["leader"],
                             module.params["initialized"])
    except ValueError as exc:
        module.fail_json(msg=to_native(exc))
    module.exit_json(changed=False, plan=plan)


if __name__ == "__main__":
    main()
