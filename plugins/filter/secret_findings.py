# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter onprem.ha_lamp.secret_findings: thin wrapper around module_utils/secrets_guard.py.

Documentation lives in the YAML sidecar secret_findings.yml.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.onprem.ha_lamp.plugins.module_utils.secrets_guard import GuardError, findings


def _plain(value):
    """An undefined value (a default pointing at an unset inventory variable) counts as not set."""
    if value is None:
        return None
    try:
        from jinja2 import Undefined
    except ImportError:  # pragma: no cover - jinja2 always ships with ansible-core
        return value
    if isinstance(value, Undefined):
        return None
    try:  # an inline !vault value that reached the filter still encrypted: compare its plaintext
        from ansible.parsing.vault import EncryptedString
    except ImportError:  # pragma: no cover - ansible-core before 2.19
        return value
    return str(value) if isinstance(value, EncryptedString) else value


def secret_findings(secrets, lab=False, host=None, sources=None):
    """Return the guard's findings for a {variable_name: value} mapping (see secret_findings.yml)."""
    if not isinstance(secrets, dict):
        raise AnsibleFilterError("secret_findings: the input must be a mapping of variable name to value")
    try:
        return findings({name: _plain(value) for name, value in secrets.items()}, lab=lab, host=host, sources=sources)
    except GuardError as exc:
        raise AnsibleFilterError("secret_findings: %s" % exc) from exc


class FilterModule:
    """onprem.ha_lamp secrets filters."""

    def filters(self):
        return {"secret_findings": secret_findings}
