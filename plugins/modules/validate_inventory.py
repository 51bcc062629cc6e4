#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Documentation for the onprem.ha_lamp.validate_inventory action plugin (plugins/action/validate_inventory.py).

The work happens on the controller in the action plugin; this file only carries the documentation,
like ansible.builtin.debug's module file.
"""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: validate_inventory
version_added: 0.1.0
author: onprem.ha_lamp maintainers (@onprem)
short_description: Refuse an HA LAMP inventory that has a single point of failure
description:
  - Reads the inventory (the C(groups) and C(hostvars) of the play) on the controller and checks the redundancy
    of the three tiers C(loadbalancers), C(webservers) and C(databases) against the collection's inventory contract.
  - Fails the task listing B(every) error at once, grouped by tier; shows every warning; returns the full report and
    can write it as JSON.
  - Never connects to an inventory host, so it runs before the hosts exist. Only the hosts of the three tiers, of
    C(dcs) (the etcd members) and of C(storage) (the GlusterFS hosts of the shared uploads), and only the contract
    variables (C(ansible_host), C(rack), C(site), C(ha_lamp_vrrp_address), C(mysql_server_id), C(ha_lamp_vips),
    C(ha_lamp_db_primary), C(ha_lamp_failure_domain), C(ha_lamp_db_lease_ttl), C(ha_lamp_db_failover_window),
    C(ha_lamp_db_nofailover), C(ha_lamp_switchover_target), C(haproxy_db_check_inter), C(haproxy_db_check_fall),
    C(ha_lamp_db_public_vip_allowed), C(ha_lamp_controller_addresses), C(ha_lamp_admin_networks), C(ha_lamp_dr_site))
    are read, each templated in its host's context.
  - "Rules (errors): every tier exists with at least 2 hosts spread over at least 2 failure domains (rack by default,
    or site per C(ha_lamp_failure_domain)); every cluster host has a non-empty string C(rack); C(site) is a string;
    addresses parse and are unique; C(ha_lamp_vips) is a list of VIPs with unique names, a valid address/len inside
    the subnet of every load balancer (its C(ha_lamp_vrrp_address) or C(ansible_host)), equal to no host address,
    and a C(vrid) 1-255 unique per VRRP segment; C(ha_lamp_db_primary), when given, is a member of C(databases);
    the primary has a replica in another failure domain; C(mysql_server_id) values are unique integers
    1-4294967295; cluster-wide variables agree between hosts."
  - "Rules for automatic database failover (errors): with C(databases) present, the group C(dcs) exists with an odd
    number of at least 3 members (3 or 5), each with a C(rack), and no failure domain holds so many that losing it
    loses the etcd quorum; C(ha_lamp_db_lease_ttl) (integer seconds, default 8) is at least
    C(haproxy_db_check_inter) (HAProxy time, default C(1s), a bare number is milliseconds) x
    C(haproxy_db_check_fall) (default 2) + 2 s margin + 1 s renewal slack, rounded up; C(ha_lamp_db_failover_window)
    is an integer >= 0 (default 300); C(ha_lamp_db_nofailover) is a boolean and leaves at least 2 databases eligible
    for promotion, the initial primary among them; C(ha_lamp_switchover_target), when set (also as an extra var), is
    a member of C(databases) without C(ha_lamp_db_nofailover)."
  - "Rules for shared uploads (errors): the C(storage) group is optional (absent or empty, nothing is checked); when
    present it holds exactly 3 hosts (one GlusterFS replica 3 volume with an arbiter: the first two hosts in inventory
    order carry the data bricks, the third the arbiter), each with a C(rack), in 3 different failure domains so losing
    one domain keeps the client quorum of 2 bricks. A storage host may also be in a tier without a warning."
  - "Rules for a disaster-recovery site (errors), only when one exists: hosts whose C(site) is C(ha_lamp_dr_site)
    (default C(dr)) are the DR site, every other host the main site. The rules above judge the main site alone (the
    host's own C(rack), C(site), addresses and C(mysql_server_id) are checked in both sites). The DR site shares no
    rack name with the main site (DR_SHARES_RACK); its load balancers' C(ha_lamp_vips) are in no subnet of a main-site
    VIP (DR_VIP_SUBNET); none of its hosts is in C(dcs) (DR_DB_IN_DCS); its databases have
    C(ha_lamp_db_nofailover=true) (DR_DB_FAILOVER); none of its hosts is in C(storage) (DR_IN_STORAGE); it has 2 load
    balancers, at least 1 web server and at least 1 database (DR_TIER_MISSING). A DR database is never the main
    site's C(ha_lamp_db_primary) nor its C(ha_lamp_switchover_target). This version does not deploy a DR site: C(playbooks/validate.yml), and so
    C(site.yml), refuses an inventory that has one, after this check."
  - "Warnings: a tier confined to one site of a multi-site cluster, a host in several tiers, C(site) set on only some
    hosts, unknown VIP keys, a replica sharing the primary's failure domain, databases over an even number of sites
    with no tie-breaker site, a C(storage) group without C(webservers) to mount it."
  - Every message names the host, the variable, the value at fault and the fix.
  - Also prints an availability estimate (each tier, the whole stack, the worst single failure domain) as nines and
    minutes of downtime per year.
  - Topology only; secrets, OS versions and ports are checked elsewhere, so an inventory without passwords passes.
options:
  report_path:
    description:
      - Write the JSON report to this path on the controller (directories are created).
      - Written on every run, also in check mode and when the check fails, so CI can keep it as an artifact.
    type: path
  host_availability:
    description: Probability that one host is up, for the availability estimate.
    type: float
    default: 0.99
  domain_availability:
    description:
      - Probability that a whole failure domain (rack, or site) is up on its own; C(1.0) means domains never fail.
    type: float
    default: 0.999
  failure_domain:
    description:
      - Level each tier must be spread over; overrides the inventory's C(ha_lamp_failure_domain) (default C(rack)).
    type: str
    choices: [rack, site]
  fail_on_warnings:
    description: Fail the task on warnings too, not only on errors.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Nothing on any host changes in any mode; the optional report file is written in check mode too.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  platform:
    support: full
    platforms: all
    description: Runs on the controller only.
notes:
  - Run it in a play on C(localhost) with C(gather_facts=false), as C(playbooks/validate.yml) does. The implicit
    localhost is subject to C(--limit); add C(localhost) to a limit (C(--limit 'lb1,localhost')) to keep the gate.
  - The rule core is the same as the P(onprem.ha_lamp.redundancy_report#filter) filter's; see there for the rule ids.
seealso:
  - plugin: onprem.ha_lamp.redundancy_report
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Validate the inventory's redundancy (no host is contacted)
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Refuse an inventory with a single point of failure
      onprem.ha_lamp.validate_inventory:
        report_path: "{{ playbook_dir }}/../reports/redundancy.json"

- name: Stricter gate for production, sites as failure domains
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Refuse any warning too
      onprem.ha_lamp.validate_inventory:
        failure_domain: site
        fail_on_warnings: true
        host_availability: 0.995
"""

RETURN = r"""
msg:
  description: One line when the check passes; on failure every error, grouped by tier, errors first.
  returned: always
  type: str
  sample: |-
    Inventory redundancy check failed: 1 error(s), 0 warning(s). No host was contacted or changed. Fix every item below and run again.
    ERRORS
      [loadbalancers]
        TIER_SINGLE_DOMAIN loadbalancers: lb1 and lb2 are both in rack 'r1' (var rack); place them in at least 2 racks so losing one rack keeps a load balancer
report:
  description: The structured report, as returned by the P(onprem.ha_lamp.redundancy_report#filter) filter.
  returned: unless the options are invalid
  type: dict
  contains:
    ok:
      description: True when there is no error.
      type: bool
    errors:
      description: Number of errors.
      type: int
    warnings:
      description: Number of warnings.
      type: int
    findings:
      description: Each finding with C(severity), C(rule), C(tier), C(hosts) and C(message), errors first.
      type: list
      elements: dict
    summary:
      description:
        - Failure-domain level, sites, host count, primary database, per tier hosts and hosts per domain, of the main site.
        - With a DR site, C(dr_site) with its C(name), C(hosts) and per tier its hosts.
      type: dict
    availability:
      description: Per tier and stack availability, nines, downtime minutes per year, and failure-domain losses.
      type: dict
report_path:
  description: Where the JSON report was written.
  returned: when O(report_path) is set
  type: str
"""
