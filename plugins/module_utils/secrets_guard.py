# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The secrets guard: refuses secret values that must never reach a real cluster.

Plain Python, no Ansible import, so the filter ``onprem.ha_lamp.secret_findings`` and the unit tests share it.
Rules, per variable (the first that matches wins; a message names the variable and the fix, never the value):

- ``SECRET_EMPTY``: the value is missing (None/undefined), not a string, or empty. Always refused.
- ``SECRET_PLACEHOLDER``: the value holds a CHANGE-ME placeholder (``change-me``, ``change_me``, ``changeme``,
  any case), as the example inventory ships. Always refused, in the lab too.
- ``SECRET_LAB_PREFIX``: the value starts with ``lab-only`` or ``example-only``. Refused outside the lab.
- ``SECRET_KNOWN``: the value's SHA-256 is one of the published lab or example values (``KNOWN_DIGESTS``;
  the values themselves are not in the code). Refused outside the lab.

"The lab" means ``lab is True`` exactly: a string such as ``"true"`` or ``"yes"`` does not count, so a typo
makes the guard stricter, never looser.
"""

from __future__ import annotations

import hashlib
import re

RULES = ("SECRET_EMPTY", "SECRET_PLACEHOLDER", "SECRET_LAB_PREFIX", "SECRET_KNOWN")

# Prefixes that mark a value published in this repository (lab inventory, example inventory).
PUBLISHED_PREFIXES = ("lab-only", "example-only")

_PLACEHOLDER = re.compile(r"change[-_]?me", re.IGNORECASE)

# SHA-256 of every secret value ever published in this repository, so a copy of the lab or of the old example
# vault (decryptable with the password that README.md used to print) is refused even when the values carry no
# marker prefix. Append a digest when a published value is added; never remove one.
KNOWN_DIGESTS = frozenset(
    (
        # inventories/lab/group_vars/all/lab_secrets.yml (root, app, repl, monitor, stats, VRRP, schema)
        "b531cbbdd6abf3cce755b5dc689278e05ca0ff0ac27c89ef279722492c237bd3",
        "980540a97594e3ea79283a2aef2ee1d4db64d7eb8c7add5e0d94ae70ef22ce39",
        "a146b24f48ea0965ea55c33b86cac7b4f694ce845f8127d80f8b38afd2cea1ef",
        "292364140ba4e1a29fbdfa2983c839ba159b4787086a12a7bf0a9975a46c874e",
        "3ae314eef5a510b0e9704f803fe34becdbd54ce1e38a038c1d045f04d3eeaee0",
        "d6267396cea2a6d18b2aa9ca57bb1480db135b8168cddfe93ab991e77cefc3ef",
        "5345c3defa669586a57ff6c917611b59f5db52c9204381d6978f269a9fd4e91f",
        # the same file: the backup hosts' database account and the restic repository key
        "f182fa7de844c749af6cdaf75f06bda52f9f02c51b0d731e4744ef27a9ee810a",
        "c641ff627530779b2ce8bc7175d278b1467e688284d709e6d41701a38634cc06",
        # the same file: mysqld exporter's database account (roles/exporters)
        "2d4134f2a3071fb2b45639cbc39aa7b0c853a9f32018bc939f3142250b6cf81f",
        # the example vault shipped up to 0.1.0 (root, app, repl, monitor, stats, VRRP)
        "2ffe6261119cdb38d731787ea7cf53aba80a908d149af8dd6a74373e992ac5b3",
        "961df0b3ef8f1b07b1a04f5e6cbe3a908f7f40e34cceb237b064e4164eb45ad9",
        "c4067ee95ae5e436c062781a77eafa3ae7a3a77603b1e5cdfd5af6f0997d28c8",
        "7ef1c9b0aac8a311aad81f829850adb535826430a94202968d77c648fde5a7e6",
        "ec236dc509b9c2b75fff913cba600f7e0fff9aa5dad1125c646aa8f7d9ccfc6b",
        "630cdb815854973651c43e1ccd9d26de930fa9b3d36d80d71eb4780f27352dc4",
    )
)

_FIX_VAULT = "put a secret of your own in an ansible-vault encrypted file (README.md, section Secrets)"


class GuardError(ValueError):
    """The guard's own input is unusable (not a mapping, bad option)."""


def digest(value):
    """SHA-256 hex digest of a secret value (UTF-8)."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _is_text(value):
    # Ansible hands templated strings over as str subclasses (tagged or vault-decrypted values).
    return isinstance(value, str)


def check_value(value, lab=False):
    """Return the rule id the value breaks, or None when it is acceptable."""
    if value is None or not _is_text(value) or value == "":
        return "SECRET_EMPTY"
    text = str(value)
    if _PLACEHOLDER.search(text):
        return "SECRET_PLACEHOLDER"
    if lab is True:
        return None
    if text.lower().startswith(PUBLISHED_PREFIXES):
        return "SECRET_LAB_PREFIX"
    if digest(text) in KNOWN_DIGESTS:
        return "SECRET_KNOWN"
    return None


def _subject(name, host, source):
    where = "host %s: " % host if host else ""
    via = " (from %s)" % source if source and source != name else ""
    return "%s%s%s" % (where, name, via)


def _message(rule, name, host, source, value):
    subject = _subject(name, host, source)
    target = "%s or %s" % (name, source) if source and source != name else name
    if rule == "SECRET_EMPTY":
        what = "is not set" if value is None else ("is empty" if value == "" else "is not a string")
        return "%s %s; set %s: %s." % (subject, what, target, _FIX_VAULT)
    if rule == "SECRET_PLACEHOLDER":
        return "%s still holds a CHANGE-ME placeholder; set %s: %s." % (subject, target, _FIX_VAULT)
    if rule == "SECRET_LAB_PREFIX":
        return (
            "%s holds a value published in this repository (it starts with 'lab-only' or 'example-only') "
            "and the inventory does not set ha_lamp_lab: true; set %s: %s." % (subject, target, _FIX_VAULT)
        )
    return (
        "%s holds a value published in this repository (a known lab or example secret) and the inventory does "
        "not set ha_lamp_lab: true; set %s: %s." % (subject, target, _FIX_VAULT)
    )


def findings(secrets, lab=False, host=None, sources=None):
    """Check a ``{variable_name: value}`` mapping.

    ``sources`` maps a variable to the inventory variable its default comes from (``mysql_admin_password`` ->
    ``ha_lamp_db_root_password``), so the message names both places the operator may fix.
    Returns a list of ``{"variable", "rule", "message"}`` dicts in the mapping's key order, empty when all pass.
    The value itself appears in no field.
    """
    if not isinstance(secrets, dict):
        raise GuardError("the input must be a mapping of variable name to value, got %s" % type(secrets).__name__)
    sources = sources or {}
    if not isinstance(sources, dict):
        raise GuardError("sources must be a mapping of variable name to inventory variable name")
    result = []
    for name, value in secrets.items():
        rule = check_value(value, lab=lab)
        if rule is None:
            continue
        source = sources.get(name)
        result.append({"variable": str(name), "rule": rule, "message": _message(rule, name, host, source, value)})
    return result
