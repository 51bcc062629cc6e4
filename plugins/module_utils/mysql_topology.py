# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pure logic shared by the mysql_topology and mysql_promotion modules.

Nothing here talks to a server: GTID list parsing and comparison for MariaDB (which has no
GTID set functions, see promotion-checklist C3) and the rules the mysql role uses to
recognise the live topology instead of re-imposing the inventory's initial primary.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class GtidError(ValueError):
    pass


def parse_gtid_list(text):
    """Parse a MariaDB GTID list ('0-1-10,1-2-5') into {(domain, server_id): seq}.

    Empty or None gives {}. For one (domain, server_id) pair the highest seq wins.
    """
    result = {}
    if text is None:
        return result
    for item in str(text).replace("\n", "").split(","):
        item = item.strip()
        if not item:
            continue
        parts = item.split("-")
        if len(parts) != 3:
            raise GtidError("invalid GTID %r (expected domain-server_id-seq)" % item)
        try:
            domain, server_id, seq = (int(p) for p in parts)
        except ValueError:
            raise GtidError("invalid GTID %r (non-numeric part)" % item)
        if domain < 0 or server_id < 0 or seq < 0:
            raise GtidError("invalid GTID %r (negative part)" % item)
        key = (domain, server_id)
        result[key] = max(seq, result.get(key, 0))
    return result


def domain_positions(text):
    """{domain: (seq, server_id)} keeping the highest seq per domain.

    This is how Gtid_IO_Pos / gtid_current_pos are compared between replicas: with
    gtid_strict_mode seq numbers only grow inside a domain.
    """
    result = {}
    for (domain, server_id), seq in parse_gtid_list(text).items():
        if domain not in result or seq > result[domain][0]:
            result[domain] = (seq, server_id)
    return result


def format_gtid(parsed):
    return ",".join("%d-%d-%d" % (d, s, n) for (d, s), n in sorted(parsed.items()))


def missing_gtids(node_state, reference_state, reference_slave_pos=""):
    """Return the (domain, server_id, seq) entries of node_state that the reference lacks.

    node_state / reference_state are gtid_binlog_state strings (one entry per domain AND
    server_id). A node is contained in the reference when, for every (domain, server_id) it has
    written or received, the reference has reached at least the same seq. Comparing per
    server_id catches the classic errant tail: old primary 0-1-105 against a new primary at
    0-1-100,0-2-120 is NOT contained although 105 < 120.

    reference_slave_pos (the reference's gtid_slave_pos) covers a reference whose binlog does
    not hold its whole history (restored by mariabackup, binlogs reset): an entry whose
    server_id is absent from the reference's binlog state is accepted when its seq is at or
    below the replicated position of its domain. MariaDB's own check at connection time
    (gtid_strict_mode, error 1236) backs this up.
    """
    node = parse_gtid_list(node_state)
    ref = parse_gtid_list(reference_state)
    replicated = domain_positions(reference_slave_pos)
    missing = []
    for (domain, server_id), seq in sorted(node.items()):
        if (domain, server_id) in ref:
            if ref[(domain, server_id)] >= seq:
                continue
        elif replicated.get(domain, (-1, 0))[0] >= seq:
            continue
        missing.append((domain, server_id, seq))
    return missing


def dominates(a, b):
    """True when domain positions a are >= b in every domain of b."""
    pa = domain_positions(a)
    for domain, (seq, _sid) in domain_positions(b).items():
        if pa.get(domain, (-1, 0))[0] < seq:
            return False
    return True


def received_position(replica):
    """What a replica has RECEIVED: the per-domain maximum of Gtid_IO_Pos and gtid_current_pos.

    Gtid_IO_Pos can be empty right after START SLAVE when nothing new arrived; what was
    executed has been received too.
    """
    merged = {}
    for text in (replica.get("gtid_io_pos"), replica.get("gtid_current_pos")):
        for domain, (seq, sid) in domain_positions(text).items():
            if domain not in merged or seq > merged[domain][0]:
                merged[domain] = (seq, sid)
    return ",".join("%d-%d-%d" % (d, sid, seq) for d, (seq, sid) in sorted(merged.items()))


def host_to_node(host, addresses):
    """Map a Master_Host value (address or name) to an inventory name, else return it unchanged."""
    for name, address in addresses.items():
        if host in (name, address):
            return name
    return host


def plan_topology(nodes, inventory_primary, addresses, leader=None, initialized=False):
    """Decide what the mysql role may do on this run. The leader key in etcd names the primary.

    nodes: {name: {"read_only": "ON"|"OFF", "replica": {...}|None, "gtid_binlog_state": str}}
    for every DB node the play reached; leader: the node holding the leader key (None if free);
    initialized: the tier has had a leader before (etcd holds its sync key). Returns a dict:
      primary        node that is (or becomes, on a first deploy) the primary
      bootstrap      True on a first deploy (no topology yet)
      attach         nodes to point at the primary (fresh, empty nodes only)
      keep           replicas already following the primary (left untouched)
      leave          {node: reason} nodes left to the database managers (rejoin or quarantine)
    The role never opens writes: the manager holding the lease does.
    Raises ValueError with an operator-facing message when the role must not proceed.
    """
    replicas = {n: host_to_node(s["replica"].get("Master_Host"), addresses)
                for n, s in nodes.items() if s.get("replica")}
    plan = {"bootstrap": False, "attach": [], "keep": [], "leave": {}}
    if leader:
        plan["primary"] = leader
    elif initialized:
        raise ValueError("no database node holds the leader lease in etcd, and the tier had a primary before: "
                         "the managers are electing one or refuse to (a semi-sync replica is missing, or the "
                         "anti-flap window). Run playbooks/db_status.yml; playbooks/failover.yml "
                         "-e ha_lamp_failover_force=true accepts losing acknowledged writes.")
    else:
        with_data = sorted(n for n, s in nodes.items() if parse_gtid_list(s.get("gtid_binlog_state")))
        if [n for n in with_data if n != inventory_primary]:
            raise ValueError("first deploy, but %s already hold transactions: cannot tell which node is "
                             "authoritative. Reseed them or empty them." % ", ".join(with_data))
        if inventory_primary not in nodes:
            raise ValueError("first deploy needs the initial primary %s in the play" % inventory_primary)
        plan["primary"] = inventory_primary
        plan["bootstrap"] = True
    primary = plan["primary"]
    for name in sorted(nodes):
        if name == primary:
            continue
        state = nodes[name]
        if name in replicas:
            if replicas[name] == primary:
                plan["keep"].append(name)
            else:
                plan["leave"][name] = "replicates from %s, not from the primary %s" % (replicas[name], primary)
        elif not parse_gtid_list(state.get("gtid_binlog_state")):
            plan["attach"].append(name)
        else:
            plan["leave"][name] = "holds its own transactions (%s): its manager rejoins or quarantines it" % (
                state.get("gtid_binlog_state"))
    return plan
