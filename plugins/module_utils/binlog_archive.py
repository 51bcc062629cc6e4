# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Decisions of the binlog archiver (roles/backup/files/ha_lamp_binlog_archive.py), as pure functions.

The archiver runs on the backup host. It streams the binary logs of whichever database node is the
primary into a local archive with ``mariadb-binlog --read-from-remote-server --raw --stop-never``,
so that point-in-time recovery still works after the whole cluster is lost, and it exports how far
the archive lags behind the primary (the RPO of such a loss). Nothing here does I/O: the daemon
observes the nodes, asks these functions what to do, and does it.

The archive (read by module_utils/backup_plan.py; the format is a contract, do not change it)::

    <archive_dir>/index.json
        {"segments": [{"id": "000001-db1", "host": "db1", "server_id": 1, "started_at": epoch,
                       "gap_before": false,
                       "files": [{"name": "mysql-bin.000003", "start_state": "0-1-100"}, ...]}]}
    <archive_dir>/<segment id>/<binlog file name>
    <archive_dir>/accepted_history.json   {"gtid": ..., "at": epoch, "by": ...} (optional, see below)

A segment is one uninterrupted stream from one server. A new one starts when the primary changes
(or the old stream cannot be continued). Its first file is the newest binary log of the new
primary whose start state (the Gtid_list event at the head of every binlog file, i.e. the server's
gtid_binlog_state when the file was opened) is contained in the GTID state the archive had caught
up with; if none is, the archive has a hole: the segment starts at the new primary's oldest file
and records ``gap_before: true``.

Why containment is checked per (domain, server_id) and not per domain: after a failover the new
primary continues the sequence numbers of the domain (gtid_strict_mode), so 0-2-103 on the new
primary and 0-1-103 archived from the old one have the same seq but are different transactions.
A start state [0-1-100,0-2-103] is contained in an archived state 0-1-105 per domain but NOT per
(domain, server_id): starting there would skip 0-2-101..103. The archive therefore remembers the
primary's gtid_binlog_state (one entry per domain and server_id) when it caught up, not only
gtid_binlog_pos (the last GTID per domain, which is what the state file and the metric show).

Which history is followed: the archive remembers the highest position, per domain, it saw any replica
hold (witness()). Semi-sync puts every acknowledged write on a replica and a failover promotes the most
advanced one, so a legitimate new primary is never behind it. A primary that is behind it is a tier
rebuilt empty or rewound by a restore: its GTIDs reuse sequence numbers the archive already holds for
other transactions. follow_history() refuses it, so nothing of it is archived and the old history stays
restorable, until accepted_history.json (written by `ha-lamp-backup accept-history`, which restore.yml
runs with the position it restored) declares a position that primary has reached.

For restores (backup_plan.py): consecutive segments overlap. Segment k+1's first file may repeat
transactions that segment k holds, and segment k may end with transactions the new primary never
had (an old primary's tail that no replica acknowledged; the cluster discarded it). Replaying
segment k only up to segment k+1's first start_state, then segment k+1, follows the cluster.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json
import re

from ansible_collections.onprem.ha_lamp.plugins.module_utils.mysql_topology import (
    GtidError, domain_positions, format_gtid, missing_gtids, parse_gtid_list)

SEGMENT_ID = re.compile(r"^(\d{6})-([A-Za-z0-9_.-]+)$")
NODE_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
# A binary log name as the server writes it: basename '.' a number of at least 6 digits.
BINLOG_NAME = re.compile(r"^([A-Za-z0-9_-][A-Za-z0-9_.-]*)\.(\d{6,})$")
GTID_LIST_TEXT = re.compile(r"Gtid list \[([^\]]*)\]")


class ConfigError(ValueError):
    """A bad configuration value; str() is the one line the daemon prints before exiting 2."""


class ArchiveIndexError(ValueError):
    """index.json exists but does not have the contract's shape."""


# --- GTID states ----------------------------------------------------------------------------------

def normalize_state(text):
    """'0-2-9, 0-1-8' -> '0-1-8,0-2-9' (sorted, highest seq per pair); raises GtidError."""
    return format_gtid(parse_gtid_list(text))


def gtid_list_from_info(info):
    """The Info column of a Gtid_list row of SHOW BINLOG EVENTS ('[0-1-8,0-2-9]', '[]') as a state."""
    text = str(info or "").strip()
    if not (text.startswith("[") and text.endswith("]")):
        raise GtidError("not a Gtid_list info: %r" % text[:80])
    return normalize_state(text[1:-1])


def start_state_from_events(rows):
    """Start state of a binlog file from the first rows of SHOW BINLOG EVENTS IN 'file' LIMIT 3.

    Returns None when no Gtid_list row is among them (e.g. the file is not a MariaDB GTID binlog)."""
    for row in rows or ():
        if row.get("Event_type") == "Gtid_list":
            return gtid_list_from_info(row.get("Info"))
    return None


def start_state_from_dump(text):
    """Start state from `mariadb-binlog FILE` text output (the local fallback when the source is gone).

    mariadb-binlog prints the event as 'Gtid list [0-1-8,\\n# 0-2-9]' (one GTID per line after the
    first); None when the output holds no Gtid_list event (a file still shorter than its header)."""
    match = GTID_LIST_TEXT.search(text or "")
    if not match:
        return None
    return normalize_state(match.group(1).replace("#", " ").replace("\n", " "))


def contained(start_state, archived_state):
    """True when every GTID of start_state is already in archived_state, per (domain, server_id)."""
    return not missing_gtids(start_state, archived_state)


# --- primary selection ----------------------------------------------------------------------------

def observation(read_only=None, server_id=None, gtid_binlog_pos="", gtid_binlog_state="", replica=False,
                error=""):
    """One node as the daemon saw it this tick (error set: unreachable, the rest meaningless)."""
    return {"reachable": not error, "error": error, "read_only": bool(read_only), "server_id": server_id,
            "gtid_binlog_pos": gtid_binlog_pos or "", "gtid_binlog_state": gtid_binlog_state or "",
            "replica": bool(replica)}


def is_primary(obs):
    """A primary: reachable, read_only off, and not replicating from anyone."""
    return bool(obs) and obs.get("reachable") and not obs.get("read_only") and not obs.get("replica")


def describe_node(name, obs):
    if not obs or not obs.get("reachable"):
        return "%s unreachable (%s)" % (name, (obs or {}).get("error") or "not observed")
    if obs.get("read_only"):
        return "%s read-only" % name
    if obs.get("replica"):
        return "%s is a replica" % name
    return "%s writable" % name


def select_primary(observations):
    """(name, "") when exactly one node is a primary, else (None, why)."""
    writable = sorted(name for name, obs in observations.items() if is_primary(obs))
    if len(writable) == 1:
        return writable[0], ""
    if writable:
        return None, "several writable primaries: %s" % ", ".join(writable)
    return None, "no primary: %s" % "; ".join(describe_node(n, observations[n]) for n in sorted(observations))


def choose_source(observations, current):
    """Whom to stream from this tick: (node or None, reason).

    Exactly one primary: it. Otherwise no decision is taken; the current source is kept while it is
    still writable (a split brain or an election in progress must not make the archive jump), and
    None means there is nothing to stream from (reason says why)."""
    primary, reason = select_primary(observations)
    if primary:
        return primary, ""
    if current and is_primary(observations.get(current)):
        return current, reason + "; keeping %s" % current
    return None, reason


def server_id_clash(replica_server_id, observations):
    """Name of a node whose server_id equals ours: the primary would drop that replica's stream
    (one dump connection per server_id), so the archiver must not connect. None when clear."""
    for name in sorted(observations):
        obs = observations[name]
        if obs.get("reachable") and obs.get("server_id") is not None \
                and int(obs["server_id"]) == int(replica_server_id):
            return name
    return None


# --- the index ------------------------------------------------------------------------------------

def empty_index():
    return {"segments": []}


def binlog_sort_key(name):
    """Order of binary logs: by basename, then numerically (mysql-bin.999999 < mysql-bin.1000000)."""
    match = BINLOG_NAME.match(name)
    if not match:
        return (name, -1)
    return (match.group(1), int(match.group(2)))


def is_binlog_name(name):
    return bool(BINLOG_NAME.match(name or ""))


def check_index(index):
    """Raise ArchiveIndexError naming the first thing that breaks the contract; return the index."""
    if not isinstance(index, dict) or not isinstance(index.get("segments"), list):
        raise ArchiveIndexError('index.json: expected {"segments": [...]}')
    seen = set()
    for position, seg in enumerate(index["segments"]):
        where = "index.json: segment %d" % position
        if not isinstance(seg, dict):
            raise ArchiveIndexError("%s is not an object" % where)
        match = SEGMENT_ID.match(str(seg.get("id", "")))
        if not match or match.group(2) != seg.get("host"):
            raise ArchiveIndexError("%s: id %r does not match NNNNNN-<host>" % (where, seg.get("id")))
        if seg["id"] in seen:
            raise ArchiveIndexError("%s: duplicate id %s" % (where, seg["id"]))
        seen.add(seg["id"])
        if not isinstance(seg.get("files"), list):
            raise ArchiveIndexError("%s (%s): files is not a list" % (where, seg["id"]))
        for entry in seg["files"]:
            if not isinstance(entry, dict) or not is_binlog_name(entry.get("name")) \
                    or not isinstance(entry.get("start_state"), str):
                raise ArchiveIndexError("%s (%s): bad file entry %r" % (where, seg["id"], entry))
    return index


def last_segment(index):
    return index["segments"][-1] if index["segments"] else None


def find_segment(index, segment_id):
    for seg in index["segments"]:
        if seg["id"] == segment_id:
            return seg
    return None


def next_segment_id(index, host):
    counters = [int(SEGMENT_ID.match(seg["id"]).group(1)) for seg in index["segments"]]
    return "%06d-%s" % (max(counters, default=0) + 1, host)


def add_segment(index, host, server_id, started_at, gap_before, drop_empty_last=False):
    """A copy of index with a new, empty segment appended; returns (index, segment id).

    drop_empty_last: the last segment recorded no file and its directory holds none (a stream that
    never wrote anything). It is replaced rather than kept, as it holds nothing a restore could
    use; its gap flag is carried over so that a hole is never forgotten."""
    new = copy.deepcopy(index)
    last = last_segment(new)
    if drop_empty_last and last is not None and not last["files"]:
        gap_before = gap_before or bool(last.get("gap_before"))
        new["segments"].pop()
    segment_id = next_segment_id(new, host)
    new["segments"].append({"id": segment_id, "host": host, "server_id": int(server_id),
                            "started_at": round(float(started_at), 3), "gap_before": bool(gap_before),
                            "files": []})
    return new, segment_id


def unindexed_files(segment, names):
    """The binlog names in a segment directory listing that the index does not record yet, in order."""
    known = {entry["name"] for entry in segment["files"]}
    return sorted((n for n in names if is_binlog_name(n) and n not in known), key=binlog_sort_key)


def record_files(index, segment_id, entries):
    """A copy of index with [(name, start_state)] added to the segment, kept in binlog order."""
    new = copy.deepcopy(index)
    seg = find_segment(new, segment_id)
    if seg is None:
        raise KeyError(segment_id)
    known = {entry["name"] for entry in seg["files"]}
    for name, state in entries:
        if name not in known:
            seg["files"].append({"name": name, "start_state": state})
            known.add(name)
    seg["files"].sort(key=lambda entry: binlog_sort_key(entry["name"]))
    return new


def dumps_index(index):
    return json.dumps(check_index(index), indent=1, sort_keys=True) + "\n"


# --- where a stream starts ------------------------------------------------------------------------

def archived_state(index, caught_up_state):
    """The GTID state the archive is known to hold: the state it last caught up with, else (state
    file lost) the start state of the last archived file, a lower bound of what it holds."""
    if caught_up_state:
        return caught_up_state
    for seg in reversed(index["segments"]):
        if seg["files"]:
            return seg["files"][-1]["start_state"]
    return ""


def plan_start(index, host, server_id, binary_logs, start_state_of, caught_up_state):
    """Where the stream from `host` starts. Returns a dict:

      action      "continue" (the last segment, same server: daemon or child restart),
                  "new" (a new segment) or "wait" (cannot decide yet: a start state is unknown)
      segment     the segment id to continue (continue only)
      file        the binary log to start from
      gap_before  new segments only: the archive has a hole before this segment
      reason      for the log

    binary_logs: the names from SHOW BINARY LOGS, oldest first. start_state_of(name): that file's
    start state on `host`, or None when it cannot be read now.
    """
    if not binary_logs:
        return {"action": "wait", "reason": "%s lists no binary logs (log_bin off?)" % host}
    last = last_segment(index)
    if last is None:
        return {"action": "new", "file": binary_logs[0], "gap_before": False,
                "reason": "first run: the archive starts at %s's oldest binary log" % host}
    why_not_continue = ""
    if last["host"] == host and int(last["server_id"]) == int(server_id) and last["files"]:
        verdict = continue_segment(last, binary_logs, start_state_of)
        if verdict["action"] != "new":
            return verdict
        why_not_continue = verdict["reason"] + "; "
    verdict = choose_new_start(host, binary_logs, start_state_of, archived_state(index, caught_up_state))
    verdict["reason"] = why_not_continue + verdict["reason"]
    return verdict


def continue_segment(segment, binary_logs, start_state_of):
    """Continue `segment` from its last file when the server still has that very file."""
    last_file = segment["files"][-1]
    if last_file["name"] not in binary_logs:
        return {"action": "new", "reason": "%s no longer has %s (purged)" % (segment["host"], last_file["name"])}
    state = start_state_of(last_file["name"])
    if state is None:
        return {"action": "wait", "reason": "start state of %s on %s unknown" % (last_file["name"], segment["host"])}
    if state != last_file["start_state"]:
        # Same name, other content: the server's binary logs were reset (a rebuilt node).
        return {"action": "new", "reason": "%s's %s starts at [%s], the archived copy at [%s]"
                % (segment["host"], last_file["name"], state, last_file["start_state"])}
    return {"action": "continue", "segment": segment["id"], "file": last_file["name"],
            "reason": "continuing %s from %s" % (segment["id"], last_file["name"])}


def choose_new_start(host, binary_logs, start_state_of, archived):
    """The newest file whose start state the archive already holds; none: the oldest, with a gap."""
    for name in reversed(binary_logs):
        state = start_state_of(name)
        if state is None:
            return {"action": "wait", "reason": "start state of %s on %s unknown" % (name, host)}
        if contained(state, archived):
            return {"action": "new", "file": name, "gap_before": False,
                    "reason": "%s's %s starts at [%s], held by the archive ([%s])" % (host, name, state, archived)}
    return {"action": "new", "file": binary_logs[0], "gap_before": True,
            "reason": "GAP: no binary log of %s starts inside the archived state [%s]; "
                      "transactions between it and %s's oldest file %s are not archived"
                      % (host, archived, host, binary_logs[0])}


# --- which history the archive follows --------------------------------------------------------------

ACCEPTED_HISTORY = "accepted_history.json"   # in the archive directory; written by `ha-lamp-backup accept-history`


def accepted_history(raw):
    """The position in an accepted_history.json document ({"gtid": ..., "at": ..., "by": ...}), or None
    when there is none or it is malformed (a damaged declaration accepts nothing)."""
    if not isinstance(raw, dict) or not isinstance(raw.get("gtid"), str):
        return None
    try:
        return normalize_state(raw["gtid"])
    except GtidError:
        return None


def witness(witnessed, observations):
    """The running maximum, per domain, of the gtid_binlog_pos the replicas were seen holding.

    Every acknowledged write is on a replica (semi-sync), and a failover promotes the most advanced
    one, so a legitimate new primary is never behind this. A primary that is behind it is a
    rebuilt or rewound tier (new servers, or a restore to an earlier point): see follow_history()."""
    best = domain_positions(witnessed)
    for obs in observations.values():
        if not (obs and obs.get("reachable") and obs.get("replica")):
            continue
        try:
            seen = domain_positions(obs.get("gtid_binlog_pos"))
        except GtidError:
            continue
        for domain, (seq, server_id) in seen.items():
            if domain not in best or seq > best[domain][0]:
                best[domain] = (seq, server_id)
    return format_gtid({(domain, server_id): seq for domain, (seq, server_id) in best.items()})


def behind(position, reference):
    """[(domain, seq in position or None, seq in reference)] for each domain where position has not
    reached reference (per domain by seq: gtid_strict_mode orders a domain whoever wrote it)."""
    have = domain_positions(position)
    return [(domain, have[domain][0] if domain in have else None, seq)
            for domain, (seq, _server) in sorted(domain_positions(reference).items())
            if domain not in have or have[domain][0] < seq]


def _describe_behind(rows):
    return ", ".join("domain %d at %s where %d was replicated" % (domain, "nothing" if have is None else have, seq)
                     for domain, have, seq in rows)


def follow_history(host, position, witnessed, accepted):
    """May a NEW segment start on `host`, whose gtid_binlog_pos is `position`? Returns
    (verdict, reason): "follow"; "accept" (follow, and `accepted`, the position restore.yml or an
    operator declared, is used up); or "refuse" (archive nothing from it, the archive keeps the
    history it holds so that a restore can still reach it).

    A new primary that is behind what the replicas held is not the history the archive holds: its
    GTIDs reuse the sequence numbers of transactions already archived. Appending it would make the
    archive replay the wrong transactions; it is followed only once a restore (or the operator, with
    `ha-lamp-backup accept-history`) declares that history the cluster's, at a position it has reached.
    """
    rows = behind(position, witnessed)
    satisfied = accepted is not None and not behind(position, accepted)
    if not rows:
        return ("accept", "%s at [%s] reached the accepted [%s]" % (host, position, accepted)) if satisfied \
            else ("follow", "")
    if satisfied:
        return "accept", "%s at [%s] is behind the history the archive followed (%s); accepted at [%s]" % (
            host, position, _describe_behind(rows), accepted)
    return "refuse", ("REFUSED: %s at [%s] is behind what the archive saw replicated (%s): a rebuilt or rewound "
                      "tier. The archive keeps the old history for restore.yml; a whole-tier restore makes the "
                      "archive follow the restored history, or run `ha-lamp-backup accept-history --gtid %s` on the "
                      "backup host to archive this history as it is" % (host, position, _describe_behind(rows), position))


def restart_backoff(failures, base=1.0, cap=30.0):
    """Seconds before restarting a child that exited `failures` times in a row."""
    return min(cap, base * (2 ** max(0, failures - 1)))


# --- lag --------------------------------------------------------------------------------------------

def caught_up(local_size, position):
    """The archived copy of the primary's current file holds everything up to SHOW MASTER STATUS's
    Position (read after the GTID state, so it covers that state)."""
    return local_size is not None and position is not None and int(local_size) >= int(position)


def lag_seconds(now, caught_up_at, since):
    """Seconds of writes the archive may miss: since the last catch-up, or (never caught up) since
    `since` (the archive's or the daemon's start), so an alert fires instead of a NaN hiding it."""
    reference = caught_up_at or since
    return round(max(0.0, float(now) - float(reference)), 3)


def build_state(now, source, segment, streaming, caught_up_at, caught_up_gtid, caught_up_state, since,
                primary_gtid, gap, error, witnessed_gtid="", refused=False):
    """The state file's document (and what --once prints)."""
    return {"source": source or "", "segment": segment or "", "streaming": bool(streaming),
            "caught_up_at": round(float(caught_up_at or 0), 3), "caught_up_gtid": caught_up_gtid or "",
            "caught_up_state": caught_up_state or "",
            "lag_seconds": lag_seconds(now, caught_up_at, since), "primary_gtid": primary_gtid or "",
            "updated_at": round(float(now), 3), "gap": bool(gap), "error": error or "",
            "witnessed_gtid": witnessed_gtid or "", "refused": bool(refused)}


# --- Prometheus textfile ----------------------------------------------------------------------------

METRICS = (
    ("ha_lamp_binlog_archive_lag_seconds", "gauge",
     "Seconds since the binlog archive last held everything the primary had written (RPO of a whole-cluster loss)."),
    ("ha_lamp_binlog_archive_streaming", "gauge", "1 while mariadb-binlog streams from the primary."),
    ("ha_lamp_binlog_archive_caught_up_timestamp_seconds", "gauge",
     "Unix time of the last check that found the archive caught up with the primary (0: never)."),
    ("ha_lamp_binlog_archive_gap", "gauge",
     "1 when the current segment started with a gap (transactions before it are not archived)."),
    ("ha_lamp_binlog_archive_history_refused", "gauge",
     "1 while the writable primary's history is behind what the archive saw replicated and is not archived."),
    ("ha_lamp_binlog_archive_info", "gauge", "The source streamed from and the GTID position archived."),
)


def label_value(value):
    """Escape a label value for the Prometheus text format."""
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def render_metrics(state):
    """The textfile collector's file for one state document."""
    values = {
        "ha_lamp_binlog_archive_lag_seconds": "%s" % float(state["lag_seconds"]),
        "ha_lamp_binlog_archive_streaming": "1" if state["streaming"] else "0",
        "ha_lamp_binlog_archive_caught_up_timestamp_seconds": "%s" % float(state["caught_up_at"]),
        "ha_lamp_binlog_archive_gap": "1" if state["gap"] else "0",
        "ha_lamp_binlog_archive_history_refused": "1" if state.get("refused") else "0",
    }
    lines = []
    for name, kind, help_text in METRICS:
        lines.append("# HELP %s %s" % (name, help_text))
        lines.append("# TYPE %s %s" % (name, kind))
        if name == "ha_lamp_binlog_archive_info":
            lines.append('%s{source="%s",gtid="%s"} 1' % (name, label_value(state["source"]),
                                                          label_value(state["caught_up_gtid"])))
        else:
            lines.append("%s %s" % (name, values[name]))
    return "\n".join(lines) + "\n"


# --- configuration -------------------------------------------------------------------------------

REQUIRED = ("nodes", "user", "password_file", "tls_ca", "archive_dir", "state_file", "textfile",
            "replica_server_id")
DEFAULTS = {"port": 3306, "tick": 1.0, "connect_timeout": 2, "read_timeout": 10,
            "mariadb_binlog": "/usr/bin/mariadb-binlog"}


def _bad(key, value, expected):
    return ConfigError('key "%s": expected %s, got %s' % (key, expected, json.dumps(value)))


def _integer(cfg, key, low, high):
    value = cfg[key]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _bad(key, value, "an integer %d..%d" % (low, high))
    return value


def _number(cfg, key, low, high):
    value = cfg[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low < value <= high:
        raise _bad(key, value, "a number > %s and <= %s" % (low, high))
    return float(value)


def _path(cfg, key, allow_empty=False):
    value = cfg[key]
    if allow_empty and value == "":
        return value
    if not isinstance(value, str) or not value.startswith("/") or "\n" in value:
        raise _bad(key, value, "an absolute path" + (' or ""' if allow_empty else ""))
    return value.rstrip("/") or "/"


def _nodes(value):
    if not isinstance(value, dict) or not value:
        raise _bad("nodes", value, "a non-empty object {name: address}")
    for name, address in value.items():
        if not NODE_NAME.match(name):
            raise _bad("nodes", name, "node names of letters, digits, '.', '_' or '-'")
        if not isinstance(address, str) or not address.strip() or any(c.isspace() for c in address):
            raise _bad("nodes.%s" % name, address, "a host name or address")
    return dict(value)


def check_config(raw):
    """The daemon's configuration with defaults applied; ConfigError names the key and value."""
    if not isinstance(raw, dict):
        raise ConfigError("expected a JSON object, got %s" % type(raw).__name__)
    unknown = sorted(set(raw) - set(REQUIRED) - set(DEFAULTS))
    if unknown:
        raise ConfigError('unknown key "%s" (known: %s)' % (unknown[0], ", ".join(sorted(REQUIRED + tuple(DEFAULTS)))))
    for key in REQUIRED:
        if key not in raw:
            raise ConfigError('key "%s" is missing' % key)
    cfg = dict(DEFAULTS, **raw)
    cfg["nodes"] = _nodes(cfg["nodes"])
    cfg["port"] = _integer(cfg, "port", 1, 65535)
    if not isinstance(cfg["user"], str) or not re.match(r"^[A-Za-z0-9_.@-]{1,80}$", cfg["user"]):
        raise _bad("user", cfg["user"], "a MariaDB user name")
    for key in ("password_file", "archive_dir", "state_file", "textfile", "mariadb_binlog"):
        cfg[key] = _path(cfg, key)
    cfg["tls_ca"] = _path(cfg, "tls_ca", allow_empty=True)
    # mariadb-binlog's --stop-never-slave-server-id; 0 would make it fall back to 1, a real node's id.
    cfg["replica_server_id"] = _integer(cfg, "replica_server_id", 1, 4294967295)
    cfg["tick"] = _number(cfg, "tick", 0, 60)
    cfg["connect_timeout"] = _number(cfg, "connect_timeout", 0, 60)
    cfg["read_timeout"] = _number(cfg, "read_timeout", 0, 300)
    return cfg
