# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Normalised view of the inventory for the redundancy rules.

Plain Python on purpose (no Ansible imports): the filter, the action plugin and the unit tests
all feed it the same plain dict. Everything here is linear in the number of hosts: hosts are
visited once and grouped with dicts, never compared pairwise.

Malformed data never raises: each problem becomes a finding and the offending value is left out
of the model (``None``), so the later rules simply skip what could not be understood.
"""

from __future__ import annotations

import ipaddress
import json
import re

TIERS = ("loadbalancers", "webservers", "databases")
CLUSTER = "cluster"  # the "tier" of findings about cluster-wide settings
# The etcd members (the DCS holding the database leader lease). Not a tier: its hosts usually
# are databases too, which must not count as "a host in several tiers".
DCS = "dcs"
# The GlusterFS hosts holding the shared uploads volume (two data bricks, then the arbiter). Not a
# tier either, and optional: without it the web role decides where uploads live. Its hosts are
# usually web or database hosts too (the lab: web1, web2, db3), which is no "host in several tiers".
STORAGE = "storage"
OPTIONAL_GROUPS = (DCS, STORAGE)  # groups that are not tiers: absent or empty is no TIER_MISSING
GROUPS = TIERS + OPTIONAL_GROUPS  # every group the validator reads
# The "tier" of findings about the disaster-recovery site (issue 18): its hosts sit in the usual groups,
# and the DR rules (redundancy_dr.py) judge them as one site, after every main-site finding.
DR = "dr"
TIER_ORDER = {CLUSTER: 0, "loadbalancers": 1, "webservers": 2, "databases": 3, DCS: 4, STORAGE: 5, DR: 6}

DR_SITE_VAR = "ha_lamp_dr_site"  # names the DR site (docs/dr-site.md)

# The only variables the validator reads (see the inventory contract in ARCHITECTURE.md).
CONTRACT_VARS = (
    "ansible_host",
    "rack",
    "site",
    "ha_lamp_vrrp_address",
    "mysql_server_id",
    "ha_lamp_vips",
    "ha_lamp_db_primary",
    "ha_lamp_failure_domain",
    "ha_lamp_db_lease_ttl",
    "ha_lamp_db_failover_window",
    "ha_lamp_db_nofailover",
    "ha_lamp_switchover_target",
    "haproxy_db_check_inter",
    "haproxy_db_check_fall",
    "ha_lamp_db_public_vip_allowed",
    "ha_lamp_controller_addresses",
    "ha_lamp_admin_networks",
    DR_SITE_VAR,
)

# Defaults of the automatic-failover settings when the inventory leaves them unset
# (haproxy_db_check_* are the haproxy role's defaults).
DEFAULT_DB_LEASE_TTL = 8
DEFAULT_DB_FAILOVER_WINDOW = 300
DEFAULT_HAPROXY_DB_CHECK_INTER = "1s"
DEFAULT_HAPROXY_DB_CHECK_FALL = 2
# The leader lease must outlive HAProxy's detection of a dead primary (inter x fall) plus these.
LEASE_MARGIN_S = 2
LEASE_RENEWAL_SLACK_S = 1

DEFAULT_SITE = "default"
# The site name of the disaster-recovery site's hosts, unless ha_lamp_dr_site (DR_SITE_VAR) names
# another. Hosts without site, or with any other site, belong to the main site.
DEFAULT_DR_SITE = "dr"
# How the validator and the site_members filter (module_utils/sites.py) explain a bad ha_lamp_dr_site.
DR_SITE_NAME_FIX = (
    "set it to the site of the DR site's hosts (var site; default '%s'), a non-empty string without surrounding "
    "spaces, or leave it unset" % DEFAULT_DR_SITE
)
FAILURE_DOMAIN_LEVELS = ("rack", "site")

# One member of each tier, for messages ("... so losing one rack keeps a load balancer").
TIER_MEMBER = {
    "loadbalancers": "a load balancer",
    "webservers": "a web server",
    "databases": "a database",
}

_DOTTED = re.compile(r"^[0-9.]+$")
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
# Canonical dotted-quad IPv4 (no leading zeros): validated without building an ipaddress object,
# which is the single most expensive step at 10,000 hosts. Its text is already the normalised key.
_IPV4 = re.compile(r"^%s(?:\.%s){3}$" % (_OCTET, _OCTET))
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


class OptionError(ValueError):
    """The options themselves are unusable (not the inventory): callers turn it into their own error."""


DEFAULT_OPTIONS = {
    # Probability that one host is up (independent failures). 0.99 = about 3.65 days down a year.
    "host_availability": 0.99,
    # Probability that a whole failure domain (rack or site: power, top-of-rack switch, cooling) is up,
    # independently of its hosts; 1.0 = domains never fail as a whole. The default makes the spread
    # matter: two hosts in one rack are then far less available than two hosts in two racks.
    "domain_availability": 0.999,
    # Overrides ha_lamp_failure_domain from the inventory when set.
    "failure_domain": None,
    # How many host names a message spells out before it says "and N more".
    "message_host_limit": 10,
}


def check_options(options):
    """Merge ``options`` over the defaults; raise OptionError naming the bad option."""
    if options is None:
        options = {}
    if not isinstance(options, dict):
        raise OptionError("options must be a mapping, got %s" % type_name(options))
    unknown = sorted(set(options) - set(DEFAULT_OPTIONS))
    if unknown:
        raise OptionError("unknown option(s): %s; known: %s" % (", ".join(unknown), ", ".join(sorted(DEFAULT_OPTIONS))))
    merged = dict(DEFAULT_OPTIONS)
    merged.update({key: value for key, value in options.items() if value is not None})
    for key in ("host_availability", "domain_availability"):
        value = merged[key]
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise OptionError("%s must be a number in (0, 1], got %r" % (key, merged[key]))
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
            raise OptionError("%s must be a number in (0, 1], got %r" % (key, merged[key]))
        merged[key] = float(value)
    if merged["failure_domain"] is not None and merged["failure_domain"] not in FAILURE_DOMAIN_LEVELS:
        raise OptionError("failure_domain must be one of %s, got %r" % (", ".join(FAILURE_DOMAIN_LEVELS), merged["failure_domain"]))
    limit = merged["message_host_limit"]
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise OptionError("message_host_limit must be a positive integer, got %r" % (limit,))
    return merged


def is_site_name(value):
    """A usable site (or rack) name: a non-empty string without surrounding spaces."""
    return isinstance(value, str) and bool(value.strip()) and value == value.strip()


def dr_site_name(value):
    """The DR site's name from the value of ha_lamp_dr_site (DR_SITE_VAR): the default when unset (None).

    Any other value is returned as found: callers check it with is_site_name and report it their own way.
    """
    return DEFAULT_DR_SITE if value is None else value


def in_dr_site(variables, dr_site):
    """Whether a host with these variables is in the DR site ``dr_site``: its site is exactly that name.

    Every other host (no site, another site, an invalid site) belongs to the main site.
    """
    return variables.get("site") == dr_site


def type_name(value):
    """Human name of a YAML-ish type, for messages ("a list", "a string")."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    return "a %s" % type(value).__name__


def show(value, limit=80):
    """Short, stable rendering of a value for a message."""
    if isinstance(value, str):
        text = repr(value)
    else:
        try:
            text = json.dumps(value, sort_keys=True, default=str)
        except (TypeError, ValueError):
            text = repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text


def name_hosts(hosts, limit=10):
    """'lb1', 'lb1 and lb2', 'a, b and c', 'a, b, ... and 40 more'."""
    hosts = list(hosts)
    if not hosts:
        return "(none)"
    if len(hosts) > limit:
        return "%s and %d more" % (", ".join(hosts[:limit]), len(hosts) - limit)
    if len(hosts) == 1:
        return hosts[0]
    return "%s and %s" % (", ".join(hosts[:-1]), hosts[-1])


def value_key(value):
    """Hashable key to compare values of any YAML type (cluster-wide variables)."""
    if isinstance(value, str):
        return "s:" + value
    try:
        return "j:" + json.dumps(value, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return "r:" + repr(value)


class Findings:
    """Collects findings; severity ``error`` blocks deployment, ``warning`` is advice."""

    def __init__(self):
        self.items = []

    def add(self, severity, rule, tier, hosts, message):
        self.items.append(
            {
                "severity": severity,
                "rule": rule,
                "tier": tier,
                "hosts": sorted(set(hosts)),
                "message": message,
            }
        )

    def error(self, rule, tier, hosts, message):
        self.add("error", rule, tier, hosts, message)

    def warning(self, rule, tier, hosts, message):
        self.add("warning", rule, tier, hosts, message)

    def sorted(self):
        """Errors first, then cluster / loadbalancers / webservers / databases, then discovery order."""
        order = {id(item): index for index, item in enumerate(self.items)}
        return sorted(
            self.items,
            key=lambda f: (f["severity"] != "error", TIER_ORDER.get(f["tier"], 9), order[id(f)]),
        )


def vip_label(index, entry):
    """How messages name one entry of ha_lamp_vips: "VIP 'public'", or its index when it has no usable name."""
    if isinstance(entry, dict) and isinstance(entry.get("name"), str) and entry.get("name"):
        return "VIP '%s'" % entry["name"]
    return "ha_lamp_vips[%d]" % index


def parse_address(value):
    """Parse an ``ansible_host``-like value.

    Returns ``(key, is_ip, problem)``: ``key`` is the normalised address used to find duplicates
    (the canonical IP text, or the lower-case DNS name), ``is_ip`` tells whether it is an IP
    address, ``problem`` a sentence when the value is unusable (then key is ``None``).
    """
    if not isinstance(value, str):
        return None, False, "is %s, not an address string" % type_name(value)
    text = value.strip()
    if not text:
        return None, False, "is empty"
    if _IPV4.match(text):
        return text, True, None
    if _DOTTED.match(text) or ":" in text:
        try:
            ip = ipaddress.ip_address(text.split("%", 1)[0])
        except ValueError:
            return None, False, "does not parse as an IP address"
        return str(ip), True, None
    name = text.lower().rstrip(".")
    if len(name) > 253 or not all(_LABEL.match(label) for label in name.split(".")):
        return None, False, "is neither an IP address nor a valid DNS name"
    return name, False, None


def parse_interface(value):
    """Parse an address that may carry a prefix (``10.0.0.11`` or ``10.0.0.11/24``): (ip, problem)."""
    if not isinstance(value, str):
        return None, "is %s, not an IP address string" % type_name(value)
    try:
        return ipaddress.ip_interface(value.strip()).ip, None
    except ValueError:
        return None, "does not parse as an IP address"


_HAPROXY_TIME = re.compile(r"^([0-9]+)(us|ms|s|m|h|d)?$")
_HAPROXY_UNIT_US = {"us": 1, "ms": 1000, "s": 1000000, "m": 60000000, "h": 3600000000, "d": 86400000000}


def parse_haproxy_time(value):
    """A HAProxy time ("1s", "500ms", "2000" = ms, or an integer of ms): (microseconds, problem)."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        return None, "is %s, not a HAProxy time (e.g. 1s, 500ms)" % type_name(value)
    match = _HAPROXY_TIME.match(value.strip() if isinstance(value, str) else str(value))
    if not match:
        return None, "is not a HAProxy time (a positive number with an optional unit us, ms, s, m, h or d; no unit = ms)"
    micros = int(match.group(1)) * _HAPROXY_UNIT_US[match.group(2) or "ms"]
    if micros <= 0:
        return None, "is zero; HAProxy needs a positive check interval"
    return micros, None


def format_seconds(micros):
    """'2 s', '1.5 s', '0.25 s' from microseconds."""
    return "%s s" % ("%.6f" % (micros / 1000000.0)).rstrip("0").rstrip(".")


class Host:
    """Contract variables of one cluster host, validated."""

    __slots__ = ("name", "tiers", "in_dcs", "in_storage", "rack", "site", "site_set", "address_key", "address_is_ip", "vrrp_ip", "server_id", "vars")

    def __init__(self, name, variables):
        self.name = name
        self.tiers = []
        self.in_dcs = False
        self.in_storage = False
        self.vars = variables
        self.rack = None  # valid rack name or None
        self.site = DEFAULT_SITE
        self.site_set = False
        self.address_key = None  # normalised ansible_host (or inventory name) for duplicate detection
        self.address_is_ip = False
        self.vrrp_ip = None  # ha_lamp_vrrp_address when valid
        self.server_id = None

    @property
    def tier(self):
        """The tier findings about this host are filed under (its first tier, else dcs, else storage)."""
        if self.tiers:
            return self.tiers[0]
        if self.in_dcs:
            return DCS
        return STORAGE if self.in_storage else CLUSTER

    @property
    def address_ip(self):
        """ansible_host as an ipaddress object (built on demand: only load balancers need it)."""
        return ipaddress.ip_address(self.address_key) if self.address_is_ip else None

    @property
    def segment_ip(self):
        """The LB's address on the VRRP segment: ha_lamp_vrrp_address, else ansible_host."""
        return self.vrrp_ip if self.vrrp_ip is not None else self.address_ip


class DrSite:
    """The disaster-recovery site's share of the inventory: its hosts, left out of every main-site rule."""

    def __init__(self, name, hosts):
        self.name = name
        self.hosts = hosts  # name -> Host, in the order the groups listed them
        self.tiers = {}  # tier -> [host names of the DR site]
        self.dcs = []  # DR hosts listed in dcs (DR_DB_IN_DCS: the main site's quorum is no place for them)
        self.storage = []  # DR hosts listed in storage (DR_IN_STORAGE: no brick of the main site's volume across the link)
        self.vips = None  # ha_lamp_vips of the DR site's load balancers

    def tier_hosts(self, tier):
        return [self.hosts[name] for name in self.tiers.get(tier, [])]


class Topology:
    """Tiers, hosts and cluster-wide settings, read once from the inventory dict.

    With a DR site (hosts whose site is ha_lamp_dr_site), ``hosts``, ``tiers``, ``dcs`` and ``storage``
    hold the main site only, so every main-site rule sees the main site as if it were alone; the DR
    site's hosts are in ``dr`` (None without one). Each host's own variables (rack, site, address) are
    read and checked the same way in both sites.
    """

    def __init__(self, inventory, options, findings):
        self.options = options
        self.findings = findings
        self.limit = options["message_host_limit"]
        groups, hostvars, var_errors = self._split_input(inventory)
        self.hosts = {}  # name -> Host, insertion order = first appearance in the tiers
        self.tiers = {}  # tier -> [host names] (deduplicated, order kept)
        self.missing_tiers = []
        self.dcs = []  # etcd member names (deduplicated, order kept)
        self.dcs_state = None  # None when usable, else "is not defined" / "is empty" / "is malformed"
        self.storage = []  # GlusterFS hosts in inventory order: data, data, arbiter (deduplicated)
        self.storage_state = None  # like dcs_state; absent or empty means "no storage group": no rule
        self.template_failed = set()  # (host, var) pairs that could not be templated
        self._read_groups(groups)
        self._read_template_errors(var_errors)
        for host in self.hosts.values():
            raw = hostvars.get(host.name) if isinstance(hostvars, dict) else None
            host.vars = raw if isinstance(raw, dict) else {}
            self._read_host(host)
        self.dr = self._split_dr_site()
        self.level = self._read_failure_domain()
        self.sites = sorted({host.site for host in self.hosts.values()})
        self.multi_site = len(self.sites) > 1
        self.vips = self._read_cluster_var("ha_lamp_vips", self.tiers.get("loadbalancers", []), "loadbalancers")
        self.db_primary = self._read_cluster_var("ha_lamp_db_primary", list(self.hosts), "databases")
        everyone = list(self.hosts)
        self.db_lease_ttl = self._read_cluster_var("ha_lamp_db_lease_ttl", everyone, "databases")
        self.db_failover_window = self._read_cluster_var("ha_lamp_db_failover_window", everyone, "databases")
        self.switchover_target = self._read_cluster_var("ha_lamp_switchover_target", everyone, "databases")
        # HAProxy runs on the load balancers, but group_vars/all is where such values usually live.
        self.db_check_inter = self._read_cluster_var("haproxy_db_check_inter", everyone, "loadbalancers")
        self.db_check_fall = self._read_cluster_var("haproxy_db_check_fall", everyone, "loadbalancers")
        # Network planes: whether the DB may share the public VIP, where the controller comes from,
        # and the management networks (the firewall lets these reach SSH and stats).
        self.db_public_vip_allowed = self._read_cluster_var("ha_lamp_db_public_vip_allowed", everyone, "loadbalancers")
        self.controller_addresses = self._read_cluster_var("ha_lamp_controller_addresses", everyone, CLUSTER)
        self.admin_networks = self._read_cluster_var("ha_lamp_admin_networks", everyone, CLUSTER)
        if self.dr is not None:
            self.dr.vips = self._read_cluster_var(
                "ha_lamp_vips",
                self.dr.tiers.get("loadbalancers", []),
                "loadbalancers",
                hosts=self.dr.hosts,
                scope="the DR site's load balancers (group_vars of a group holding them)",
            )

    # -- input -----------------------------------------------------------------------------

    def _split_input(self, inventory):
        if not isinstance(inventory, dict):
            raise OptionError("the inventory must be a mapping with groups and hostvars, got %s" % type_name(inventory))
        groups = inventory.get("groups")
        hostvars = inventory.get("hostvars")
        if not isinstance(groups, dict):
            raise OptionError("groups must be a mapping of group name to host list, got %s" % type_name(groups))
        if not isinstance(hostvars, dict):
            raise OptionError("hostvars must be a mapping of host name to variables, got %s" % type_name(hostvars))
        var_errors = inventory.get("var_errors") or {}
        return groups, hostvars, var_errors if isinstance(var_errors, dict) else {}

    def _read_groups(self, groups):
        for tier in GROUPS:
            members = groups.get(tier)
            if tier in OPTIONAL_GROUPS and (members is None or (isinstance(members, (list, tuple)) and len(members) == 0)):
                # dcs is required only with databases: DCS_MISSING (rules) says so then.
                # storage is optional: without it the web role decides where uploads live.
                self._set_optional_state(tier, "is not defined" if members is None else "is empty")
                continue
            if members is None or (isinstance(members, (list, tuple)) and len(members) == 0):
                self.missing_tiers.append(tier)
                self.tiers[tier] = []
                state = "is not defined" if members is None else "is empty"
                self.findings.error(
                    "TIER_MISSING",
                    tier,
                    [],
                    "%s: the group %s; add at least 2 hosts in different failure domains to it" % (tier, state),
                )
                continue
            if not isinstance(members, (list, tuple)):
                self.tiers[tier] = []
                self.findings.error(
                    "GROUP_MALFORMED",
                    tier,
                    [],
                    "%s: the group is %s (%s), not a list of host names; define it as an inventory group with hosts"
                    % (tier, type_name(members), show(members)),
                )
                if tier in OPTIONAL_GROUPS:
                    self._set_optional_state(tier, "is malformed")
                continue
            names = []
            seen = set()
            for member in members:
                if not isinstance(member, str) or not member:
                    self.findings.error(
                        "GROUP_MALFORMED",
                        tier,
                        [],
                        "%s: the group contains %s (%s), not a host name; list host names only" % (tier, type_name(member), show(member)),
                    )
                    continue
                if member in seen:
                    continue
                seen.add(member)
                names.append(member)
                host = self.hosts.get(member)
                if host is None:
                    host = self.hosts[member] = Host(member, {})
                if tier == DCS:
                    host.in_dcs = True  # an etcd member is a cluster host (rack, address) but no tier
                elif tier == STORAGE:
                    host.in_storage = True  # likewise a cluster host, but no tier
                else:
                    host.tiers.append(tier)
            if tier in OPTIONAL_GROUPS:
                if tier == DCS:
                    self.dcs = names
                else:
                    self.storage = names
                if not names:
                    self._set_optional_state(tier, "is malformed")  # GROUP_MALFORMED named every bad entry
            else:
                self.tiers[tier] = names

    def _set_optional_state(self, group, state):
        if group == DCS:
            self.dcs_state = state
        else:
            self.storage_state = state

    def _read_template_errors(self, var_errors):
        """Variables the caller could not template (e.g. an undefined variable inside rack: "{{ x }}").

        One finding per (variable, error) so a broken group_vars/all line is reported once with
        every host it breaks, not once per host.
        """
        grouped = {}
        for host_name, errors in var_errors.items():
            if host_name not in self.hosts or not isinstance(errors, dict):
                continue
            for var, error in errors.items():
                self.template_failed.add((host_name, var))
                grouped.setdefault((var, str(error)), []).append(host_name)
        for (var, error), names in grouped.items():
            tier = self.hosts[names[0]].tier
            self.findings.error(
                "VAR_TEMPLATE_ERROR",
                tier,
                names,
                "%s: variable %s could not be templated (%s); fix the expression or set a plain value"
                % (name_hosts(names, self.limit), var, error),
            )

    # -- per host --------------------------------------------------------------------------

    def _read_host(self, host):
        variables = host.vars
        self._read_domain_var(host, "rack", variables.get("rack"), required=True)
        self._read_domain_var(host, "site", variables.get("site"), required=False)
        self._read_address(host, variables)
        if "databases" in host.tiers and variables.get("mysql_server_id") is not None:
            host.server_id = variables.get("mysql_server_id")  # checked by the database rules

    def _read_domain_var(self, host, var, value, required):
        if value is None:
            return  # missing rack: reported per tier by the host rules
        if is_site_name(value):
            if var == "rack":
                host.rack = value
            else:
                host.site = value
                host.site_set = True
            return
        if isinstance(value, str):
            problem = "is empty" if not value.strip() else "has leading or trailing spaces"
            fix = "set it to a non-empty name without surrounding spaces"
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            problem = "is %s, not a string" % type_name(value)
            fix = 'quote it (%s: "%s")' % (var, value)
        else:
            problem = "is %s, not a string" % type_name(value)
            fix = "set exactly one %s name per host, as a string" % var
        rule = "RACK_INVALID" if var == "rack" else "SITE_INVALID"
        self.findings.error(rule, host.tier, [host.name], "%s: %s %s %s; %s" % (host.name, var, show(value), problem, fix))
        if var == "site":
            host.site_set = True  # it was set, just badly: do not also report it as unset

    def _read_address(self, host, variables):
        if "ansible_host" in variables and variables["ansible_host"] is not None:
            value = variables["ansible_host"]
            key, is_ip, problem = parse_address(value)
            if problem:
                self.findings.error(
                    "ADDRESS_INVALID",
                    host.tier,
                    [host.name],
                    "%s: ansible_host %s %s; set it to the host's IP address or DNS name" % (host.name, show(value), problem),
                )
            host.address_key, host.address_is_ip = key, is_ip
        else:
            # Ansible connects to the inventory name itself when ansible_host is unset.
            key, is_ip, problem = parse_address(host.name)
            if not problem:
                host.address_key, host.address_is_ip = key, is_ip
        value = variables.get("ha_lamp_vrrp_address")
        if value is not None:
            ip, problem = parse_interface(value)
            if problem:
                self.findings.error(
                    "ADDRESS_INVALID",
                    host.tier,
                    [host.name],
                    "%s: ha_lamp_vrrp_address %s %s; set it to the host's IP address on the VRRP segment (A.B.C.D)"
                    % (host.name, show(value), problem),
                )
            host.vrrp_ip = ip

    # -- cluster-wide variables ------------------------------------------------------------

    def _read_failure_domain(self):
        forced = self.options.get("failure_domain")
        value = self._read_cluster_var("ha_lamp_failure_domain", list(self.hosts), CLUSTER)
        if forced:
            return forced
        if value is None:
            return "rack"
        if value not in FAILURE_DOMAIN_LEVELS:
            self.findings.error(
                "FAILURE_DOMAIN_INVALID",
                CLUSTER,
                [],
                "ha_lamp_failure_domain is %s; set it to 'rack' (default) or 'site'" % show(value),
            )
            return "rack"
        return value

    def _read_cluster_var(self, var, host_names, tier, hosts=None, scope="the whole cluster (group_vars/all)"):
        """Value of a cluster-wide variable; a finding when the hosts disagree.

        Such variables normally live in group_vars/all, so every host carries the same value.
        Hosts that do not define the variable are ignored, except for ha_lamp_vips on the load
        balancers: every LB must carry the same VIPs, or keepalived has nothing to fail over to.
        ``hosts`` (default: the main site's) and ``scope`` serve the DR site's own values.
        """
        hosts = self.hosts if hosts is None else hosts
        by_value = {}
        unset = []
        for name in host_names:
            variables = hosts[name].vars
            if var not in variables or variables[var] is None:
                unset.append(name)
                continue
            value = variables[var]
            entry = by_value.get(value_key(value))
            if entry is None:
                by_value[value_key(value)] = entry = (value, [])
            entry[1].append(name)
        if not by_value:
            return None
        values = list(by_value.values())
        if len(values) > 1 or (var == "ha_lamp_vips" and unset):
            parts = ["%s on %s" % (show(value, 160), name_hosts(names, self.limit)) for value, names in values]
            if var == "ha_lamp_vips" and unset:
                parts.append("unset on %s" % name_hosts(unset, self.limit))
            self.findings.error(
                "CLUSTER_VAR_CONFLICT",
                tier,
                [name for _value, names in values for name in names] + (unset if var == "ha_lamp_vips" else []),
                "%s differs between hosts: %s; set it once for %s" % (var, "; ".join(parts), scope),
            )
        return values[0][0]

    # -- the DR site ---------------------------------------------------------------------------

    def _read_dr_site_name(self):
        """ha_lamp_dr_site (read from every host: it decides which hosts are the DR site), or the default."""
        value = dr_site_name(self._read_cluster_var(DR_SITE_VAR, list(self.hosts), CLUSTER))
        if is_site_name(value):
            return value
        self.findings.error(
            "SITE_INVALID",
            CLUSTER,
            [],
            "%s is %s (%s), not a site name; %s" % (DR_SITE_VAR, type_name(value), show(value), DR_SITE_NAME_FIX),
        )
        return DEFAULT_DR_SITE

    def _split_dr_site(self):
        """Move the DR site's hosts out of the main site's hosts and groups; None when there is no DR site.

        A host is in the DR site when its site is exactly the DR site's name; an invalid site
        (SITE_INVALID) keeps it in the main site. Without a DR host nothing here changes anything.
        """
        name = self._read_dr_site_name()
        members = {key: host for key, host in self.hosts.items() if in_dr_site(host.vars, name)}
        if not members:
            return None
        dr = DrSite(name, members)
        self.hosts = {key: host for key, host in self.hosts.items() if key not in members}
        only_dr = "has only hosts of the DR site '%s'" % name
        for tier in TIERS:
            names = self.tiers.get(tier) or []
            dr.tiers[tier] = [host for host in names if host in members]
            if not dr.tiers[tier]:
                continue
            self.tiers[tier] = [host for host in names if host not in members]
            if not self.tiers[tier]:
                self.missing_tiers.append(tier)
                self.findings.error(
                    "TIER_MISSING",
                    tier,
                    [],
                    "%s: the group %s (%s); add at least 2 main-site hosts in different failure domains to it"
                    % (tier, only_dr, name_hosts(dr.tiers[tier], self.limit)),
                )
        dr.dcs = [host for host in self.dcs if host in members]
        dr.storage = [host for host in self.storage if host in members]
        self.dcs = [host for host in self.dcs if host not in members]
        self.storage = [host for host in self.storage if host not in members]
        # A group left with DR hosts only is, for the main site, no group: DCS_MISSING says so for dcs.
        if dr.dcs and not self.dcs:
            self.dcs_state = only_dr
        if dr.storage and not self.storage:
            self.storage_state = only_dr
        return dr

    # -- helpers for the rules -------------------------------------------------------------

    def every_host(self):
        """Main-site hosts, then the DR site's: for the per-host checks both sites share (rack, address)."""
        if self.dr is None:
            return list(self.hosts.values())
        return list(self.hosts.values()) + list(self.dr.hosts.values())

    def domain_of(self, host, level=None):
        """Failure-domain label of a host at ``level`` (rack or site); None when its rack is unknown."""
        level = level or self.level
        if level == "site":
            return host.site
        if host.rack is None:
            return None
        return "%s/%s" % (host.site, host.rack) if self.multi_site else host.rack

    def tier_hosts(self, tier):
        return [self.hosts[name] for name in self.tiers.get(tier, [])]

    def dcs_hosts(self):
        return [self.hosts[name] for name in self.dcs]

    def storage_hosts(self):
        return [self.hosts[name] for name in self.storage]
