# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The onprem.ha_lamp.packages_missing filter: a thin wrapper over module_utils/packages (tested there).

    .venv/bin/python -m pytest -q tests/unit/plugins/filter/test_packages_missing.py
"""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.onprem.ha_lamp.plugins.filter.packages_missing import FilterModule, packages_missing

FACTS = {"haproxy": [{"name": "haproxy", "version": "2.6.12-1+deb12u3"}]}


def test_filter_returns_the_missing_packages():
    assert FilterModule().filters()["packages_missing"] is packages_missing
    assert packages_missing(["haproxy", "socat"], FACTS) == ["socat"]
    assert packages_missing(["haproxy"], FACTS) == []
    # without facts (a role used without the base role) every package goes to apt
    assert packages_missing(["haproxy"]) == ["haproxy"]


@pytest.mark.parametrize("wanted,installed,message", [
    (42, FACTS, "packages_missing: the packages must be a list of package names, got int"),
    (["haproxy", None], FACTS, "packages_missing: package 1 of ['haproxy', None] is None, not a package name"),
    (["haproxy"], 7, "packages_missing: the installed packages must be ansible_facts.packages (a mapping of name to "
                     "versions), got int"),
])
def test_bad_input_is_a_filter_error(wanted, installed, message):
    with pytest.raises(AnsibleFilterError) as err:
        packages_missing(wanted, installed)
    assert str(err.value) == message
