# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Availability estimate of the cluster from its inventory (plain Python, no Ansible imports).

The model, kept deliberately simple so an operator can check it by hand:

* every host is up with probability ``a`` (``host_availability``), independently of the others;
* every failure domain at the configured level (a rack, or a site) is up with probability ``d``
  (``domain_availability``; 1.0 = domains never fail as a whole), independently of the others;
  a host is up only when its domain is up and the host itself is up;
* a tier is up while at least one of its hosts is up. For the database tier this assumes a
  replica can be promoted when the primary's domain is lost (the failover playbook); the estimate
  is about reachability, not about the minutes a failover takes;
* the stack is up when every tier is up. Its availability is the product of the tier
  availabilities. Tiers that share a failure domain (or a host) fail together more often than
  independent tiers would, which makes the real figure slightly *higher*: the product is a
  conservative (lower) bound, exact when ``d`` is 1.0 and no host is in two tiers.

Per tier, with ``n_D`` hosts of the tier in domain D:

    P(tier down) = prod over D of [ (1 - d) + d * (1 - a) ** n_D ]

Everything is computed as unavailability (probability of being down) so that very small numbers
keep their precision instead of rounding ``1 - 1e-17`` to 1.
"""

from __future__ import annotations

import math

MINUTES_PER_YEAR = 365.25 * 24 * 60  # 525960


def tier_unavailability(domain_counts, host_availability, domain_availability):
    """P(no host of the tier is up); ``domain_counts`` maps domain -> number of tier hosts there."""
    if not domain_counts:
        return 1.0
    down = 1.0
    for count in domain_counts.values():
        down *= (1.0 - domain_availability) + domain_availability * (1.0 - host_availability) ** count
    return down


def figures(unavailability):
    """Availability, nines and expected downtime per year for one unavailability figure."""
    unavailability = min(max(unavailability, 0.0), 1.0)
    return {
        "availability": 1.0 - unavailability,
        "unavailability": unavailability,
        # None when the figure is below floating-point resolution (more than ~300 nines).
        "nines": round(-math.log10(unavailability), 2) if unavailability > 0 else None,
        "downtime_minutes_per_year": unavailability * MINUTES_PER_YEAR,
    }


def domain_losses(level, tier_domains, tier_hosts_count, primary_domain):
    """For every domain at ``level``: which tiers its loss stops (all their hosts are in it).

    ``tier_domains`` maps tier -> {domain: count}. Linear in the number of (tier, domain) pairs.
    """
    hosts_in = {}
    for counts in tier_domains.values():
        for domain, count in counts.items():
            hosts_in[domain] = hosts_in.get(domain, 0) + count
    losses = []
    for domain in sorted(hosts_in):
        stops = [
            tier
            for tier, counts in tier_domains.items()
            if tier_hosts_count.get(tier, 0) > 0 and counts.get(domain, 0) == tier_hosts_count[tier]
        ]
        losses.append(
            {
                "level": level,
                "domain": domain,
                "tier_hosts": hosts_in[domain],
                "stops": stops,
                "primary_lost": primary_domain is not None and domain == primary_domain,
            }
        )
    return losses


def estimate(levels, level, tiers, host_availability=0.99, domain_availability=0.999, primary_domains=None):
    """Availability of each tier and of the stack, and the worst single failure domain.

    ``levels`` maps a level name ("rack", "site") to {tier: {domain: host count}}; ``level`` is the
    configured failure-domain level (used for the probabilities); ``tiers`` lists every tier
    (a tier with no hosts is down); ``primary_domains`` maps level -> domain of the primary database.
    """
    primary_domains = primary_domains or {}
    tier_domains = levels.get(level, {})
    result_tiers = {}
    log_up = 0.0  # sum of log(P(tier up)), so the stack figure keeps its precision
    stack_down_certain = False
    for tier in tiers:
        counts = tier_domains.get(tier, {})
        down = tier_unavailability(counts, host_availability, domain_availability)
        entry = figures(down)
        entry.update({"hosts": sum(counts.values()), "domains": len(counts)})
        result_tiers[tier] = entry
        if down >= 1.0:
            stack_down_certain = True
        else:
            log_up += math.log1p(-down)
    stack = figures(1.0 if stack_down_certain else -math.expm1(log_up))

    tier_totals = {tier: sum(tier_domains.get(tier, {}).values()) for tier in tiers}
    losses = []
    for name in (level, "site") if level == "rack" and len(_domains(levels.get("site", {}))) > 1 else (level,):
        losses.extend(domain_losses(name, levels.get(name, {}), tier_totals, primary_domains.get(name)))
    worst = None
    if losses:
        worst = max(losses, key=lambda loss: (len(loss["stops"]), loss["primary_lost"], loss["tier_hosts"]))
    return {
        "model": (
            "independent host failures (availability %g per host)%s; a tier is up while one of its hosts is up; "
            "stack = product of tiers (a lower bound when tiers share %ss)"
            % (
                host_availability,
                (
                    ""
                    if domain_availability >= 1.0
                    else " inside independent %ss (availability %g per %s)" % (level, domain_availability, level)
                ),
                level,
            )
        ),
        "host_availability": host_availability,
        "domain_availability": domain_availability,
        "failure_domain": level,
        "tiers": result_tiers,
        "stack": stack,
        "domain_losses": losses,
        "worst_domain_loss": worst,
    }


def _domains(tier_domains):
    found = set()
    for counts in tier_domains.values():
        found.update(counts)
    return found


def describe_loss(loss):
    """'losing rack r2 stops: none' / 'losing site a stops: databases, webservers'."""
    text = "losing %s %s stops: %s" % (loss["level"], loss["domain"], ", ".join(loss["stops"]) or "none")
    if loss["primary_lost"] and "databases" not in loss["stops"]:
        text += " (the primary database is there: writes pause until a replica is promoted)"
    return text


def describe_figures(entry):
    """'99.99% (4.0 nines, 52.6 min/year)'."""
    nines = entry["nines"]
    nines_text = "%.1f nines" % nines if nines is not None else "beyond float precision"
    minutes = entry["downtime_minutes_per_year"]
    if minutes >= 100:
        minutes_text = "%.0f min/year" % minutes
    elif minutes >= 0.1:
        minutes_text = "%.1f min/year" % minutes
    else:
        minutes_text = "%.1f s/year" % (minutes * 60) if minutes * 60 >= 0.05 else "< 0.1 s/year"
    return "%s (%s, %s)" % (_percent(entry["availability"], entry["unavailability"]), nines_text, minutes_text)


def _percent(availability, unavailability):
    if unavailability <= 0:
        return "100%"
    # enough decimals to show the first significant digit of the downtime
    decimals = max(2, min(12, int(math.ceil(-math.log10(unavailability * 100))) + 1))
    return "%.*f%%" % (decimals, availability * 100)
