# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Human-readable rendering of a redundancy report (errors first, grouped by tier)."""

from __future__ import annotations

from ansible_collections.onprem.ha_lamp.plugins.module_utils.availability import describe_figures, describe_loss

_TIER_TITLE_ORDER = ("cluster", "loadbalancers", "webservers", "databases", "dcs", "storage", "dr")


def render_findings(findings, severity):
    """Lines for the findings of one severity, grouped by tier in a fixed order."""
    lines = []
    for tier in _TIER_TITLE_ORDER + tuple(sorted({f["tier"] for f in findings} - set(_TIER_TITLE_ORDER))):
        selected = [f for f in findings if f["severity"] == severity and f["tier"] == tier]
        if not selected:
            continue
        lines.append("  [%s]" % tier)
        for finding in selected:
            lines.append("    %s %s" % (finding["rule"], finding["message"]))
    return lines


def render_availability(estimate, max_losses=5):
    """Availability lines: the model, each tier, the stack, the worst single failure-domain loss."""
    lines = ["AVAILABILITY ESTIMATE", "  model: %s" % estimate["model"]]
    rows = []
    for tier, entry in estimate["tiers"].items():
        label = "%5d host(s) in %4d %s(s):" % (entry["hosts"], entry["domains"], estimate["failure_domain"])
        rows.append((tier, label, entry))
    rows.append(("stack", "all tiers:", estimate["stack"]))
    width = max(len(label) for _name, label, _entry in rows)
    for name, label, entry in rows:
        lines.append("  %-14s %*s %s" % (name, width, label, describe_figures(entry)))
    worst = estimate.get("worst_domain_loss")
    if worst is not None:
        lines.append("  worst single failure domain: %s" % describe_loss(worst))
        stopping = [loss for loss in estimate["domain_losses"] if loss["stops"] and loss is not worst]
        for loss in stopping[:max_losses]:
            lines.append("  also: %s" % describe_loss(loss))
        if len(stopping) > max_losses:
            lines.append("  ... and %d more failure domains whose loss stops a tier" % (len(stopping) - max_losses))
    return lines


def render_text(report, include_availability=True):
    """The whole report as text an operator can act on."""
    lines = [
        "Inventory redundancy report: %d error(s), %d warning(s); failure domain: %s; %d cluster hosts"
        % (report["errors"], report["warnings"], report["summary"]["failure_domain"], report["summary"]["hosts"])
    ]
    findings = report["findings"]
    if report["errors"]:
        lines.append("ERRORS (deployment refused until fixed)")
        lines.extend(render_findings(findings, "error"))
    if report["warnings"]:
        lines.append("WARNINGS")
        lines.extend(render_findings(findings, "warning"))
    if include_availability:
        lines.extend(render_availability(report["availability"]))
    return "\n".join(lines)
