# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter onprem.ha_lamp.packages_missing: thin wrapper around module_utils/packages.py.

Documentation lives in the YAML sidecar packages_missing.yml.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.onprem.ha_lamp.plugins.module_utils.packages import PackageSpecError, missing


def packages_missing(wanted, installed=None):
    """The packages of ``wanted`` that ``installed`` (ansible_facts.packages) does not show (see packages_missing.yml)."""
    try:
        return missing(wanted, installed)
    except PackageSpecError as exc:
        raise AnsibleFilterError("packages_missing: %s" % exc) from exc


class FilterModule:
    """onprem.ha_lamp package filters."""

    def filters(self):
        return {"packages_missing": packages_missing}
