# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The database node's end of the backup host's SSH connection (the only command its key may run).

The backup host logs in as the unprivileged user ``ha-lamp-backup``, whose authorized key forces
``ha-lamp-backup-agent-ssh``; that wrapper runs this program as root through one sudo rule, with the
client's command as a single argument, which is parsed here and checked against a closed list:

  stream full ID                 mariabackup of this node to stdout (mbstream); manifest on stderr
  stream incremental ID LSN      the same, only the pages changed since LSN
  resume                         restart the replica SQL thread a killed backup left stopped
  size                           bytes in the datadir (the backup host checks its free space first)
  receive RESTORE_ID STEP        extract an mbstream from stdin into the restore's staging directory
  replay RESTORE_ID              SQL from stdin (mariadb-binlog output) into the local server
  import RESTORE_ID SCHEMA       a dump from stdin into SCHEMA, created first (must not exist)

receive, replay and import write: they are refused unless a restore armed this node
(playbooks/restore.yml creates ARM_DIR/RESTORE_ID as root, and removes it when it ends). The backup
host can read this node's data at any time, and change it only while an operator's restore runs.

A backup from a replica is consistent with a row count per table: the SQL thread is stopped, the
counts and the GTID are read, mariabackup runs, and the thread is restarted (also on failure or
SIGTERM/SIGHUP, for instance when the SSH connection drops). The manifest is the last line of stderr,
prefixed with MANIFEST_PREFIX; mariabackup's own log goes to LOG_DIR.
"""

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time

import pymysql

SOCKET = "/run/mysqld/mysqld.sock"
WORK_DIR = "/var/lib/ha-lamp-backup-agent"
ARM_DIR = WORK_DIR + "/armed"
RESTORE_DIR = WORK_DIR + "/restore"
LOG_DIR = WORK_DIR + "/log"
# Set while this agent holds the SQL thread stopped, so `resume` knows the stop was ours.
PAUSE_MARK = WORK_DIR + "/sql-thread-paused"
MANIFEST_PREFIX = "HA_LAMP_MANIFEST "
SYSTEM_SCHEMAS = ("mysql", "information_schema", "performance_schema", "sys")

ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")
SCHEMA_RE = re.compile(r"^[A-Za-z0-9_]{1,64}$")


class Refused(Exception):
    """The request is not one this agent serves; the message says why."""


def connect():
    return pymysql.connect(unix_socket=SOCKET, user="root", autocommit=True, connect_timeout=5,
                           cursorclass=pymysql.cursors.DictCursor)


def query(conn, sql, args=None):
    with conn.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchall()


def parse_request(text):
    """argv of the client's command, checked against the closed list above."""
    try:
        words = shlex.split(text or "")
    except ValueError as exc:
        raise Refused("cannot parse the command: %s" % exc) from None
    shapes = {("stream", "full"): 3, ("stream", "incremental"): 4, ("resume",): 1, ("size",): 1, ("receive",): 3,
              ("replay",): 2, ("import",): 3}
    key = tuple(words[:2]) if words[:1] == ["stream"] else tuple(words[:1])
    if key not in shapes or len(words) != shapes[key]:
        raise Refused("unknown command %r (see %s's docstring for the commands served)" % (text, sys.argv[0]))
    for word in words[1:]:
        if not ID_RE.fullmatch(word):
            raise Refused("bad argument %r" % word)
    if key == ("stream", "incremental") and not words[3].isdigit():
        raise Refused("the LSN must be a number, got %r" % words[3])
    if key == ("receive",) and not words[2].isdigit():
        raise Refused("the step must be a number, got %r" % words[2])
    if key == ("import",) and not SCHEMA_RE.fullmatch(words[2]):
        raise Refused("bad schema name %r" % words[2])
    return words


def require_armed(restore_id):
    if not os.path.isfile(os.path.join(ARM_DIR, restore_id)):
        raise Refused("no restore %s is armed on this node (playbooks/restore.yml arms it)" % restore_id)


# -- backup ------------------------------------------------------------------------------------------
def replica_status(conn):
    rows = query(conn, "SHOW SLAVE STATUS")
    return rows[0] if rows else None


def table_counts(conn):
    """Exact row count of every base table outside the system schemas (the manifest's check)."""
    tables = query(conn, "SELECT TABLE_SCHEMA AS s, TABLE_NAME AS t FROM information_schema.TABLES "
                         "WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA NOT IN %s", (SYSTEM_SCHEMAS,))
    counts = {}
    for row in tables:
        name = "%s.%s" % (row["s"], row["t"])
        counts[name] = query(conn, "SELECT COUNT(*) AS n FROM `%s`.`%s`"
                                   % (row["s"].replace("`", "``"), row["t"].replace("`", "``")))[0]["n"]
    return counts


def first_existing(directory, suffix):
    """mariabackup 11.1+ names its files mariadb_backup_*, older versions xtrabackup_* (MDEV-18931)."""
    for prefix in ("mariadb_backup_", "xtrabackup_"):
        path = os.path.join(directory, prefix + suffix)
        if os.path.exists(path):
            return path
    return os.path.join(directory, "xtrabackup_" + suffix)


def read_lsndir(lsndir):
    """from_lsn/to_lsn (xtrabackup_checkpoints) and the binlog GTID (xtrabackup_info's binlog_pos)."""
    out = {}
    with open(first_existing(lsndir, "checkpoints"), encoding="utf-8") as fh:
        for line in fh:
            key, _equals, value = line.partition("=")
            if key.strip() in ("from_lsn", "to_lsn", "backup_type"):
                out[key.strip()] = value.strip()
    out["binlog_gtid"] = ""
    info = first_existing(lsndir, "info")
    if os.path.exists(info):
        with open(info, encoding="utf-8") as fh:
            match = re.search(r"GTID of the last change '([^']*)'", fh.read())
            out["binlog_gtid"] = match.group(1) if match else ""
    return out


def stream(kind, backup_id, lsn=None):
    os.makedirs(LOG_DIR, mode=0o700, exist_ok=True)
    work = os.path.join(WORK_DIR, "stream-" + backup_id)
    os.makedirs(work, mode=0o700, exist_ok=False)
    conn = connect()
    paused = False
    manifest = {"id": backup_id, "kind": kind, "source": os.uname().nodename}
    try:
        manifest["server_version"] = query(conn, "SELECT VERSION() AS v")[0]["v"]
        rep = replica_status(conn)
        if rep and rep.get("Slave_SQL_Running") == "Yes":
            # Frozen data for the duration: the counts and the backup describe the same GTID.
            with open(PAUSE_MARK, "w", encoding="utf-8") as fh:
                fh.write(backup_id)
            query(conn, "STOP SLAVE SQL_THREAD")
            paused = True
            manifest["counts"] = table_counts(conn)
            manifest["role"] = "replica"
        else:
            manifest["counts"] = None  # a primary keeps writing: no exact counts to compare with
            manifest["role"] = "replica" if rep else "primary"
        manifest["gtid_at_start"] = query(conn, "SELECT @@gtid_binlog_pos AS g")[0]["g"]
        started = time.time()
        cmd = ["mariabackup", "--backup", "--user=root", "--socket=" + SOCKET, "--stream=mbstream",
               "--target-dir=" + work, "--extra-lsndir=" + work]
        if kind == "incremental":
            cmd.append("--incremental-lsn=" + lsn)
        with open(os.path.join(LOG_DIR, backup_id + ".log"), "w", encoding="utf-8") as log:
            proc = subprocess.run(cmd, stdout=sys.stdout.buffer, stderr=log, check=False)
        if proc.returncode != 0:
            raise Refused("mariabackup failed with exit %d (log: %s/%s.log)" % (proc.returncode, LOG_DIR, backup_id))
        sys.stdout.flush()
        lsn_info = read_lsndir(work)
        manifest.update({"started_at": started, "time": time.time(), "from_lsn": int(lsn_info["from_lsn"]),
                         "to_lsn": int(lsn_info["to_lsn"]),
                         "gtid": lsn_info["binlog_gtid"] or manifest["gtid_at_start"]})
        if paused:
            # The data did not move: the GTID read before the backup is exact.
            manifest["gtid"] = manifest["gtid_at_start"]
            manifest["time"] = started
    finally:
        if paused:
            resume(conn)
        conn.close()
        subprocess.run(["rm", "-rf", "--", work], check=False)
    sys.stderr.write(MANIFEST_PREFIX + json.dumps(manifest, sort_keys=True) + "\n")


def resume(conn=None):
    """Restart the SQL thread if (and only if) this agent stopped it."""
    if not os.path.exists(PAUSE_MARK):
        return
    own = conn is None
    conn = conn or connect()
    try:
        rep = replica_status(conn)
        if rep and rep.get("Slave_SQL_Running") != "Yes":
            query(conn, "START SLAVE SQL_THREAD")
        os.unlink(PAUSE_MARK)
    finally:
        if own:
            conn.close()


def datadir_size():
    conn = connect()
    try:
        datadir = query(conn, "SELECT @@datadir AS d")[0]["d"]
    finally:
        conn.close()
    total = 0
    for root, _dirs, files in os.walk(datadir):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass  # a temporary file gone meanwhile
    return total


# -- restore -----------------------------------------------------------------------------------------
def receive(restore_id, step):
    require_armed(restore_id)
    target = os.path.join(RESTORE_DIR, restore_id, "%02d" % int(step))
    os.makedirs(target, mode=0o700, exist_ok=False)
    proc = subprocess.run(["mbstream", "-x", "-C", target], stdin=sys.stdin.buffer, check=False)
    if proc.returncode != 0:
        raise Refused("mbstream failed with exit %d while extracting into %s" % (proc.returncode, target))


def replay(restore_id):
    require_armed(restore_id)
    proc = subprocess.run(["mariadb", "--user=root", "--socket=" + SOCKET, "--binary-mode"],
                          stdin=sys.stdin.buffer, check=False)
    if proc.returncode != 0:
        raise Refused("the replay failed with exit %d" % proc.returncode)


def import_schema(restore_id, schema):
    require_armed(restore_id)
    conn = connect()
    try:
        if query(conn, "SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", (schema,)):
            raise Refused("schema %s exists already: a side-by-side restore never overwrites" % schema)
        query(conn, "CREATE DATABASE `%s`" % schema)
    finally:
        conn.close()
    proc = subprocess.run(["mariadb", "--user=root", "--socket=" + SOCKET, "--binary-mode", schema],
                          stdin=sys.stdin.buffer, check=False)
    if proc.returncode != 0:
        raise Refused("the import into %s failed with exit %d" % (schema, proc.returncode))


def main(argv):
    # A dropped SSH connection sends SIGHUP; systemd or an operator SIGTERM: unwind through the
    # finally blocks (which restart a paused SQL thread) instead of dying in place.
    for sig in (signal.SIGHUP, signal.SIGTERM):
        signal.signal(sig, lambda signum, frame: sys.exit(128 + signum))
    try:
        words = parse_request(argv[1] if len(argv) > 1 else "")
        if words[0] == "stream":
            stream(words[1], words[2], words[3] if len(words) > 3 else None)
        elif words[0] == "resume":
            resume()
        elif words[0] == "size":
            print(datadir_size())
        elif words[0] == "receive":
            receive(words[1], words[2])
        elif words[0] == "replay":
            replay(words[1])
        elif words[0] == "import":
            import_schema(words[1], words[2])
    except (Refused, pymysql.MySQLError, OSError) as exc:
        sys.stderr.write("ha-lamp-backup-agent: %s\n" % exc)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
