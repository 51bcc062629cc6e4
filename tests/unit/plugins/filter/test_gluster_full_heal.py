# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The onprem.ha_lamp.gluster_full_heal filter: a thin wrapper over module_utils/gluster_heal (tested there),
on the same lab output.

    .venv/bin/python -m pytest -q tests/unit/plugins/filter/test_gluster_full_heal.py
"""

import os

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.onprem.ha_lamp.plugins.filter.gluster_full_heal import FilterModule, gluster_full_heal

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "module_utils", "fixtures", "gluster_heal_statistics.txt")
with open(FIXTURE, encoding="utf-8") as f:
    LAB = f.read()


def test_filter_takes_a_command_start_and_counts_the_request_second():
    assert FilterModule().filters()["gluster_full_heal"] is gluster_full_heal
    # 17:08:36.9 on the leader: the crawl that started at 17:08:36 counts
    assert gluster_full_heal(LAB, "2026-12-04 17:08:36.912345")["state"] == "done"
    assert gluster_full_heal(LAB, "2026-12-04 17:07:12.000001")["state"] == "failed"


@pytest.mark.parametrize("statistics,since,message", [
    (None, "2026-12-04 17:08:36.912345",
     "gluster_full_heal: the input must be the text of gluster volume heal VOL statistics, got NoneType"),
    (LAB, "17:08:36", "gluster_full_heal: since must be a command result's start (YYYY-MM-DD HH:MM:SS.ffffff), got '17:08:36'"),
    ("volume heal: failed", "2026-12-04 17:08:36.912345",
     "gluster_full_heal: no 'Crawl statistics for brick no N' section in the output of gluster volume heal VOL "
     "statistics: 'volume heal: failed'"),
])
def test_filter_errors(statistics, since, message):
    with pytest.raises(AnsibleFilterError) as err:
        gluster_full_heal(statistics, since)
    assert str(err.value) == message
