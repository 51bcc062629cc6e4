# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter onprem.ha_lamp.site_members: thin wrapper around module_utils/sites.py.

Documentation lives in the YAML sidecar site_members.yml.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.onprem.ha_lamp.plugins.module_utils.sites import SiteMembersError
from ansible_collections.onprem.ha_lamp.plugins.module_utils.sites import site_members as _site_members


def site_members(hosts, hostvars, host):
    """The hosts of the list on the same site as ``host``: the DR site or the main site (see site_members.yml)."""
    try:
        return _site_members(hosts, hostvars, host)
    except SiteMembersError as exc:
        raise AnsibleFilterError("site_members: %s" % exc) from exc


class FilterModule:
    """onprem.ha_lamp site filters."""

    def filters(self):
        return {"site_members": site_members}
