# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""ha-lamp-backup: the backup host's tool. Takes, lists, verifies, prunes and restores backups.

  ha-lamp-backup take full|incremental     a backup of the best replica into the restic repository
  ha-lamp-backup verify [--backup ID]      restore the newest chain into a scratch server and check it
  ha-lamp-backup prune                     apply the retention policy (repository and binlog archive)
  ha-lamp-backup status [--json]           backups, ages, sizes, verification, binlog archive lag
  ha-lamp-backup plan [--to-time T | --to-gtid G] [--json]
                                           what a restore to that target would use (checked first)
  ha-lamp-backup send --restore-id R --host NODE [--host NODE ...] [--to-time T | --to-gtid G]
                                           stream the chosen backups to the NODEs at once (their agents
                                           extract them)
  ha-lamp-backup replay --restore-id R --host NODE [--host NODE ...] --from-gtid G [--to-time T | --to-gtid G]
                                           replay the archived binlogs after G into the NODEs at once
  ha-lamp-backup table-restore --restore-id R --schema S [--table T] --into NEW --host NODE [target]
                                           rebuild S (or S.T) as of the target in a scratch server
                                           and import it into NODE as schema NEW
  ha-lamp-backup find --pattern TEXT       archived transactions whose SQL matches TEXT (with GTIDs)
  ha-lamp-backup lock acquire|release|show --holder NAME
  ha-lamp-backup accept-history --gtid G   let the binlog archive follow a primary whose history is behind
                                           the archive's (restore.yml does it for the tier it restored)

Configuration: /etc/ha-lamp-backup/backup.json (roles/backup writes it). The planning rules (which
backups, which binlogs, retention) live in plugins/module_utils/backup_plan.py, unit-tested.
Everything here is I/O around restic, mariabackup, mariadb-binlog and the database nodes' agents.
Exit codes: 0 done, 1 failed (message on stderr), 2 refused before any change (bad input, lock held,
wrong key, no space, no source).
"""

import argparse
import contextlib
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

LIB_DIR = os.environ.get("HA_LAMP_LIB", "/usr/local/lib/ha-lamp")
sys.path.insert(0, LIB_DIR)

from ansible_collections.onprem.ha_lamp.plugins.module_utils import backup_plan as bp  # noqa: E402
from ansible_collections.onprem.ha_lamp.plugins.module_utils import binlog_archive as ba  # noqa: E402

DEFAULT_CONFIG = "/etc/ha-lamp-backup/backup.json"
MANIFEST_PREFIX = "HA_LAMP_MANIFEST "
# mariadb-binlog reads --stop-datetime, and prints event times, in the local time zone: targets are UTC.
UTC_ENV = dict(os.environ, TZ="UTC")
SCRATCH_SOCKET = "scratch.sock"
# mariadb-binlog's header of a GTID event: "#261203  3:30:51 server id 2  end_log_pos 1234 ... GTID 0-2-63 ..."
GTID_EVENT = re.compile(r"^#(\d{6})\s+(\d{1,2}:\d\d:\d\d) server id .*\bGTID (\d+-\d+-\d+)")


class Refused(Exception):
    """Nothing was changed: the input, the lock, the key, the space or the sources say no."""


class Failed(Exception):
    """A step failed after work started; the message says which and what was left."""


def log(message, **fields):
    print(json.dumps(dict(fields, msg=message, at=round(time.time(), 3)), sort_keys=True), flush=True)


def utc(ts):
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


# -- configuration and the small wrappers ---------------------------------------------------------
def load_config(path):
    try:
        with open(path, encoding="utf-8") as fh:
            cfg = json.load(fh)
    except (OSError, ValueError) as exc:
        raise Refused("cannot read the configuration %s: %s" % (path, exc)) from None
    for key in ("cluster", "nodes", "repository", "repository_password_file", "state_dir", "archive_dir",
                "archive_state", "ssh_key", "ssh_user", "known_hosts", "keep"):
        if key not in cfg:
            raise Refused("%s: the key %r is missing (re-run playbooks/site.yml)" % (path, key))
    return cfg


def restic_env(cfg):
    env = dict(os.environ, RESTIC_REPOSITORY=cfg["repository"],
               RESTIC_PASSWORD_FILE=cfg["repository_password_file"],
               RESTIC_CACHE_DIR=os.path.join(cfg["state_dir"], "cache"))
    env.pop("RESTIC_PASSWORD", None)
    return env


def restic(cfg, *args, stdin=None, check=True):
    proc = subprocess.run(["restic", "--no-lock" if args[0] in ("snapshots", "cat") else "--quiet"] + list(args),
                          env=restic_env(cfg), stdin=stdin, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise Failed("restic %s failed (exit %d): %s" % (args[0], proc.returncode, proc.stderr.strip()[-400:]))
    return proc


def check_repository(cfg):
    """The key opens the repository: before any backup or restore starts."""
    proc = restic(cfg, "cat", "config", check=False)
    if proc.returncode != 0:
        err = proc.stderr.strip()
        if "wrong password" in err or "no key found" in err:
            raise Refused("the repository key in %s does not open %s (ha_lamp_backup_repository_password "
                          "is wrong or was changed): %s" % (cfg["repository_password_file"], cfg["repository"], err))
        raise Refused("the restic repository %s cannot be opened: %s" % (cfg["repository"], err[-300:]))


def ssh_command(cfg, host, remote):
    return ["ssh", "-i", cfg["ssh_key"], "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
            "-o", "UserKnownHostsFile=" + cfg["known_hosts"], "-o", "StrictHostKeyChecking=yes",
            "-o", "ConnectTimeout=5", "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3",
            "%s@%s" % (cfg["ssh_user"], cfg["nodes"][host]), remote]


def agent(cfg, host, remote, **kwargs):
    return subprocess.run(ssh_command(cfg, host, remote), capture_output=True, text=True, check=False, **kwargs)


def db_connect(cfg, host):
    import pymysql  # only the commands that talk to MariaDB need it
    with open(cfg["password_file"], encoding="utf-8") as fh:
        password = fh.read().strip()
    ssl = {"ca": cfg["tls_ca"], "check_hostname": True} if cfg.get("tls_ca") else None
    return pymysql.connect(host=cfg["nodes"][host], port=int(cfg.get("port", 3306)), user=cfg["user"],
                           password=password, ssl=ssl, connect_timeout=3, read_timeout=5, autocommit=True,
                           cursorclass=pymysql.cursors.DictCursor)


def observe(cfg, host):
    """read_only, replication health and lag of one node; {"error": ...} when it does not answer."""
    try:
        conn = db_connect(cfg, host)
    except Exception as exc:  # pylint: disable=broad-except
        return {"error": str(exc)[:200]}
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT @@read_only AS ro, @@gtid_binlog_pos AS gtid")
            row = cur.fetchone()
            cur.execute("SHOW SLAVE STATUS")
            rep = cur.fetchone()
        return {"read_only": bool(int(row["ro"])), "gtid": row["gtid"],
                "replica": None if not rep else {"io": rep["Slave_IO_Running"], "sql": rep["Slave_SQL_Running"],
                                                 "lag": rep["Seconds_Behind_Master"]}}
    except Exception as exc:  # pylint: disable=broad-except
        return {"error": str(exc)[:200]}
    finally:
        conn.close()


def primary_of(views):
    writable = sorted(h for h, v in views.items() if not v.get("error") and not v["read_only"] and not v["replica"])
    return writable[0] if len(writable) == 1 else None


def choose_source(cfg, views, prefer=None):
    """The healthy, caught-up replica to back up (prefer: the one an incremental chain needs);
    the primary only when no replica qualifies. Returns (host, reason)."""
    max_lag = int(cfg.get("max_lag", 10))
    good = sorted(h for h, v in views.items() if not v.get("error") and v["read_only"] and v["replica"]
                  and v["replica"]["io"] == "Yes" and v["replica"]["sql"] == "Yes"
                  and v["replica"]["lag"] is not None and int(v["replica"]["lag"]) <= max_lag)
    if prefer in good:
        return prefer, "replica %s (the incremental chain's source)" % prefer
    if good:
        best = min(good, key=lambda h: (int(views[h]["replica"]["lag"]), h))
        return best, "replica %s (healthy, %ss behind)" % (best, views[best]["replica"]["lag"])
    primary = primary_of(views)
    if primary:
        return primary, ("no replica is healthy and within %ss (%s): backing up the primary %s"
                         % (max_lag, describe_views(views), primary))
    raise Refused("no database node can be backed up: %s" % describe_views(views))


def describe_views(views):
    out = []
    for host, v in sorted(views.items()):
        if v.get("error"):
            out.append("%s unreachable (%s)" % (host, v["error"][:80]))
        elif not v["replica"]:
            out.append("%s %s" % (host, "read-only, not replicating" if v["read_only"] else "primary"))
        else:
            out.append("%s replica io=%s sql=%s lag=%s" % (host, v["replica"]["io"], v["replica"]["sql"],
                                                           v["replica"]["lag"]))
    return "; ".join(out)


# -- lock: one backup, verification or restore at a time ------------------------------------------
def lock_path(cfg):
    return os.path.join(cfg["state_dir"], "lock.json")


def lock_acquire(cfg, holder, pid=None):
    """pid: the process that holds the lock while it lives (a job of this tool); None for a holder that
    spans several commands (restore.yml, an operator), released only by `lock release`."""
    path = lock_path(cfg)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        current = lock_show(cfg) or {}
        holder_pid = current.get("pid")
        if holder_pid and current.get("host") == os.uname().nodename and not os.path.exists("/proc/%d" % holder_pid):
            os.unlink(path)  # its process is gone: a crashed local run, not a running one
            return lock_acquire(cfg, holder, pid)
        raise Refused("%s holds the backup lock since %s UTC (%s); wait for it to finish. If it is certain "
                      "nothing runs, clear it on %s with: ha-lamp-backup lock release --holder '%s'"
                      % (current.get("holder"), utc(current.get("since", 0)), path, os.uname().nodename,
                         current.get("holder"))) from None
    with os.fdopen(fd, "w") as fh:
        json.dump({"holder": holder, "since": time.time(), "host": os.uname().nodename, "pid": pid}, fh)


def lock_show(cfg):
    try:
        with open(lock_path(cfg), encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def lock_release(cfg, holder):
    current = lock_show(cfg)
    if current and current.get("holder") != holder:
        raise Refused("the lock is held by %s, not %s" % (current.get("holder"), holder))
    with contextlib.suppress(FileNotFoundError):
        os.unlink(lock_path(cfg))


@contextlib.contextmanager
def locked(cfg, holder, wait=0.0):
    """The lock for one job of this process; with wait, retry while another job holds it (timers)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            lock_acquire(cfg, holder, os.getpid())
            break
        except Refused:
            if time.monotonic() >= deadline:
                raise
            time.sleep(5)
    try:
        yield
    finally:
        lock_release(cfg, holder)


# -- catalogue ------------------------------------------------------------------------------------
def catalog_dir(cfg):
    return os.path.join(cfg["state_dir"], "catalog")


def catalog(cfg):
    out = []
    directory = catalog_dir(cfg)
    for name in sorted(os.listdir(directory)) if os.path.isdir(directory) else []:
        if name.endswith(".json"):
            with open(os.path.join(directory, name), encoding="utf-8") as fh:
                out.append(json.load(fh))
    return sorted(out, key=lambda b: b["time"])


def save_entry(cfg, entry):
    os.makedirs(catalog_dir(cfg), mode=0o700, exist_ok=True)
    path = os.path.join(catalog_dir(cfg), entry["id"] + ".json")
    with tempfile.NamedTemporaryFile("w", dir=catalog_dir(cfg), delete=False, encoding="utf-8") as fh:
        json.dump(entry, fh, sort_keys=True, indent=1)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(fh.name, path)


# -- take -----------------------------------------------------------------------------------------
def take(cfg, kind):
    check_repository(cfg)
    views = {h: observe(cfg, h) for h in cfg["nodes"]}
    entries = [b for b in catalog(cfg) if b.get("snapshot")]
    parent = None
    if kind == "incremental":
        # None when there is no full yet, or the newest backup failed verification (an incremental
        # on it would inherit the damage).
        parent = bp.incremental_parent(entries)
        if parent is None:
            log("no sound backup to base an incremental on: taking a full one")
            kind = "full"
    source, reason = choose_source(cfg, views, prefer=parent["source"] if parent else None)
    if parent and source != parent["source"]:
        log("the chain's source %s does not qualify: taking a full backup instead" % parent["source"],
            source=source)
        kind, parent = "full", None
    check_space(cfg, source, entries)
    backup_id = "%s-%s-%s" % (time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()), kind, source)
    log("backup started", id=backup_id, kind=kind, source=source, reason=reason)
    remote = "stream %s %s%s" % (kind, backup_id, " %d" % parent["to_lsn"] if parent else "")
    started = time.monotonic()
    ssh = subprocess.Popen(ssh_command(cfg, source, remote), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    store = subprocess.Popen(["restic", "backup", "--json", "--stdin", "--stdin-filename", backup_id + ".mbstream",
                              "--host", cfg["cluster"], "--tag", "ha-lamp-backup", "--tag", "id=" + backup_id],
                             stdin=ssh.stdout, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=restic_env(cfg))
    ssh.stdout.close()
    store_out, store_err = store.communicate()
    ssh_err = ssh.stderr.read().decode("utf-8", "replace")
    ssh.wait()
    seconds = time.monotonic() - started
    manifest = next((json.loads(line[len(MANIFEST_PREFIX):]) for line in ssh_err.splitlines()
                     if line.startswith(MANIFEST_PREFIX)), None)
    summary = next((json.loads(line) for line in store_out.decode().splitlines()
                    if line.startswith("{") and '"summary"' in line), None)
    if ssh.returncode != 0 or manifest is None or store.returncode != 0 or summary is None:
        # A partial stream may have become a snapshot: remove it, a half backup must never be chosen.
        if summary and summary.get("snapshot_id"):
            restic(cfg, "forget", summary["snapshot_id"], check=False)
        agent(cfg, source, "resume")
        raise Failed("backup %s from %s failed: agent exit %s (%s), restic exit %s (%s)"
                     % (backup_id, source, ssh.returncode, ssh_err.strip()[-300:], store.returncode,
                        store_err.decode().strip()[-300:]))
    entry = dict(manifest, parent=parent["id"] if parent else None, snapshot=summary["snapshot_id"],
                 bytes=summary.get("total_bytes_processed"), added=summary.get("data_added"),
                 seconds=round(seconds, 3), verified=None, source_reason=reason)
    save_entry(cfg, entry)
    # The manifest also goes into the repository, so the catalogue can be rebuilt from it alone.
    store_manifest(cfg, entry)
    log("backup done", id=backup_id, bytes=entry["bytes"], added=entry["added"], seconds=entry["seconds"],
        gtid=entry["gtid"])
    write_metrics(cfg)
    return entry


def store_manifest(cfg, entry):
    proc = subprocess.run(["restic", "--quiet", "backup", "--stdin", "--stdin-filename", entry["id"] + ".json",
                           "--host", cfg["cluster"], "--tag", "ha-lamp-manifest", "--tag", "id=" + entry["id"]],
                          input=json.dumps(entry, sort_keys=True).encode(), env=restic_env(cfg),
                          capture_output=True, check=False)
    if proc.returncode != 0:
        raise Failed("storing the manifest of %s failed: %s" % (entry["id"], proc.stderr.decode()[-300:]))


def check_space(cfg, source, entries):
    """Refuse before the stream starts when the repository's disk cannot take a full copy."""
    proc = agent(cfg, source, "size")
    if proc.returncode != 0 or not proc.stdout.strip().isdigit():
        raise Refused("cannot read the data size on %s through its backup agent: %s"
                      % (source, (proc.stderr or proc.stdout).strip()[-300:]))
    need = int(proc.stdout.strip()) * float(cfg.get("space_factor", 1.2))
    free = shutil.disk_usage(cfg["repository"]).free
    if free < need:
        raise Refused("the repository's disk on %s has %d MiB free, a backup of %s needs up to %d MiB "
                      "(datadir size x %s): free space or move the repository (backup_repository)"
                      % (os.uname().nodename, free >> 20, source, int(need) >> 20, cfg.get("space_factor", 1.2)))


# -- scratch server: verification and side-by-side restores ---------------------------------------
class Fanout:
    """One stream copied into several receiving processes at once (a restore sends the same backup and the
    same binlogs to every node: read and decrypt once, write to each). A receiver that exits early stops
    getting data and is reported by close(); the others go on, so every failure is named at the end."""

    CHUNK = 1 << 20

    def __init__(self, named_cmds):
        self.sinks = []
        for name, cmd in named_cmds:
            err = tempfile.TemporaryFile()  # pylint: disable=consider-using-with  # closed in close()
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err)
            self.sinks.append({"name": name, "proc": proc, "err": err, "open": True})

    def pump(self, source):
        """Copy `source` (a binary file object) to every receiver still open, until it ends."""
        while True:
            chunk = source.read(self.CHUNK)
            if not chunk:
                return
            for sink in self.sinks:
                if sink["open"]:
                    try:
                        sink["proc"].stdin.write(chunk)
                    except (BrokenPipeError, ValueError):
                        sink["open"] = False

    def close(self):
        """Close every input, wait for every receiver; [(name, exit status, stderr tail)] of the failed ones."""
        failed = []
        for sink in self.sinks:
            try:
                sink["proc"].stdin.close()
            except BrokenPipeError:
                pass
        for sink in self.sinks:
            status = sink["proc"].wait()
            sink["err"].seek(0)
            text = sink["err"].read().decode("utf-8", "replace").strip()
            sink["err"].close()
            if status != 0:
                failed.append((sink["name"], status, text[-300:]))
        return failed


def read_stderr_of(cmd, consume, env=None):
    """Run cmd, hand its stdout to consume(file), return (exit status, stderr text). stderr goes to a file,
    so a chatty command can never block on a full pipe while its stdout is being read."""
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, env=env)
        try:
            consume(proc.stdout)
        finally:
            proc.stdout.close()
            status = proc.wait()
        err.seek(0)
        return status, err.read().decode("utf-8", "replace").strip()


def describe_failed(failed):
    return "; ".join("%s exit %d (%s)" % item for item in failed)


def dump_into(cfg, entry, named_cmds):
    """restic dump of one backup's stream into every receiver of named_cmds [(name, argv)] at once."""
    fan = Fanout(named_cmds)
    try:
        err = read_stderr_of(["restic", "--quiet", "dump", entry["snapshot"], "/" + entry["id"] + ".mbstream"],
                             fan.pump, env=restic_env(cfg))
    finally:
        failed = fan.close()
    if err[0] != 0 or failed:
        raise Failed("restoring %s: restic dump exit %d (%s)%s"
                     % (entry["id"], err[0], err[1][-300:],
                        "; receivers failed: " + describe_failed(failed) if failed else ""))


def check_version(entry):
    local = subprocess.run(["mariadbd", "--version"], capture_output=True, text=True, check=False).stdout
    want = ".".join(entry.get("server_version", "").split(".")[:2])
    if want and (" %s." % want) not in local and ("Ver %s." % want) not in local:
        raise Refused("backup %s was taken from MariaDB %s, this host has %s: a physical backup is prepared "
                      "by the same version (install the same Debian release on the backup host)"
                      % (entry["id"], entry.get("server_version"), local.strip()))


class Scratch:
    """A private MariaDB server on a prepared backup: no network, no grant tables, removed after."""

    def __init__(self, cfg, name):
        self.root = os.path.join(cfg["state_dir"], "scratch", name)
        self.datadir = os.path.join(self.root, "00")
        self.socket = os.path.join(self.root, SCRATCH_SOCKET)
        self.proc = None

    def restore(self, cfg, chain):
        shutil.rmtree(self.root, ignore_errors=True)
        os.makedirs(self.root, mode=0o700)
        for step, entry in enumerate(chain):
            check_version(entry)
            target = os.path.join(self.root, "%02d" % step)
            os.makedirs(target, mode=0o700)
            dump_into(cfg, entry, [("scratch", ["mbstream", "-x", "-C", target])])
        prepare(self.root, len(chain))

    def start(self):
        # As root, inside the root-only state directory: the restored data never becomes readable
        # by another account on the backup host.
        self.proc = subprocess.Popen(
            ["mariadbd", "--no-defaults", "--user=root", "--datadir=" + self.datadir, "--socket=" + self.socket,
             "--skip-networking", "--skip-grant-tables", "--innodb-buffer-pool-size=128M",
             "--log-error=" + os.path.join(self.root, "error.log"), "--pid-file=" + os.path.join(self.root, "pid")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise Failed("the scratch server exited (%s): %s" % (self.proc.returncode, self.error_tail()))
            if self.sql("SELECT 1", check=False).returncode == 0:
                return
            time.sleep(0.5)
        raise Failed("the scratch server did not answer within 120 s: %s" % self.error_tail())

    def error_tail(self):
        """The server's last error lines (the scratch directory is removed afterwards)."""
        try:
            with open(os.path.join(self.root, "error.log"), encoding="utf-8", errors="replace") as fh:
                lines = [line.strip() for line in fh if "[ERROR]" in line]
        except OSError:
            return "no error log"
        return " / ".join(lines[-3:]) or "no [ERROR] line in its log"

    def sql(self, statement, check=True):
        proc = subprocess.run(["mariadb", "--socket=" + self.socket, "--batch", "--skip-column-names", "-e", statement],
                              capture_output=True, text=True, check=False)
        if check and proc.returncode != 0:
            raise Failed("scratch server: %s: %s" % (statement[:80], proc.stderr.strip()[-300:]))
        return proc

    def stop(self):
        if self.proc and self.proc.poll() is None:
            subprocess.run(["mariadb-admin", "--socket=" + self.socket, "shutdown"], capture_output=True, check=False)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.root, ignore_errors=True)


def prepare(root, steps):
    """mariabackup --prepare the full backup in root/00, then apply each incremental root/NN to it."""
    base = os.path.join(root, "00")
    for step in range(steps):
        cmd = ["mariabackup", "--prepare", "--target-dir=" + base]
        if step:
            cmd.append("--incremental-dir=" + os.path.join(root, "%02d" % step))
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise Failed("mariabackup --prepare (step %d) failed: %s" % (step, proc.stderr.strip()[-400:]))


def verify(cfg, backup_id=None):
    check_repository(cfg)
    entries = [b for b in catalog(cfg) if b.get("snapshot")]
    if backup_id:
        target = next((b for b in entries if b["id"] == backup_id), None)
        if target is None:
            raise Refused("no backup %s in the catalogue (ha-lamp-backup status lists them)" % backup_id)
        chain = next(c[:c.index(target) + 1] for c in bp.chains(entries) if target in c)
    else:
        chain = bp.choose_restore_chain(entries)
    last = chain[-1]
    started = time.monotonic()
    scratch = Scratch(cfg, "verify")
    problems = []
    try:
        restic_check = restic(cfg, "check", "--read-data-subset=" + str(cfg.get("verify_read_data", "10%")),
                              check=False)
        if restic_check.returncode != 0:
            problems.append("restic check: %s" % restic_check.stderr.strip()[-300:])
        try:
            scratch.restore(cfg, chain)
            scratch.start()
        except Failed as exc:
            problems.append(str(exc))
        else:
            check = subprocess.run(["mariadb-check", "--socket=" + scratch.socket, "--all-databases", "--check"],
                                   capture_output=True, text=True, check=False)
            bad = [line for line in check.stdout.splitlines() if line.strip() and not line.rstrip().endswith("OK")
                   and not line.startswith(" ")]
            if check.returncode != 0 or bad:
                problems.append("mariadb-check: %s" % "; ".join(bad or [check.stderr.strip()[-300:]])[:400])
            problems.extend(compare_counts(scratch, last.get("counts")))
    finally:
        scratch.stop()
    result = {"ok": not problems, "at": time.time(), "seconds": round(time.monotonic() - started, 3),
              "problems": problems, "chain": [b["id"] for b in chain]}
    last["verified"] = result["ok"]
    last["verification"] = result
    save_entry(cfg, last)
    write_metrics(cfg)
    if problems:
        alert(cfg, "backup_verification_failed", backup=last["id"], problems=problems)
        raise Failed("verification of %s FAILED: %s" % (last["id"], " | ".join(problems)))
    log("verification passed", backup=last["id"], seconds=result["seconds"])
    return result


def compare_counts(scratch, counts):
    if not counts:
        return []  # a backup of the primary has no frozen counts; mariadb-check still ran
    problems = []
    for table, want in sorted(counts.items()):
        schema, name = table.split(".", 1)
        proc = scratch.sql("SELECT COUNT(*) FROM `%s`.`%s`" % (schema, name), check=False)
        have = proc.stdout.strip()
        if proc.returncode != 0 or not have.isdigit() or int(have) != int(want):
            problems.append("%s: %s rows restored, the manifest says %s" % (table, have or proc.stderr.strip()[-120:],
                                                                            want))
    return problems


def alert(cfg, event, **fields):
    """Journal (this line), the metric (write_metrics) and the webhook when one is configured."""
    body = dict(fields, event=event, cluster=cfg["cluster"], host=os.uname().nodename, at=time.time())
    log("ALERT " + event, **fields)
    url = cfg.get("webhook_url")
    if url:
        try:
            req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
            urllib.request.urlopen(req, timeout=5).close()  # noqa: S310 (operator-configured URL)
        except Exception as exc:  # pylint: disable=broad-except
            log("webhook failed", error=str(exc)[:200])


# -- retention ------------------------------------------------------------------------------------
def prune(cfg):
    check_repository(cfg)
    entries = [b for b in catalog(cfg) if b.get("snapshot")]
    keep = cfg["keep"]
    kept, forget = bp.retention(entries, keep.get("daily", 7), keep.get("weekly", 4), keep.get("monthly", 6))
    gone = [b for b in entries if b["id"] in forget]
    if gone:
        snapshots = [b["snapshot"] for b in gone] + manifest_snapshots(cfg, [b["id"] for b in gone])
        restic(cfg, "forget", *snapshots)
        restic(cfg, "prune")
        for entry in gone:
            os.unlink(os.path.join(catalog_dir(cfg), entry["id"] + ".json"))
    oldest_state = bp.oldest_restorable_state(entries, kept)
    removed = []
    if oldest_state is not None:
        for path in bp.prunable_files(read_index(cfg), oldest_state, archive_dir=cfg["archive_dir"]):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
                removed.append(path)
    log("retention applied", forgotten=[b["id"] for b in gone], kept=sorted(kept), binlogs_removed=len(removed))
    write_metrics(cfg)


def manifest_snapshots(cfg, ids):
    proc = restic(cfg, "snapshots", "--json", "--tag", "ha-lamp-manifest")
    wanted = {"id=" + i for i in ids}
    return [s["id"] for s in json.loads(proc.stdout or "[]") if wanted & set(s.get("tags") or [])]


# -- binlog archive ----------------------------------------------------------------------------------
def read_index(cfg):
    try:
        with open(os.path.join(cfg["archive_dir"], "index.json"), encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        return {"segments": []}


def archive_state(cfg):
    try:
        with open(cfg["archive_state"], encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return {}


def accept_history(cfg, gtid, by):
    """Declare the history that reaches `gtid` the cluster's: the archiver follows a primary behind what it
    archived once that primary is at or past `gtid` (binlog_archive.follow_history), and uses this up."""
    try:
        gtid = bp.format_state(bp.parse_state(gtid))
    except bp.PlanError as exc:
        raise Refused("accept-history --gtid: %s" % exc) from None
    doc = json.dumps({"gtid": gtid, "at": round(time.time(), 3), "by": by}, sort_keys=True) + "\n"
    with tempfile.NamedTemporaryFile("w", dir=cfg["archive_dir"], delete=False, encoding="utf-8") as fh:
        fh.write(doc)
    os.chmod(fh.name, 0o640)
    os.replace(fh.name, os.path.join(cfg["archive_dir"], ba.ACCEPTED_HISTORY))
    log("history_accepted", gtid=gtid, by=by)


def make_plan(cfg, to_time=None, to_gtid=None):
    entries = [b for b in catalog(cfg) if b.get("snapshot")]
    state = archive_state(cfg)
    bp.check_target(entries, state.get("caught_up_gtid", ""), state.get("caught_up_at"), to_gtid=to_gtid,
                    to_time=to_time, now=time.time())
    chain = bp.choose_restore_chain(entries, to_gtid=to_gtid, to_time=to_time)
    if to_time is None and to_gtid is None:
        # "latest": everything archived, not only the newest backup (nothing to replay when the
        # newest backup is already past what the archive holds).
        archived = bp.state_from_gtid_list(state.get("caught_up_gtid") or "")
        newest = chain[-1]
        if not archived or (bp.contains(newest["gtid"], archived) and not bp.contains(archived, newest["gtid"])):
            # The archive is behind the newest backup: it follows a rebuilt or rewound tier (a new
            # history), or it lags. "Latest" would silently stop at the backup: say so instead.
            raise Refused("the binlog archive (up to '%s', following %s) is behind the newest backup %s (GTID %s): "
                          "it follows a rebuilt or rewound database tier, or it lags. Restore to an explicit target "
                          "(ha_lamp_restore_to_gtid=%s restores that backup alone; ha-lamp-backup find and status "
                          "show the archived transactions), or wait until the archive has caught up"
                          % (archived, state.get("source"), newest["id"], newest["gtid"], newest["gtid"]))
        if not bp.contains(newest["gtid"], archived):
            to_gtid = archived
    steps = bp.replay_plan(read_index(cfg), chain[-1]["gtid"], to_gtid=to_gtid, to_time=to_time,
                           archive_dir=cfg["archive_dir"]) if to_gtid or to_time else []
    views = {h: observe(cfg, h) for h in cfg["nodes"]}
    return {"chain": chain, "steps": steps, "from_gtid": chain[-1]["gtid"], "to_gtid": to_gtid, "to_time": to_time,
            "primary": primary_of(views), "nodes": describe_views(views),
            "lines": bp.describe_plan(chain, steps, to_time or to_gtid or "latest")}


def binlog_command(step):
    cmd = ["mariadb-binlog"]
    if step.get("start_position"):
        cmd.append("--start-position=" + step["start_position"])
    if step.get("stop_position"):
        cmd.append("--stop-position=" + step["stop_position"])
    if step.get("stop_datetime"):
        cmd.append("--stop-datetime=" + step["stop_datetime"])
    return cmd + list(step["files"])


def replay_into(steps, named_cmds):
    """Every step's mariadb-binlog output, in order, into every receiver of named_cmds [(name, argv)] at once."""
    errors = []
    fan = Fanout(named_cmds)
    try:
        for step in steps:
            status, err = read_stderr_of(binlog_command(step), fan.pump, env=UTC_ENV)
            if status != 0:
                errors.append("mariadb-binlog (%s): %s" % (step["segment"], err[-300:]))
                break
    finally:
        failed = fan.close()
    if failed or errors:
        raise Failed("binlog replay failed: %s" % "; ".join(errors + ([describe_failed(failed)] if failed else [])))


def find(cfg, pattern, limit=20):
    """GTIDs and times of archived transactions whose decoded SQL contains pattern (newest last)."""
    hits = []
    for segment in read_index(cfg)["segments"]:
        for item in segment["files"]:
            path = os.path.join(cfg["archive_dir"], segment["id"], item["name"])
            if not os.path.exists(path):
                continue
            out = subprocess.run(["mariadb-binlog", "--base64-output=decode-rows", "--verbose", path],
                                 capture_output=True, text=True, check=False, errors="replace", env=UTC_ENV).stdout
            gtid, when = None, None
            for line in out.splitlines():
                match = GTID_EVENT.match(line)
                if match:
                    day, clock = match.group(1), match.group(2).zfill(8)
                    gtid, when = match.group(3), "20%s-%s-%s %s" % (day[:2], day[2:4], day[4:], clock)
                elif pattern.lower() in line.lower() and gtid:
                    hits.append({"gtid": gtid, "logged": when, "segment": segment["id"], "sql": line.strip()[:200]})
                    gtid = None
    return hits[-limit:]


# -- status and metrics -----------------------------------------------------------------------------
def status(cfg):
    entries = catalog(cfg)
    now = time.time()
    state = archive_state(cfg)
    fulls = [b for b in entries if b["kind"] == "full"]
    backups = [{"id": b["id"], "kind": b["kind"], "source": b["source"], "time": utc(b["time"]),
                "age_s": round(now - b["time"]), "bytes": b.get("bytes"), "added": b.get("added"),
                "gtid": b["gtid"], "verified": b.get("verified"),
                "problems": (b.get("verification") or {}).get("problems", [])} for b in entries]
    for b in backups:
        b["line"] = "%-44s %-11s %-5s %s UTC  age %6ss  %12s bytes  GTID %-14s %s" % (
            b["id"], b["kind"], b["source"], b["time"], b["age_s"], b["bytes"] if b["bytes"] is not None else "?",
            b["gtid"], {True: "verified", False: "VERIFICATION FAILED", None: "not verified yet"}[b["verified"]])
    return {"cluster": cfg["cluster"], "now": now, "lock": lock_show(cfg), "backups": backups,
            "last_full_age_s": round(now - fulls[-1]["time"]) if fulls else None,
            "last_backup_age_s": round(now - entries[-1]["time"]) if entries else None,
            "archive": {"source": state.get("source"), "lag_seconds": state.get("lag_seconds"),
                        "caught_up_gtid": state.get("caught_up_gtid"), "gap": state.get("gap"),
                        "streaming": state.get("streaming"), "updated_at": state.get("updated_at"),
                        "refused": bool(state.get("refused")), "error": state.get("error") or ""}}


def write_metrics(cfg):
    path = cfg.get("textfile")
    if not path:
        return
    entries = catalog(cfg)
    fulls = [b for b in entries if b["kind"] == "full"]
    last_verified = [b for b in entries if b.get("verification")]
    lines = ["# HELP ha_lamp_backup_last_timestamp_seconds Consistent point of the newest backup, by kind.",
             "# TYPE ha_lamp_backup_last_timestamp_seconds gauge"]
    for kind in ("full", "incremental"):
        mine = [b for b in entries if b["kind"] == kind]
        if mine:
            lines.append('ha_lamp_backup_last_timestamp_seconds{kind="%s"} %.3f' % (kind, mine[-1]["time"]))
    lines += ["# HELP ha_lamp_backup_last_bytes Bytes read from the source by the newest full backup.",
              "# TYPE ha_lamp_backup_last_bytes gauge",
              "ha_lamp_backup_last_bytes %d" % ((fulls[-1].get("bytes") or 0) if fulls else 0),
              "# HELP ha_lamp_backup_verification_ok 1 when the newest verification passed, 0 when it failed.",
              "# TYPE ha_lamp_backup_verification_ok gauge"]
    if last_verified:
        newest = max(last_verified, key=lambda b: b["verification"]["at"])
        lines.append("ha_lamp_backup_verification_ok %d" % (1 if newest["verification"]["ok"] else 0))
        lines += ["# HELP ha_lamp_backup_verification_timestamp_seconds When the newest verification ran.",
                  "# TYPE ha_lamp_backup_verification_timestamp_seconds gauge",
                  "ha_lamp_backup_verification_timestamp_seconds %.3f" % newest["verification"]["at"]]
    lines.append("# HELP ha_lamp_backup_count Backups in the catalogue.")
    lines.append("# TYPE ha_lamp_backup_count gauge")
    lines.append("ha_lamp_backup_count %d" % len(entries))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=os.path.dirname(path), delete=False, encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    os.chmod(fh.name, 0o644)
    os.replace(fh.name, path)


def repository_created(cfg):
    try:
        return os.stat(os.path.join(cfg["repository"], "config")).st_mtime
    except OSError:
        return 0.0


def check_fresh(cfg):
    """The stale-backup alarm (a timer runs it): the newest full and newest backup within their schedule."""
    entries = catalog(cfg)
    now = time.time()
    stale = []
    fulls = [b for b in entries if b["kind"] == "full"]
    # A repository younger than the schedule allows has not missed a backup yet.
    since = max([b["time"] for b in entries] + [repository_created(cfg)])
    if not entries and now - since <= float(cfg.get("full_max_age", 93600)):
        return 0
    if not fulls or now - fulls[-1]["time"] > float(cfg.get("full_max_age", 93600)):
        stale.append("no full backup within %ss" % cfg.get("full_max_age", 93600))
    if not entries or now - entries[-1]["time"] > float(cfg.get("any_max_age", 7800)):
        stale.append("no backup within %ss" % cfg.get("any_max_age", 7800))
    if stale:
        alert(cfg, "backup_stale", problems=stale)
        return 1
    return 0


# -- restore helpers (driven by playbooks/restore.yml) -------------------------------------------------
def send(cfg, restore_id, hosts, plan):
    """Each backup of the chain, in order, to every host at once (one restic read per backup)."""
    for step, entry in enumerate(plan["chain"]):
        dump_into(cfg, entry, [(host, ssh_command(cfg, host, "receive %s %d" % (restore_id, step))) for host in hosts])
        log("sent", backup=entry["id"], hosts=hosts, step=step)


def table_restore(cfg, restore_id, plan, schema, table, into, host):
    scratch = Scratch(cfg, "table-" + restore_id)
    try:
        scratch.restore(cfg, plan["chain"])
        scratch.start()
        if plan["steps"]:
            replay_into(plan["steps"], [("scratch", ["mariadb", "--socket=" + scratch.socket, "--binary-mode"])])
        dump = subprocess.Popen(["mariadb-dump", "--socket=" + scratch.socket, "--single-transaction",
                                 "--skip-triggers", schema] + ([table] if table else []),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        sink = subprocess.run(ssh_command(cfg, host, "import %s %s" % (restore_id, into)), stdin=dump.stdout,
                              capture_output=True, check=False)
        dump.stdout.close()
        dump_err = dump.stderr.read().decode("utf-8", "replace")
        dump.wait()
        if dump.returncode != 0 or sink.returncode != 0:
            raise Failed("importing %s into %s on %s: dump exit %d (%s), import exit %d (%s)"
                         % (schema + ("." + table if table else ""), into, host, dump.returncode, dump_err[-300:],
                            sink.returncode, sink.stderr.decode("utf-8", "replace")[-300:]))
    finally:
        scratch.stop()


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="ha-lamp-backup", description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=DEFAULT_CONFIG)
    parser.add_argument("--wait-lock", type=float, default=0.0, metavar="SECONDS",
                        help="take, verify, prune: wait this long for a running job's lock (the timers do)")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("take")
    p.add_argument("kind", choices=["full", "incremental"])
    p = sub.add_parser("verify")
    p.add_argument("--backup")
    sub.add_parser("prune")
    sub.add_parser("check-fresh")
    p = sub.add_parser("status")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("find")
    p.add_argument("--pattern", required=True)
    for name in ("plan", "send", "replay", "table-restore"):
        p = sub.add_parser(name)
        p.add_argument("--to-time")
        p.add_argument("--to-gtid")
        p.add_argument("--json", action="store_true")
        if name != "plan":
            p.add_argument("--restore-id", required=True)
            # send and replay: repeat --host to feed several nodes from one read of the backup or binlogs.
            p.add_argument("--host", required=True, action="append" if name in ("send", "replay") else "store")
        if name == "replay":
            p.add_argument("--from-gtid")
        if name == "table-restore":
            p.add_argument("--schema", required=True)
            p.add_argument("--table")
            p.add_argument("--into", required=True)
    p = sub.add_parser("lock")
    p.add_argument("action", choices=["acquire", "release", "show"])
    p.add_argument("--holder", default="")
    p = sub.add_parser("accept-history")
    p.add_argument("--gtid", required=True)
    p.add_argument("--by", default="operator")
    return parser.parse_args(argv)


def run(args, cfg):
    if args.command in ("send", "replay", "table-restore"):
        for host in args.host if isinstance(args.host, list) else [args.host]:
            if host not in cfg["nodes"]:
                nodes = ", ".join(sorted(cfg["nodes"]))
                raise Refused("--host %s is not a database node of %s (%s)" % (host, cfg["cluster"], nodes))
    if args.command == "take":
        with locked(cfg, "backup " + args.kind, args.wait_lock):
            take(cfg, args.kind)
    elif args.command == "verify":
        with locked(cfg, "verify", args.wait_lock):
            verify(cfg, args.backup)
    elif args.command == "prune":
        with locked(cfg, "prune", args.wait_lock):
            prune(cfg)
    elif args.command == "check-fresh":
        write_metrics(cfg)
        return check_fresh(cfg)
    elif args.command == "status":
        report = status(cfg)
        print(json.dumps(report, indent=1, sort_keys=True) if args.json else render_status(report))
    elif args.command == "accept-history":
        accept_history(cfg, args.gtid, args.by)
    elif args.command == "find":
        print(json.dumps(find(cfg, args.pattern), indent=1))
    elif args.command == "lock":
        if args.action == "show":
            print(json.dumps(lock_show(cfg)))
        elif not args.holder:
            raise Refused("lock %s needs --holder" % args.action)
        elif args.action == "acquire":
            lock_acquire(cfg, args.holder)
        else:
            lock_release(cfg, args.holder)
    else:
        plan = make_plan(cfg, to_time=args.to_time, to_gtid=args.to_gtid)
        if args.command == "plan":
            out = dict(plan, chain=[{k: b.get(k) for k in ("id", "kind", "source", "time", "gtid", "snapshot")}
                                    for b in plan["chain"]])
            print(json.dumps(out, indent=1, sort_keys=True) if args.json else "\n".join(plan["lines"]))
        elif args.command == "send":
            send(cfg, args.restore_id, args.host, plan)
        elif args.command == "replay":
            steps = plan["steps"]
            if args.from_gtid and args.from_gtid != plan["from_gtid"]:
                raise Refused("the node was restored at %s, the plan starts at %s" % (args.from_gtid, plan["from_gtid"]))
            if steps:
                replay_into(steps, [(host, ssh_command(cfg, host, "replay %s" % args.restore_id)) for host in args.host])
            log("replayed", host=args.host, steps=len(steps), to_gtid=plan["to_gtid"], to_time=plan["to_time"])
        elif args.command == "table-restore":
            table_restore(cfg, args.restore_id, plan, args.schema, args.table, args.into, args.host)
    return 0


def render_status(report):
    lines = ["cluster %s; binlog archive: source %s, lag %ss, archived up to %s%s"
             % (report["cluster"], report["archive"]["source"], report["archive"]["lag_seconds"],
                report["archive"]["caught_up_gtid"], ", GAP" if report["archive"]["gap"] else "")]
    if report["archive"].get("refused"):
        lines.append("binlog archive NOT FOLLOWING: %s" % report["archive"]["error"])
    lines.extend(b["line"] for b in report["backups"])
    return "\n".join(lines)


def main(argv):
    args = parse_args(argv)
    try:
        cfg = load_config(args.config)
        return run(args, cfg)
    except (Refused, bp.PlanError) as exc:
        sys.stderr.write("REFUSED: %s\n" % exc)
        return 2
    except Failed as exc:
        sys.stderr.write("FAILED: %s\n" % exc)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
