# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Which of the packages a task wants are not installed, from ansible.builtin.package_facts.

The roles install their packages with ``ansible.builtin.apt`` (state present). On a converged host that
call changes nothing but still costs a module run that loads apt's whole cache, on every host and for
each of the 15 install tasks of site.yml. The base role reads the installed packages once; an install
task is skipped when every package it names is among them.

Only a bare package name can be judged from the facts. A name with a version (``pkg=1.2``), a
relation (``pkg>=1.2``), a wildcard (``php8.2-*``) or a .deb path is always reported missing, so
apt decides; so is every name when the facts are unknown (``None``: a role used without the base
role). An architecture suffix (``pkg:amd64``) is matched on the name. Plain Python, never imports
Ansible.
"""

from __future__ import annotations

from collections.abc import Mapping

# Anything in a name beyond [a-z0-9.+-] and an :arch suffix means apt must resolve it.
_JUDGED_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.+-")


class PackageSpecError(ValueError):
    """The wanted list or the installed mapping is not what package_facts and apt use."""


def bare_name(spec):
    """The package name of ``spec`` when the facts can judge it, else None."""
    name, colon, arch = spec.partition(":")
    if not name or not set(name) <= _JUDGED_CHARS or (colon and not arch.isalnum()):
        return None
    return name


def missing(wanted, installed):
    """The entries of ``wanted`` (names as given to apt) that the facts do not show installed, in order.

    ``installed`` is ``ansible_facts.packages`` (name -> list of installed versions) or None when
    unknown. Raises PackageSpecError naming the offending element.
    """
    if isinstance(wanted, str):
        wanted = [wanted]
    if not isinstance(wanted, (list, tuple)):
        raise PackageSpecError("the packages must be a list of package names, got %s" % type(wanted).__name__)
    for index, spec in enumerate(wanted):
        if not isinstance(spec, str) or not spec.strip():
            raise PackageSpecError("package %d of %s is %r, not a package name" % (index, list(wanted), spec))
    if installed is None:
        return list(wanted)
    if not isinstance(installed, Mapping):
        raise PackageSpecError("the installed packages must be ansible_facts.packages (a mapping of name to versions), "
                               "got %s" % type(installed).__name__)
    return [spec for spec in wanted if not installed.get(bare_name(spec.strip()) or "")]
