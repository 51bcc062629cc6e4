#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Add, replace or remove one etcd member, refusing any change that would lose the quorum."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: etcd_member
short_description: Add, replace or remove one member of a running etcd cluster
version_added: 0.1.0
description:
  - Changes the membership of a running etcd cluster through its v3 JSON API, one member per task,
    the way etcd's runtime reconfiguration requires. A new member is added before it starts; a lost
    member is removed before its replacement is added.
  - Each change is checked against the members that answer now. A change after which the answering
    members could not form a quorum is refused, naming the members that do not answer.
  - Runs on a host that holds an etcd client certificate (an etcd member).
options:
  name:
    description: The member's name (the inventory name, C(ETCD_NAME)).
    type: str
    required: true
  peer_url:
    description: The member's peer URL, for example C(https://10.0.0.5:2380). Required with I(state=present).
    type: str
  state:
    description:
      - C(present) makes I(name) a member. It is added, not started; start it with
        C(ETCD_INITIAL_CLUSTER_STATE=existing) and the returned I(initial_cluster).
      - C(absent) removes the member named I(name).
    type: str
    choices: [present, absent]
    default: present
  replace:
    description:
      - The host I(name) has no etcd data (a new server under an old name). A started member with
        that name is the lost one; it is removed, then the new one is added. Refused while the old
        member still answers.
    type: bool
    default: false
  timeout:
    description: Seconds for each call to etcd.
    type: float
    default: 3
notes:
  - Check mode reports the change that would be made, without making it.
extends_documentation_fragment:
  - onprem.ha_lamp.etcd_client
author:
  - onprem.ha_lamp maintainers (@onprem)
"""

EXAMPLES = r"""
- name: Add db4 to the etcd cluster before starting it
  onprem.ha_lamp.etcd_member:
    name: db4
    peer_url: https://10.0.0.34:2380
    endpoints: [https://10.0.0.31:2379, https://10.0.0.32:2379, https://10.0.0.33:2379]
    ca_file: /etc/ha-lamp/etcd/ca.crt
    cert_file: /etc/ha-lamp/etcd/admin.crt
    key_file: /etc/ha-lamp/etcd/admin.key
  register: joined

- name: Remove the retired db4
  onprem.ha_lamp.etcd_member:
    name: db4
    state: absent
    endpoints: [https://10.0.0.31:2379]
"""

RETURN = r"""
actions:
  description: The changes made (or, in check mode, that would be made), in order.
  returned: always
  type: list
  elements: dict
  sample: [{"action": "remove", "id": "4210330573187261713", "name": "db2"}, {"action": "add", "name": "db2"}]
initial_cluster:
  description: C(ETCD_INITIAL_CLUSTER) for the member to start with (name=peer URL of every member).
  returned: when state is present, outside check mode
  type: str
  sample: db1=https://10.0.0.31:2380,db2=https://10.0.0.32:2380,db3=https://10.0.0.33:2380
members:
  description: The member list after the change.
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.onprem.ha_lamp.plugins.module_utils.dcs import DcsError, Etcd
from ansible_collections.onprem.ha_lamp.plugins.module_utils.dcs_membership import (
    MembershipError, initial_cluster, plan_absent, plan_present)


def apply(etcd, actions, peer_url):
    for action in actions:
        if action["action"] == "remove":
            etcd.member_remove(action["id"])
        else:
            etcd.member_add(peer_url)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            peer_url=dict(type="str"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            replace=dict(type="bool", default=False),
            endpoints=dict(type="list", elements="str", required=True),
            ca_file=dict(type="path"),
            cert_file=dict(type="path"),
            key_file=dict(type="path"),
            timeout=dict(type="float", default=3),
        ),
        required_if=[("state", "present", ["peer_url"])],
        supports_check_mode=True,
    )
    params = module.params
    try:
        etcd = Etcd(params["endpoints"], params["ca_file"], params["cert_file"], params["key_file"], params["timeout"])
        members = etcd.member_list()
        answering = etcd.answering(members)
        if params["state"] == "present":
            actions = plan_present(members, answering, params["name"], params["peer_url"], params["replace"])
        else:
            actions = plan_absent(members, answering, params["name"])
        if actions and not module.check_mode:
            apply(etcd, actions, params["peer_url"])
            members = etcd.member_list()
        result = {"changed": bool(actions), "actions": actions, "members": members}
        if params["state"] == "present" and not module.check_mode:
            result["initial_cluster"] = initial_cluster(members, params["name"], params["peer_url"])
    except (MembershipError, DcsError) as exc:
        module.fail_json(msg="etcd member %s: %s" % (params["name"], exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
