# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter onprem.ha_lamp.gluster_full_heal: thin wrapper around module_utils/gluster_heal.py.

Documentation lives in the YAML sidecar gluster_full_heal.yml.
"""

from __future__ import annotations

from datetime import datetime

from ansible.errors import AnsibleFilterError

from ansible_collections.onprem.ha_lamp.plugins.module_utils.gluster_heal import HealParseError, full_heal_state

# The format of a command result's `start` (ansible.builtin.command).
SINCE_FORMAT = "%Y-%m-%d %H:%M:%S.%f"


def gluster_full_heal(statistics, since):
    """The state of the full heal requested at ``since`` (see gluster_full_heal.yml)."""
    if not isinstance(statistics, str):
        raise AnsibleFilterError("gluster_full_heal: the input must be the text of gluster volume heal VOL statistics, "
                                 "got %s" % type(statistics).__name__)
    try:
        # Crawl times have whole seconds: a crawl started in the request's second counts.
        requested = datetime.strptime(str(since), SINCE_FORMAT).replace(microsecond=0)
    except ValueError:
        raise AnsibleFilterError("gluster_full_heal: since must be a command result's start "
                                 "(YYYY-MM-DD HH:MM:SS.ffffff), got %r" % (since,)) from None
    try:
        return full_heal_state(statistics, requested)
    except HealParseError as exc:
        raise AnsibleFilterError("gluster_full_heal: %s" % exc) from exc


class FilterModule:
    """onprem.ha_lamp GlusterFS filters."""

    def filters(self):
        return {"gluster_full_heal": gluster_full_heal}
