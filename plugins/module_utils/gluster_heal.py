# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Has a full self-heal finished on every brick? Read from `gluster volume heal VOL statistics`.

`heal VOL full` only starts the crawls, and `heal VOL info` lists the index of changes: a brick recreated
empty is missing files the index never recorded, so it shows 0 entries while the full crawl still runs,
and also after a crawl that failed (a self-heal daemon not yet connected to the new brick). The
statistics list, per brick, each crawl's start, end, type and counts; a full heal is done when the FULL
crawls that started at or after the request have ended and failed no entry.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
from datetime import datetime

# How the gluster CLI prints the crawl times (ctime's format, in the bricks' hosts' clock).
TIME_FORMAT = "%a %b %d %H:%M:%S %Y"
_BRICK = re.compile(r"^Crawl statistics for brick no (\d+)\s*$", re.M)
_HOST = re.compile(r"^Hostname of brick (\S+)", re.M)
_CRAWL = re.compile(
    r"Starting time of crawl: *(?P<start>[^\n]*?) *\n\s*"
    r"Ending time of crawl: *(?P<end>[^\n]*?) *\n\s*"
    r"Type of crawl: *(?P<type>\w+)\s*\n\s*"
    r"No\. of entries healed: *(?P<healed>\d+)\s*\n\s*"
    r"No\. of entries in split-brain: *(?P<split_brain>\d+)\s*\n\s*"
    r"No\. of heal failed entries: *(?P<failed>\d+)")


class HealParseError(ValueError):
    """The statistics do not read as the gluster CLI prints them."""


def parse_time(text):
    """A crawl time, or None when it is not one ("Crawl is in progress" and the like)."""
    try:
        return datetime.strptime(text.strip(), TIME_FORMAT)
    except ValueError:
        return None


def bricks(statistics):
    """[{"brick": N, "host": ADDRESS, "crawls": [{"start", "end", "type", "healed", "split_brain", "failed"}]}]"""
    found = []
    marks = list(_BRICK.finditer(statistics))
    for index, mark in enumerate(marks):
        block = statistics[mark.end():marks[index + 1].start() if index + 1 < len(marks) else len(statistics)]
        host = _HOST.search(block)
        crawls = [dict(m.groupdict(), start=parse_time(m.group("start")), end=parse_time(m.group("end")),
                       healed=int(m.group("healed")), split_brain=int(m.group("split_brain")),
                       failed=int(m.group("failed")))
                  for m in _CRAWL.finditer(block)]
        found.append({"brick": int(mark.group(1)), "host": host.group(1) if host else "", "crawls": crawls})
    if not found:
        raise HealParseError("no 'Crawl statistics for brick no N' section in the output of gluster volume heal "
                             "VOL statistics: %r" % statistics[:200])
    return found


def full_heal_state(statistics, since):
    """The full heal requested at `since` (a datetime, in the bricks' clock):

    {"state": "done" | "running" | "failed", "crawls": ["brick N (HOST): what its full crawl since says"]}
    One self-heal daemon of a replica set crawls it, on its own brick, so the crawls since the request
    count wherever they are: "running" while there is none, or one has not ended; "failed" when one
    ended with a failed entry (request the heal again: a daemon not yet connected to a recreated brick
    fails its entries); "done" when every one ended with none failed."""
    states, report = [], []
    for brick in bricks(statistics):
        for crawl in brick["crawls"]:
            if crawl["type"] != "FULL" or crawl["start"] is None or crawl["start"] < since:
                continue
            name = "brick %d (%s)" % (brick["brick"], brick["host"])
            started = crawl["start"].strftime(TIME_FORMAT)
            if crawl["end"] is None:
                states.append("running")
                report.append("%s: full crawl started %s, not ended" % (name, started))
            else:
                states.append("failed" if crawl["failed"] else "done")
                report.append("%s: full crawl started %s, ended %s: %d healed, %d failed" % (
                    name, started, crawl["end"].strftime(TIME_FORMAT), crawl["healed"], crawl["failed"]))
    if not states:
        return {"state": "running", "crawls": ["no full crawl started since %s" % since.strftime(TIME_FORMAT)]}
    state = "running" if "running" in states else ("failed" if "failed" in states else "done")
    return {"state": state, "crawls": report}
