# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests for module_utils/gluster_heal.py (the filter's wrapper: tests/unit/plugins/filter).

The fixture is `gluster volume heal ha_lamp_uploads statistics` from the lab (GlusterFS 10.3) after a brick
host was replaced: brick 2's self-heal daemon ran the full crawls, the first two failed 3 entries (the
daemon was not yet connected to the recreated brick 1), the third healed them.
"""

import os
from datetime import datetime

import pytest
from ansible_collections.onprem.ha_lamp.plugins.module_utils import gluster_heal as gh

with open(os.path.join(os.path.dirname(__file__), "fixtures", "gluster_heal_statistics.txt"), encoding="utf-8") as f:
    LAB = f.read()

IN_PROGRESS = """Gathering crawl statistics on volume v has been successful
------------------------------------------------

Crawl statistics for brick no 0
Hostname of brick 10.0.0.1

Starting time of crawl: Fri Dec  4 17:10:00 2026

Ending time of crawl: Crawl is in progress

Type of crawl: FULL
No. of entries healed: 12
No. of entries in split-brain: 0
No. of heal failed entries: 0
------------------------------------------------

Crawl statistics for brick no 1
Hostname of brick 10.0.0.2
"""


def at(text):
    return datetime.strptime(text, gh.TIME_FORMAT)


def test_bricks_reads_every_brick_and_crawl():
    found = gh.bricks(LAB)
    assert [(b["brick"], b["host"], len(b["crawls"])) for b in found] == [
        (0, "10.213.77.21", 4), (1, "10.213.77.22", 1), (2, "10.213.77.33", 7)]
    assert found[2]["crawls"][1] == {"start": at("Fri Dec  4 17:04:07 2026"), "end": at("Fri Dec  4 17:04:08 2026"),
                                     "type": "FULL", "healed": 0, "split_brain": 0, "failed": 3}


@pytest.mark.parametrize("since,state,crawls", [
    # the role's first request: the daemon was not yet connected to the new brick
    ("Fri Dec  4 17:07:12 2026", "failed", [
        "brick 2 (10.213.77.33): full crawl started Fri Dec 04 17:07:12 2026, ended Fri Dec 04 17:07:12 2026: 0 healed, 3 failed",
        "brick 2 (10.213.77.33): full crawl started Fri Dec 04 17:08:36 2026, ended Fri Dec 04 17:08:36 2026: 3 healed, 0 failed",
        "brick 2 (10.213.77.33): full crawl started Fri Dec 04 17:09:01 2026, ended Fri Dec 04 17:09:01 2026: 0 healed, 0 failed"]),
    # requested again: healed
    ("Fri Dec  4 17:08:36 2026", "done", [
        "brick 2 (10.213.77.33): full crawl started Fri Dec 04 17:08:36 2026, ended Fri Dec 04 17:08:36 2026: 3 healed, 0 failed",
        "brick 2 (10.213.77.33): full crawl started Fri Dec 04 17:09:01 2026, ended Fri Dec 04 17:09:01 2026: 0 healed, 0 failed"]),
    # requested, no crawl yet
    ("Fri Dec  4 17:09:02 2026", "running", ["no full crawl started since Fri Dec 04 17:09:02 2026"]),
])
def test_full_heal_state_on_the_lab_output(since, state, crawls):
    assert gh.full_heal_state(LAB, at(since)) == {"state": state, "crawls": crawls}


def test_a_crawl_in_progress_is_running_and_an_older_one_is_ignored():
    assert gh.full_heal_state(IN_PROGRESS, at("Fri Dec  4 17:10:00 2026")) == {
        "state": "running",
        "crawls": ["brick 0 (10.0.0.1): full crawl started Fri Dec 04 17:10:00 2026, not ended"]}
    assert gh.full_heal_state(IN_PROGRESS, at("Fri Dec  4 17:10:01 2026"))["state"] == "running"


def test_running_wins_over_failed_and_failed_over_done():
    two = LAB.replace("Ending time of crawl: Fri Dec  4 17:09:01 2026", "Ending time of crawl: Crawl is in progress")
    assert gh.full_heal_state(two, at("Fri Dec  4 17:07:12 2026"))["state"] == "running"


@pytest.mark.parametrize("text", ["", "Volume ha_lamp_uploads does not exist", "Launching heal operation ... has been successful"])
def test_output_without_brick_sections_is_refused(text):
    with pytest.raises(gh.HealParseError) as err:
        gh.bricks(text)
    assert str(err.value) == ("no 'Crawl statistics for brick no N' section in the output of gluster volume heal VOL "
                              "statistics: %r" % text[:200])


def test_parse_time():
    assert gh.parse_time(" Fri Dec  4 17:09:01 2026 ") == at("Fri Dec  4 17:09:01 2026")
    assert gh.parse_time("Crawl is in progress") is None
    assert gh.parse_time("") is None
