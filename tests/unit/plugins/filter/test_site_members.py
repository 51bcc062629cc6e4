# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The onprem.ha_lamp.site_members filter: a thin wrapper over module_utils/sites (tested there).

    .venv/bin/python -m pytest -q tests/unit/plugins/filter/test_site_members.py
"""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.onprem.ha_lamp.plugins.filter.site_members import FilterModule, site_members

HOSTVARS = {
    "db1": {"rack": "r1"},
    "db2": {"rack": "r2", "site": "a"},
    "dbdr1": {"rack": "dr-r1", "site": "dr"},
    "dbsb1": {"rack": "sb-r1", "site": "standby", "ha_lamp_dr_site": "standby"},
}
DBS = ["db1", "db2", "dbdr1", "dbsb1"]


def test_filter_returns_the_hosts_of_the_same_site():
    assert FilterModule().filters()["site_members"] is site_members
    assert site_members(DBS, HOSTVARS, "db1") == ["db1", "db2", "dbsb1"]
    assert site_members(DBS, HOSTVARS, "dbdr1") == ["dbdr1"]
    # dbsb1 names the DR site 'standby': from its side, dbdr1 is a main-site host like db1 and db2
    assert site_members(DBS, HOSTVARS, "dbsb1") == ["dbsb1"]


@pytest.mark.parametrize("hosts,host,message", [
    (DBS, "db9", "site_members: host 'db9' is not in hostvars: name an inventory host (inventory_hostname)"),
    ("db1", "db1", "site_members: the hosts must be a list of inventory host names (e.g. groups['databases']), got a string ('db1')"),
    (["db1", "db9"], "db1", "site_members: entry 1 of the hosts, 'db9', is not in hostvars: list inventory hosts only"),
])
def test_bad_input_is_a_filter_error(hosts, host, message):
    with pytest.raises(AnsibleFilterError) as err:
        site_members(hosts, HOSTVARS, host)
    assert str(err.value) == message


def test_bad_dr_site_name_is_a_filter_error():
    hostvars = dict(HOSTVARS, db1={"ha_lamp_dr_site": 7})
    with pytest.raises(AnsibleFilterError) as err:
        site_members(DBS, hostvars, "db1")
    assert str(err.value) == (
        "site_members: ha_lamp_dr_site of db1 is an integer (7), not a site name; set it to the site of the DR site's hosts "
        "(var site; default 'dr'), a non-empty string without surrounding spaces, or leave it unset"
    )
