# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Timeline picture of one drill: requests/s and writes/s (ok vs failed) around the fault.

Uses matplotlib's object API with the Agg canvas directly (no pyplot): no display needed, no
global figure state, safe to call from a module or a test on a headless controller.
"""

from __future__ import absolute_import, division, print_function

from ansible_collections.onprem.ha_lamp.plugins.module_utils.drill_report import (
    of_kind,
    rate_series,
)

try:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    HAS_MATPLOTLIB = True
except ImportError:
    HAS_MATPLOTLIB = False

__metaclass__ = type

MATPLOTLIB_MISSING_MSG = (
    "matplotlib is required to draw drill timelines on the controller; "
    "install python3-matplotlib or 'pip install matplotlib', or set timeline: false"
)

_OK_COLOR = "#2e7d32"
_ERR_COLOR = "#c62828"


def _origin(events, fault_at):
    """x = 0 at the fault when there is one, else at the first event."""
    if fault_at is not None:
        return fault_at
    sent = [e["t_sent"] for e in events if "t_sent" in e]
    return min(sent) if sent else 0.0


def _panel(ax, series, bucket_s, title, unit):
    xs = [p["t"] for p in series]
    ok = [p["ok"] / bucket_s for p in series]
    err = [p["error"] / bucket_s for p in series]
    if series:
        ax.bar(xs, ok, width=bucket_s, align="edge", color=_OK_COLOR, label="ok", linewidth=0)
        ax.bar(xs, err, width=bucket_s, align="edge", bottom=ok, color=_ERR_COLOR,
               label="failed", linewidth=0)
        # Headroom for the outage strip drawn along the top edge.
        ax.set_ylim(0, max(o + e for o, e in zip(ok, err)) * 1.15 or 1.0)
    else:
        ax.text(0.5, 0.5, "no %s recorded" % unit, transform=ax.transAxes, ha="center", va="center")
    ax.set_ylabel("%s/s (by send time)" % unit)
    ax.set_title(title, fontsize=10, loc="left")
    ax.grid(True, axis="y", alpha=0.3)


def _marks(ax, marks, t0, x_range):
    """Draw each mark inside the probe's window as a line; list later ones (a restore that ends
    minutes after the probe stopped) in the legend only, so they do not squeeze the outage."""
    for label, when, color in marks:
        if when is None:
            continue
        x = when - t0
        if x_range[0] <= x <= x_range[1]:
            ax.axvline(x, color=color, linestyle="--", linewidth=1.2, label=label)
        else:
            ax.plot([], [], color=color, linestyle=":", linewidth=1.2, label="%s (%+.0f s, outside the probe)" % (label, x))


def _windows(ax, windows, t0, end_x):
    for window in windows or []:
        end = window["end"] if window["end"] is not None else end_x + t0
        # Light shading behind the bars plus a solid strip on top, visible even over full bars.
        ax.axvspan(window["start"] - t0, end - t0, color=_ERR_COLOR, alpha=0.12, linewidth=0)
        ax.axvspan(window["start"] - t0, end - t0, ymin=0.96, ymax=1.0, color=_ERR_COLOR, alpha=0.8,
                   linewidth=0, zorder=3)


def render_timeline(path, report, events, bucket_s=1.0, extra_marks=None):
    """Write a PNG timeline for one drill report (as built by drill_report.build_report).

    extra_marks: optional list of {"label": str, "t": epoch} drawn as grey dashed lines
    (e.g. "old primary back", "network healed").
    """
    if not HAS_MATPLOTLIB:
        raise RuntimeError(MATPLOTLIB_MISSING_MSG)
    fault_at = report.get("fault_at")
    t0 = _origin(events, fault_at)
    http = of_kind(events, "http")
    writes = of_kind(events, "write")
    http_series = rate_series(http, t0, bucket_s)
    write_series = rate_series(writes, t0, bucket_s)
    end_x = max([p["t"] + bucket_s for p in http_series + write_series] or [1.0])
    start_x = min([p["t"] for p in http_series + write_series] or [0.0])

    marks = [("fault", fault_at, _ERR_COLOR), ("recovery", report.get("recovery_at"), "#1565c0")]
    for mark in extra_marks or []:
        marks.append((mark.get("label", "mark"), mark.get("t"), "#616161"))

    fig = Figure(figsize=(11, 6), dpi=100)
    FigureCanvasAgg(fig)
    ax_http, ax_db = fig.subplots(2, 1, sharex=True)
    _panel(ax_http, http_series, bucket_s, "HTTP requests through the VIP", "requests")
    _panel(ax_db, write_series, bucket_s, "Database writes through the writer port", "writes")
    _windows(ax_http, report.get("outage_windows"), t0, end_x)
    _windows(ax_db, report.get("write_outage_windows"), t0, end_x)
    for ax in (ax_http, ax_db):
        _marks(ax, marks, t0, (start_x, end_x))
    ax_db.set_xlim(min(start_x, 0.0) - bucket_s, end_x + bucket_s)
    if ax_http.get_legend_handles_labels()[0]:
        ax_http.legend(loc="upper right", fontsize=8)
    ax_db.set_xlabel("seconds from %s" % ("fault" if fault_at is not None else "probe start"))

    rto = report.get("rto_s")
    if report.get("status") == "not_recovered":
        rto_text = "RTO: not recovered"
    elif rto is None:
        rto_text = "RTO: n/a"
    else:
        rto_text = "RTO %.2f s" % rto
    if writes:
        write_rto = report.get("write_rto_s")
        if report.get("write_status") == "not_recovered":
            rto_text += " (writes: not recovered)"
        elif write_rto is not None:
            rto_text += " (writes %.2f s)" % write_rto
    lost = report.get("lost_writes")
    fig.suptitle("Drill %s: %s, %s failed requests, lost writes %s"
                 % (report.get("name"), rto_text, report.get("failed_requests"),
                    "unverified" if lost is None else lost), fontsize=12)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    fig.savefig(path, format="png")
    return path
