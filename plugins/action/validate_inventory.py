# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action onprem.ha_lamp.validate_inventory: the redundancy gate (docs: plugins/modules/validate_inventory.py).

Runs entirely on the controller: it reads ``groups`` and ``hostvars`` from the task variables,
never opens a connection (inventory hosts may not exist yet), fails listing every error, shows
every warning, and returns the report.
"""

from __future__ import annotations

import json
import os

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.onprem.ha_lamp.plugins.module_utils.redundancy import (
    OptionError,
    inventory_from,
    validate,
)
from ansible_collections.onprem.ha_lamp.plugins.module_utils.redundancy_text import render_availability, render_findings

display = Display()

ARGUMENT_SPEC = {
    "report_path": {"type": "path"},
    "host_availability": {"type": "float"},
    "domain_availability": {"type": "float"},
    "failure_domain": {"type": "str", "choices": ["rack", "site"]},
    "fail_on_warnings": {"type": "bool", "default": False},
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False  # the whole point: no inventory host is contacted

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        result["changed"] = False

        options = {key: args[key] for key in ("host_availability", "domain_availability", "failure_domain")}
        try:
            inventory = inventory_from(task_vars.get("groups", {}), task_vars.get("hostvars", {}), options)
            report = validate(inventory)
        except OptionError as exc:
            result.update(failed=True, msg="validate_inventory: %s" % exc)
            return result

        # The text is not returned: on failure the callback prints the whole result, and msg already
        # carries the errors. Callers that want the text use the redundancy_report filter (text=true).
        result["report"] = report

        if args["report_path"]:
            error = self._write_report(args["report_path"], report)
            if error:
                result.update(failed=True, msg=error)
                return result
            result["report_path"] = args["report_path"]

        for finding in report["findings"]:
            if finding["severity"] == "warning":
                display.warning("%s [%s] %s" % (finding["rule"], finding["tier"], finding["message"]))
        summary = report["summary"]
        header = "Inventory redundancy check: %d error(s), %d warning(s); failure domain: %s; %d cluster hosts" % (
            report["errors"],
            report["warnings"],
            summary["failure_domain"],
            summary["hosts"],
        )
        display.display("\n".join([header] + render_availability(report["availability"])))

        blocking = report["errors"] or (args["fail_on_warnings"] and report["warnings"])
        if blocking:
            lines = [
                "Inventory redundancy check failed: %d error(s), %d warning(s). No host was contacted or changed. "
                "Fix every item below and run again." % (report["errors"], report["warnings"])
            ]
            if report["errors"]:
                lines.append("ERRORS")
                lines.extend(render_findings(report["findings"], "error"))
            if args["fail_on_warnings"] and report["warnings"]:
                lines.append("WARNINGS (fail_on_warnings is set)")
                lines.extend(render_findings(report["findings"], "warning"))
            result.update(failed=True, msg="\n".join(lines))
        else:
            result["msg"] = "Inventory redundancy check passed: %d cluster hosts, %d warning(s); stack availability %s" % (
                report["summary"]["hosts"],
                report["warnings"],
                _stack(report),
            )
        return result

    @staticmethod
    def _write_report(path, report):
        """Write the JSON report on the controller; returns an error message or None."""
        try:
            directory = os.path.dirname(os.path.abspath(path))
            os.makedirs(directory, exist_ok=True)
            tmp_path = "%s.tmp.%d" % (path, os.getpid())
            with open(tmp_path, "w", encoding="utf-8") as handle:
                json.dump(report, handle, indent=2, sort_keys=True)
                handle.write("\n")
            os.replace(tmp_path, path)
        except OSError as exc:
            return "validate_inventory: cannot write the report to %s: %s" % (path, exc)
        return None


def _stack(report):
    stack = report["availability"]["stack"]
    nines = stack["nines"]
    return "%.4f%% (%s nines)" % (stack["availability"] * 100, "%.1f" % nines if nines is not None else "many")
