# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Decisions of the backup tooling (ha-lamp-backup), as pure functions.

The scripts on the backup host do the I/O (mariabackup, restic, mariadb-binlog, files); everything
they must decide lives here and is unit-tested in tests/unit/plugins/module_utils/test_backup_plan.py.
Nothing in this module reads a file, a clock or the network: callers pass data in. Plain Python 3.9+,
standard library only, so the scripts can import it without Ansible.

GTID states
    A GTID is "domain-server-seq". A state is a comma-separated list of GTIDs with unique domains
    ("0-1-100,1-3-7", possibly ""), parsed into {domain: (server, seq)}. Positions are compared per
    domain by seq only (gtid_strict_mode: seq grows inside a domain whoever the server is), which is
    also how mariadb-binlog reads --start-position/--stop-position.
    A binlog's Gtid_list event and @@gtid_binlog_state list one GTID per (domain, server), so a domain
    can appear twice after a failover ("0-1-100,0-2-130"): state_from_gtid_list() reduces such a list
    to a state first.

Backup catalogue
    One record per backup: {"id", "kind": "full"|"incremental", "source", "parent" (incremental: the
    id it is based on), "time" (epoch of its consistent point), "gtid" (state at that point),
    "from_lsn", "to_lsn", "verified": None|True|False}. Extra keys are ignored. A chain is a full
    backup followed by the incrementals that continue it; a backup that failed verification, and
    everything after it in its chain, is never restored.

Binlog archive index
    {"segments": [{"id", "host", "server_id", "started_at", "gap_before", "files": [{"name",
    "start_state"}, ...]}]}, segments in the order they were started, one per period a server was
    primary. A start_state is the file's Gtid_list (one GTID per domain and server id); it is read
    as its newest GTID per domain (state_from_gtid_list). Segment i is
    authoritative from its first file's start_state S_i up to S_{i+1} inclusive, the last one up to
    its end: whatever an old primary logged past S_{i+1} (an unacknowledged tail) is never replayed.
    A segment that could not start inside what was archived carries "gap_before": true (the new
    primary no longer had the binlogs that continue the archive): no replay crosses into it. A
    segment may also carry "end_state", the state of the last transaction archived in it, which
    bounds it the same way. Otherwise the archiver's promise that each segment starts inside what
    was archived is trusted.

Times are UTC, written 'YYYY-MM-DD HH:MM:SS' (the playbooks' format and mariadb-binlog's
--stop-datetime, which must therefore run with TZ=UTC). Every refusal raises PlanError with a message
meant for the operator.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import calendar
import datetime
import math
import posixpath
import re
import time

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
KINDS = ("full", "incremental")
MAX_ID_32 = 2 ** 32 - 1
MAX_SEQ = 2 ** 64 - 1

_GTID_RE = re.compile(r"^([0-9]+)-([0-9]+)-([0-9]+)$")
_TIME_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}$")


class PlanError(ValueError):
    """A refusal with an operator-facing message: bad input, or a plan that cannot be made."""


class ArchiveGapError(PlanError):
    """The binlog archive misses a range of transactions that a replay would need."""


# --- GTIDs and states ------------------------------------------------------------------------------

def parse_gtid(text):
    """'0-1-100' -> (0, 1, 100). Domain and server id are 32-bit, seq 64-bit, as in MariaDB."""
    match = _GTID_RE.match(text) if isinstance(text, str) else None
    if not match:
        raise PlanError("not a GTID: %r (expected domain-server-seq)" % (text,))
    domain, server, seq = (int(part) for part in match.groups())
    if domain > MAX_ID_32 or server > MAX_ID_32 or seq > MAX_SEQ:
        raise PlanError("not a GTID: %r (domain and server id must fit in 32 bits, seq in 64)" % (text,))
    return domain, server, seq


def _split_list(text, what):
    """The GTIDs of a comma-separated list as (domain, server, seq) tuples; '' is the empty list."""
    bad = PlanError("not a %s: %r (expected domain-server-seq, comma-separated)" % (what, text))
    if not isinstance(text, str):
        raise bad
    if not text.strip():
        return []
    try:
        return [parse_gtid(item.strip()) for item in text.split(",")]
    except PlanError:
        raise bad


def parse_state(text):
    """'0-1-100,1-3-7' -> {0: (1, 100), 1: (3, 7)}; '' -> {}. A domain may appear only once."""
    state = {}
    for domain, server, seq in _split_list(text, "GTID state"):
        if domain in state:
            raise PlanError("GTID state %r names domain %d twice" % (text, domain))
        state[domain] = (server, seq)
    return state


def _position(text):
    """A Gtid_list / gtid_binlog_state as a parsed state: per domain the GTID with the highest seq."""
    state = {}
    for domain, server, seq in _split_list(text, "GTID list"):
        if domain not in state or seq > state[domain][1]:
            state[domain] = (server, seq)
    return state


def state_from_gtid_list(text):
    """Reduce a Gtid_list / gtid_binlog_state ('0-1-100,0-2-130': one GTID per domain AND server)
    to a state string: per domain the GTID with the highest seq, which under gtid_strict_mode is the
    most recent one ('0-2-130'). Inside one server's binlog seq only grows, so that GTID is where the
    file starts, per domain: exactly what mariadb-binlog's GTID positions express."""
    return format_state(_position(text))


def _state(value):
    """A state given as a string (parsed) or as a parse_state() dict (used as is)."""
    if isinstance(value, dict):
        return value
    return parse_state(value)


def format_state(state):
    """{0: (1, 100), 1: (3, 7)} -> '0-1-100,1-3-7' (domains sorted); a string is normalised."""
    state = _state(state)
    return ",".join("%d-%d-%d" % (domain, state[domain][0], state[domain][1]) for domain in sorted(state))


def contains(a, b):
    """True when state a has applied everything state b has: every domain of b is in a with a seq at
    least as high. Server ids play no part (seq orders a domain)."""
    a, b = _state(a), _state(b)
    return all(domain in a and a[domain][1] >= seq for domain, (_server, seq) in b.items())


def state_min(a, b):
    """Per domain present in both, the lower position (used to clamp); returned as a state string."""
    a, b = _state(a), _state(b)
    return format_state({domain: min(a[domain], b[domain], key=lambda pos: pos[1])
                         for domain in a if domain in b})


def _state_max(a, b):
    """Per domain of either, the higher position: where a replay stands after reaching b from a."""
    merged = dict(a)
    for domain, position in b.items():
        if domain not in merged or position[1] > merged[domain][1]:
            merged[domain] = position
    return merged


# --- times -----------------------------------------------------------------------------------------

def format_utc(epoch):
    """1764731700.5 -> '2025-12-03 03:15:00' (UTC, fractions dropped)."""
    return time.strftime(TIME_FORMAT, time.gmtime(math.floor(epoch)))


def parse_utc(text, what="time"):
    """'2025-12-03 03:15:00' (UTC) -> epoch seconds; anything else raises PlanError naming `what`."""
    bad = PlanError("%s %r is not a valid 'YYYY-MM-DD HH:MM:SS' UTC time" % (what, text))
    if not isinstance(text, str) or not _TIME_RE.match(text):
        raise bad
    try:
        return float(calendar.timegm(time.strptime(text, TIME_FORMAT)))
    except ValueError:
        raise bad


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _target_time(value):
    """A target time as epoch: the playbook's string, or a number from a script."""
    if _is_number(value):
        return float(value)
    return parse_utc(value, "restore target time")


def _target_state(value):
    try:
        return _state(value)
    except PlanError:
        raise PlanError("restore target GTID %r is not a GTID (domain-server-seq, comma-separated for "
                        "several domains)" % (value,))


def _one_target(to_gtid, to_time):
    if to_gtid is not None and to_time is not None:
        raise PlanError("give a target time or a target GTID, not both")


def _describe_backup_point(backup):
    return "%s (%s UTC, GTID %s)" % (backup["id"], format_utc(backup["time"]), format_state(backup["gtid"]))


# --- backup catalogue ------------------------------------------------------------------------------

def _record_problem(backup):
    """Why a catalogue record cannot be used as a backup, or None when it is well formed."""
    if backup.get("kind") not in KINDS:
        return "kind %r is neither full nor incremental" % (backup.get("kind"),)
    if not isinstance(backup.get("source"), str) or not backup["source"]:
        return "no source host"
    if not _is_number(backup.get("time")):
        return "time %r is not a number" % (backup.get("time"),)
    try:
        parse_state(backup.get("gtid"))
    except PlanError as exc:
        return "gtid: %s" % exc
    lsns = (backup.get("from_lsn"), backup.get("to_lsn"))
    if not all(isinstance(lsn, int) and not isinstance(lsn, bool) and lsn >= 0 for lsn in lsns):
        return "from_lsn/to_lsn %r/%r are not LSNs" % lsns
    if lsns[1] < lsns[0]:
        return "to_lsn %d is below from_lsn %d" % (lsns[1], lsns[0])
    if backup.get("verified") not in (None, True, False):
        return "verified %r is neither true, false nor null" % (backup.get("verified"),)
    return None


def _index_catalogue(backups):
    """{id: record} after checking ids; records without an id or with a duplicate one stop everything
    (they cannot even be reported by id)."""
    by_id = {}
    for backup in backups:
        if not isinstance(backup, dict) or not isinstance(backup.get("id"), str) or not backup["id"]:
            raise PlanError("a backup record has no id: %r" % (backup,))
        if backup["id"] in by_id:
            raise PlanError("backup id %s appears twice in the catalogue" % backup["id"])
        by_id[backup["id"]] = backup
    return by_id


def _order(backup):
    return (backup["time"], backup["id"])


def _link_problem(backup, parent):
    """Why incremental `backup` cannot follow `parent` directly (both well formed), or None."""
    if parent["source"] != backup["source"]:
        return "taken on %s, its parent %s on %s" % (backup["source"], parent["id"], parent["source"])
    if parent["to_lsn"] != backup["from_lsn"]:
        return "from_lsn %d does not continue its parent %s (to_lsn %d)" % (
            backup["from_lsn"], parent["id"], parent["to_lsn"])
    return None


def _analyse(backups):
    """(chains, broken): the chains oldest full first, and {id: reason} for every record left out."""
    by_id = _index_catalogue(backups)
    broken = {}
    valid = {}
    for backup_id, backup in by_id.items():
        problem = _record_problem(backup)
        if problem:
            broken[backup_id] = "invalid record: %s" % problem
        else:
            valid[backup_id] = backup
    children = {}
    for backup in valid.values():
        if backup["kind"] == "incremental" and backup.get("parent") in valid:
            children.setdefault(backup["parent"], []).append(backup)
    chains, successor = [], {}
    for full in sorted((b for b in valid.values() if b["kind"] == "full"), key=_order):
        chain = [full]
        for _link in range(len(valid)):  # bounded: a chain cannot be longer than the catalogue
            nexts = sorted((c for c in children.get(chain[-1]["id"], []) if not _link_problem(c, chain[-1])),
                           key=_order)
            if not nexts:
                break
            successor[chain[-1]["id"]] = nexts[0]["id"]
            chain.append(nexts[0])
        chains.append(chain)
    placed = {backup["id"] for chain in chains for backup in chain}
    for backup in valid.values():
        if backup["id"] not in placed:
            broken[backup["id"]] = _exclusion_reason(backup, by_id, valid, placed, successor)
    return chains, broken


def _exclusion_reason(backup, by_id, valid, placed, successor):
    """Why a well-formed incremental is in no chain, the cause nearest to it first."""
    parent_id = backup.get("parent")
    if not parent_id:
        return "incremental without a parent"
    if parent_id not in by_id:
        return "parent %s is not in the catalogue" % parent_id
    if parent_id not in valid:
        return "parent %s is excluded" % parent_id
    problem = _link_problem(backup, valid[parent_id])
    if problem:
        return problem
    if parent_id not in placed:
        return "parent %s is excluded" % parent_id
    return "its parent %s is already continued by %s" % (parent_id, successor[parent_id])


def chains(backups):
    """Each full backup with the incrementals that continue it, in order; chains oldest first.

    An incremental continues its parent when both were taken on the same host and its from_lsn is the
    parent's to_lsn. When two incrementals claim the same parent, the older one continues the chain.
    Records left out are listed by broken_backups(). The records themselves are returned (not copies).
    """
    return _analyse(backups)[0]


def broken_backups(backups):
    """{id: reason} for the records in no chain: malformed, or an incremental whose chain is broken."""
    return _analyse(backups)[1]


def _usable(chain):
    """The part of a chain that may be restored: up to the first backup that failed verification."""
    for position, backup in enumerate(chain):
        if backup.get("verified") is False:
            return chain[:position]
    return chain


def _before_oldest(oldest, target_time=None, target_state=None):
    if target_state is None:
        return PlanError("restore target %s UTC is before the oldest usable backup %s"
                         % (format_utc(target_time), _describe_backup_point(oldest)))
    missing = sorted(set(_state(oldest["gtid"])) - set(target_state))
    if missing:
        return PlanError("restore target GTID %s is not at or after any usable backup: the oldest, %s, has "
                         "transactions in domain %s and the target names no position there"
                         % (format_state(target_state), _describe_backup_point(oldest),
                            ", ".join(str(domain) for domain in missing)))
    return PlanError("restore target GTID %s is before the oldest usable backup %s"
                     % (format_state(target_state), _describe_backup_point(oldest)))


def choose_restore_chain(backups, to_gtid=None, to_time=None):
    """The backups to restore, full first: the longest usable prefix of a chain whose last backup is at
    or before the target (to_gtid: the target contains its GTID state; to_time: its time is at or
    before, given as 'YYYY-MM-DD HH:MM:SS' UTC or epoch), the latest backup without a target. Among
    chains, the one whose last backup is newest wins (least binlog to replay), then the shorter one.
    """
    _one_target(to_gtid, to_time)
    target_state = _target_state(to_gtid) if to_gtid is not None else None
    target_time = _target_time(to_time) if to_time is not None else None
    if not backups:
        raise PlanError("no backups in the catalogue: take one first (playbooks/backup.yml)")
    usable = [chain for chain in (_usable(chain) for chain in chains(backups)) if chain]
    if not usable:
        raise PlanError("no usable backup: the %d backups in the catalogue failed verification or have a "
                        "broken chain (ha-lamp-backup status lists them)" % len(backups))

    def reached(backup):
        if target_state is not None:
            return contains(target_state, backup["gtid"])
        if target_time is not None:
            return backup["time"] <= target_time
        return True

    candidates = []
    for chain in usable:
        prefix = []
        for backup in chain:
            if not reached(backup):
                break
            prefix.append(backup)
        if prefix:
            candidates.append(prefix)
    if not candidates:
        oldest = min((chain[0] for chain in usable), key=_order)
        raise _before_oldest(oldest, target_time, target_state)
    return max(candidates, key=lambda prefix: (prefix[-1]["time"], -len(prefix), prefix[-1]["id"]))


def incremental_parent(backups):
    """The backup a new incremental should continue: the last one of the newest chain, or None when a
    full backup is needed (no chain yet, or the newest chain has a backup that failed verification:
    building on it would only extend a chain that cannot be restored past that point)."""
    all_chains = chains(backups)
    if not all_chains or _usable(all_chains[-1]) != all_chains[-1]:
        return None
    return all_chains[-1][-1]


def oldest_restorable_state(backups, keep_ids=None):
    """The GTID state of the oldest usable full backup (among keep_ids when given): the binlog archive
    must keep everything from there on (prunable_files' oldest_needed_state). None when there is none."""
    fulls = [chain[0] for chain in chains(backups) if _usable(chain)
             and (keep_ids is None or chain[0]["id"] in keep_ids)]
    if not fulls:
        return None
    return format_state(min(fulls, key=_order)["gtid"])


# --- retention -------------------------------------------------------------------------------------

def _day(epoch):
    return time.gmtime(math.floor(epoch))[:3]


def _iso_week(epoch):
    """(ISO year, ISO week): 2026-12-31 and 2027-01-01 can share a week, 2024-12-30 is in 2025's first."""
    return datetime.datetime.fromtimestamp(math.floor(epoch), datetime.timezone.utc).isocalendar()[:2]


def _month(epoch):
    return time.gmtime(math.floor(epoch))[:2]


def _check_counts(keep_daily, keep_weekly, keep_monthly, keep_last):
    for name, value in (("keep_daily", keep_daily), ("keep_weekly", keep_weekly),
                        ("keep_monthly", keep_monthly), ("keep_last", keep_last)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise PlanError("retention %s must be a whole number of at least 0, not %r" % (name, value))
    if keep_last < 1:
        raise PlanError("retention keep_last must be at least 1: the newest full backup is always kept")


def _kept_fulls(fulls, keep_daily, keep_weekly, keep_monthly, keep_last):
    """restic forget's bucket rule on full backups, newest first: a backup is kept when it is the first
    one seen in a new bucket (so the newest of its day/week/month) while that policy has count left."""
    policies = [{"left": keep_last, "bucket": None},  # every backup is a bucket of its own
                {"left": keep_daily, "bucket": _day},
                {"left": keep_weekly, "bucket": _iso_week},
                {"left": keep_monthly, "bucket": _month}]
    kept = set()
    for number, backup in enumerate(sorted(fulls, key=_order, reverse=True)):
        for policy in policies:
            if policy["left"] <= 0:
                continue
            bucket = number if policy["bucket"] is None else policy["bucket"](backup["time"])
            if bucket != policy.get("last"):
                policy["last"] = bucket
                policy["left"] -= 1
                kept.add(backup["id"])
    return kept


def _root_full(backup, by_id):
    """The full backup an incremental descends from by its parent links, or None (missing, cycle)."""
    seen = set()
    while backup is not None and backup["id"] not in seen:
        if backup.get("kind") == "full":
            return backup
        seen.add(backup["id"])
        backup = by_id.get(backup.get("parent"))
    return None


def retention(backups, keep_daily, keep_weekly, keep_monthly, keep_last=1):
    """(keep_ids, forget_ids), both sorted.

    restic's --keep-last/--keep-daily/--keep-weekly (ISO weeks)/--keep-monthly rule applied to the full
    backups by their UTC time, counting only fulls that have not failed verification: for each of the
    last N days/weeks/months that have one, the newest is kept; the newest keep_last are always kept.
    A full that failed verification never takes a bucket from a good one: it stays while it is newer
    than the oldest kept full (so status still shows it) and is forgotten after. An incremental follows
    the full its parent links lead to; one without a full stays only inside that same window.
    Malformed records are never forgotten (broken_backups() reports them). Nothing is forgotten while no
    usable full backup exists.
    """
    _check_counts(keep_daily, keep_weekly, keep_monthly, keep_last)
    by_id = _index_catalogue(backups)
    valid = {bid: b for bid, b in by_id.items() if _record_problem(b) is None}
    good_fulls = [b for b in valid.values() if b["kind"] == "full" and b.get("verified") is not False]
    if not good_fulls:
        return sorted(by_id), []
    kept_fulls = _kept_fulls(good_fulls, keep_daily, keep_weekly, keep_monthly, keep_last)
    window_start = min(valid[bid]["time"] for bid in kept_fulls)
    keep = set(bid for bid in by_id if bid not in valid)
    for backup in valid.values():
        root = _root_full(backup, valid)
        if root is not None and root.get("verified") is not False:
            if root["id"] in kept_fulls:
                keep.add(backup["id"])
        elif backup["time"] >= window_start:
            keep.add(backup["id"])
    return sorted(keep), sorted(set(by_id) - keep)


# --- binlog archive --------------------------------------------------------------------------------

def _plain_name(value, what):
    if not isinstance(value, str) or not value or "/" in value or value in (".", ".."):
        raise PlanError("binlog archive index: %s %r is not a plain file name" % (what, value))
    return value


def _segments(index):
    """The index's segments that list files, validated: [{"id", "files": [(name, state)], "start"}].
    A segment without files yet covers nothing and is left out."""
    if not isinstance(index, dict) or not isinstance(index.get("segments"), list):
        raise PlanError("binlog archive index: expected {\"segments\": [...]}, got %r" % (index,))
    segments = []
    for segment in index["segments"]:
        if not isinstance(segment, dict):
            raise PlanError("binlog archive index: segment %r is not a mapping" % (segment,))
        segment_id = _plain_name(segment.get("id"), "segment id")
        files = []
        for item in segment.get("files") or []:
            if not isinstance(item, dict):
                raise PlanError("binlog archive index: segment %s lists %r, not a file" % (segment_id, item))
            name = _plain_name(item.get("name"), "file name in segment %s:" % segment_id)
            try:
                start = _position(item.get("start_state"))
            except PlanError as exc:
                raise PlanError("binlog archive index: segment %s, file %s: %s" % (segment_id, name, exc))
            if files and not contains(start, files[-1][1]):
                raise PlanError("binlog archive index: segment %s, file %s starts at %s, before the previous "
                                "file (%s)" % (segment_id, name, format_state(start), format_state(files[-1][1])))
            files.append((name, start))
        if files:
            segments.append({"id": segment_id, "files": files, "start": files[0][1],
                             "end": _end_state(segment, segment_id, files),
                             "gap_before": bool(segment.get("gap_before"))})
    return segments


def _end_state(segment, segment_id, files):
    """The segment's optional end_state (None when absent), which cannot be before its last file."""
    if segment.get("end_state") is None:
        return None
    try:
        end = _position(segment["end_state"])
    except PlanError as exc:
        raise PlanError("binlog archive index: segment %s, end_state: %s" % (segment_id, exc))
    if not contains(end, files[-1][1]):
        raise PlanError("binlog archive index: segment %s ends at %s, before its last file %s starts (%s)"
                        % (segment_id, format_state(end), files[-1][0], format_state(files[-1][1])))
    return end


def _gap(covered_to, segment):
    return ArchiveGapError("the binlog archive has a gap: nothing covers %s .. %s (segment %s starts at %s)"
                           % (format_state(covered_to), format_state(segment["start"]), segment["id"],
                              format_state(segment["start"])))


def _check_continuity(segment, following, position, target):
    """Raise ArchiveGapError when the replay must go from `segment` into `following` (or to a target
    inside `segment`) but the archive holds nothing between them."""
    archived = segment["end"]
    gap = following["gap_before"] or (archived is not None and not contains(archived, following["start"]))
    if not gap:
        return
    if target is not None and (archived is None or contains(archived, target)):
        return  # the target comes before the hole (unknown end: step_reached_stop will tell)
    covered = archived if archived is not None else segment["files"][-1][1]
    raise _gap(_state_max(position, covered), following)


def _first_segment(segments, position):
    """Index of the first segment whose range does not end at or before position."""
    first = 0
    while first + 1 < len(segments) and contains(position, segments[first + 1]["start"]):
        first += 1
    return first


def _step_files(segment, start, stop, archive_dir):
    """The segment's files a step reads: from the newest file starting at or before `start` (files
    start in order) up to the last one that can hold events up to `stop`."""
    files = segment["files"]
    first = max(k for k, (_name, begin) in enumerate(files) if contains(start, begin))
    end = len(files)
    if stop is not None:
        end = next((k for k in range(first + 1, len(files)) if contains(files[k][1], stop)), len(files))
    return [posixpath.join(archive_dir, segment["id"], name) for name, _begin in files[first:end]]


def _walk(segments, position, target=None, stop_datetime=None, archive_dir=""):
    """The replay steps from position through the segments (see replay_plan)."""
    steps = []
    number = _first_segment(segments, position)
    while number < len(segments):
        segment = segments[number]
        if not contains(position, segment["start"]):
            raise _gap(position, segment)
        end = segments[number + 1]["start"] if number + 1 < len(segments) else None
        reaches = target is not None and (end is None or contains(end, target))
        if end is not None:
            _check_continuity(segment, segments[number + 1], position, target if reaches else None)
        stop = target if reaches else end
        steps.append({"segment": segment["id"], "files": _step_files(segment, position, stop, archive_dir),
                      "start_position": format_state(position),
                      "stop_position": format_state(stop) if stop is not None else None,
                      "stop_datetime": stop_datetime})
        if end is None or reaches:
            break
        position = _state_max(position, end)
        number += 1
        while number + 1 < len(segments) and contains(position, segments[number + 1]["start"]):
            number += 1  # a segment whose whole range is already behind us
    return steps


def replay_plan(index, from_state, to_gtid=None, to_time=None, archive_dir=""):
    """The mariadb-binlog runs that bring a restored backup at from_state to the target, in order.

    Each step: {"segment", "files": [archive_dir/segment/name, ...], "start_position" (exclusive,
    --start-position), "stop_position" (inclusive, --stop-position, or None: to the end of the files),
    "stop_datetime" (--stop-datetime, exclusive, UTC, or None)}. A step stops where its segment's
    authority ends (the next segment's start); the next step starts there. With to_gtid the walk ends at
    the first step whose range reaches the target; with to_time every step carries stop_datetime and
    the caller stops after the first step that does not reach its stop_position (step_reached_stop).
    Without a target it runs to the end of the archive. [] when there is nothing to replay.
    Raises ArchiveGapError when no segment covers the current position.
    """
    _one_target(to_gtid, to_time)
    position = _state(from_state)
    target = _target_state(to_gtid) if to_gtid is not None else None
    stop_datetime = format_utc(_target_time(to_time)) if to_time is not None else None
    if target is not None:
        if not contains(target, position):
            raise PlanError("the restored backup is already past the target: it is at GTID %s, the target "
                            "is %s (choose_restore_chain picks a backup at or before it)"
                            % (format_state(position), format_state(target)))
        if contains(position, target):
            return []
    segments = _segments(index)
    if not segments:
        if target is None and stop_datetime is None:
            return []
        raise PlanError("the binlog archive is empty: nothing can replay from GTID %s to the target"
                        % format_state(position))
    return _walk(segments, position, target, stop_datetime, archive_dir)


def step_reached_stop(step, state_after):
    """True when the server's GTID position after applying `step` has reached its stop_position, so the
    next step may run. Check it after every step. False with a target time: --stop-datetime ended the
    step first, the target lies in it and the remaining steps must not run. False otherwise: the files
    did not hold what the index promised (a gap the index did not record); stop and report it, the
    next step would skip transactions."""
    if step.get("stop_position") is None:
        return True
    return contains(state_after, step["stop_position"])


def archive_covers(index, state):
    """True when the archive holds every transaction after `state` with no gap up to its newest one."""
    segments = _segments(index)
    if not segments:
        return False
    try:
        _walk(segments, _state(state))
    except ArchiveGapError:
        return False
    return True


def prunable_files(index, oldest_needed_state, archive_dir=""):
    """Archived binlog files no restore from oldest_needed_state (or later) can need: a file whose
    successor in its segment starts at a state contained in oldest_needed_state, and every file of a
    segment whose range ends at or before it. The newest segment's last file is never among them."""
    oldest = _state(oldest_needed_state)
    segments = _segments(index)
    paths = []
    for number, segment in enumerate(segments):
        files = segment["files"]
        if number + 1 < len(segments) and contains(oldest, segments[number + 1]["start"]):
            names = [name for name, _start in files]
        else:
            names = [files[k][0] for k in range(len(files) - 1) if contains(oldest, files[k + 1][1])]
        paths.extend(posixpath.join(archive_dir, segment["id"], name) for name in names)
    return paths


# --- restore target checks and the printed plan ------------------------------------------------------

def _lag_clause(archive_time, now):
    if archive_time is None or now is None:
        return ""
    return "; the archive lags %d s behind now" % max(0, int(round(now - archive_time)))


def _archive_point(archive_state, archive_time):
    if not archive_state and archive_time is None:
        return "nothing archived yet"
    parts = []
    if archive_time is not None:
        parts.append("%s UTC" % format_utc(archive_time))
    if archive_state:
        parts.append("GTID %s" % format_state(archive_state))
    return ", ".join(parts)


def check_target(backups, archive_state, archive_time, to_gtid=None, to_time=None, now=None):
    """None when a restore to the target can be planned from the catalogue and the archive's newest
    complete point (archive_state / archive_time: what the archiver last confirmed holding, None or ''
    when nothing is archived); otherwise PlanError saying what to change."""
    _one_target(to_gtid, to_time)
    target_time = _target_time(to_time) if to_time is not None else None
    target_state = _target_state(to_gtid) if to_gtid is not None else None
    archive_state = _position(archive_state or "")
    if target_time is not None and now is not None and target_time > now:
        raise PlanError("restore target %s UTC is in the future (now %s UTC)"
                        % (format_utc(target_time), format_utc(now)))
    chain = choose_restore_chain(backups, to_gtid=to_gtid, to_time=to_time)
    after_archive = "is after the newest archived binlog event (%s%s): wait for the archive to catch up or " \
                    "choose an earlier target" % (_archive_point(archive_state, archive_time),
                                                  _lag_clause(archive_time, now))
    if target_time is not None and (archive_time is None or archive_time < target_time):
        raise PlanError("restore target %s UTC %s" % (format_utc(target_time), after_archive))
    if target_state is not None and not contains(chain[-1]["gtid"], target_state) \
            and not contains(archive_state, target_state):
        raise PlanError("restore target GTID %s %s" % (format_state(target_state), after_archive))
    return None


def _target_line(target):
    if target is None or target == "latest":
        return "restore target: latest (the newest backup, then every archived transaction)"
    if _is_number(target) or (isinstance(target, str) and _TIME_RE.match(target)):
        return "restore target: %s UTC (transactions logged before this second)" % format_utc(_target_time(target))
    return "restore target: GTID %s (up to and including it)" % format_state(_target_state(target))


_VERIFIED = {True: "verified", False: "FAILED verification", None: "not verified yet"}


def _backup_line(number, backup):
    return "  %d. %s: %s from %s, consistent at %s UTC, GTID %s, %s" % (
        number, backup["id"], backup["kind"], backup["source"], format_utc(backup["time"]),
        format_state(backup["gtid"]) or "(empty)", _VERIFIED.get(backup.get("verified"), "not verified yet"))


def _step_line(number, step):
    names = [posixpath.basename(path) for path in step["files"]]
    files = "1 file (%s)" % names[0] if len(names) == 1 else "%d files (%s .. %s)" % (
        len(names), names[0], names[-1]) if names else "no files"
    start = "after GTID %s" % step["start_position"] if step["start_position"] else "from the start"
    if step.get("stop_position"):
        stop = "up to GTID %s inclusive" % step["stop_position"]
        if step.get("stop_datetime"):
            stop += ", or until %s UTC if that comes first" % step["stop_datetime"]
    elif step.get("stop_datetime"):
        stop = "until %s UTC (exclusive)" % step["stop_datetime"]
    else:
        stop = "to the end of the archive"
    return "  %d. segment %s, %s: %s %s" % (number, step["segment"], files, start, stop)


def describe_plan(chain, steps, target):
    """The lines printed before a restore runs. target: 'latest' (or None), a 'YYYY-MM-DD HH:MM:SS'
    UTC time (or epoch) or a GTID state, as given to the restore."""
    if not chain:
        raise PlanError("nothing to restore: the chain of backups is empty")
    lines = [_target_line(target), "backups to restore, in order (%d):" % len(chain)]
    lines.extend(_backup_line(number, backup) for number, backup in enumerate(chain, 1))
    if steps:
        lines.append("binlog replay (%d step%s):" % (len(steps), "" if len(steps) == 1 else "s"))
        lines.extend(_step_line(number, step) for number, step in enumerate(steps, 1))
    else:
        lines.append("binlog replay: none")
    unverified = [backup for backup in chain if backup.get("verified") is not True]
    if unverified:
        lines.append("warning: %d of these backups %s not been verified yet (%s)" % (
            len(unverified), "has" if len(unverified) == 1 else "have",
            ", ".join(backup["id"] for backup in unverified)))
    return lines
