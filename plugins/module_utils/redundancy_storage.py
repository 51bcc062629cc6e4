# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Redundancy rules of the ``storage`` group: the GlusterFS hosts of the shared uploads volume.

The collection builds ONE replica 3 volume with an arbiter: the first two hosts of the group (in
inventory order) carry data bricks, the last one the arbiter brick (file names and metadata only).
Clients use quorum ``auto``: a write needs 2 of the 3 bricks, one of them a data brick. So the group
needs exactly 3 hosts, and no failure domain may hold 2 of them, or losing that domain stops writes.

The group is optional: without it (absent or empty) no rule runs and the web role decides where
uploads live. A host may be in storage and in a tier at once (the lab: web1, web2, db3): storage is
not a tier, so that is no HOST_MULTI_TIER. Missing or invalid ``rack`` on storage hosts is reported
by the common host rules (RACK_MISSING / RACK_INVALID under the storage tier for storage-only hosts).
Plain Python, linear in the number of hosts, never raises.
"""

from __future__ import annotations

from ansible_collections.onprem.ha_lamp.plugins.module_utils.redundancy_model import STORAGE, name_hosts

# Every rule id of this module, with its severity (merged into redundancy.RULES).
STORAGE_RULES = {
    "STORAGE_SIZE": "error",
    "STORAGE_DOMAINS": "error",
    "STORAGE_NO_CLIENTS": "warning",
}

STORAGE_HOSTS = 3  # one replica 3 volume: data, data, arbiter
STORAGE_QUORUM = 2  # client quorum auto on replica 3: more than half of the bricks


def brick_roles(names):
    """Brick role of each host in inventory order: the last of 3 is the arbiter."""
    return {name: ("arbiter" if index == STORAGE_HOSTS - 1 else "data") for index, name in enumerate(names)}


def rule_storage(topo, findings):
    """STORAGE_SIZE, STORAGE_DOMAINS, STORAGE_NO_CLIENTS."""
    if topo.storage_state is not None:
        return  # absent or empty: no storage to judge; malformed: GROUP_MALFORMED already said so
    members = topo.storage_hosts()
    names = [host.name for host in members]
    level = topo.level
    if not topo.tiers.get("webservers"):
        findings.warning(
            "STORAGE_NO_CLIENTS",
            STORAGE,
            names,
            "storage: %s %s the shared uploads volume but there are no webservers to mount it; "
            "add the webservers group, or remove the storage group"
            % (name_hosts(names, topo.limit), "holds" if len(names) == 1 else "hold"),
        )
    if len(names) != STORAGE_HOSTS:
        _size(topo, findings, names, level)
        return  # the spread of a volume that cannot be built means nothing
    _domains(topo, findings, members, level)


def _size(topo, findings, names, level):
    size = len(names)
    if size == 1:
        why = "one host is a single point of failure for every upload"
    elif size == 2:
        why = "two hosts cannot break a tie, so losing one stops writes (or, without quorum, risks split brain)"
    else:
        extra = names[STORAGE_HOSTS:]
        why = "the volume has exactly 3 bricks, so %s would hold none" % name_hosts(extra, topo.limit)
    findings.error(
        "STORAGE_SIZE",
        STORAGE,
        names,
        "storage: %d host%s (%s), but the shared uploads volume is one GlusterFS replica 3 volume with an arbiter "
        "(the first two hosts in inventory order carry the data bricks, the third the arbiter); %s; list exactly 3 "
        "hosts in the storage group, each in a different %s" % (size, "" if size == 1 else "s", name_hosts(names, topo.limit), why, level),
    )


def _domains(topo, findings, members, level):
    plural = "racks" if level == "rack" else "sites"
    roles = brick_roles([host.name for host in members])
    by_domain = {}
    for host in members:
        domain = topo.domain_of(host)
        if domain is not None:  # no rack: RACK_MISSING / RACK_INVALID / VAR_TEMPLATE_ERROR already block
            by_domain.setdefault(domain, []).append(host.name)
    for domain, local in by_domain.items():
        if len(local) < 2:
            continue
        data = [name for name in local if roles[name] == "data"]
        if len(data) == len(local):
            bricks = "%s, both data bricks" % name_hosts(local, topo.limit)
        else:
            bricks = name_hosts(["%s (%s)" % (name, roles[name]) for name in local], topo.limit)
        consequence = "so the volume refuses writes"
        if len(data) == 2:
            consequence += " and no copy of the data is left (the arbiter holds metadata only)"
        findings.error(
            "STORAGE_DOMAINS",
            STORAGE,
            local,
            "storage: %s '%s' (var %s) holds %s of the 3 bricks, %s; losing it leaves %d, short of the client "
            "quorum of %d, %s; place the 3 storage hosts in 3 different %s"
            % (
                level,
                domain,
                level,
                "all" if len(local) == STORAGE_HOSTS else len(local),
                bricks,
                STORAGE_HOSTS - len(local),
                STORAGE_QUORUM,
                consequence,
                plural,
            ),
        )
