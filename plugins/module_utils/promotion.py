# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""SQL building blocks for MariaDB GTID semi-sync replication, shared by the database manager
(roles/mysql/files/ha_lamp_db_manager.py, which promotes, fences and repoints its own node) and by
the mysql_promotion module (playbooks/rejoin.yml and playbooks/db_status.yml).

Pure decision functions come first (unit-tested in tests/unit/plugins/module_utils/test_promotion.py);
the Cluster class below runs the steps over PyMySQL (state, GTID wait, promote, make_replica, open
writes, ...) and logs each one with a UTC timestamp, so the playbook output is the record of what
happened and when. The procedures at the end plan and run a rejoin. The decisions of automatic
failover and switchover are in module_utils/db_manager.py, not here.

Every step that changes a server is written so that an interrupted run can be re-run: fencing
is SET GLOBAL read_only=ON, repointing is STOP SLAVE / CHANGE MASTER / START SLAVE.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json
import ssl
import threading
import time

from ansible_collections.onprem.ha_lamp.plugins.module_utils.mysql_topology import (
    format_gtid, missing_gtids, parse_gtid_list)

try:
    import pymysql
    import pymysql.cursors
except ImportError:  # the unit tests only use the pure functions
    pymysql = None

try:
    from ansible.module_utils.urls import Request
except ImportError:  # the database manager imports this file on the DB nodes, where Ansible is not installed
    Request = None  # only agent_status() needs it, and only the controller (mysql_promotion) calls that


class PromotionError(Exception):
    """A refusal or failure with an operator-facing message."""


# ---------------------------------------------------------------------------------------------
# Pure decisions
# ---------------------------------------------------------------------------------------------

def newest_epoch(epochs):
    """The newest of the epochs the database managers report (list of dicts, others ignored).

    A manager's /status 'epoch' is {epoch: revision of the leader key in etcd, primary: the
    leader}; the highest revision is the newest leader any manager has seen."""
    valid = [e for e in epochs if isinstance(e, dict) and isinstance(e.get("epoch"), int)
             and not isinstance(e.get("epoch"), bool) and e.get("primary")]
    if not valid:
        raise PromotionError("no database manager reports a leader in etcd (/status 'epoch'): "
                             "check playbooks/db_status.yml")
    return sorted(valid, key=lambda e: e["epoch"])[-1]


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


def change_master_statement(host, port, user, password, connect_retry, heartbeat, ssl_ca=None, demote=False):
    """(sql, args) of the CHANGE MASTER that points a replica at `host`. Every path that repoints a
    replica builds it here (the database manager and mysql_promotion; roles/mysql/tasks/replication.yml
    and reseed.yml write the same statement in YAML).

    ssl_ca: path of the CA file ON THE REPLICA. Given, replication runs over TLS and the replica
    verifies the source's certificate against it, host name included (MASTER_HOST must be in its
    SANs). None or '': MASTER_SSL=0 (TLS off, mysql_tls_enabled=false). The three TLS settings are
    always written, so a repoint never keeps stale ones from an earlier CHANGE MASTER."""
    sql = ("CHANGE MASTER TO MASTER_HOST=%s, MASTER_PORT=%s, MASTER_USER=%s, MASTER_PASSWORD=%s, "
           "MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=%s, MASTER_HEARTBEAT_PERIOD=%s, "
           "MASTER_SSL=%s, MASTER_SSL_CA=%s, MASTER_SSL_VERIFY_SERVER_CERT=%s")
    if demote:
        sql += ", MASTER_DEMOTE_TO_SLAVE=1"
    tls = 1 if ssl_ca else 0
    return sql, (host, int(port), user, password, int(connect_retry), int(heartbeat), tls, ssl_ca or "", tls)


def replicas_without_tls(survey):
    """Names of the replicas in a survey ({name: state}) that do not replicate over verified TLS
    (SHOW SLAVE STATUS Master_SSL_Allowed and Master_SSL_Verify_Server_Cert both 'Yes'), sorted.
    Unreachable nodes and nodes without a source are not replicas and are not listed."""
    bad = []
    for name, st in sorted(survey.items()):
        rep = (st or {}).get("replica") if not (st or {}).get("error") else None
        if rep and not (rep.get("ssl") == "Yes" and rep.get("ssl_verify") == "Yes"):
            bad.append(name)
    return bad


def tls_context(ca, cert=None, key=None):
    """A client SSLContext that verifies the peer (certificate and host name) against `ca`: a file
    path, or the PEM text itself (an operator-supplied CA given as content). None when ca is empty."""
    if not ca:
        return None
    if str(ca).lstrip().startswith("-----BEGIN"):
        ctx = ssl.create_default_context(cadata=str(ca))
    else:
        ctx = ssl.create_default_context(cafile=ca)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert:
        ctx.load_cert_chain(cert, key)
    return ctx


# ---------------------------------------------------------------------------------------------
# Server access
# ---------------------------------------------------------------------------------------------

def utcnow():
    # An aware time: datetime.utcnow() is deprecated since Python 3.12 (same text: UTC, milliseconds).
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"


# A cached connection to a node that was not used for this long is pinged (with reconnect) before its next
# statement; the manager's own reads come every 0.2-0.25 s and go without.
PING_AFTER_IDLE_S = 2.0


class Cluster:
    """Connections to the database nodes by name, plus the step log."""

    def __init__(self, nodes, user, password, port=3306, repl_user=None, repl_password=None,
                 connect_timeout=2, agent_port=9200, repl_ssl=False, heartbeat=1, connect_retry=1,
                 read_timeout=None, ssl_ca=None, repl_ssl_ca=None, agent_tls=None):
        """ssl_ca: CA (path or PEM) that this process verifies the servers with; None connects in clear.
        repl_ssl: replicas connect to their source over TLS; repl_ssl_ca is the CA path on the replica
        (None: the replica's own @@ssl_ca). agent_tls: {ca, cert, key} paths for HTTPS with a client
        certificate to the database agents; None uses plain HTTP."""
        if pymysql is None:
            raise PromotionError("PyMySQL is required on the host running mysql_promotion (the controller): "
                                 "pip install -r requirements.txt of the collection, or apt-get install python3-pymysql")
        self.nodes = dict(nodes)
        self.user, self.password, self.port = user, password, port
        self.repl_user, self.repl_password = repl_user, repl_password
        self.connect_timeout = connect_timeout
        # None blocks on a hung server; the database manager sets a bound (gtid_wait then waits
        # in slices shorter than it).
        self.read_timeout = read_timeout
        self.agent_port = agent_port
        self.repl_ssl, self.heartbeat, self.connect_retry = repl_ssl, heartbeat, connect_retry
        self.repl_ssl_ca = repl_ssl_ca
        self.ssl = tls_context(ssl_ca)
        agent_tls = agent_tls or {}
        self.agent_ssl = tls_context(agent_tls.get("ca"), agent_tls.get("cert"), agent_tls.get("key"))
        self.conns = {}
        self.conn_used = {}  # node -> time.monotonic() when its connection was last handed out
        self.log = []

    # -- plumbing --------------------------------------------------------------------------
    def step(self, node, action, detail=""):
        entry = {"time": utcnow(), "node": node, "step": action}
        if detail:
            entry["detail"] = detail
        self.log.append(entry)
        return entry

    def conn(self, node):
        cached = self.conns.get(node)
        now = time.monotonic()
        if cached is None:
            cached = self.conns[node] = pymysql.connect(
                host=self.nodes[node], port=self.port, user=self.user, password=self.password,
                connect_timeout=self.connect_timeout, read_timeout=self.read_timeout, write_timeout=30,
                autocommit=True, cursorclass=pymysql.cursors.DictCursor, ssl=self.ssl)
        elif now - self.conn_used.get(node, float("-inf")) > PING_AFTER_IDLE_S:
            # The peer's MariaDB may have restarted while this connection sat idle (a rolling restart, an
            # upgrade). A statement sent on the dead socket fails only after it was sent ("2013 Lost
            # connection during query"), and nobody can tell whether it ran; a ping finds out first and
            # reconnects with the same settings. A connection in use moments ago is not pinged: the
            # manager reads its own server several times a second, and a ping before each read doubled
            # the round trips.
            try:
                cached.ping(reconnect=True)
            except Exception:
                self.drop(node)
                raise
        self.conn_used[node] = now
        return cached

    def drop(self, node):
        self.conn_used.pop(node, None)
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
                "sql_error": rep.get("Last_SQL_Error") or "", "ssl": rep.get("Master_SSL_Allowed") or "",
                "ssl_verify": rep.get("Master_SSL_Verify_Server_Cert") or "", "ssl_ca": rep.get("Master_SSL_CA_File") or ""}
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
            scheme = "https" if self.agent_ssl else "http"
            # Ansible's Request, set up like the plain urllib GET it replaces: no ~/.netrc
            # credentials, the same TLS context (agent CA and client certificate), the same timeout.
            resp = Request(use_netrc=False).open("GET", "%s://%s:%s/status" % (scheme, self.nodes[node], self.agent_port),
                                                 timeout=timeout, context=self.agent_ssl)
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
        """The current leader as the database managers see it in etcd, read through their /status
        ('epoch': {epoch: leader key revision, primary: leader})."""
        statuses = statuses or self.agent_statuses()
        epoch = newest_epoch([st.get("epoch") for st in statuses.values() if not st.get("error")])
        self.step(epoch["primary"], "current leader", "leader key revision %s" % epoch["epoch"])
        return epoch

    # -- topology --------------------------------------------------------------------------
    def survey(self):
        return {n: self.state(n) for n in sorted(self.nodes)}

    # -- building blocks ---------------------------------------------------------------------
    def frozen_position(self, node, tries=20):
        """Re-read @@gtid_binlog_pos until two reads agree (in-flight commits finished)."""
        last = None
        for _attempt in range(tries):
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

    def replica_ssl_ca(self, node):
        """CA path on `node` for MASTER_SSL_CA: repl_ssl_ca, else the server's own ssl_ca. None when
        replication TLS is off; a PromotionError when it is on and the node has no CA."""
        if not self.repl_ssl:
            return None
        if self.repl_ssl_ca:
            return self.repl_ssl_ca
        ca = (self.query(node, "SELECT @@global.ssl_ca AS ca")[0]["ca"] or "").strip()
        if not ca:
            raise PromotionError("replication TLS is on but %s has no ssl_ca configured: run playbooks/site.yml "
                                 "(mysql_tls_enabled) on it first, or turn TLS off everywhere" % node)
        return ca

    def change_master(self, node, source, demote=False):
        ca = self.replica_ssl_ca(node)
        sql, args = change_master_statement(self.nodes[source], self.port, self.repl_user, self.repl_password,
                                            self.connect_retry, self.heartbeat, ssl_ca=ca, demote=demote)
        self.query(node, sql, args)
        self.step(node, "CHANGE MASTER TO MASTER_HOST='%s', MASTER_USE_GTID=slave_pos, MASTER_SSL=%d%s%s"
                  % (self.nodes[source], 1 if ca else 0,
                     ", MASTER_SSL_CA='%s', MASTER_SSL_VERIFY_SERVER_CERT=1" % ca if ca else "",
                     ", MASTER_DEMOTE_TO_SLAVE=1" if demote else ""))

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
        raise PromotionError("the writable node %s is not the leader in etcd %s" % (writable[0], epoch["primary"]))
    if not writable:
        raise PromotionError("no writable primary (the leader in etcd is %s): wait for the database managers "
                             "to promote one, or see playbooks/failover.yml" % epoch["primary"])
    return writable[0]


def plan_rejoin(cluster, epoch, only=None):
    survey = cluster.survey()
    primary = current_primary(cluster, survey, epoch)
    # Read the primary again AFTER the others: it only moves forward, so a node holding nothing
    # errant is always contained in this later read, even under write load.
    pstate = cluster.state(primary)
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
