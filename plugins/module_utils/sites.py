# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Which hosts of a group are on the same site as a given host: the main site or the DR site (issue 18).

An inventory may hold a disaster-recovery site beside the main one: hosts whose ``site`` is exactly
``ha_lamp_dr_site`` (default ``dr``) inside the usual groups. Every other host, with or without
``site`` (the main site may itself span several sites), is the main site. The roles read their peers
of a tier (HAProxy's backends, keepalived's peers, the etcd members, the database cluster, the GlusterFS
bricks, Prometheus' targets, the firewall's peer addresses) through the site_members filter, so each
site's hosts see their own site only, and a one-site inventory gives exactly the lists it gave before.

The split is the validator's (redundancy_model: DR_SITE_VAR, dr_site_name, is_site_name, in_dr_site).
The DR site's name is read from the given host's variables; the validator refuses an inventory whose
hosts disagree on it (CLUSTER_VAR_CONFLICT). Plain Python, never imports Ansible: ``hostvars`` is any
mapping of host name to a mapping of its variables (Ansible's hostvars, or a dict in the unit tests).
"""

from __future__ import annotations

from collections.abc import Mapping

from ansible_collections.onprem.ha_lamp.plugins.module_utils.redundancy_model import (
    DR_SITE_NAME_FIX,
    DR_SITE_VAR,
    dr_site_name,
    in_dr_site,
    is_site_name,
    show,
    type_name,
)


class SiteMembersError(ValueError):
    """The hosts, hostvars, host or the DR site's name are not what the filter takes."""


def site_members(hosts, hostvars, host):
    """The entries of ``hosts`` on ``host``'s side (the DR site or the main site), in their order.

    ``hosts`` is a list of inventory host names (``groups['databases']``), ``hostvars`` Ansible's
    hostvars and ``host`` the host whose side counts (``inventory_hostname``). Raises SiteMembersError
    naming the offending host, variable or value.
    """
    if not isinstance(hostvars, Mapping):
        raise SiteMembersError("hostvars must be the mapping of host name to variables (hostvars), got %s" % type_name(hostvars))
    if not isinstance(host, str) or not host:
        raise SiteMembersError("the host must be an inventory host name (inventory_hostname), got %s (%s)" % (type_name(host), show(host)))
    if host not in hostvars:
        raise SiteMembersError("host '%s' is not in hostvars: name an inventory host (inventory_hostname)" % host)
    if not isinstance(hosts, (list, tuple)):
        raise SiteMembersError(
            "the hosts must be a list of inventory host names (e.g. groups['databases']), got %s (%s)" % (type_name(hosts), show(hosts))
        )
    own = _variables(hostvars, host)
    dr_site = dr_site_name(own.get(DR_SITE_VAR))
    if not is_site_name(dr_site):
        raise SiteMembersError(
            "%s of %s is %s (%s), not a site name; %s" % (DR_SITE_VAR, host, type_name(dr_site), show(dr_site), DR_SITE_NAME_FIX)
        )
    side = in_dr_site(own, dr_site)
    members = []
    for index, name in enumerate(hosts):
        if not isinstance(name, str) or not name:
            raise SiteMembersError("entry %d of the hosts is %s (%s), not an inventory host name" % (index, type_name(name), show(name)))
        if name not in hostvars:
            raise SiteMembersError("entry %d of the hosts, '%s', is not in hostvars: list inventory hosts only" % (index, name))
        if in_dr_site(_variables(hostvars, name), dr_site) == side:
            members.append(name)
    return members


def _variables(hostvars, name):
    variables = hostvars[name]
    if not isinstance(variables, Mapping):
        raise SiteMembersError("hostvars['%s'] is %s, not a mapping of variables" % (name, type_name(variables)))
    return variables
