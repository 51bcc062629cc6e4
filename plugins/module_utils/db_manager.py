# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Decisions of the database manager (ha-lamp-db-manager), as pure functions.

Each DB node runs one manager. etcd holds the cluster's state under one prefix:

  leader            {"node": ...}, attached to the holder's lease: whoever holds it may write
  members/<node>    each manager's own report (role, positions), attached to its lease
  sync              the replicas connected to the primary as semi-sync clients: any of them may
                    hold the newest acknowledged write, so a failover needs a report from each.
                    Not leased: it must outlive the primary it describes.
  pause             present: no automatic failover (maintenance)
  force_failover    present: the next election may promote without the sync replicas (RPO > 0)
  last_failover     {"at", "from", "to"}: the anti-flap window starts there
  intent            a promotion in progress: the new leader completes it
  switchover        a planned handover requested by switchover.yml: {"to", "id"}
  switchover_result {"id", "ok", "reason"}

The lease is the fencing token. A primary renews it every second; if it cannot for long enough,
it stops answering HAProxy's writer check, then fences itself (read_only, sessions killed),
both before the lease can expire in etcd. Semi-sync never falls back to async
(rpl_semi_sync_master_timeout is effectively infinite), so an isolated primary cannot
acknowledge a write that no replica holds. These functions are unit-tested in
tests/unit/plugins/module_utils/test_db_manager.py; the daemon only does I/O around them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.onprem.ha_lamp.plugins.module_utils.mysql_topology import (  # noqa: F401 (re-exported)
    dominates, missing_gtids, received_position)

KEY_NAMES = ("leader", "sync", "pause", "force_failover", "last_failover", "intent", "switchover",
             "switchover_result")


def prefix_for(cluster):
    return "/ha-lamp/%s/db/" % cluster


def parse_view(items, prefix):
    """Turn Etcd.get_prefix() output into {"revision", "members": {node: kv}, <KEY_NAMES>: kv or None}."""
    view = {"revision": items.get(None, 0), "members": {}}
    for name in KEY_NAMES:
        view[name] = items.get(prefix + name)
    for key, kv in items.items():
        if key and key.startswith(prefix + "members/"):
            view["members"][key[len(prefix + "members/"):]] = kv
    return view


def leader_name(view):
    leader = view.get("leader")
    if not leader or not isinstance(leader.get("value"), dict):
        return None
    return leader["value"].get("node")


def lease_deadlines(renewed_at, ttl, fence_margin, check_window):
    """From the send time of the last successful renewal (this node's monotonic clock):
    (writer_until, fence_at). etcd refreshed the lease after the request was sent, so it cannot
    expire before renewed_at + ttl. The writer check fails first, early enough for HAProxy to mark
    the server DOWN (check_window = inter x fall); the fence comes fence_margin before expiry."""
    fence_at = renewed_at + ttl - fence_margin
    return fence_at - check_window, fence_at


def writer_decision(local, is_leader, opened, now, writer_until):
    """GET /writer: 200 only from the lease holder, inside its lease, writable, replicating from nobody."""
    if local.get("error"):
        return False, "database unreachable: %s" % local["error"]
    if not is_leader:
        return False, "does not hold the leader lease"
    if now >= writer_until:
        return False, "leader lease not renewed in time (fencing)"
    if not opened:
        return False, "leader, promotion not finished"
    if local.get("read_only") != "OFF":
        return False, "read_only is ON"
    if local.get("replica"):
        return False, "replication source configured (%s)" % local["replica"].get("master_host", "?")
    return True, "writable primary, leader lease held"


def reader_decision(local, max_lag, quarantined=False, unknown_for=None, unknown_grace=None):
    """GET /reader. Returns (ok, reason).

    unknown_for: seconds the lag has been unknown (Seconds_Behind_Master NULL while the IO thread
    reconnects, e.g. during a failover). Reads stay served for up to unknown_grace seconds of it
    (default max_lag; the manager passes the lease TTL + max_lag, the longest a failover leaves
    replicas without a source): a failover must not take the read path down as well."""
    if unknown_grace is None:
        unknown_grace = max_lag
    if local.get("error"):
        return False, "database unreachable: %s" % local["error"]
    if quarantined:
        return False, "quarantined (errant transactions)"
    replica = local.get("replica")
    if not replica:
        return False, "not a replica"
    if replica.get("sql_running") != "Yes":
        return False, "SQL thread not running"
    lag = replica.get("lag")
    if lag is None or lag == "":
        if unknown_for is not None and unknown_for <= unknown_grace:
            return True, "replica, lag unknown for %ss (source reconnecting)" % int(unknown_for)
        return False, "lag unknown (Seconds_Behind_Master is NULL)"
    try:
        lag = int(lag)
    except (TypeError, ValueError):
        return False, "lag unknown (%r)" % (lag,)
    if lag > max_lag:
        return False, "lag %ss above bound %ss" % (lag, max_lag)
    return True, "replica, lag %ss" % lag


def member_report(node, local, role, nofailover, leader=None, source=None, errant=""):
    """What a manager publishes about itself under members/<node> (only when it changes)."""
    report = {"node": node, "role": role, "nofailover": bool(nofailover), "leader": leader}
    if local.get("error"):
        report.update(mariadb="down", error=local["error"])
        return report
    rep = local.get("replica") or {}
    report.update(mariadb="up", read_only=local.get("read_only"),
                  gtid_current_pos=local.get("gtid_current_pos", ""),
                  gtid_binlog_pos=local.get("gtid_binlog_pos", ""),
                  gtid_io_pos=rep.get("gtid_io_pos", ""), io_running=rep.get("io_running"),
                  sql_running=rep.get("sql_running"), lag=rep.get("lag"), source=source)
    if errant:
        report["errant"] = errant
    return report


def _received(report):
    return received_position({"gtid_io_pos": report.get("gtid_io_pos", ""),
                              "gtid_current_pos": report.get("gtid_current_pos", "")})


def election(view, me, now, failover_window, bootstrap_hint=None):
    """Who takes the free leader key. Returns (verdict, reason, winner):

    "leader"  a leader exists: no election
    "wait"    not now (paused)
    "refuse"  no node may be promoted automatically (anti-flap, a sync replica missing, diverged
              positions): alert, a person decides (failover.yml -e ha_lamp_failover_force=true)
    "claim"   this node is the winner: take the key (compare-and-swap on the snapshot)
    "other"   another node is the winner: let it take the key
    """
    if leader_name(view):
        return "leader", "leader %s holds the key" % leader_name(view), None
    if view.get("pause"):
        return "wait", "automatic failover is paused", None
    members = {n: kv["value"] for n, kv in view["members"].items() if isinstance(kv.get("value"), dict)}
    forced = bool(view.get("force_failover"))
    last = (view.get("last_failover") or {}).get("value") or {}
    if not forced and last.get("at") is not None and now - float(last["at"]) < failover_window:
        return "refuse", ("anti-flap: the last automatic failover (%s -> %s) was %ds ago, inside "
                          "ha_lamp_db_failover_window (%ss); a person must decide"
                          % (last.get("from"), last.get("to"), now - float(last["at"]), failover_window)), None
    up = {n: r for n, r in members.items() if r.get("mariadb") == "up"}
    # A report written while its author still saw a leader may predate the last acknowledged
    # write it received: wait until every live node has reported since the key disappeared.
    stale = sorted(n for n, r in up.items() if r.get("leader"))
    if stale:
        return "wait", "waiting for %s to report after the leader key disappeared" % ", ".join(stale), None
    sync = ((view.get("sync") or {}).get("value") or {}).get("nodes") or []
    if not forced:
        missing = sorted(n for n in sync if n not in up)
        if missing:
            return "refuse", ("%s may hold the newest acknowledged writes (semi-sync replica of the last "
                              "primary) and %s not reporting: promoting another node could lose them"
                              % (", ".join(missing), "is" if len(missing) == 1 else "are")), None
    candidates = sorted(n for n, r in up.items()
                        if not r.get("nofailover") and r.get("role") != "quarantined" and not r.get("errant"))
    if not candidates:
        return "refuse", "no eligible node reports (up: %s)" % (", ".join(sorted(up)) or "none"), None
    # A quarantined node's extra transactions were never acknowledged (that is why it is
    # quarantined): its position does not count.
    positions = {n: _received(r) for n, r in up.items() if r.get("role") != "quarantined" and not r.get("errant")}
    winners = [c for c in candidates if all(dominates(positions[c], p) for p in positions.values())]
    if not winners:
        return "refuse", ("no eligible node received everything the others received (%s)"
                          % ", ".join("%s=%s" % (n, p or "empty") for n, p in sorted(positions.items()))), None
    winner = sorted(winners, key=lambda n: (n != bootstrap_hint, n))[0]
    reason = "most advanced eligible node (received %s)%s" % (positions[winner] or "nothing",
                                                              "; forced by an operator" if forced else "")
    return ("claim" if winner == me else "other"), reason, winner


def next_sync_set(sync, connected, members, primary_pos):
    """The sync set the primary publishes next, from the one in etcd (`sync`: {"nodes", "pending"}).

    A replica joins as soon as it is connected. A replica that disconnected may still hold the
    newest acknowledged write, so it leaves only once a connected replica has received everything
    the primary had written when the disconnect was first seen (`pending` keeps that position).
    """
    nodes = set((sync or {}).get("nodes") or [])
    pending = dict((sync or {}).get("pending") or {})
    connected = set(connected)
    for node in sorted(nodes - connected):
        pending.setdefault(node, primary_pos)
    for node in list(pending):
        if node in connected:
            del pending[node]
            continue
        covered = [c for c in connected if isinstance(members.get(c), dict)
                   and dominates(_received(members[c]), pending[node])]
        if covered:
            nodes.discard(node)
            del pending[node]
    return {"nodes": sorted(nodes | connected), "pending": pending}


def claim_compares(view, prefix):
    """Compare-and-swap conditions of a claim: the key is still free and no member report
    changed since the snapshot the election was computed from."""
    from ansible_collections.onprem.ha_lamp.plugins.module_utils.dcs import absent, mod_revision_is
    compares = [absent(prefix + "leader")]
    for node, kv in sorted(view["members"].items()):
        compares.append(mod_revision_is(prefix + "members/" + node, kv["mod_revision"]))
    return compares


def rejoin_verdict(local, leader_state):
    """May this node replicate from the leader? Returns (ok, errant_text)."""
    errant = missing_gtids(local.get("gtid_binlog_state", ""), leader_state.get("gtid_binlog_state", ""),
                           leader_state.get("gtid_slave_pos", ""))
    if errant:
        return False, ",".join("%d-%d-%d" % e for e in errant)
    return True, ""


def switchover_check(view, target, leader):
    """Is `target` a replica that may take a planned handover now? Returns a problem or None."""
    kv = view["members"].get(target)
    report = kv.get("value") if kv else None
    if not isinstance(report, dict):
        return "%s is not a reporting database member" % target
    if target == leader:
        return "%s is already the primary" % target
    if report.get("nofailover"):
        return "%s is marked ha_lamp_db_nofailover" % target
    if report.get("mariadb") != "up":
        return "%s: MariaDB is down" % target
    if report.get("role") != "replica" or report.get("source") != leader:
        return "%s does not replicate from the primary %s (role %s, source %s)" % (
            target, leader, report.get("role"), report.get("source"))
    if report.get("io_running") != "Yes" or report.get("sql_running") != "Yes":
        return "%s: replication threads not running (IO %s, SQL %s)" % (
            target, report.get("io_running"), report.get("sql_running"))
    return None


def switchover_unsettled(view, target, previous=None):
    """After a handover from `previous` to `target`: what is still missing before `previous` may be taken
    down, or None. The new primary must hold the leader key and take writes, and a replica must already
    follow it, one other than `previous` when the tier has another replica: commits wait for a semi-sync
    replica's acknowledgement, so restarting `previous` while it is the only follower blocks them until
    another replica has repointed."""
    leader = leader_name(view)
    if leader != target:
        return "the leader key is held by %s, not %s" % (leader or "nobody", target)
    report = (view["members"].get(target) or {}).get("value")
    role = report.get("role") if isinstance(report, dict) else None
    if role != "primary":
        return "%s has not opened writes yet (role %s)" % (target, role)
    reports = {n: kv.get("value") for n, kv in view["members"].items() if n != target and isinstance(kv.get("value"), dict)}
    followers = [n for n, r in reports.items()
                 if r.get("role") == "replica" and r.get("source") == target and r.get("io_running") == "Yes"]
    # The other replicas (a quarantined or down node never follows anyone): one of them must follow.
    others = [n for n, r in reports.items() if n != previous and r.get("mariadb") == "up" and r.get("role") == "replica"]
    if previous and others and not set(followers) - {previous}:
        return "no replica besides %s replicates from %s yet (replicas: %s)" % (previous, target, ", ".join(sorted(others)))
    if not followers:
        return "no replica replicates from %s yet" % target
    return None


def choose_switchover_target(view, leader):
    """The eligible replica that received the most (ties: name), or None."""
    eligible = sorted(n for n in view["members"] if switchover_check(view, n, leader) is None)
    positions = {n: _received(view["members"][n]["value"]) for n in eligible}
    for name in eligible:
        if all(dominates(positions[name], p) for p in positions.values()):
            return name
    return eligible[0] if eligible else None


def event(name, node, **fields):
    """One notification: journal line and webhook body."""
    body = {"event": name, "node": node}
    body.update({k: v for k, v in fields.items() if v is not None})
    return body
