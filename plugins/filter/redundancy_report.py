# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter onprem.ha_lamp.redundancy_report: thin wrapper around module_utils/redundancy.py.

Documentation lives in the YAML sidecar redundancy_report.yml.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.onprem.ha_lamp.plugins.module_utils.redundancy import (
    OptionError,
    inventory_from,
    render_text,
    validate,
)


def redundancy_report(groups, hostvars, host_availability=None, domain_availability=None, failure_domain=None, text=False):
    """Return the redundancy report for ``groups`` and ``hostvars`` (see redundancy_report.yml)."""
    options = {
        "host_availability": host_availability,
        "domain_availability": domain_availability,
        "failure_domain": failure_domain,
    }
    try:
        report = validate(inventory_from(groups, hostvars, options))
    except OptionError as exc:
        raise AnsibleFilterError("redundancy_report: %s" % exc) from exc
    if text:
        report["text"] = render_text(report)
    return report


class FilterModule:
    """onprem.ha_lamp redundancy filters."""

    def filters(self):
        return {"redundancy_report": redundancy_report}
