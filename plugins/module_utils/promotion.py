# -*- coding: utf-8 -*-
# SPDX-License-Identifier: Apache-2.0
"""Critical section of switchover, failover and rejoin for MariaDB GTID semi-sync replication.

The order of the SQL follows promotion-checklist.md (C1-C10). Pure decision functions come first
(unit-tested in tests/unit/plugins/module_utils/test_promotion.py); the Cluster class below runs
the steps over PyMySQL and logs each one with a UTC timestamp, so the playbook output is the
record of what happened and when.

Every step that changes a server is written so that an interrupted run can be re-run: fencing
is SET GLOBAL read_only=ON, repointing is STOP SLAVE / CHANGE MASTER / START SLAVE, and the
promotion checks what is already done.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json
import threading
import time

from ansible_collections.onprem.ha_lamp.plugins.module_utils.mysql_topology import (
    dominates, domain_positions, format_gtid, missing_gtids, parse_gtid_list, received_position)

try:
    import pymysql
    import pymysql.cursors
except ImportError:  # the unit tests only use the pure functions
    pymysql = None

try:
    from urllib.request import urlopen
except ImportError:  # pragma: no cover
    urlopen = None


class PromotionError(Exception):
    """A refusal or failure with an operator-facing message."""


# ---------------------------------------------------------------------------------------------
# Pure decisions
# ---------------------------------------------------------------------------------------------

def choose_candidate(replicas, target=None, max_lag=None, require_superset=True):
    """Pick the replica to promote: the one that RECEIVED the most (checklist C2).

    replicas: {name: {"gtid_io_pos", "gtid_current_pos", "sql_running", "io_running", "lag",
    "error"}}. A replica is eligible when it is reachable and its SQL thread is not stopped by
    an error (it must apply its relay log before promotion). The candidate must have received
    at least what every other replica received, in every GTID domain; otherwise promoting it
    would discard transactions a peer holds. Ties go to the smallest lag, then the name.
    A switchover passes require_superset=False: the primary is alive and the candidate catches
    up after the fence, so positions read one after the other under load need not be ordered.
    Returns (name, reason).
    """
    if not replicas:
        raise PromotionError("no replica is reachable: nothing to promote")
    eligible = {}
    excluded = []
    for name, rep in sorted(replicas.items()):
        if rep.get("error"):
            excluded.append("%s (unreachable: %s)" % (name, rep["error"]))
        elif rep.get("errant"):
            excluded.append("%s (errant transactions %s)" % (name, rep["errant"]))
        elif rep.get("sql_error"):
            excluded.append("%s (SQL thread error: %s)" % (name, rep["sql_error"]))
        elif max_lag is not None and rep.get("lag") is not None and rep["lag"] > max_lag:
            excluded.append("%s (lag %ss > %ss)" % (name, rep["lag"], max_lag))
        else:
            eligible[name] = received_position(rep)
    if target is not None:
        if target not in replicas:
            raise PromotionError("target %s is not a replica of the primary (replicas: %s)"
                                 % (target, ", ".join(sorted(replicas)) or "none"))
        if target not in eligible:
            raise PromotionError("target %s is not eligible: %s" % (
                target, "; ".join(e for e in excluded if e.startswith(target + " "))))
    if not eligible:
        raise PromotionError("no eligible replica: %s" % "; ".join(excluded))
    received_all = {n: received_position(r) for n, r in replicas.items() if not r.get("error")}
    names = [target] if target is not None else sorted(eligible)
    superset = [n for n in names if all(dominates(eligible[n], pos) for pos in received_all.values())]
    if not superset and not require_superset:
        superset = sorted(names, key=lambda n: tuple(-seq for _d, (seq, _s) in sorted(domain_positions(eligible[n]).items())))[:1]
    if not superset:
        if target is not None:
            better = sorted(n for n, pos in received_all.items() if not dominates(eligible[target], pos))
            raise PromotionError("target %s received less than %s (%s vs %s): promoting it would lose "
                                 "transactions; wait for it to catch up or choose another target"
                                 % (target, ", ".join(better), eligible[target],
                                    ", ".join(received_all[b] for b in better)))
        raise PromotionError("no eligible replica received everything the others received (%s): "
                             "refusing to promote" % ", ".join("%s=%s" % (n, p) for n, p in sorted(received_all.items())))

    def rank(name):
        lag = replicas[name].get("lag")
        return (lag if lag is not None else 1 << 30, name)

    chosen = sorted(superset, key=rank)[0]
    reason = "received %s" % (eligible[chosen] or "nothing")
    if excluded:
        reason += "; excluded: %s" % "; ".join(excluded)
    return chosen, reason


def primary_confirmed_dead(controller_error, replica_io):
    """Checklist C1: fail over only when the controller cannot reach the primary AND every
    reachable replica's IO thread has lost it. replica_io: {name: Slave_IO_Running or None if
    the replica itself is unreachable}. Returns (dead, reason)."""
    if controller_error is None:
        return False, "the primary answers the controller: use playbooks/switchover.yml"
    seen = {n: v for n, v in replica_io.items() if v is not None}
    if not seen:
        return False, "no replica is reachable to confirm the primary is gone"
    connected = sorted(n for n, v in seen.items() if str(v) == "Yes")
    if connected:
        return False, ("the controller cannot reach the primary (%s) but %s still replicate from it: "
                       "network partition between the controller and the primary, not a dead primary"
                       % (controller_error, ", ".join(connected)))
    return True, "controller: %s; replica IO threads: %s" % (
        controller_error, ", ".join("%s=%s" % (n, v) for n, v in sorted(seen.items())))


def semisync_verdict(observations, now, max_age):
    """Was the primary semi-synchronous until it died? observations: {replica: record} from the
    agents' /status (semisync_observed). Returns (safe, reason).

    Safe only when some replica saw semi-sync ON, no replica saw it OFF after that, and the
    newest ON observation is at most max_age seconds old. Older than that, the primary may have
    fallen back to async (it does after rpl_semi_sync_master_timeout without acks) unseen.
    """
    records = {n: r for n, r in observations.items() if r and r.get("observed_at")}
    if not records:
        return False, "no replica observed the primary's semi-sync state"
    last_on = max([r.get("last_on_at") or 0 for r in records.values()])
    last_off = max([r.get("last_off_at") or 0 for r in records.values()])
    if last_on == 0:
        return False, "semi-sync was never seen ON on the primary"
    if last_off > last_on:
        return False, "semi-sync had fallen back to asynchronous replication (seen OFF %.0fs ago, after the last ON)" % (
            now - last_off)
    age = now - last_on
    if age > max_age:
        return False, "last semi-sync ON observation is %.0fs old (bound %ss): a fallback may have gone unseen" % (
            age, max_age)
    return True, "semi-sync ON %.0fs before now" % age


def parse_time(text):
    """ISO 8601 UTC ('2026-11-22T02:25:00Z') to epoch seconds; None if absent or invalid."""
    if not text:
        return None
    try:
        stamp = datetime.datetime.strptime(str(text), "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return None
    return (stamp - datetime.datetime(1970, 1, 1)).total_seconds()


def failover_window_verdict(epoch, now, window):
    """Anti-flap (checklist C11): refuse a failover within `window` seconds of the previous one.
    Returns (allowed, reason)."""
    if not epoch or epoch.get("reason") != "failover":
        return True, "previous promotion was not a failover"
    changed = parse_time(epoch.get("changed_at"))
    if changed is None:
        return False, "epoch %s records a failover without a valid changed_at" % epoch.get("epoch")
    elapsed = now - changed
    if elapsed < window:
        return False, ("last failover (epoch %s, to %s) was %.0fs ago, within the %ss window"
                       % (epoch.get("epoch"), epoch.get("primary"), elapsed, window))
    return True, "last failover was %.0fs ago" % elapsed


def newest_epoch(epochs):
    """The highest epoch among the nodes' epoch files (list of dicts, None entries ignored)."""
    valid = [e for e in epochs if isinstance(e, dict) and isinstance(e.get("epoch"), int)]
    if not valid:
        raise PromotionError("no node has a valid epoch file (/var/lib/ha-lamp/epoch): run site.yml first")
    return sorted(valid, key=lambda e: e["epoch"])[-1]


def next_epoch(current, primary, reason, now):
    stamp = datetime.datetime.utcfromtimestamp(now).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"epoch": int(current["epoch"]) + 1, "primary": primary, "reason": reason,
            "changed_at": stamp, "previous": current.get("primary")}


def rejoin_verdict(node, node_state, primary, primary_state, primary_slave_pos=""):
    """Checklist C3/C10: may `node` replicate from `primary`? Compares gtid_binlog_state per
    (domain, server_id), see mysql_topology.missing_gtids. Returns (ok, reason)."""
    missing = missing_gtids(node_state, primary_state, primary_slave_pos)
    if missing:
        return False, ("%s holds transactions the primary %s lacks (%s; primary has %s). Replicating would "
                       "fail (gtid_strict_mode) or silently diverge. Reseed it from a healthy replica: "
                       "ansible-playbook playbooks/rejoin.yml -e ha_lamp_rejoin_reseed=%s"
                       % (node, primary, ", ".join("%d-%d-%d" % m for m in missing),
                          format_gtid(parse_gtid_list(primary_state)) or "nothing", node))
    return True, "%s's transactions are all on %s" % (node, primary)


def series(version):
    """'10.11.18-MariaDB-0+deb12u1-log' -> '10.11' (a physical copy needs the same series)."""
    parts = str(version or "").split(".")
    return ".".join(parts[:2]) if len(parts) >= 2 else ""


def choose_donor(target, versions, healthy_replicas, primary):
    """Reseed donor for `target`: a healthy replica of the same MariaDB series, else the primary
    if it runs that series (mariabackup does not block it), else '' (no safe donor)."""
    want = versions.get(target)
    for name in healthy_replicas:
        if name != target and versions.get(name) == want:
            return name
    return primary if versions.get(primary) == want and primary != target else ""


def switchover_preflight(primary_state, replicas, max_lag):
    """Checklist S preflight: the primary is semi-sync ON with clients and every replica runs both
    threads under the lag bound. Returns a list of problems (empty: go)."""
    problems = []
    status = primary_state.get("semisync_status", {})
    if str(status.get("Rpl_semi_sync_master_status")) != "ON":
        problems.append("semi-sync is OFF on the primary (asynchronous replication)")
    try:
        clients = int(status.get("Rpl_semi_sync_master_clients") or 0)
    except ValueError:
        clients = 0
    if clients < 1:
        problems.append("the primary has no semi-sync replica connected")
    for name, rep in sorted(replicas.items()):
        if rep.get("error"):
            problems.append("%s unreachable: %s" % (name, rep["error"]))
            continue
        if rep.get("io_running") != "Yes" or rep.get("sql_running") != "Yes":
            problems.append("%s replication threads not running (IO=%s, SQL=%s)"
                            % (name, rep.get("io_running"), rep.get("sql_running")))
        elif rep.get("lag") is None or rep["lag"] > max_lag:
            problems.append("%s lag %s above %ss" % (name, rep.get("lag"), max_lag))
    return problems


# ---------------------------------------------------------------------------------------------
# Server access
# ---------------------------------------------------------------------------------------------

def utcnow():
    return datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"


class Cluster:
    """Connections to the database nodes by name, plus the step log."""

    def __init__(self, nodes, user, password, port=3306, repl_user=None, repl_password=None,
                 connect_timeout=2, agent_port=9200, repl_ssl=False, heartbeat=1, connect_retry=1,
                 read_timeout=None):
        if pymysql is None:
            raise PromotionError("PyMySQL is required on the host running mysql_promotion")
        self.nodes = dict(nodes)
        self.user, self.password, self.port = user, password, port
        self.repl_user, self.repl_password = repl_user, repl_password
        self.connect_timeout = connect_timeout
        # None blocks on a hung server; the database manager sets a bound (gtid_wait then waits
        # in slices shorter than it).
        self.read_timeout = read_timeout
        self.agent_port = agent_port
        self.repl_ssl, self.heartbeat, self.connect_retry = repl_ssl, heartbeat, connect_retry
        self.conns = {}
        self.log = []

    # -- plumbing --------------------------------------------------------------------------
    def step(self, node, action, detail=""):
        entry = {"time": utcnow(), "node": node, "step": action}
        if detail:
            entry["detail"] = detail
        self.log.append(entry)
        return entry

    def conn(self, node):
        if node not in self.conns:
            self.conns[node] = pymysql.connect(
                host=self.nodes[node], port=self.port, user=self.user, password=self.password,
                connect_timeout=self.connect_timeout, read_timeout=self.read_timeout, write_timeout=30,
                autocommit=True, cursorclass=pymysql.cursors.DictCursor)
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
        with self.conn(node).cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall()

    def execute(self, node, sql, args=None, log=True, shown=None):
        self.query(node, sql, args)
        if log:
            self.step(node, shown or sql)

    def probe(self, node, timeout=None):
        """Try to connect; returns None or the error text."""
        self.drop(node)
        old = self.connect_timeout
        if timeout is not None:
            self.connect_timeout = timeout
        try:
            self.query(node, "SELECT 1")
            return None
        except Exception as exc:  # pylint: disable=broad-except
            self.drop(node)
            return str(exc).splitlines()[0][:200]
        finally:
            self.connect_timeout = old

    def state(self, node):
        """Replication state of one node, or {"error": ...}."""
        try:
            row = self.query(node, "SELECT @@global.read_only AS read_only, @@global.gtid_binlog_pos AS gtid_binlog_pos, "
                                   "@@global.gtid_binlog_state AS gtid_binlog_state, "
                                   "@@global.gtid_current_pos AS gtid_current_pos, @@global.gtid_slave_pos AS gtid_slave_pos, "
                                   "@@global.server_id AS server_id, @@hostname AS hostname, @@version AS version")[0]
            state = {k: (str(v) if v is not None else "") for k, v in row.items()}
            state["read_only"] = "ON" if state["read_only"] in ("1", "ON") else "OFF"
            rows = self.query(node, "SHOW SLAVE STATUS")
            rep = rows[0] if rows and rows[0].get("Master_Host") else None
            state["replica"] = None if rep is None else {
                "master_host": rep.get("Master_Host"), "io_running": rep.get("Slave_IO_Running"),
                "sql_running": rep.get("Slave_SQL_Running"), "lag": rep.get("Seconds_Behind_Master"),
                "gtid_io_pos": rep.get("Gtid_IO_Pos") or "", "io_error": rep.get("Last_IO_Error") or "",
                "sql_error": rep.get("Last_SQL_Error") or ""}
            state["semisync_status"] = {r["Variable_name"]: r["Value"] for r in
                                        self.query(node, "SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_%'")}
            return state
        except Exception as exc:  # pylint: disable=broad-except
            self.drop(node)
            return {"error": str(exc).splitlines()[0][:200]}

    def name_of(self, host):
        for name, address in self.nodes.items():
            if host in (name, address):
                return name
        return host

    def agent_status(self, node, timeout=2):
        try:
            resp = urlopen("http://%s:%s/status" % (self.nodes[node], self.agent_port), timeout=timeout)
            return json.loads(resp.read().decode())
        except Exception as exc:  # pylint: disable=broad-except
            return {"error": str(exc)[:200]}

    def agent_statuses(self, names=None, timeout=1.5):
        """GET /status from several agents at once (a dead node costs one timeout, not one each)."""
        names = sorted(names or self.nodes)
        results = {}

        def fetch(name):
            results[name] = self.agent_status(name, timeout=timeout)

        threads = [threading.Thread(target=fetch, args=(n,)) for n in names]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return results

    def newest_epoch(self, statuses=None):
        """The newest epoch file among the nodes, read through their agents' /status."""
        statuses = statuses or self.agent_statuses()
        epoch = newest_epoch([st.get("epoch") for st in statuses.values() if not st.get("error")])
        self.step(epoch["primary"], "current epoch", "%s (%s, %s)" % (epoch["epoch"], epoch.get("reason", "?"),
                                                                      epoch.get("changed_at", "?")))
        return epoch

    def parallel(self, nodes, sql):
        """Run one statement on several nodes at once, each on its own connection.

        STOP SLAVE blocks while the IO thread is stuck connecting to a dead primary (up to
        slave_net_timeout): doing it everywhere at once pays that wait once."""
        errors = {}

        def run_one(node):
            try:
                self.query(node, sql)
            except Exception as exc:  # pylint: disable=broad-except
                errors[node] = str(exc)[:200]

        for node in nodes:
            self.conn(node)  # connect first, from this thread
        threads = [threading.Thread(target=run_one, args=(n,)) for n in nodes]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for node in nodes:
            self.step(node, sql, "error: %s" % errors[node] if node in errors else "")
        if errors:
            raise PromotionError("%s failed on %s" % (sql, ", ".join("%s (%s)" % kv for kv in sorted(errors.items()))))

    # -- topology --------------------------------------------------------------------------
    def survey(self):
        return {n: self.state(n) for n in sorted(self.nodes)}

    @staticmethod
    def replica_view(state):
        rep = state.get("replica") or {}
        return {"gtid_io_pos": rep.get("gtid_io_pos", ""), "gtid_current_pos": state.get("gtid_current_pos", ""),
                "io_running": rep.get("io_running"), "sql_running": rep.get("sql_running"),
                "lag": rep.get("lag"), "sql_error": rep.get("sql_error") if rep.get("sql_running") != "Yes" else ""}

    # -- building blocks ---------------------------------------------------------------------
    def fence(self, node, admin_users):
        """Checklist C5: read_only, then kill client sessions (replication and admin sessions stay)."""
        self.execute(node, "SET GLOBAL read_only = ON")
        killed = []
        for row in self.query(node, "SELECT ID, USER, COMMAND FROM information_schema.PROCESSLIST "
                                    "WHERE ID <> CONNECTION_ID()"):
            if row["USER"] in admin_users or row["USER"] in ("system user", "event_scheduler", "") \
                    or row["COMMAND"] in ("Binlog Dump", "Daemon"):
                continue
            try:
                self.query(node, "KILL CONNECTION %d" % int(row["ID"]))
                killed.append("%s/%s" % (row["ID"], row["USER"]))
            except Exception:  # pylint: disable=broad-except
                pass  # already gone
        self.step(node, "killed client connections", ", ".join(killed) or "none")
        return killed

    def frozen_position(self, node, tries=20):
        """Re-read @@gtid_binlog_pos until two reads agree (in-flight commits finished)."""
        last = None
        for _ in range(tries):
            pos = self.query(node, "SELECT @@global.gtid_binlog_pos AS p")[0]["p"] or ""
            if pos == last:
                self.step(node, "frozen position", pos)
                return pos
            last = pos
            time.sleep(0.05)
        raise PromotionError("gtid_binlog_pos of %s keeps moving after the fence" % node)

    def gtid_wait(self, node, pos, timeout):
        if not pos:
            return True
        deadline = time.time() + float(timeout)
        slice_s = float(timeout) if self.read_timeout is None else max(0.5, self.read_timeout / 2.0)
        while True:
            wait = max(0.0, min(slice_s, deadline - time.time()))
            result = self.query(node, "SELECT MASTER_GTID_WAIT(%s, %s) AS r", (pos, wait))[0]["r"]
            ok = int(result) == 0
            if ok or time.time() >= deadline:
                break
        self.step(node, "MASTER_GTID_WAIT('%s', %s)" % (pos, timeout), "reached" if ok else "timed out")
        return ok

    def change_master(self, node, source, demote=False):
        sql = ("CHANGE MASTER TO MASTER_HOST=%s, MASTER_PORT=%s, MASTER_USER=%s, MASTER_PASSWORD=%s, "
               "MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=%s, MASTER_HEARTBEAT_PERIOD=%s, MASTER_SSL=%s")
        if demote:
            sql += ", MASTER_DEMOTE_TO_SLAVE=1"
        self.query(node, sql, (self.nodes[source], self.port, self.repl_user, self.repl_password,
                               self.connect_retry, self.heartbeat, 1 if self.repl_ssl else 0))
        self.step(node, "CHANGE MASTER TO MASTER_HOST='%s', MASTER_USE_GTID=slave_pos%s"
                  % (self.nodes[source], ", MASTER_DEMOTE_TO_SLAVE=1" if demote else ""))

    def make_replica(self, node, source, demote=False):
        """Checklist C8/C10: point `node` at `source` as a read-only semi-sync replica."""
        self.execute(node, "SET GLOBAL read_only = ON")
        self.execute(node, "STOP SLAVE")
        # A replica's master side would otherwise wait for acks nobody sends on its first applied
        # transaction; it is switched back ON when the node is promoted.
        self.execute(node, "SET GLOBAL rpl_semi_sync_master_enabled = OFF")
        self.execute(node, "SET GLOBAL rpl_semi_sync_slave_enabled = ON")
        self.change_master(node, source, demote=demote)
        self.execute(node, "START SLAVE")

    def promote(self, node):
        """Checklist C7 up to (not including) opening writes."""
        self.execute(node, "STOP SLAVE")
        self.execute(node, "RESET SLAVE ALL")
        self.execute(node, "SET GLOBAL rpl_semi_sync_slave_enabled = OFF")
        self.execute(node, "SET GLOBAL rpl_semi_sync_master_enabled = ON")

    def wait_semisync_client(self, node, timeout):
        deadline = time.time() + timeout
        while True:
            status = {r["Variable_name"]: r["Value"] for r in
                      self.query(node, "SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_master_%'")}
            clients = int(status.get("Rpl_semi_sync_master_clients") or 0)
            if clients >= 1:
                self.step(node, "semi-sync replicas connected", "clients=%d status=%s"
                          % (clients, status.get("Rpl_semi_sync_master_status")))
                return True
            if time.time() >= deadline:
                self.step(node, "no semi-sync replica connected", "after %ss; opening writes anyway "
                          "(first commit waits rpl_semi_sync_master_timeout)" % timeout)
                return False
            time.sleep(0.1)

    def open_writes(self, node):
        self.execute(node, "SET GLOBAL read_only = OFF")

    def wait_replicating(self, node, timeout):
        deadline = time.time() + timeout
        while True:
            st = self.state(node)
            rep = st.get("replica") or {}
            if rep.get("io_running") == "Yes" and rep.get("sql_running") == "Yes":
                self.step(node, "replicating", "IO=Yes SQL=Yes from %s" % rep.get("master_host"))
                return True
            if time.time() >= deadline:
                self.step(node, "not replicating", "IO=%s SQL=%s %s %s" % (
                    rep.get("io_running"), rep.get("sql_running"), rep.get("io_error", ""), rep.get("sql_error", "")))
                return False
            time.sleep(0.2)


# ---------------------------------------------------------------------------------------------
# Procedures
# ---------------------------------------------------------------------------------------------

def current_primary(cluster, survey, epoch):
    writable = sorted(n for n, s in survey.items() if not s.get("error") and s["read_only"] == "OFF" and not s["replica"])
    if len(writable) > 1:
        raise PromotionError("several writable primaries (%s): split brain, fix by hand first" % ", ".join(writable))
    if writable and writable[0] != epoch["primary"]:
        raise PromotionError("the writable node %s is not the epoch's primary %s" % (writable[0], epoch["primary"]))
    if not writable:
        raise PromotionError("no writable primary (epoch names %s): use playbooks/failover.yml" % epoch["primary"])
    return writable[0]


def plan_switchover(cluster, epoch, target, max_lag):
    survey = cluster.survey()
    primary = current_primary(cluster, survey, epoch)
    # Read the primary again AFTER the replicas: it only moves forward, so a genuine replica is
    # always contained in this later read, even under write load.
    after = cluster.state(primary)
    if after.get("error"):
        raise PromotionError("primary %s stopped answering during the preflight: %s" % (primary, after["error"]))
    replicas = {}
    for name, st in survey.items():
        if name == primary:
            continue
        if st.get("error"):
            replicas[name] = {"error": st["error"]}
        elif st["replica"] and cluster.name_of(st["replica"]["master_host"]) == primary:
            replicas[name] = cluster.replica_view(st)
            # A replica holding writes the primary never had must not become the primary.
            errant = missing_gtids(st["gtid_binlog_state"], after["gtid_binlog_state"], after["gtid_slave_pos"])
            if errant:
                replicas[name]["errant"] = ",".join("%d-%d-%d" % e for e in errant)
    problems = switchover_preflight(survey[primary], replicas, max_lag)
    if problems:
        raise PromotionError("switchover preflight failed: " + "; ".join(problems))
    candidate, reason = choose_candidate(replicas, target=target, max_lag=max_lag, require_superset=False)
    cluster.step(candidate, "chosen as the new primary", reason)
    return {"primary": primary, "candidate": candidate, "replicas": sorted(replicas),
            "survey": survey}


def run_switchover(cluster, primary, candidate, others, catchup_timeout, admin_users, verify_timeout):
    """Fence -> catch up (or undo) -> promote -> repoint -> open writes -> verify."""
    cluster.step(primary, "switchover start", "to %s" % candidate)
    cluster.fence(primary, admin_users)
    frozen = cluster.frozen_position(primary)
    if not cluster.gtid_wait(candidate, frozen, catchup_timeout):
        cluster.open_writes(primary)
        cluster.step(primary, "fence undone", "candidate %s did not reach %s within %ss" % (candidate, frozen, catchup_timeout))
        raise PromotionError("candidate %s did not apply %s within %ss; the fence on %s was undone"
                             % (candidate, frozen, catchup_timeout, primary))
    cluster.promote(candidate)
    for node in others:
        cluster.make_replica(node, candidate)
    cluster.make_replica(primary, candidate, demote=True)
    cluster.wait_semisync_client(candidate, 3)
    cluster.open_writes(candidate)
    cluster.step(candidate, "writes open", "new primary")
    return verify(cluster, candidate, others + [primary], verify_timeout)


def verify(cluster, primary, replicas, timeout):
    st = cluster.state(primary)
    problems = []
    if st.get("error") or st["read_only"] != "OFF" or st["replica"]:
        problems.append("%s is not a writable primary: %s" % (primary, st.get("error") or st))
    for node in replicas:
        if not cluster.wait_replicating(node, timeout):
            problems.append("%s is not replicating from %s" % (node, primary))
    return problems


def plan_failover(cluster, epoch, confirm_timeout, max_lag, semisync_max_age, force, window):
    old = epoch["primary"]
    now = time.time()
    allowed, why = failover_window_verdict(epoch, now, window)
    if not allowed and not force:
        raise PromotionError("failover refused: %s (-e ha_lamp_failover_force=true to override)" % why)
    cluster.step(old, "anti-flap window", why)
    deadline = time.time() + confirm_timeout
    while True:
        controller_error = cluster.probe(old, timeout=2) if old in cluster.nodes else "not in the inventory"
        old_state = None
        if controller_error is None:
            # It answers. A primary restarted after a crash comes back read-only (config file) and
            # serves no writes: fail over from it like from a dead one, but wait for its binlog.
            old_state = cluster.state(old)
            if not old_state.get("error") and old_state["read_only"] == "ON" and not old_state["replica"]:
                cluster.step(old, "old primary restarted read-only", "binlog at %s" % old_state["gtid_binlog_pos"])
                break
        survey = {n: cluster.state(n) for n in sorted(cluster.nodes) if n != old}
        io = {}
        for name, st in survey.items():
            if st.get("error"):
                io[name] = None
            elif st["replica"] and cluster.name_of(st["replica"]["master_host"]) == old:
                io[name] = st["replica"]["io_running"]
        dead, reason = primary_confirmed_dead(controller_error, io)
        if dead or controller_error is None or time.time() >= deadline:
            break
        time.sleep(0.5)
    restarted = old_state is not None and not old_state.get("error") and old_state["read_only"] == "ON" \
        and not old_state["replica"]
    if restarted:
        dead, reason = True, "the old primary restarted read-only and serves no writes"
        survey = {n: cluster.state(n) for n in sorted(cluster.nodes) if n != old}
        io = {n: (None if st.get("error") else "restarted") for n, st in survey.items()
              if st.get("error") or (st["replica"] and cluster.name_of(st["replica"]["master_host"]) == old)}
    if not dead:
        raise PromotionError("failover refused: %s" % reason)
    cluster.step(old, "primary confirmed gone", reason)
    observations = {}
    for name in io:
        status = cluster.agent_status(name)
        rec = status.get("semisync_observed") or {}
        if cluster.name_of(rec.get("primary", "")) == old:
            observations[name] = rec
    safe, why = semisync_verdict(observations, time.time(), semisync_max_age)
    if restarted:
        safe, why = True, "not needed: the old primary's binlog is readable and the candidate applies all of it"
    if not safe and not force:
        raise PromotionError("failover refused: %s; acknowledged writes may be lost "
                             "(-e ha_lamp_failover_force=true to accept)" % why)
    cluster.step(old, "semi-sync check", why + (" (forced)" if not safe else ""))
    replicas = {n: cluster.replica_view(survey[n]) if survey[n].get("replica") else {"error": "not a replica"}
                for n in io if io[n] is not None}
    candidate, reason = choose_candidate(replicas, max_lag=None)
    cluster.step(candidate, "chosen as the new primary", reason)
    return {"primary": old, "candidate": candidate, "replicas": sorted(replicas), "semisync_safe": safe,
            "received": received_position(replicas[candidate]),
            "old_binlog_pos": old_state["gtid_binlog_pos"] if restarted else ""}


def run_failover(cluster, old, candidate, others, apply_timeout, verify_timeout, old_binlog_pos=""):
    """Apply relay log -> promote -> repoint -> open writes -> fence the old primary if it answers."""
    cluster.step(old, "failover start", "to %s" % candidate)
    st = cluster.state(candidate)
    received = received_position(cluster.replica_view(st))
    if old_binlog_pos and not dominates(received, old_binlog_pos):
        # The old primary restarted read-only and still serves its binlog: fetch all of it.
        received = old_binlog_pos
    # Never restart the candidate's IO thread before this (checklist C4): relay logs would be lost.
    if not cluster.gtid_wait(candidate, received, apply_timeout):
        raise PromotionError("candidate %s did not apply its relay log up to %s within %ss; nothing was changed"
                             % (candidate, received, apply_timeout))
    cluster.parallel([candidate] + list(others), "STOP SLAVE")
    cluster.promote(candidate)
    for node in others:
        cluster.make_replica(node, candidate)
    cluster.wait_semisync_client(candidate, 3)
    cluster.open_writes(candidate)
    cluster.step(candidate, "writes open", "new primary")
    if cluster.probe(old, timeout=1) is None:
        try:
            cluster.execute(old, "SET GLOBAL read_only = ON")
        except Exception as exc:  # pylint: disable=broad-except
            cluster.step(old, "fence failed", str(exc)[:200])
    else:
        cluster.step(old, "old primary unreachable", "not fenced: its config file keeps it read_only on restart, "
                     "and the epoch file no longer names it")
    return verify(cluster, candidate, others, verify_timeout)


def plan_rejoin(cluster, epoch, only=None):
    survey = cluster.survey()
    primary = current_primary(cluster, survey, epoch)
    pstate = cluster.state(primary)  # read after the others, see plan_switchover
    if pstate.get("error"):
        raise PromotionError("primary %s stopped answering: %s" % (primary, pstate["error"]))
    actions = {}
    for name, st in survey.items():
        if name == primary or (only and name not in only):
            continue
        if st.get("error"):
            actions[name] = {"action": "skip", "reason": "unreachable: %s" % st["error"]}
            continue
        rep = st["replica"]
        # Errant transactions are checked on every node, replicas included: a write made on a
        # replica (by a SUPER session, or before it was attached) makes it unfit for promotion.
        ok, reason = rejoin_verdict(name, st["gtid_binlog_state"], primary, pstate["gtid_binlog_state"],
                                    pstate["gtid_slave_pos"])
        if not ok:
            actions[name] = {"action": "refuse", "reason": reason}
        elif rep and cluster.name_of(rep["master_host"]) == primary and rep["io_running"] == "Yes" \
                and rep["sql_running"] == "Yes":
            actions[name] = {"action": "none", "reason": "already replicating from %s" % primary}
        else:
            actions[name] = {"action": "rejoin", "reason": reason}
    versions = {n: series(st.get("version")) for n, st in survey.items() if not st.get("error")}
    healthy = [n for n, a in sorted(actions.items()) if a["action"] == "none"]
    return {"primary": primary, "nodes": actions, "versions": versions,
            "donors": {n: choose_donor(n, versions, healthy, primary) for n in actions if n in versions}}


def run_rejoin(cluster, primary, nodes, verify_timeout):
    problems = []
    for node in nodes:
        cluster.make_replica(node, primary, demote=True)
        if not cluster.wait_replicating(node, verify_timeout):
            problems.append("%s is not replicating from %s" % (node, primary))
    return problems
