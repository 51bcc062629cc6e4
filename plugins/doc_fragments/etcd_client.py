# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The options of every module that talks to etcd (module_utils/dcs.py's client)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    DOCUMENTATION = r"""
options:
  endpoints:
    description: etcd client URLs, tried in turn.
    type: list
    elements: str
    required: true
  ca_file:
    description: CA certificate that signed the etcd servers' certificates.
    type: path
  cert_file:
    description: Client certificate.
    type: path
  key_file:
    description: Client key.
    type: path
"""
