# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""module_utils/packages.py: which packages an install task names are not installed (package_facts).

    .venv/bin/python -m pytest -q tests/unit/plugins/module_utils/test_packages.py
"""

import pytest

from ansible_collections.onprem.ha_lamp.plugins.module_utils.packages import PackageSpecError, bare_name, missing

# The shape ansible.builtin.package_facts gives (manager apt): name -> list of installed versions.
FACTS = {
    "haproxy": [{"name": "haproxy", "version": "2.6.12-1+deb12u3", "arch": "amd64"}],
    "socat": [{"name": "socat", "version": "1.7.4.4-2", "arch": "amd64"}],
    "php8.2-fpm": [{"name": "php8.2-fpm", "version": "8.2.29-1~deb12u1", "arch": "amd64"}],
    "libstdc++6": [{"name": "libstdc++6", "version": "12.2.0-14", "arch": "amd64"}],
    # An entry without versions is not an installed package.
    "ghost": [],
}


@pytest.mark.parametrize("wanted,expected", [
    (["haproxy", "socat"], []),
    (["haproxy", "keepalived", "socat"], ["keepalived"]),
    (["keepalived", "ipvsadm"], ["keepalived", "ipvsadm"]),
    ("haproxy", []),
    ("keepalived", ["keepalived"]),
    ([], []),
    (["php8.2-fpm", "libstdc++6"], []),
    # an architecture suffix is matched on the name
    (["haproxy:amd64"], []),
    (["keepalived:amd64"], ["keepalived:amd64"]),
    # versions, relations, wildcards, paths and odd names: apt decides
    (["haproxy=2.6.12-1+deb12u3"], ["haproxy=2.6.12-1+deb12u3"]),
    (["haproxy>=2.6"], ["haproxy>=2.6"]),
    (["php8.2-*"], ["php8.2-*"]),
    (["/tmp/haproxy.deb"], ["/tmp/haproxy.deb"]),
    (["HAProxy"], ["HAProxy"]),
    (["haproxy:"], ["haproxy:"]),
    (["ghost"], ["ghost"]),
    # surrounding blanks are ignored for the judgement, the entry is returned as given
    ([" haproxy "], []),
    # the input order is kept, duplicates too
    (["zz", "haproxy", "aa", "zz"], ["zz", "aa", "zz"]),
])
def test_missing_against_the_facts(wanted, expected):
    assert missing(wanted, FACTS) == expected


def test_unknown_facts_mean_every_package_is_missing():
    assert missing(["haproxy", "socat"], None) == ["haproxy", "socat"]
    assert missing("haproxy", None) == ["haproxy"]
    assert missing((["haproxy"]), {}) == ["haproxy"]


@pytest.mark.parametrize("spec,name", [
    ("haproxy", "haproxy"),
    ("libstdc++6", "libstdc++6"),
    ("haproxy:amd64", "haproxy"),
    ("haproxy:i386", "haproxy"),
    ("haproxy=1", None),
    ("haproxy:amd64=1", None),
    ("a*", None),
    ("", None),
    (":amd64", None),
    ("Haproxy", None),
])
def test_bare_name(spec, name):
    assert bare_name(spec) == name


@pytest.mark.parametrize("wanted,installed,message", [
    (None, FACTS, "the packages must be a list of package names, got NoneType"),
    ({"haproxy": 1}, FACTS, "the packages must be a list of package names, got dict"),
    (["haproxy", 3], FACTS, "package 1 of ['haproxy', 3] is 3, not a package name"),
    (["haproxy", ""], FACTS, "package 1 of ['haproxy', ''] is '', not a package name"),
    (["  "], FACTS, "package 0 of ['  '] is '  ', not a package name"),
    (["haproxy"], ["haproxy"], "the installed packages must be ansible_facts.packages (a mapping of name to versions), "
                               "got list"),
    (["haproxy"], "haproxy", "the installed packages must be ansible_facts.packages (a mapping of name to versions), "
                             "got str"),
])
def test_bad_input_names_the_element(wanted, installed, message):
    with pytest.raises(PackageSpecError) as err:
        missing(wanted, installed)
    assert str(err.value) == message
