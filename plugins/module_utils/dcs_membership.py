# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Which etcd membership change to make, one at a time, and whether the cluster keeps its quorum.

etcd changes its membership one member at a time (runtime reconfiguration): a member is added before
it starts, and removed before its replacement is added. Each change alters the quorum, so each is
checked against the members that answer now: a change that would leave fewer answering members than
the new quorum would stop the cluster, and is refused instead (etcd's own strict-reconfig-check does
the same for additions; the refusal here names the members).

Plain data in, plain data out: the module etcd_member does the HTTP calls.
A member is a dict as etcd's member/list returns it: ID (string), name ("" until it has started),
peerURLs, clientURLs.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class MembershipError(Exception):
    """The change is refused; the message says why and names the members."""


def quorum(size):
    return size // 2 + 1


def describe(member):
    return member.get("name") or "unstarted member %s" % ",".join(member.get("peerURLs") or [])


def started(member):
    return bool(member.get("name"))


def find(members, name, peer_url):
    """(member named `name`, member advertising `peer_url`); either may be None."""
    by_name = next((m for m in members if m.get("name") == name), None)
    by_peer = next((m for m in members if peer_url in (m.get("peerURLs") or [])), None)
    return by_name, by_peer


def check_quorum(members, answering, change, new_size, leaving=None):
    """Refuse the change when the members that answer (and stay) are fewer than the new quorum."""
    staying = [m for m in members if m is not leaving]
    up = sorted(describe(m) for m in staying if m.get("ID") in answering)
    down = sorted(describe(m) for m in staying if m.get("ID") not in answering)
    if len(up) < quorum(new_size):
        raise MembershipError(
            "refusing to %s: the cluster would have %d member(s), which need %d answering for a quorum, "
            "but only %d answer (%s); not answering: %s. Bring those members back first."
            % (change, new_size, quorum(new_size), len(up), ", ".join(up) or "none", ", ".join(down) or "none"))


def plan_present(members, answering, name, peer_url, replace):
    """The next step to make `name` at `peer_url` a member: a list of actions, empty when done.

    replace: the host `name` has no etcd data (a new server under an old name), so a started member
    with that name is the lost one and must be removed before the new one is added.
    """
    by_name, by_peer = find(members, name, peer_url)
    if by_peer is not None and by_peer.get("name") not in ("", name):
        raise MembershipError("refusing to add %s: its peer URL %s belongs to member %s"
                              % (name, peer_url, by_peer["name"]))
    if by_name is not None and peer_url not in (by_name.get("peerURLs") or []):
        raise MembershipError(
            "refusing to add %s at %s: a member with that name advertises %s. Remove it first "
            "(remove_node.yml), or keep the address." % (name, peer_url, ",".join(by_name.get("peerURLs") or [])))
    pending = [m for m in members if not started(m) and m is not by_peer]
    if pending:
        raise MembershipError("refusing to add %s: %s was added but never started; start it or remove it first "
                              "(one membership change at a time)" % (name, describe(pending[0])))
    if by_name is not None and replace:
        if by_name.get("ID") in answering:
            raise MembershipError(
                "refusing to replace etcd member %s: it still answers at %s, yet its host has no etcd data. "
                "Is the inventory address right?" % (name, ",".join(by_name.get("clientURLs") or [])))
        check_quorum(members, answering, "remove the lost member %s" % name, len(members) - 1, leaving=by_name)
        rest = [m for m in members if m is not by_name]
        check_quorum(rest, answering, "add %s back" % name, len(members))
        return [{"action": "remove", "id": by_name["ID"], "name": name}, {"action": "add", "name": name}]
    if by_name is not None or by_peer is not None:
        return []
    check_quorum(members, answering, "add %s" % name, len(members) + 1)
    return [{"action": "add", "name": name}]


def plan_absent(members, answering, name):
    """The step that takes `name` out of the cluster: a list of actions, empty when it is not a member."""
    member = next((m for m in members if m.get("name") == name), None)
    if member is None:
        return []
    if len(members) == 1:
        raise MembershipError("refusing to remove %s: it is the cluster's last member" % name)
    check_quorum(members, answering, "remove %s" % name, len(members) - 1, leaving=member)
    return [{"action": "remove", "id": member["ID"], "name": name}]


def initial_cluster(members, name, peer_url):
    """ETCD_INITIAL_CLUSTER for the member `name` joining `members` (after its member add): every
    started member by its name, the joining one (unstarted, so nameless) by `name`, sorted by name."""
    entries = []
    for member in members:
        member_name = member.get("name") or (name if peer_url in (member.get("peerURLs") or []) else "")
        if not member_name:
            raise MembershipError("cannot build the initial cluster: %s is neither started nor %s"
                                  % (describe(member), name))
        for url in member.get("peerURLs") or []:
            entries.append("%s=%s" % (member_name, url))
    return ",".join(sorted(entries))
