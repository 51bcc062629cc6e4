# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""ha-lamp binlog archiver: streams the primary's binary logs to the backup host, follows failovers,
and exports how far the archive lags behind the primary (the RPO of a whole-cluster loss).

Usage:
  ha_lamp_binlog_archive.py [--config /etc/ha-lamp-backup/archive.json]     run as a service
  ha_lamp_binlog_archive.py --once [--config ...]       one read-only observation, state JSON on stdout
  ha_lamp_binlog_archive.py --max-ticks N --max-seconds S   stop by itself (tests, manual runs)

Every tick (config "tick" seconds) it observes every database node with PyMySQL, picks the one
primary (reachable, read_only off, not a replica; decisions in module_utils/binlog_archive.py),
keeps one `mariadb-binlog --read-from-remote-server --raw --stop-never` child streaming from it into
<archive_dir>/<segment id>/, records each new file's start GTID state in <archive_dir>/index.json,
checks whether the archived copy of the primary's current file reaches SHOW MASTER STATUS's
position, and writes the state file and the Prometheus textfile (both atomically). A primary whose
history is behind what the replicas were seen holding (a tier rebuilt empty, or rewound) is not streamed
until a restore or the operator declares it (binlog_archive.follow_history).

Logs one JSON line per event on stdout (the journal). A bad configuration is refused with one line
naming the key and value, exit status 2. Every SQL call has connect and read timeouts and the child
is stopped with SIGTERM, then SIGKILL, so no step can hang the loop for long.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

LIB_DIR = os.environ.get("HA_LAMP_LIB", "/usr/local/lib/ha-lamp")
sys.path.insert(0, LIB_DIR)

try:
    # pylint: disable=wrong-import-position
    from ansible_collections.onprem.ha_lamp.plugins.module_utils import binlog_archive as ba  # noqa: E402
    from ansible_collections.onprem.ha_lamp.plugins.module_utils.mysql_topology import GtidError  # noqa: E402
except ImportError as _exc:  # pragma: no cover - a deployment error, reported in one line
    sys.stderr.write("ha-lamp-binlog-archive: cannot import the collection code under %s (HA_LAMP_LIB): %s\n"
                     % (LIB_DIR, _exc))
    sys.exit(1)

try:
    import pymysql
    import pymysql.cursors
except ImportError:  # pragma: no cover
    pymysql = None

DEFAULT_CONFIG = "/etc/ha-lamp-backup/archive.json"
PROG = "ha-lamp-binlog-archive"
CHILD_STOP_TIMEOUT = 5.0        # seconds between SIGTERM and SIGKILL
LOCAL_PARSE_TIMEOUT = 10.0      # seconds for the local mariadb-binlog fallback
LOCAL_PARSE_BYTES = 4096        # the Gtid_list event starts within the first few hundred bytes
STALL_RESTART = 60.0            # a live source, a running child, no catch-up for this long: restart it
RESTART_RESET_AFTER = 60.0      # a child that ran this long resets the restart backoff

LOG_STREAM = sys.stdout


def log(message, **fields):
    fields["msg"] = message
    fields.setdefault("time", round(time.time(), 3))
    LOG_STREAM.write(json.dumps(fields, sort_keys=True, default=str) + "\n")
    LOG_STREAM.flush()


# --- files -------------------------------------------------------------------------------------------

def fsync_dir(directory):
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path, text, mode=0o640):
    """Write `text` to a temporary file beside `path`, fsync it, rename it over `path`, fsync the
    directory: readers see the old or the new file, never a torn one. The temporary name starts
    with a dot and ends in .tmp, so node_exporter's textfile collector (*.prom) never reads it."""
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
        tmp = None
        fsync_dir(directory)
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def read_json(path):
    """The parsed file, or None when it does not exist."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        return None


def load_index(path):
    """index.json checked against the contract; a missing file is an empty archive. A file that is
    there but broken raises: the archiver must not overwrite the only map of the archive."""
    try:
        raw = read_json(path)
    except ValueError as exc:
        raise ba.ArchiveIndexError("%s is not valid JSON: %s" % (path, exc)) from exc
    return ba.empty_index() if raw is None else ba.check_index(raw)


def load_saved_state(path):
    """The last state file, for the catch-up fields across restarts ({} when missing or unreadable)."""
    try:
        saved = read_json(path)
    except ValueError:
        return {}
    return saved if isinstance(saved, dict) else {}


def local_size(path):
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return None


def list_dir(path):
    try:
        return os.listdir(path)
    except FileNotFoundError:
        return []


# --- configuration -----------------------------------------------------------------------------------

def load_config(path):
    """The checked configuration; ConfigError carries the one line to print."""
    try:
        raw = read_json(path)
    except ValueError as exc:
        raise ba.ConfigError("not valid JSON: %s" % exc) from exc
    except OSError as exc:
        raise ba.ConfigError("cannot read it: %s" % (exc.strerror or exc)) from exc
    if raw is None:
        raise ba.ConfigError("no such file")
    return ba.check_config(raw)


def read_password(path):
    """The database password: the file's content without its trailing newline."""
    try:
        with open(path, encoding="utf-8") as handle:
            password = handle.read()
    except OSError as exc:
        raise ba.ConfigError('key "password_file": cannot read %s: %s'
                             % (json.dumps(path), exc.strerror or exc)) from exc
    password = password[:-1] if password.endswith("\n") else password
    password = password[:-1] if password.endswith("\r") else password
    if not password or any(c in password for c in "\n\r\x00"):
        raise ba.ConfigError('key "password_file": %s must hold the password on one line' % json.dumps(path))
    return password


# --- database access ----------------------------------------------------------------------------------

class Servers:
    """PyMySQL connections to the database nodes, kept between ticks, dropped on any error."""

    def __init__(self, cfg, password):
        if pymysql is None:
            raise RuntimeError("PyMySQL is missing (Debian package python3-pymysql)")
        self.cfg = cfg
        self.password = password
        # TLS verified against the cluster CA, host name included (the configured address must be in
        # the server certificate); "" connects in clear.
        self.ssl = {"ca": cfg["tls_ca"], "check_hostname": True} if cfg["tls_ca"] else None
        self.conns = {}

    def conn(self, node):
        if node not in self.conns:
            self.conns[node] = pymysql.connect(
                host=self.cfg["nodes"][node], port=self.cfg["port"], user=self.cfg["user"],
                password=self.password, connect_timeout=self.cfg["connect_timeout"],
                read_timeout=self.cfg["read_timeout"], write_timeout=self.cfg["read_timeout"],
                autocommit=True, cursorclass=pymysql.cursors.DictCursor, ssl=self.ssl)
        return self.conns[node]

    def drop(self, node):
        conn = self.conns.pop(node, None)
        if conn is not None:
            try:
                conn.close()
            except Exception:  # pylint: disable=broad-except
                pass

    def close(self):
        for node in list(self.conns):
            self.drop(node)

    def query(self, node, sql, args=None):
        try:
            with self.conn(node).cursor() as cur:
                cur.execute(sql, args)
                return list(cur.fetchall())
        except Exception:
            self.drop(node)
            raise

    def observe(self, node):
        """One node's role and GTID state as binlog_archive.observation()."""
        try:
            row = self.query(node, "SELECT @@global.read_only AS read_only, @@global.server_id AS server_id, "
                                   "@@global.gtid_binlog_pos AS gtid_binlog_pos, "
                                   "@@global.gtid_binlog_state AS gtid_binlog_state")[0]
            replica = any(r.get("Master_Host") for r in self.query(node, "SHOW SLAVE STATUS"))
            return ba.observation(read_only=str(row["read_only"]) in ("1", "ON"), server_id=int(row["server_id"]),
                                  gtid_binlog_pos=row["gtid_binlog_pos"] or "",
                                  gtid_binlog_state=row["gtid_binlog_state"] or "", replica=replica)
        except Exception as exc:  # pylint: disable=broad-except
            return ba.observation(error=first_line(exc))

    def binary_logs(self, node):
        rows = self.query(node, "SHOW BINARY LOGS")
        return sorted((r["Log_name"] for r in rows), key=ba.binlog_sort_key)

    def start_state(self, node, name):
        """A file's start state on `node` (its Gtid_list event), None when it cannot be read now."""
        try:
            return ba.start_state_from_events(self.query(node, "SHOW BINLOG EVENTS IN %s LIMIT 3", (name,)))
        except Exception:  # pylint: disable=broad-except
            return None

    def position(self, node):
        """(gtid_binlog_pos, gtid_binlog_state, File, Position), the GTID state read FIRST: the
        position read after it is at or past the end of every transaction in that state."""
        row = self.query(node, "SELECT @@global.gtid_binlog_pos AS pos, @@global.gtid_binlog_state AS state")[0]
        status = self.query(node, "SHOW MASTER STATUS")
        if not status:
            raise RuntimeError("SHOW MASTER STATUS is empty on %s (log_bin off?)" % node)
        return row["pos"] or "", row["state"] or "", status[0]["File"], int(status[0]["Position"])


def first_line(exc):
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


# --- the mariadb-binlog child ---------------------------------------------------------------------------

def option_value(value):
    """A value for a MariaDB option file, double-quoted with \\ and \" escaped."""
    return '"%s"' % value.replace("\\", "\\\\").replace('"', '\\"')


def defaults_file_text(password, tls_ca):
    """The [client] group mariadb-binlog reads through --defaults-extra-file: the secret never
    appears on a command line (visible in ps). TLS off is explicit (skip-ssl): Debian 13's client
    would otherwise try TLS and verify the server certificate by default."""
    lines = ["[client]", "password=%s" % option_value(password)]
    if tls_ca:
        lines += ["ssl-ca=%s" % option_value(tls_ca), "ssl-verify-server-cert"]
    else:
        lines.append("skip-ssl")
    return "\n".join(lines) + "\n"


class Stream:
    """One mariadb-binlog child and the private directory holding its credentials."""

    def __init__(self, cfg, password):
        self.cfg = cfg
        self.password = password
        self.proc = None
        self.host = None
        self.segment = None
        self.started_at = 0.0
        self.private_dir = None

    def command(self, address, segment_dir, start_file, defaults_file):
        return [self.cfg["mariadb_binlog"], "--defaults-extra-file=" + defaults_file,  # must come first
                "--read-from-remote-server", "--raw", "--stop-never",
                # MariaDB's client has no --connection-server-id (MySQL's name); with --stop-never this
                # is the server_id the dump connection registers with.
                "--stop-never-slave-server-id=%d" % self.cfg["replica_server_id"],
                "--host=" + address, "--port=%d" % self.cfg["port"], "--user=" + self.cfg["user"],
                "--result-file=" + segment_dir.rstrip("/") + "/", start_file]

    def write_defaults_file(self):
        if self.private_dir is None:
            # mkdtemp creates the directory with mode 0700; systemd's RuntimeDirectory= when set.
            self.private_dir = tempfile.mkdtemp(prefix="ha-lamp-binlog-archive.",
                                                dir=os.environ.get("RUNTIME_DIRECTORY"))
        path = os.path.join(self.private_dir, "client.cnf")
        if os.path.exists(path):
            os.unlink(path)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(defaults_file_text(self.password, self.cfg["tls_ca"]))
        return path

    def start(self, host, segment_id, start_file, now):
        segment_dir = os.path.join(self.cfg["archive_dir"], segment_id)
        defaults_file = self.write_defaults_file()
        err_path = os.path.join(self.private_dir, "child.err")
        cmd = self.command(self.cfg["nodes"][host], segment_dir, start_file, defaults_file)
        with open(err_path, "wb") as err:
            # The child outlives this block (it streams until stopped): no context manager.
            self.proc = subprocess.Popen(  # pylint: disable=consider-using-with
                cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, close_fds=True)
        self.host, self.segment, self.started_at = host, segment_id, now
        return cmd

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def exited(self):
        """The exit status of a child that ended by itself, else None."""
        if self.proc is None:
            return None
        return self.proc.poll()

    def stderr_tail(self):
        if self.private_dir is None:
            return ""
        try:
            with open(os.path.join(self.private_dir, "child.err"), "rb") as handle:
                return handle.read()[-400:].decode("utf-8", "replace").strip()
        except OSError:
            return ""

    def forget(self):
        self.proc, self.host, self.segment = None, None, None

    def stop(self):
        """SIGTERM, wait, SIGKILL; returns the exit status (None if there was no child)."""
        proc = self.proc
        if proc is None:
            return None
        try:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=CHILD_STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=CHILD_STOP_TIMEOUT)
            return proc.returncode
        finally:
            self.forget()

    def cleanup(self):
        """Stop the child and remove the credentials directory."""
        try:
            self.stop()
        finally:
            if self.private_dir is not None:
                for name in ("client.cnf", "child.err"):
                    try:
                        os.unlink(os.path.join(self.private_dir, name))
                    except OSError:
                        pass
                try:
                    os.rmdir(self.private_dir)
                except OSError:
                    pass
                self.private_dir = None


def local_start_state(binary, path):
    """A local file's start state read by mariadb-binlog itself: the fallback when its source server
    is gone (the files archived last before a disaster must still be indexed). None if unreadable."""
    try:
        out = subprocess.run([binary, "--no-defaults", "--stop-position=%d" % LOCAL_PARSE_BYTES, path],
                             capture_output=True, text=True, timeout=LOCAL_PARSE_TIMEOUT, check=False)
        return ba.start_state_from_dump(out.stdout)
    except (OSError, subprocess.SubprocessError, GtidError):
        return None


# --- the archiver ---------------------------------------------------------------------------------------

class Archiver:
    """The decisions of binlog_archive.py applied to the servers, the child and the archive."""

    def __init__(self, cfg, servers, stream, clock=time.time):
        self.cfg = cfg
        self.servers = servers
        self.stream = stream
        self.clock = clock
        self.index_path = os.path.join(cfg["archive_dir"], "index.json")
        self.index = load_index(self.index_path)
        saved = load_saved_state(cfg["state_file"])
        self.caught_up_at = float(saved.get("caught_up_at") or 0)
        self.caught_up_gtid = str(saved.get("caught_up_gtid") or "")
        self.caught_up_state = str(saved.get("caught_up_state") or "")
        self.witnessed = str(saved.get("witnessed_gtid") or "")
        self.refused = False            # the writable primary's history is not the archive's
        first = self.index["segments"][0]["started_at"] if self.index["segments"] else None
        self.since = float(first or clock())
        last = ba.last_segment(self.index)
        self.segment_id = last["id"] if last else None
        self.source = None              # the node the child streams (or is meant to stream) from
        self.primary_gtid = ""
        self.error = ""
        self.failures = 0
        self.next_start_at = 0.0
        self.pending = set([self.segment_id]) if self.segment_id else set()
        self.said = {}

    # -- logging -------------------------------------------------------------------------------
    def say(self, event, key, **fields):
        """Log `event` once until `key` changes (a condition that lasts is not logged every tick)."""
        if self.said.get(event) == key:
            return
        self.said[event] = key
        if key:
            log(event, **fields)

    # -- the index -------------------------------------------------------------------------------
    def save_index(self, index):
        write_atomic(self.index_path, ba.dumps_index(index), mode=0o640)
        self.index = index

    def segment_dir(self, segment_id):
        return os.path.join(self.cfg["archive_dir"], segment_id)

    def index_new_files(self, segment_id, source_up):
        """Record the start state of every file that appeared in the segment's directory. Stops at
        the first file whose state is unknown yet, so the index never skips a file."""
        seg = ba.find_segment(self.index, segment_id)
        if seg is None:
            return True
        names = ba.unindexed_files(seg, list_dir(self.segment_dir(segment_id)))
        entries = []
        for name in names:
            state = self.servers.start_state(seg["host"], name) if source_up else None
            if state is None:
                state = local_start_state(self.cfg["mariadb_binlog"], os.path.join(self.segment_dir(segment_id), name))
            if state is None:
                self.say("start_state_unknown", "%s/%s" % (segment_id, name), segment=segment_id, file=name)
                break
            entries.append((name, state))
        if entries:
            self.save_index(ba.record_files(self.index, segment_id, entries))
            for name, state in entries:
                log("file_archived", segment=segment_id, file=name, start_state=state)
        return len(entries) == len(names)

    def index_pending(self, observations):
        for segment_id in sorted(self.pending | ({self.segment_id} if self.segment_id else set())):
            seg = ba.find_segment(self.index, segment_id)
            source_up = bool(seg) and bool((observations.get(seg["host"]) or {}).get("reachable"))
            if self.index_new_files(segment_id, source_up) and segment_id != self.segment_id:
                self.pending.discard(segment_id)

    # -- the child ----------------------------------------------------------------------------------
    def stop_stream(self, why):
        if self.stream.proc is not None:
            status = self.stream.stop()
            log("stream_stopped", source=self.source, segment=self.segment_id, reason=why, exit_status=status)
        if self.segment_id:
            self.pending.add(self.segment_id)   # its last files may still need their start state

    def reap_child(self, now):
        """A child that exited by itself: log why and schedule the restart with a backoff."""
        status = self.stream.exited()
        if status is None or self.stream.running():
            return
        ran = now - self.stream.started_at
        self.failures = 1 if ran >= RESTART_RESET_AFTER else self.failures + 1
        delay = ba.restart_backoff(self.failures)
        self.next_start_at = now + delay
        log("stream_exited", source=self.stream.host, segment=self.stream.segment, exit_status=status,
            ran_seconds=round(ran, 1), restart_in=delay, stderr=self.stream.stderr_tail())
        self.stream.forget()

    def history_allows(self, source, obs):
        """False (and self.refused) when `source`'s history is not the one the archive holds; a
        declared acceptance it has reached is used up here (see binlog_archive.follow_history)."""
        self.refused = False
        if not self.index["segments"]:
            return True
        path = os.path.join(self.cfg["archive_dir"], ba.ACCEPTED_HISTORY)
        try:
            accepted = ba.accepted_history(read_json(path))
        except ValueError:
            accepted = None
        verdict, reason = ba.follow_history(source, obs["gtid_binlog_pos"], self.witnessed, accepted)
        if verdict == "refuse":
            self.refused = True
            self.error = reason
            self.say("history_refused", reason, level="error", source=source, reason=reason)
            return False
        self.say("history_refused", "")
        if verdict == "accept":
            self.witnessed = ba.normalize_state(obs["gtid_binlog_pos"])
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            log("history_accepted", source=source, reason=reason)
        return True

    def start_stream(self, source, obs, now):
        """Plan where the stream starts (continue the segment or open a new one) and spawn it."""
        if not self.history_allows(source, obs):
            return
        try:
            binary_logs = self.servers.binary_logs(source)
        except Exception as exc:  # pylint: disable=broad-except
            self.error = "SHOW BINARY LOGS on %s: %s" % (source, first_line(exc))
            return
        plan = ba.plan_start(self.index, source, obs["server_id"], binary_logs,
                             lambda name: self.servers.start_state(source, name), self.caught_up_state)
        if plan["action"] == "wait":
            self.error = plan["reason"]
            self.say("stream_waiting", plan["reason"], source=source, reason=plan["reason"])
            return
        if plan["action"] == "new":
            segment_id = self.open_segment(source, obs["server_id"], plan, now)
        else:
            segment_id = plan["segment"]
        self.source, self.segment_id = source, segment_id
        os.makedirs(self.segment_dir(segment_id), mode=0o750, exist_ok=True)
        try:
            cmd = self.stream.start(source, segment_id, plan["file"], now)
        except OSError as exc:
            # mariadb-binlog missing or not executable: retried with the same backoff as a crash.
            self.failures += 1
            self.next_start_at = now + ba.restart_backoff(self.failures)
            self.error = "cannot run %s: %s" % (self.cfg["mariadb_binlog"], exc.strerror or exc)
            self.say("stream_spawn_failed", self.error, level="error", error=self.error)
            return
        log("stream_started", source=source, segment=segment_id, file=plan["file"], reason=plan["reason"],
            command=" ".join(cmd))

    def open_segment(self, source, server_id, plan, now):
        last = ba.last_segment(self.index)
        drop_empty = bool(last) and not last["files"] and not any(
            ba.is_binlog_name(n) for n in list_dir(self.segment_dir(last["id"])))
        index, segment_id = ba.add_segment(self.index, source, server_id, now, plan["gap_before"], drop_empty)
        os.makedirs(self.segment_dir(segment_id), mode=0o750, exist_ok=True)
        self.save_index(index)
        if drop_empty and last["id"] != segment_id:
            self.pending.discard(last["id"])
            try:
                os.rmdir(self.segment_dir(last["id"]))
            except OSError:
                pass
        log("segment_opened", segment=segment_id, source=source, file=plan["file"], gap_before=plan["gap_before"],
            reason=plan["reason"])
        if plan["gap_before"]:
            log("archive_gap", level="error", segment=segment_id, reason=plan["reason"])
        return segment_id

    # -- lag ----------------------------------------------------------------------------------------
    def check_catch_up(self, source):
        """Caught up when the archived copy of the primary's current file reaches its position."""
        seg = ba.find_segment(self.index, self.segment_id) if self.segment_id else None
        if seg is None or seg["host"] != source:
            return
        read_at = self.clock()
        try:
            pos, state, name, position = self.servers.position(source)
        except Exception as exc:  # pylint: disable=broad-except
            self.error = "position of %s: %s" % (source, first_line(exc))
            return
        self.primary_gtid = pos
        if ba.caught_up(local_size(os.path.join(self.segment_dir(seg["id"]), name)), position):
            self.caught_up_at = read_at
            self.caught_up_gtid = ba.normalize_state(pos)
            self.caught_up_state = ba.normalize_state(state)

    def stalled(self, now):
        """A running child that has not let the archive catch up for STALL_RESTART seconds while its
        source answers: a silently dead TCP stream (mariadb-binlog asks for no heartbeats)."""
        return (self.stream.running() and now - self.stream.started_at > STALL_RESTART
                and now - max(self.caught_up_at, self.stream.started_at) > STALL_RESTART)

    # -- one tick -----------------------------------------------------------------------------------
    def observe(self):
        return {node: self.servers.observe(node) for node in sorted(self.cfg["nodes"])}

    def tick(self):
        now = self.clock()
        self.error = ""
        observations = self.observe()
        self.reap_child(now)
        source, reason = ba.choose_source(observations, self.source)
        self.say("no_decision", reason, reason=reason)
        clash = ba.server_id_clash(self.cfg["replica_server_id"], observations)
        if clash:
            reason = "replica_server_id %d is %s's server_id: refusing to stream" % (
                self.cfg["replica_server_id"], clash)
            self.say("server_id_clash", reason, level="error", reason=reason)
            source = None
        if source is not None and source != self.source:
            self.stop_stream("the primary is now %s" % source)
            self.failures, self.next_start_at = 0, 0.0
        elif source is not None and self.stalled(now):
            self.stop_stream("no catch-up for %ss with %s reachable" % (STALL_RESTART, source))
        elif clash:
            self.stop_stream(reason)
        elif source is not None and self.stream.proc is not None and source == self.source \
                and not self.history_allows(source, observations[source]):
            self.stop_stream(self.error)            # the server's history was reset under the stream
        # Index first: a restart then continues from the newest file the child had written, and a
        # closed segment's last files are recorded before the next segment opens.
        self.index_pending(observations)
        if source is not None and self.stream.proc is None and now >= self.next_start_at:
            self.start_stream(source, observations[source], now)
        if source is None:
            self.refused = False
        if source is not None and not self.refused:
            self.check_catch_up(source)
        # Only after the decisions: the nodes are read one after the other, so a replica read this tick
        # may already hold a write the primary, read a moment earlier, had not logged yet. A later
        # reading of the primary is always at or past what a replica held at an earlier one.
        self.witnessed = ba.witness(self.witnessed, observations)
        self.error = self.error or reason
        return self.state(self.clock(), source)

    def state(self, now, source):
        streaming = self.stream.running() and source is not None and self.stream.host == source
        last = ba.last_segment(self.index)
        return ba.build_state(now, self.source or source, self.segment_id, streaming, self.caught_up_at,
                              self.caught_up_gtid, self.caught_up_state, self.since, self.primary_gtid,
                              bool(last and last.get("gap_before")), self.error, self.witnessed, self.refused)

    def publish(self, state):
        write_atomic(self.cfg["state_file"], json.dumps(state, sort_keys=True) + "\n", mode=0o644)
        write_atomic(self.cfg["textfile"], ba.render_metrics(state), mode=0o644)

    def close(self, state=None):
        """Stop the child, drop the connections, publish a final not-streaming state."""
        try:
            if self.stream.proc is not None:
                log("stream_stopped", source=self.source, segment=self.segment_id, reason="shutdown",
                    exit_status=self.stream.stop())
            self.stream.cleanup()
        finally:
            self.servers.close()
            if state is not None:
                state = dict(state, streaming=False)
                try:
                    self.publish(state)
                except OSError:
                    pass


# --- --once ---------------------------------------------------------------------------------------------

def once_state(cfg, servers, clock=time.time):
    """One read-only observation: what the running daemon would stream from and how far the archive
    lags right now. Writes nothing and starts nothing; `streaming` is the daemon's own, fresh, report."""
    archiver = Archiver(cfg, servers, Stream(cfg, ""), clock=clock)
    saved = load_saved_state(cfg["state_file"])
    now = clock()
    observations = archiver.observe()
    source, reason = ba.choose_source(observations, saved.get("source") or None)
    refused = bool(saved.get("refused"))
    if source is not None and not refused:
        archiver.check_catch_up(source)
    fresh = now - float(saved.get("updated_at") or 0) <= 3 * cfg["tick"] + 5
    last = ba.last_segment(archiver.index)
    return ba.build_state(clock(), source, archiver.segment_id, bool(fresh and saved.get("streaming")),
                          archiver.caught_up_at, archiver.caught_up_gtid, archiver.caught_up_state,
                          archiver.since, archiver.primary_gtid, bool(last and last.get("gap_before")),
                          archiver.error or (saved.get("error") if refused else "") or reason,
                          archiver.witnessed, refused)


# --- main -------------------------------------------------------------------------------------------------

def parse_args(argv):
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--config", default=DEFAULT_CONFIG, help="JSON configuration (default %(default)s)")
    parser.add_argument("--once", action="store_true", help="observe once, print the state JSON, exit")
    parser.add_argument("--max-ticks", type=int, default=0, help="stop after N ticks (0: run until stopped)")
    parser.add_argument("--max-seconds", type=float, default=0, help="stop after S seconds (0: run until stopped)")
    return parser.parse_args(argv)


def prepare_dirs(cfg):
    for directory in (cfg["archive_dir"], os.path.dirname(cfg["state_file"]), os.path.dirname(cfg["textfile"])):
        os.makedirs(directory, mode=0o750, exist_ok=True)


def tick_and_publish(archiver):
    """One tick. An unexpected error (a full disk, a server answering nonsense) is logged once and
    the loop goes on: the next tick may succeed, and systemd restarts would not help."""
    try:
        state = archiver.tick()
    except Exception as exc:  # pylint: disable=broad-except
        archiver.error = "tick failed: %s: %s" % (type(exc).__name__, first_line(exc))
        archiver.say("tick_failed", archiver.error, level="error", error=archiver.error)
        state = archiver.state(archiver.clock(), None)
    try:
        archiver.publish(state)
        archiver.say("publish_failed", "")
    except OSError as exc:
        archiver.say("publish_failed", str(exc), level="error", error=str(exc))
    return state


def run(cfg, servers, stream, max_ticks=0, max_seconds=0.0):
    """The service loop; returns the exit status. SIGTERM/SIGINT end it cleanly."""
    stop = threading.Event()

    def on_signal(signum, _frame):
        log("stopping", signal=signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    archiver = None
    state = None
    started = time.monotonic()
    ticks = 0
    try:
        archiver = Archiver(cfg, servers, stream)
        log("started", nodes=sorted(cfg["nodes"]), archive_dir=cfg["archive_dir"], segment=archiver.segment_id)
        while not stop.is_set():
            began = time.monotonic()
            state = tick_and_publish(archiver)
            ticks += 1
            if (max_ticks and ticks >= max_ticks) or (max_seconds and time.monotonic() - started >= max_seconds):
                break
            stop.wait(max(0.05, cfg["tick"] - (time.monotonic() - began)))
        log("stopped", ticks=ticks)
        return 0
    except (ba.ArchiveIndexError, OSError) as exc:
        log("fatal", level="error", error=str(exc))
        return 1
    finally:
        if archiver is not None:
            archiver.close(state)
        else:
            stream.cleanup()
            servers.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv=None):
    global LOG_STREAM  # pylint: disable=global-statement
    args = parse_args(argv)
    if args.once:
        LOG_STREAM = sys.stderr       # stdout carries the state JSON only
    try:
        cfg = load_config(args.config)
        password = read_password(cfg["password_file"])
    except ba.ConfigError as exc:
        sys.stderr.write("%s: bad config %s: %s\n" % (PROG, args.config, exc))
        return 2
    try:
        servers = Servers(cfg, password)
    except RuntimeError as exc:
        sys.stderr.write("%s: %s\n" % (PROG, exc))
        return 1
    if args.once:
        try:
            print(json.dumps(once_state(cfg, servers), sort_keys=True))
            return 0
        except ba.ArchiveIndexError as exc:
            sys.stderr.write("%s: %s\n" % (PROG, exc))
            return 1
        finally:
            servers.close()
    os.umask(0o027)                   # the archive holds every row written: not world-readable
    try:
        prepare_dirs(cfg)
    except OSError as exc:
        sys.stderr.write("%s: cannot create the archive's directories: %s\n" % (PROG, exc))
        return 1
    return run(cfg, servers, Stream(cfg, password), args.max_ticks, args.max_seconds)


if __name__ == "__main__":
    sys.exit(main())
