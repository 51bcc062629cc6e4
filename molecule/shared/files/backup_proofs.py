#!/usr/bin/env python
"""Backup and restore proofs on the running lab (issue 14), as molecule/shared/backup_restore.yml runs them.

    python molecule/shared/files/backup_proofs.py [--inventory inventories/lab]

Each proof prints one PASS line with its figures, or raises (exit 1) with what it saw:
  1. a full and an incremental backup are taken from a replica while numbered writes run through the
     writer VIP: the primary stays the primary and no write fails;
  2. the newest chain (full + incremental) passes verification in the scratch server;
  3. accidental DROP TABLE: numbered writes, the drop, more writes; a side-by-side restore of the table
     to the GTID before the drop holds every acknowledged row and none written after; then the whole tier
     is restored to the same GTID: every acknowledged row before the drop is back, nothing after it,
     replication and the writer are back;
  4. the binlog archive follows a planned switchover and archives the new primary's writes;
  4b. the database tier is lost and rebuilt empty (fresh containers; a node that also carries another
     tier's service gets its database and etcd reinstalled): site.yml deploys an empty tier, the archive
     refuses to take that history as the continuation of its own, and restore.yml brings every
     acknowledged row back with replication, semi-sync, the writer and the archive;
  5. a corrupted backup is caught by verification and reported (exit code, catalogue, metric, alert);
  6. bad input is refused with a clear message and changes nothing: no confirmation, a target before
     the oldest backup or after the newest archived transaction, two targets, the lock held, too little
     space, an unreachable backup host, a wrong repository key.
Only the lab's own containers are touched (addresses from the inventory); every loop is bounded.
"""
import argparse
import json
import os
import subprocess
import sys
import threading
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
sys.path.insert(0, os.path.join(REPO, "benchmarks"))

import labkit  # noqa: E402
import pymysql  # noqa: E402

PROOF_TABLE = "backup_proof"
CLI = "/usr/local/sbin/ha-lamp-backup"
REPO_ENV = "RESTIC_REPOSITORY=/var/lib/ha-lamp-backup/repo RESTIC_PASSWORD_FILE=/etc/ha-lamp-backup/repository.password " \
           "RESTIC_CACHE_DIR=/var/lib/ha-lamp-backup/cache"


class ProofFailed(AssertionError):
    pass


def require(condition, message):
    if not condition:
        raise ProofFailed(message)


class Lab:
    def __init__(self, inventory):
        self.inventory = inventory
        inv = labkit.read_inventory(inventory)
        self.hostvars = inv["_meta"]["hostvars"]
        self.dbs = list(labkit.group_hosts(inv, "databases"))
        self.backup_host = list(labkit.group_hosts(inv, "backup"))[0]
        self.storage = list(labkit.group_hosts(inv, "storage"))
        any_host = self.hostvars[self.dbs[0]]
        self.cluster = any_host["ha_lamp_cluster_name"]
        self.app_password = any_host["ha_lamp_db_app_password"]
        vips = [v for v in any_host["ha_lamp_vips"] if v.get("purpose") == "internal"] or any_host["ha_lamp_vips"]
        self.db_vip = labkit.vip_address(vips[0])
        self.metrics_dir = labkit.contract_value(self.hostvars[self.backup_host], "ha_lamp_backup_metrics_dir",
                                                 "backup_metrics_dir")
        # Run ids unique to this execution: a restore may bring back rows of an earlier one.
        self.token = "%06d" % (int(time.time()) % 1000000)

    def addr(self, host):
        return self.hostvars[host]["ansible_host"]

    def sh(self, host, command, check=True, timeout=120):
        proc = labkit.podman_run("exec", self.addr(host), "sh", "-c", command, timeout=timeout, check=False)
        if check and proc.returncode != 0:
            raise ProofFailed("%s: %s -> exit %d: %s" % (host, command, proc.returncode, (proc.stderr or proc.stdout)[-500:]))
        return proc

    def sql(self, host, statement):
        out = self.sh(host, "mariadb -N -B -e %s" % sh_quote(statement)).stdout
        return [line.split("\t") for line in out.splitlines()]

    def primary(self):
        writable = [h for h in self.dbs if self.sql(h, "SELECT @@read_only")[0][0] == "0"]
        require(len(writable) == 1, "expected one writable primary, found %s" % writable)
        return writable[0]

    def cli(self, args, check=True, timeout=600):
        return self.sh(self.backup_host, "%s %s" % (CLI, args), check=check, timeout=timeout)

    def archive(self):
        return json.loads(self.sh(self.backup_host, "cat /var/lib/ha-lamp-backup/binlog-archive.json").stdout)

    def wait_archived(self, gtid, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.archive()
            if state.get("caught_up_gtid") == gtid:
                return state
            time.sleep(0.5)
        raise ProofFailed("the binlog archive did not reach %s within %ss: %s" % (gtid, timeout, self.archive()))

    def playbook(self, name, *extra, timeout=900):
        return self.lab_playbook(os.path.join("playbooks", name), *extra, timeout=timeout)

    def lab_playbook(self, path, *extra, timeout=900):
        """A playbook by its path in the repository (playbooks/..., lab/create.yml) on the lab inventory.
        site.yml runs under labkit.site_strategy(), as the scenario's converge does."""
        cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", self.inventory,
               os.path.join(REPO, path)] + list(extra)
        env = dict(os.environ, ANSIBLE_NOCOLOR="1")
        if path == os.path.join("playbooks", "site.yml"):
            env["ANSIBLE_STRATEGY"] = labkit.site_strategy()
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False, env=env)

    def segments(self):
        index = self.sh(self.backup_host, "cat /var/lib/ha-lamp-backup/binlogs/index.json").stdout
        return [seg["id"] for seg in json.loads(index)["segments"]]

    def catalogue(self):
        return json.loads(self.cli("status --json").stdout)["backups"]


def sh_quote(text):
    return "'" + text.replace("'", "'\"'\"'") + "'"


class Writer(threading.Thread):
    """Numbered INSERTs through the writer VIP, one per commit, at a fixed rate; bounded in count and time."""

    def __init__(self, lab, run, rate=20.0, seconds=120, max_writes=5000):
        super().__init__(daemon=True)
        self.lab, self.run_id, self.rate, self.seconds, self.max_writes = lab, run, rate, seconds, max_writes
        self.acked, self.failed, self.latencies = [], 0, []
        self.halt = threading.Event()

    def connect(self):
        return pymysql.connect(host=self.lab.db_vip, port=3306, user="ha_lamp_app", password=self.lab.app_password,
                               database="ha_lamp_app", connect_timeout=2, read_timeout=5, write_timeout=5,
                               autocommit=True)

    def run(self):
        conn, deadline, seq = None, time.monotonic() + self.seconds, 0
        while not self.halt.is_set() and time.monotonic() < deadline and seq < self.max_writes:
            seq += 1
            started = time.monotonic()
            try:
                conn = conn or self.connect()
                with conn.cursor() as cur:
                    cur.execute("INSERT INTO %s (run, seq) VALUES (%%s, %%s)" % PROOF_TABLE, (self.run_id, seq))
                self.acked.append(seq)
                self.latencies.append((time.monotonic() - started) * 1000)
            except pymysql.MySQLError:
                self.failed += 1
                conn = None
            time.sleep(max(0.0, 1.0 / self.rate - (time.monotonic() - started)))

    def stop(self):
        self.halt.set()
        self.join(30)


def rows_of(lab, host, schema, run):
    out = lab.sql(host, "SELECT seq FROM %s.%s WHERE run = '%s' ORDER BY seq" % (schema, PROOF_TABLE, run))
    return [int(r[0]) for r in out]


def create_table(lab, primary):
    lab.sql(primary, "CREATE TABLE IF NOT EXISTS ha_lamp_app.%s (run VARCHAR(16) NOT NULL, seq INT NOT NULL, "
                     "at DATETIME(6) NOT NULL DEFAULT NOW(6), PRIMARY KEY (run, seq))" % PROOF_TABLE)


def require_replicating(lab, host, primary):
    status = lab.sh(host, "mariadb -e 'SHOW SLAVE STATUS\\G'").stdout
    require("Slave_IO_Running: Yes" in status and "Slave_SQL_Running: Yes" in status
            and "Master_Host: %s" % lab.addr(primary) in status,
            "%s does not replicate from %s: %s" % (host, primary, status[-600:]))


def require_writer_back(lab, primary, run):
    """After a restore: semi-sync on the primary, and writes through the VIP succeed. Returns the writer."""
    semisync = lab.sql(primary, "SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_master_status'")[0][1]
    require(semisync == "ON", "semi-sync is %s on the new primary" % semisync)
    writer = Writer(lab, run + lab.token, rate=20, seconds=3)
    writer.start()
    writer.join(30)
    require(writer.failed == 0 and writer.acked, "writes through the VIP after the restore: %d failed" % writer.failed)
    return writer


def proof_backup_under_load(lab):
    primary = lab.primary()
    create_table(lab, primary)
    writer = Writer(lab, "load" + lab.token)
    writer.start()
    try:
        time.sleep(2)
        for kind in ("full", "incremental"):
            run = lab.playbook("backup.yml", "-e", "ha_lamp_backup_kind=" + kind)
            require(run.returncode == 0, "backup.yml (%s) failed: %s" % (kind, run.stdout[-1500:]))
        time.sleep(2)
    finally:
        writer.stop()
    require(writer.failed == 0, "%d writes failed while the backups ran" % writer.failed)
    require(lab.primary() == primary, "the primary moved from %s to %s during the backups" % (primary, lab.primary()))
    newest = lab.catalogue()[-2:]
    require([b["kind"] for b in newest] == ["full", "incremental"], "catalogue: %s" % newest)
    require(all(b["source"] != primary for b in newest), "a backup was taken from the primary: %s" % newest)
    missing = set(writer.acked) - set(rows_of(lab, primary, "ha_lamp_app", writer.run_id))
    require(not missing, "acknowledged writes missing: %s" % sorted(missing)[:10])
    p50, p99 = labkit.percentile(writer.latencies, 50), labkit.percentile(writer.latencies, 99)
    print("PASS 1 backups from replica %s under %d writes through the VIP: 0 failed, primary %s kept; "
          "write latency p50 %.2f ms, p99 %.2f ms" % (newest[0]["source"], len(writer.acked), primary, p50, p99))


def proof_verify(lab):
    run = lab.cli("verify", check=False)
    require(run.returncode == 0, "verification of the newest chain failed: %s" % (run.stderr or run.stdout)[-800:])
    newest = lab.catalogue()[-1]
    require(newest["verified"] is True, "the newest backup is not marked verified: %s" % newest)
    print("PASS 2 the newest chain (ending %s) restores in a scratch server and matches its manifest" % newest["id"])


def proof_drop_table(lab):
    primary = lab.primary()
    create_table(lab, primary)
    before = Writer(lab, "before" + lab.token, rate=25, seconds=6)
    before.start()
    before.join(30)
    require(before.failed == 0 and before.acked, "the writes before the drop failed: %d" % before.failed)
    lab.sql(primary, "DROP TABLE ha_lamp_app.%s" % PROOF_TABLE)
    drop_gtid = lab.sql(primary, "SELECT @@gtid_binlog_pos")[0][0]
    lab.wait_archived(drop_gtid)
    hits = json.loads(lab.cli("find --pattern 'DROP TABLE `ha_lamp_app`.`%s`'" % PROOF_TABLE).stdout)
    require(hits and hits[-1]["gtid"] == drop_gtid, "find did not list the drop at %s: %s" % (drop_gtid, hits))
    domain, server, seq = drop_gtid.split("-")
    target = "%s-%s-%d" % (domain, server, int(seq) - 1)
    create_table(lab, primary)
    after = Writer(lab, "after" + lab.token, rate=25, seconds=3)
    after.start()
    after.join(30)
    lab.wait_archived(lab.sql(primary, "SELECT @@gtid_binlog_pos")[0][0])

    # Side by side: the table as of the GTID before the drop, next to the live one.
    into = "backup_proof_side" + lab.token
    run = lab.playbook("restore.yml", "-e", "ha_lamp_restore_schema=ha_lamp_app", "-e",
                       "ha_lamp_restore_table=" + PROOF_TABLE, "-e", "ha_lamp_restore_into=" + into,
                       "-e", "ha_lamp_restore_to_gtid=" + target)
    require(run.returncode == 0, "side-by-side restore failed: %s" % run.stdout[-2000:])
    side = rows_of(lab, primary, into, before.run_id)
    require(side == before.acked, "side-by-side table: %d rows, %d acknowledged before the drop"
            % (len(side), len(before.acked)))
    require(not rows_of(lab, primary, into, after.run_id), "the side-by-side table holds rows written after the drop")
    require(rows_of(lab, primary, "ha_lamp_app", after.run_id) == after.acked, "the live table lost its new rows")
    print("PASS 3a side-by-side restore of ha_lamp_app.%s to %s: %d/%d acknowledged rows, 0 after the drop, "
          "live table untouched" % (PROOF_TABLE, target, len(side), len(before.acked)))

    # The whole tier, to the same GTID.
    started = time.monotonic()
    run = lab.playbook("restore.yml", "-e", "ha_lamp_restore_confirm=" + lab.cluster,
                       "-e", "ha_lamp_restore_to_gtid=" + target)
    seconds = time.monotonic() - started
    require(run.returncode == 0, "whole-tier restore failed: %s" % run.stdout[-3000:])
    new_primary = lab.primary()
    for host in lab.dbs:
        got = rows_of(lab, host, "ha_lamp_app", before.run_id)
        require(got == before.acked, "%s after the restore: %d rows of %d acknowledged before the drop"
                % (host, len(got), len(before.acked)))
        late = rows_of(lab, host, "ha_lamp_app", after.run_id)
        require(not late, "%s holds %d rows written after the drop (of %d; node at %s); the restore said: %s"
                % (host, len(late), len(after.acked), lab.sql(host, "SELECT @@gtid_binlog_pos")[0][0],
                   [line for line in run.stdout.splitlines() if "GTID" in line or "segment" in line][:20]))
        require(not lab.sql(host, "SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '%s'" % into),
                "%s still has schema %s, created after the target" % (host, into))
        if host != new_primary:
            require_replicating(lab, host, new_primary)
    writer = require_writer_back(lab, new_primary, "back")
    print("PASS 3b whole-tier restore to %s in %.0f s: %d/%d acknowledged rows on every node, 0 after the drop; "
          "primary %s, semi-sync ON, replicas replicating, %d writes through the VIP"
          % (target, seconds, len(before.acked), len(before.acked), new_primary, len(writer.acked)))


def proof_archive_follows_switchover(lab):
    old = lab.primary()
    run = lab.playbook("switchover.yml")
    require(run.returncode == 0, "switchover.yml failed: %s" % run.stdout[-1500:])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            new = lab.primary()
        except ProofFailed:
            new = old
        if new != old:
            break
        time.sleep(1)
    require(new != old, "the primary did not move from %s" % old)
    create_table(lab, new)
    lab.sql(new, "INSERT INTO ha_lamp_app.%s (run, seq) VALUES ('switch%s', 1)" % (PROOF_TABLE, lab.token))
    gtid = lab.sql(new, "SELECT @@gtid_binlog_pos")[0][0]
    state = lab.wait_archived(gtid, timeout=60)
    require(state["source"] == new and not state["gap"], "archive state after the switchover: %s" % state)
    print("PASS 4 the binlog archive followed the switchover %s -> %s and holds %s (segment %s)"
          % (old, new, gtid, state["segment"]))


def lose_the_tier(lab):
    """Every database node loses its database: the nodes that carry nothing else are replaced by new
    containers; one that also holds another tier's data (the Gluster arbiter) keeps its container and gets
    MariaDB and etcd purged with their data, as a reinstall of those services would leave it."""
    replaced = [h for h in lab.dbs if h not in lab.storage]
    reinstalled = [h for h in lab.dbs if h in lab.storage]
    for host in reinstalled:
        # apt purge takes the packages' own configuration; the collection's files and the data go by hand.
        lab.sh(host, "systemctl stop ha-lamp-db-manager.service mariadb.service etcd.service && "
                     "DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq mariadb-server mariadb-server-core "
                     "mariadb-backup etcd-server >/dev/null && rm -rf /var/lib/mysql /var/lib/etcd "
                     "/var/lib/ha-lamp-db-manager /etc/mysql/mariadb.conf.d/6*-ha-lamp*.cnf", timeout=300)
    for host in replaced:
        labkit.podman_run("rm", "-f", "-t", "5", lab.addr(host), timeout=120)
    return replaced, reinstalled


def proof_fresh_tier(lab):
    primary = lab.primary()
    create_table(lab, primary)
    writer = Writer(lab, "lost" + lab.token, rate=25, seconds=4)
    writer.start()
    writer.join(30)
    require(writer.failed == 0 and writer.acked, "the writes before the loss failed: %d" % writer.failed)
    lab.wait_archived(lab.sql(primary, "SELECT @@gtid_binlog_pos")[0][0])
    segments = lab.segments()
    started = time.monotonic()
    replaced, reinstalled = lose_the_tier(lab)
    run = lab.lab_playbook("lab/create.yml")
    require(run.returncode == 0, "lab/create.yml could not recreate %s: %s" % (replaced, run.stdout[-1500:]))
    run = lab.playbook("site.yml", "--limit", "databases:backup:localhost", timeout=1500)
    require(run.returncode == 0, "site.yml on the empty tier failed: %s" % failure_lines(run.stdout))
    rebuilt = time.monotonic() - started
    fresh = lab.primary()
    require(not lab.sql(fresh, "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'ha_lamp_app' AND "
                               "TABLE_NAME = '%s'" % PROOF_TABLE), "the rebuilt tier is not empty: %s holds the table" % fresh)
    deadline = time.monotonic() + 30
    state = lab.archive()
    while not state.get("refused") and time.monotonic() < deadline:
        time.sleep(1)
        state = lab.archive()
    require(state.get("refused") and "behind what the archive saw replicated" in state.get("error", ""),
            "the archive did not refuse the empty tier's history: %s" % state)
    require(lab.segments() == segments, "the archive recorded the empty tier: %s -> %s" % (segments, lab.segments()))

    started = time.monotonic()
    run = lab.playbook("restore.yml", "-e", "ha_lamp_restore_confirm=" + lab.cluster)
    seconds = time.monotonic() - started
    require(run.returncode == 0, "whole-tier restore onto the rebuilt tier failed: %s" % run.stdout[-3000:])
    new_primary = lab.primary()
    for host in lab.dbs:
        got = rows_of(lab, host, "ha_lamp_app", writer.run_id)
        require(got == writer.acked, "%s after the restore: %d rows of %d acknowledged before the loss"
                % (host, len(got), len(writer.acked)))
        if host != new_primary:
            require_replicating(lab, host, new_primary)
    after = require_writer_back(lab, new_primary, "reborn")
    state = lab.wait_archived(lab.sql(new_primary, "SELECT @@gtid_binlog_pos")[0][0], timeout=60)
    require(state["source"] == new_primary and not state["refused"] and not state["gap"],
            "the archive did not follow the restored tier: %s" % state)
    print("PASS 4b tier lost (%s replaced by new containers, %s reinstalled) and rebuilt empty in %.0f s; the "
          "archive refused the empty history; restore.yml in %.0f s: %d/%d acknowledged rows on every node, primary "
          "%s, semi-sync ON, replicas replicating, %d writes through the VIP, archive following again (segment %s)"
          % (", ".join(replaced), ", ".join(reinstalled), rebuilt, seconds, len(writer.acked), len(writer.acked),
             new_primary, len(after.acked), state["segment"]))


def proof_corruption_caught(lab):
    primary = lab.primary()
    lab.sql(primary, "CREATE TABLE IF NOT EXISTS ha_lamp_app.backup_bulk (id INT AUTO_INCREMENT PRIMARY KEY, "
                     "pad VARCHAR(255))")
    lab.sql(primary, "INSERT INTO ha_lamp_app.backup_bulk (pad) SELECT REPEAT(MD5(RAND()), 7) FROM ha_lamp_app.seq_1_to_20000")
    marker = "/var/lib/ha-lamp-backup/proof-corruption.mark"
    lab.sh(lab.backup_host, "touch %s && sleep 1" % marker)
    lab.cli("take full")
    bad = lab.catalogue()[-1]
    packs = lab.sh(lab.backup_host, "find /var/lib/ha-lamp-backup/repo/data -type f -newer %s -size +100k" % marker)
    packs = packs.stdout.split()
    require(packs, "the new backup added no data pack to corrupt")
    # Flip 64 bytes in the middle of one pack the new backup wrote.
    lab.sh(lab.backup_host, "f=%s; s=$(stat -c %%s $f); printf 'ha_lamp_corruption_proof_%%040d' 0 | "
                            "dd of=$f bs=1 seek=$((s / 2)) conv=notrunc status=none" % packs[0])
    run = lab.cli("verify", check=False)
    require(run.returncode == 1 and "FAILED" in run.stderr, "verification of a corrupted backup passed: %s %s"
            % (run.returncode, run.stderr[-500:]))
    require("ALERT backup_verification_failed" in run.stdout, "no alert line: %s" % run.stdout[-500:])
    entry = [b for b in lab.catalogue() if b["id"] == bad["id"]][0]
    require(entry["verified"] is False and entry["problems"], "catalogue after the failed verification: %s" % entry)
    metrics = lab.sh(lab.backup_host, "cat %s/backup.prom" % lab.metrics_dir).stdout
    require("ha_lamp_backup_verification_ok 0" in metrics, "metric: %s" % metrics)
    print("PASS 5 corrupted backup %s caught: %s" % (bad["id"], entry["problems"][0][:160]))
    # Repair the repository for what follows: drop the damaged pack and the snapshots that used it.
    snaps = [s for s in json.loads(lab.sh(lab.backup_host, "%s restic snapshots --json" % REPO_ENV).stdout)
             if "id=" + bad["id"] in (s.get("tags") or [])]
    lab.sh(lab.backup_host, "rm -f %s %s && %s restic forget %s && (%s restic repair index || %s restic rebuild-index) "
                            "&& rm -f /var/lib/ha-lamp-backup/catalog/%s.json"
           % (packs[0], marker, REPO_ENV, " ".join(s["id"] for s in snaps), REPO_ENV, REPO_ENV, bad["id"]))
    lab.sql(primary, "DROP TABLE ha_lamp_app.backup_bulk")


def failure_lines(output, context=12):
    """The failed tasks of an ansible-playbook output (each with what follows it), then the recap."""
    lines = output.splitlines()
    picked = []
    for number, line in enumerate(lines):
        if line.startswith(("fatal:", "failed:", "[ERROR]")):
            picked.extend(lines[max(0, number - 2):number + context])
    recap = output[output.rfind("PLAY RECAP"):] if "PLAY RECAP" in output else output[-1500:]
    return "\n".join(picked[:200]) + "\n" + recap


def refused(run, *needles):
    text = run.stdout + run.stderr
    return run.returncode != 0 and all(n in text for n in needles)


def proof_bad_input(lab):
    catalogue = lab.catalogue()
    oldest = catalogue[0]["time"]
    cases = []
    run = lab.playbook("restore.yml")
    cases.append(("no confirmation", refused(run, "ha_lamp_restore_confirm=" + lab.cluster), run))
    run = lab.playbook("restore.yml", "-e", "ha_lamp_restore_confirm=" + lab.cluster,
                       "-e", "ha_lamp_restore_to_time='2001-01-01 00:00:00'")
    cases.append(("target before the oldest backup", refused(run, "is before the oldest usable backup"), run))
    run = lab.playbook("restore.yml", "-e", "ha_lamp_restore_confirm=" + lab.cluster,
                       "-e", "ha_lamp_restore_to_time='2099-01-01 00:00:00'")
    cases.append(("target after the archive", refused(run, "2099-01-01 00:00:00"), run))
    run = lab.playbook("restore.yml", "-e", "ha_lamp_restore_confirm=" + lab.cluster, "-e",
                       "ha_lamp_restore_to_time='2026-01-01 00:00:00'", "-e", "ha_lamp_restore_to_gtid=0-1-1")
    cases.append(("two targets", refused(run, "at most one of"), run))
    lab.cli("lock acquire --holder proof-holder")
    try:
        run = lab.playbook("backup.yml")
        cases.append(("lock held (backup)", refused(run, "proof-holder holds the backup lock"), run))
        run = lab.playbook("restore.yml", "-e", "ha_lamp_restore_schema=ha_lamp_app")
        cases.append(("lock held (restore)", refused(run, "proof-holder holds the backup lock"), run))
    finally:
        lab.cli("lock release --holder proof-holder")
    lab.sh(lab.backup_host, "python3 -c \"import json; c=json.load(open('/etc/ha-lamp-backup/backup.json')); "
                            "c['space_factor']=1e9; json.dump(c, open('/run/ha-lamp-proof.json', 'w'))\"")
    try:
        run = lab.cli("--config /run/ha-lamp-proof.json take full", check=False)
        cases.append(("too little space", refused(run, "MiB free"), run))
    finally:
        lab.sh(lab.backup_host, "rm -f /run/ha-lamp-proof.json")
    run = lab.playbook("backup.yml", "-e", "ansible_host=10.213.77.249")
    cases.append(("backup host unreachable", refused(run, "does not answer on port"), run))
    key_file = "/etc/ha-lamp-backup/repository.password"
    digest = lab.sh(lab.backup_host, "sha256sum %s" % key_file).stdout
    run = lab.playbook("site.yml", "--limit", lab.backup_host,
                       "-e", "ha_lamp_backup_repository_password=wrong-key-for-the-proof")
    cases.append(("wrong repository key", refused(run, "does not open the restic repository")
                  and lab.sh(lab.backup_host, "sha256sum %s" % key_file).stdout == digest, run))
    after = lab.catalogue()
    require([b["id"] for b in after] == [b["id"] for b in catalogue] and after[0]["time"] == oldest,
            "the catalogue changed during the bad-input cases: %s -> %s"
            % ([b["id"] for b in catalogue], [b["id"] for b in after]))
    failed = [(name, run.stdout[-1200:] + run.stderr[-400:]) for name, ok, run in cases if not ok]
    require(not failed, "not refused as expected: %s" % failed)
    print("PASS 6 refused with a clear message, nothing changed: %s" % ", ".join(case[0] for case in cases))


PROOFS = [proof_backup_under_load, proof_verify, proof_drop_table, proof_archive_follows_switchover,
          proof_fresh_tier, proof_corruption_caught, proof_bad_input]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inventory", default=os.path.join(REPO, "inventories", "lab"))
    parser.add_argument("--only", help="comma-separated proof function names")
    args = parser.parse_args()
    lab = Lab(args.inventory)
    # A scheduled job holding the lock would refuse the proofs' own runs: the timers pause meanwhile.
    lab.sh(lab.backup_host, "systemctl stop 'ha-lamp-backup-*.timer'")
    try:
        for proof in PROOFS:
            if args.only and proof.__name__ not in args.only.split(","):
                continue
            started = time.monotonic()
            proof(lab)
            print("     (%s: %.0f s)" % (proof.__name__, time.monotonic() - started), flush=True)
    except ProofFailed as exc:
        print("FAIL %s" % exc)
        return 1
    finally:
        lab.sh(lab.backup_host, "systemctl start ha-lamp-backup-full.timer ha-lamp-backup-incremental.timer "
                                "ha-lamp-backup-verify.timer ha-lamp-backup-freshness.timer", check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
