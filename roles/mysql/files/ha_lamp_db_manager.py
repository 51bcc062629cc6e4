# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""ha-lamp database manager: one per DB node, run by systemd as an unprivileged user.

It answers HAProxy's checks (GET /writer, /reader, /status over HTTPS with client certificates, :9200) and runs the tier's
automatic failover through etcd (decisions: module_utils/db_manager.py; promotion steps:
module_utils/promotion.py, the same code the playbooks use). Threads:

* renewer   keeps this node's etcd lease alive (every renew_interval seconds)
* watchdog  fences the local server (read_only, sessions killed) when the leader lease was not
            renewed in time, whatever the main loop is doing
* main loop reads the local server and etcd every tick and acts: lead, follow, rejoin,
            quarantine, elect, hand over
* HTTP      the health checks: HTTPS with client certificates of the services CA, a CN allowlist
            (HAProxy, the controller), a fixed number of workers and a deadline per connection

The main loop also writes the manager's state (role, lease, semi-sync, lag, event counts) as a
Prometheus text file (metrics_file, read by node exporter's textfile collector through a link the
exporters role makes). Writing it can fail without consequence: the failure is logged once.

Every SQL and etcd call has a timeout, so a hung server or a partition cannot hang the manager.
"""

import copy
import json
import os
import signal
import socket
import socketserver
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler

LIB_DIR = os.environ.get("HA_LAMP_LIB", "/usr/local/lib/ha-lamp")
sys.path.insert(0, LIB_DIR)

# pylint: disable=wrong-import-position
from ansible_collections.onprem.ha_lamp.plugins.module_utils import db_manager as dm  # noqa: E402
from ansible_collections.onprem.ha_lamp.plugins.module_utils.dcs import (  # noqa: E402
    DcsError, Etcd, delete_op, mod_revision_is, put_op)
from ansible_collections.onprem.ha_lamp.plugins.module_utils.promotion import Cluster  # noqa: E402

try:
    import pymysql
    import pymysql.cursors
except ImportError:  # pragma: no cover
    pymysql = None

DEFAULT_CONFIG = "/etc/ha-lamp/db-manager.json"
# Oldest local state a check may answer from (seconds). The writer's must be fresh; a replica's
# may be a little older (its data is no fresher than its lag anyway).
WRITER_MAX_AGE = 1.0
READER_MAX_AGE = 3.0


def log(message, **fields):
    fields["msg"] = message
    sys.stderr.write(json.dumps(fields, sort_keys=True, default=str) + "\n")
    sys.stderr.flush()


class NodeCluster(Cluster):
    """promotion.Cluster whose connection to this node goes over the unix socket as the
    manager's own account; peers are read with the monitor account."""

    def __init__(self, cfg):
        super().__init__(cfg["nodes"], cfg["monitor_user"], cfg["monitor_password"], port=cfg["port"],
                         repl_user=cfg["repl_user"], repl_password=cfg["repl_password"],
                         connect_timeout=cfg["connect_timeout"], repl_ssl=cfg["repl_ssl"],
                         heartbeat=cfg["heartbeat"], connect_retry=cfg["connect_retry"],
                         read_timeout=cfg["read_timeout"],
                         # TLS (mysql_tls_enabled): peers are read over TLS verified against the
                         # cluster CA, and this node replicates with MASTER_SSL_CA = the same file.
                         ssl_ca=cfg["tls_ca"] or None, repl_ssl_ca=cfg["tls_ca"] or None)
        self.me = cfg["node"]
        self.socket = cfg["socket"]
        self.local_user = cfg["local_user"]

    def conn(self, node):
        if node == self.me and node not in self.conns:
            self.conns[node] = local_connection(self.socket, self.local_user, self.connect_timeout,
                                                self.read_timeout)
        return super().conn(node)


def local_connection(socket_path, user, connect_timeout, read_timeout):
    return pymysql.connect(unix_socket=socket_path, user=user, connect_timeout=connect_timeout,
                           read_timeout=read_timeout, write_timeout=read_timeout, autocommit=True,
                           cursorclass=pymysql.cursors.DictCursor)


class Manager:
    def __init__(self, cfg):
        self.cfg = cfg
        self.me = cfg["node"]
        self.prefix = dm.prefix_for(cfg["cluster"])
        self.etcd = Etcd(cfg["etcd_endpoints"], cfg.get("etcd_ca"), cfg.get("etcd_cert"), cfg.get("etcd_key"),
                         timeout=cfg["etcd_timeout"])
        self.cluster = NodeCluster(cfg)
        # Reads of the local server get a short timeout of their own: a hung server is noticed
        # after fail_limit x probe_timeout, while promotion steps keep the longer read_timeout.
        self.probe = NodeCluster(dict(cfg, read_timeout=cfg["probe_timeout"]))
        self.lock = threading.RLock()
        self.lease = None
        self.renewed_at = float("-inf")   # monotonic send time of the last successful renewal
        self.view = {"members": {}}
        self.etcd_error = "not read yet"
        self.opened = False               # this manager opened writes and still holds the lease
        self.local = {"error": "not read yet"}
        self.local_failures = 0
        self.uptime = None
        self.quarantined = ""
        self.published = None
        self.remembered_role = None       # what role_file says (None: not written by this process yet)
        self.events = []
        self.said = {}
        self.last_start_slave = 0.0
        self.lag_unknown_since = None
        self.claim_again_at = 0.0
        self.repointing = False
        self.leader_check_at = 0.0
        # Metrics (render_metrics): the role last published, events counted by name since start,
        # when the text file is due next, and the last write error (logged once, not again).
        self.role = "unknown"
        self.event_counts = {}
        self.counts_lock = threading.Lock()
        self.metrics_due = 0.0
        self.metrics_error = None

    # -- notification ---------------------------------------------------------------------
    def notify(self, name, once_key=None, **fields):
        """Journal (stderr) and optional webhook. once_key: say it once until it changes."""
        if once_key is not None:
            if self.said.get(name) == once_key:
                return
            self.said[name] = once_key
        body = dm.event(name, self.me, time=round(time.time(), 3), **fields)
        log(name, **body)
        with self.counts_lock:
            self.event_counts[name] = self.event_counts.get(name, 0) + 1
        self.events = (self.events + [body])[-20:]
        url = self.cfg.get("webhook_url")
        if url:
            threading.Thread(target=post_webhook, args=(url, body), daemon=True).start()

    # -- lease ----------------------------------------------------------------------------
    def deadlines(self):
        return dm.lease_deadlines(self.renewed_at, self.cfg["ttl"], self.cfg["fence_margin"],
                                  self.cfg["check_window"])

    def renewer(self):
        while True:
            started = time.monotonic()
            try:
                if self.lease is None:
                    lease = self.etcd.grant(self.cfg["ttl"])
                    with self.lock:
                        self.lease, self.renewed_at, self.published = lease, started, None
                elif self.etcd.keepalive(self.lease) > 0:
                    with self.lock:
                        self.renewed_at = started
                else:
                    self.notify("lease_lost", reason="etcd says lease %x expired" % self.lease)
                    with self.lock:
                        self.lease, self.published = None, None
            except DcsError as exc:
                self.notify("etcd_unreachable", once_key=str(exc)[:60], reason=str(exc)[:300])
            time.sleep(max(0.05, self.cfg["renew_interval"] - (time.monotonic() - started)))

    def watchdog(self):
        while True:
            time.sleep(0.1)
            with self.lock:
                opened = self.opened
                fence_at = self.deadlines()[1]
            if opened and time.monotonic() >= fence_at:
                self.fence_stale("the leader lease was not renewed for %ss" % round(time.monotonic() - self.renewed_at, 1))

    # -- local server -----------------------------------------------------------------------
    def fence(self, reason):
        """read_only=ON and every client session killed, on a fresh connection: a commit waiting
        for a semi-sync ack holds up SET GLOBAL read_only, so sessions are killed while it runs."""
        with self.lock:
            was_open, self.opened = self.opened, False
        started = time.monotonic()
        done = {}

        def set_read_only():
            try:
                conn = local_connection(self.cfg["socket"], self.cfg["local_user"], 1, self.cfg["fence_timeout"])
                with conn.cursor() as cur:
                    cur.execute("SET GLOBAL read_only = ON")
                conn.close()
                done["ok"] = True
            except Exception as exc:  # pylint: disable=broad-except
                done["error"] = str(exc)[:200]

        worker = threading.Thread(target=set_read_only, daemon=True)
        worker.start()
        killed = 0
        while worker.is_alive() and time.monotonic() - started < self.cfg["fence_timeout"]:
            killed += self.kill_clients()
            worker.join(0.2)
        killed += self.kill_clients()
        self.notify("fenced", reason=reason, read_only="ON" if done.get("ok") else done.get("error", "timed out"),
                    killed=killed, was_primary=was_open, ms=int((time.monotonic() - started) * 1000))
        if worker.is_alive():
            # Still blocked after fence_timeout with every session killed: a hung server, which
            # must not wake up writable. (An error instead means the server went away: nothing to kill.)
            self.kill_server("read_only could not be set within %ss (%s)" % (self.cfg["fence_timeout"], reason))

    def fence_stale(self, reason):
        """Fence a primary that lost (or never had) the lease. Commits waiting for a semi-sync ack
        were never acknowledged: KILLing their sessions would commit them in the engine and leave an
        errant tail (quarantine, reseed), while killing the server lets recovery discard them."""
        waiting = (self.local.get("semisync_status") or {}).get("Rpl_semi_sync_master_wait_sessions")
        if int(waiting or 0) > 0:
            with self.lock:
                self.opened = False
            self.kill_server("%s; %s commits wait for a semi-sync ack" % (reason, waiting))
        else:
            self.fence(reason)

    def kill_clients(self):
        """KILL every client connection (admin sessions included); replication and system threads stay."""
        try:
            conn = local_connection(self.cfg["socket"], self.cfg["local_user"], 1, 2)
        except Exception:  # pylint: disable=broad-except
            return 0
        killed = 0
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT ID FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() "
                            "AND USER NOT IN ('system user', 'event_scheduler', '', %s) "
                            "AND COMMAND NOT IN ('Binlog Dump', 'Daemon', 'Slave_IO', 'Slave_SQL')",
                            (self.cfg["local_user"],))
                for row in cur.fetchall():
                    try:
                        cur.execute("KILL CONNECTION %d" % int(row["ID"]))
                        killed += 1
                    except Exception:  # pylint: disable=broad-except
                        pass
        except Exception:  # pylint: disable=broad-except
            pass
        finally:
            conn.close()
        return killed

    def kill_server(self, reason):
        """Last-resort fence of a server that cannot be fenced by SQL (hung, or stopped with
        SIGSTOP): SIGKILL it. The unit grants this manager CAP_KILL and nothing else. systemd
        restarts it read-only, and semi-sync recovery (init_rpl_role=SLAVE) truncates its
        unacknowledged tail, so it rejoins as a replica."""
        try:
            out = subprocess.run(["systemctl", "show", "--property=MainPID", "--value", self.cfg["service"]],
                                 capture_output=True, text=True, timeout=2, check=False).stdout.strip()
            pid = int(out or 0)
            if pid > 0:
                os.kill(pid, signal.SIGKILL)
        except (OSError, ValueError, subprocess.SubprocessError) as exc:
            self.notify("server_kill_failed", reason=reason, error=str(exc)[:200])
            return
        if pid > 0:
            self.notify("server_killed", reason=reason, pid=pid)

    def read_local(self):
        state = self.probe.state(self.me)
        if not state.get("error"):
            try:
                row = self.probe.query(self.me, "SHOW GLOBAL STATUS LIKE 'Uptime'")
                state["uptime"] = int(row[0]["Value"]) if row else 0
            except Exception as exc:  # pylint: disable=broad-except
                self.probe.drop(self.me)
                state = {"error": str(exc)[:200]}
        return state

    # -- etcd -------------------------------------------------------------------------------
    def key(self, name):
        return self.prefix + name

    def leader_kv(self):
        return self.view.get("leader")

    def release(self, reason):
        kv = self.leader_kv()
        with self.lock:
            self.opened = False
        try:
            ok = self.etcd.txn([mod_revision_is(self.key("leader"), kv["mod_revision"])],
                               [delete_op(self.key("leader"))])
        except DcsError as exc:
            ok = "etcd unreachable: %s" % exc
        self.notify("leader_released", reason=reason, released=ok, revision=kv["mod_revision"])

    def remember_role(self, role):
        """Tell the next MariaDB start whether this node was the primary (mariadb-role.sh reads role_file).
        Only a crashed primary starts with init_rpl_role=SLAVE, which truncates the binlog transactions
        left prepared in InnoDB: its unacknowledged tail, so it can rejoin the new primary. A replica keeps
        everything it applied: when the whole tier crashes at once, the replica that acknowledged the last
        writes may be the only node that still holds them (the primary truncates them, and MariaDB discards
        the relay log of a GTID replica on restart). role: "primary", or "replica" once this node replicates
        from the leader; a fenced, stopped or quarantined former primary keeps "primary"."""
        marker = role
        if marker == self.remembered_role or not self.cfg.get("role_file"):
            return
        path = self.cfg["role_file"]
        try:
            with open(path + ".tmp", "w", encoding="utf-8") as handle:
                handle.write(marker + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(path + ".tmp", path)
            self.remembered_role = marker
        except OSError as exc:
            self.notify("role_file_error", once_key=str(exc), error=str(exc), path=path)

    def publish(self, role, leader, source=None):
        self.role = role
        if role == "primary":
            self.remember_role("primary")
        report = dm.member_report(self.me, self.local, role, self.cfg["nofailover"], leader=leader,
                                  source=source, errant=self.quarantined)
        if self.lease is None or report == self.published:
            return
        try:
            self.etcd.put(self.key("members/" + self.me), report, lease=self.lease)
            self.published = report
        except DcsError as exc:
            self.etcd_error = str(exc)

    # -- main loop ----------------------------------------------------------------------------
    def run(self):
        while True:
            started = time.monotonic()
            try:
                self.tick()
            except Exception as exc:  # pylint: disable=broad-except
                log("tick failed", error="%s: %s" % (type(exc).__name__, str(exc)[:300]))
                self.cluster.close()
            self.export_metrics()
            time.sleep(max(0.05, self.cfg["tick"] - (time.monotonic() - started)))

    def tick(self):
        local = self.read_local()
        self.local = local
        restarted = False
        if local.get("error"):
            self.local_failures += 1
        else:
            self.local_failures = 0
            restarted = self.uptime is not None and local["uptime"] < self.uptime
            self.uptime = local["uptime"]
        try:
            view = dm.parse_view(self.etcd.get_prefix(self.prefix), self.prefix)
        except DcsError as exc:
            self.etcd_error = str(exc)
            return  # no decision without etcd; the watchdog fences a primary that cannot renew
        self.view, self.etcd_error = view, ""
        leader = dm.leader_name(view)
        if leader == self.me:
            self.adopt_lease(view["leader"])
            self.lead(view, local, restarted)
        elif leader:
            self.follow(view, local, leader)
        else:
            self.elect(view, local)

    def adopt_lease(self, kv):
        """After a manager restart the key may name this node under the previous process's lease."""
        if kv["lease"] and kv["lease"] != self.lease:
            with self.lock:
                old, self.lease, self.published = self.lease, kv["lease"], None
            self.notify("lease_adopted", lease="%x" % kv["lease"], previous="%x" % old if old else None)

    # -- leader -------------------------------------------------------------------------------
    def lead(self, view, local, restarted):
        if local.get("error"):
            self.publish("primary", self.me)
            if self.local_failures >= self.cfg["fail_limit"]:
                # Dead: nothing to kill. Hung (it may wake up writable): killed before the key goes.
                self.kill_server("MariaDB stopped answering on the leader: %s" % local["error"])
                self.release("MariaDB unreachable on the leader %d times in a row: %s"
                             % (self.local_failures, local["error"]))
            return
        if self.opened and (restarted or local["read_only"] != "OFF"):
            # A restarted server is read-only (its configuration says so): nothing to fence.
            self.release("MariaDB %s under the leader" % ("restarted" if restarted else "was set read-only"))
            return
        if not self.opened:
            intent = (view.get("intent") or {}).get("value") or {}
            if local["read_only"] == "OFF" and not local.get("replica"):
                # This manager restarted while its server kept serving under the lease.
                with self.lock:
                    self.opened = True
                self.notify("leader_resumed", revision=view["leader"]["mod_revision"])
            elif intent.get("to") == self.me:
                self.promote(view, local)  # an election or a handover this node won, maybe half done
            else:
                # The key outlived this node's server (it restarted read-only, perhaps truncating an
                # unacknowledged tail): re-opening it could lose writes a replica acknowledged.
                self.release("the server restarted under the leader key: a new election compares positions")
            return
        self.publish("primary", self.me)
        self.update_sync(view, local)
        self.keep_etcd_leader_away()
        if view.get("switchover"):
            self.hand_over(view)

    def promote(self, view, local):
        started = time.monotonic()
        intent = (view.get("intent") or {}).get("value") or {}
        if time.monotonic() >= self.deadlines()[0]:
            return  # the lease is not fresh: renew first
        received = (local.get("replica") or {}).get("gtid_io_pos", "")
        try:
            # Apply the relay log (and, after a handover, everything the old primary had) before
            # the first write. MASTER_GTID_WAIT follows the replica's applied position, so a
            # position already contained in gtid_current_pos is not waited for.
            for pos in (received, intent.get("position") or ""):
                if pos and not dm.dominates(local.get("gtid_current_pos", ""), pos) and \
                        not self.cluster.gtid_wait(self.me, pos, self.cfg["apply_timeout"]):
                    self.claim_again_at = time.monotonic() + self.cfg["claim_backoff"]
                    self.release("could not apply the relay log up to %s within %ss" % (pos, self.cfg["apply_timeout"]))
                    return
            self.cluster.promote(self.me)
            # Before the first write: every other live node counts as a semi-sync replica until
            # the sync set shows otherwise, so no acknowledged write can escape the next failover.
            others = sorted(n for n, kv in view["members"].items() if n != self.me
                            and isinstance(kv.get("value"), dict) and kv["value"].get("mariadb") == "up")
            self.etcd.put(self.key("sync"), {"leader": self.me, "nodes": others, "pending": {}, "at": time.time()})
            # Before the first write can be acknowledged: a crash from here on restarts as a former primary.
            self.remember_role("primary")
            self.cluster.open_writes(self.me)
        except Exception as exc:  # pylint: disable=broad-except
            self.cluster.drop(self.me)
            self.claim_again_at = time.monotonic() + self.cfg["claim_backoff"]
            self.release("promotion failed: %s (no new claim from this node for %ss)"
                         % (str(exc)[:200], self.cfg["claim_backoff"]))
            return
        with self.lock:
            self.opened = True
        success = [delete_op(self.key("intent"))]
        if intent.get("op") == "failover" and intent.get("from"):  # not the first deploy's election
            last_failover = {"at": time.time(), "from": intent.get("from"), "to": self.me}
            success.append(put_op(self.key("last_failover"), last_failover))
        try:
            self.etcd.txn([], success)
        except DcsError as exc:
            log("cannot record the promotion", error=str(exc))
        self.notify("promoted", old_primary=intent.get("from"), new_primary=self.me, op=intent.get("op"),
                    revision=view["leader"]["mod_revision"], reason=intent.get("reason"),
                    ms=int((time.monotonic() - started) * 1000),
                    since_key_ms=int((time.time() - float(intent.get("at", time.time()))) * 1000))
        self.publish("primary", self.me)

    def update_sync(self, view, local):
        """Publish which replicas may hold acknowledged writes (see db_manager's docstring)."""
        try:
            hosts = self.cluster.query(self.me, "SHOW SLAVE HOSTS")
        except Exception:  # pylint: disable=broad-except
            self.cluster.drop(self.me)
            return
        ids = {int(v): n for n, v in self.cfg["server_ids"].items()}
        connected = sorted({ids[int(h["Server_id"])] for h in hosts if int(h["Server_id"]) in ids})
        current = (view.get("sync") or {}).get("value") or {}
        if current.get("leader") != self.me:
            current = {}
        members = {n: kv.get("value") for n, kv in view["members"].items()}
        wanted = dm.next_sync_set(current, connected, members, local.get("gtid_binlog_pos", ""))
        if current.get("leader") != self.me or any(wanted[k] != current.get(k) for k in wanted):
            try:
                self.etcd.put(self.key("sync"), dict(wanted, leader=self.me, at=time.time()))
                self.notify("sync_replicas", nodes=wanted["nodes"], pending=wanted["pending"],
                            previous=current.get("nodes"))
            except DcsError as exc:
                self.etcd_error = str(exc)

    def keep_etcd_leader_away(self):
        """When this host also runs an etcd member, keep etcd's raft leader elsewhere: losing the
        primary's host then costs no etcd election, and etcd does not restart every lease's TTL (a
        new raft leader does), so the failover comes one TTL after the loss, not an election later."""
        endpoint = self.cfg.get("local_etcd_endpoint")
        if not endpoint or time.monotonic() < self.leader_check_at:
            return
        self.leader_check_at = time.monotonic() + 5
        try:
            moved_to = self.etcd.move_leader_off(endpoint)
        except DcsError as exc:
            log("cannot move the etcd leader", error=str(exc)[:200])
            return
        if moved_to:
            self.notify("etcd_leader_moved", reason="the database primary's host held etcd's raft leader",
                        new_etcd_leader=moved_to)

    def hand_over(self, view):
        request = view["switchover"]["value"] or {}
        target, rid = request.get("to"), request.get("id")
        problem = dm.switchover_check(view, target, self.me)
        finish = [delete_op(self.key("switchover"))]
        if problem:
            refusal = {"id": rid, "ok": False, "reason": problem}
            self.etcd.txn([], finish + [put_op(self.key("switchover_result"), refusal)])
            self.notify("switchover_refused", target=target, reason=problem)
            return
        started = time.monotonic()
        self.fence("planned switchover to %s" % target)
        try:
            frozen = self.cluster.frozen_position(self.me)
            caught_up = self.cluster.gtid_wait(target, frozen, self.cfg["switchover_timeout"])
        except Exception as exc:  # pylint: disable=broad-except
            frozen, caught_up = "", False
            problem = "catch-up failed: %s" % str(exc)[:200]
        if caught_up:
            leader = view["leader"]
            value = {"node": target, "since": time.time(), "from": self.me}
            intent = {"op": "switchover", "from": self.me, "to": target, "position": frozen, "at": time.time(),
                      "reason": "switchover.yml request %s" % rid}
            handed = self.etcd.txn(
                [mod_revision_is(self.key("leader"), leader["mod_revision"])],
                finish + [put_op(self.key("leader"), value, lease=view["members"][target]["lease"]),
                          put_op(self.key("intent"), intent),
                          put_op(self.key("switchover_result"), {"id": rid, "ok": True, "from": self.me,
                                                                 "to": target, "position": frozen})])
            if handed:
                self.notify("switchover_handed_over", old_primary=self.me, new_primary=target, position=frozen,
                            ms=int((time.monotonic() - started) * 1000))
                return
            problem = "the leader key changed during the handover"
        problem = problem or "%s did not reach %s within %ss" % (target, frozen, self.cfg["switchover_timeout"])
        self.cluster.open_writes(self.me)
        with self.lock:
            self.opened = True
        self.etcd.txn([], finish + [put_op(self.key("switchover_result"), {"id": rid, "ok": False, "reason": problem})])
        self.notify("switchover_aborted", target=target, reason=problem + "; writes reopened here")

    # -- replica --------------------------------------------------------------------------------
    def follow(self, view, local, leader):
        if self.opened:
            self.fence_stale("leader key names %s" % leader)
        if local.get("error"):
            self.publish("down", leader)
            return
        if local["read_only"] != "ON":
            self.fence_stale("writable, but the leader key names %s" % leader)
            return
        rep = local.get("replica")
        source = self.cluster.name_of(rep["master_host"]) if rep else None
        if source == leader:
            self.quarantined = ""
            if rep["io_running"] != "Yes" and time.monotonic() - self.last_start_slave > 5:
                self.last_start_slave = time.monotonic()
                try:
                    self.cluster.execute(self.me, "START SLAVE")
                except Exception:  # pylint: disable=broad-except
                    self.cluster.drop(self.me)
            self.remember_role("replica")
            self.publish("replica", leader, source)
            return
        leader_state = self.cluster.state(leader)
        if leader_state.get("error"):
            self.publish("replica" if rep else "standby", leader, source)
            return
        ok, errant = dm.rejoin_verdict(local, leader_state)
        if not ok:
            self.quarantined = errant
            self.publish("quarantined", leader, source)
            self.notify("quarantined", once_key=errant, primary=leader, errant=errant,
                        reason="this node holds transactions the primary %s lacks (%s); it stays read-only and "
                               "out of HAProxy. Reseed it from a replica: ansible-playbook -i INVENTORY "
                               "playbooks/rejoin.yml -e ha_lamp_rejoin_reseed=%s" % (leader, errant, self.me))
            return
        # A replica moving to the new primary keeps serving reads: its data stays consistent while
        # its threads restart (STOP SLAVE can wait for an IO thread stuck on the lost source).
        self.repointing = rep is not None and not self.quarantined
        try:
            self.cluster.make_replica(self.me, leader, demote=rep is None)
            self.remember_role("replica")
            self.notify("rejoined", primary=leader, previous_source=source, demoted=rep is None)
        except Exception as exc:  # pylint: disable=broad-except
            self.cluster.drop(self.me)
            self.notify("rejoin_failed", once_key=str(exc)[:60], primary=leader, reason=str(exc)[:200])
        finally:
            self.repointing = False
        self.publish("replica", leader, leader)

    # -- election -------------------------------------------------------------------------------
    def elect(self, view, local):
        if self.opened:
            self.fence_stale("the leader key disappeared (lease expired or released)")
        rep = local.get("replica") if not local.get("error") else None
        source = self.cluster.name_of(rep["master_host"]) if rep else None
        if not local.get("error") and local["read_only"] != "ON":
            self.fence_stale("writable without the leader key")
        role = "quarantined" if self.quarantined else ("down" if local.get("error") else "candidate")
        self.publish(role, None, source)
        verdict, reason, winner = dm.election(view, self.me, time.time(), self.cfg["failover_window"],
                                              self.cfg.get("bootstrap_hint"))
        if verdict in ("refuse", "wait"):
            self.notify("failover_" + ("refused" if verdict == "refuse" else "waiting"), once_key=reason, reason=reason)
            return
        if verdict != "claim" or self.lease is None or time.monotonic() >= self.deadlines()[0] \
                or time.monotonic() < self.claim_again_at:
            return
        old = ((view.get("sync") or {}).get("value") or {}).get("leader")
        intent = {"op": "failover", "from": old, "to": self.me, "at": time.time(), "reason": reason}
        success = [put_op(self.key("leader"), {"node": self.me, "since": time.time(), "from": old}, lease=self.lease),
                   put_op(self.key("intent"), intent), delete_op(self.key("force_failover"))]
        try:
            won = self.etcd.txn(dm.claim_compares(view, self.prefix), success)
        except DcsError as exc:
            won = False
            reason = "etcd: %s" % exc
        if won:
            self.notify("elected", old_primary=old, new_primary=self.me, reason=reason)
            # Promote in this tick rather than the next: every tick here is write downtime.
            view = dm.parse_view(self.etcd.get_prefix(self.prefix), self.prefix)
            self.view = view
            if dm.leader_name(view) == self.me:
                self.lead(view, local, False)

    # -- metrics ----------------------------------------------------------------------------------
    def metrics_snapshot(self):
        """What render_metrics needs, read under the lock (the watchdog may fence meanwhile)."""
        with self.lock:
            renewed_at, lease, opened = self.renewed_at, self.lease, self.opened
            leader = dm.leader_name(self.view)
            etcd_error = self.etcd_error
        with self.counts_lock:
            events = dict(self.event_counts)
        return {"time": time.time(), "role": self.role, "leader": leader == self.me, "opened": opened,
                "lease_held": lease is not None and time.monotonic() - renewed_at < self.cfg["ttl"],
                "etcd_ok": not etcd_error, "quarantined": bool(self.quarantined), "local": self.local,
                "events": events}

    def export_metrics(self):
        """Write the metrics file (at most every metrics_interval seconds). Never raises: a full disk,
        a removed directory or a bug here must not disturb the loop that runs failover. The first
        failure is logged, repeats of the same error are not, and the recovery is logged once."""
        path = self.cfg.get("metrics_file")
        if not path or time.monotonic() < self.metrics_due:
            return
        self.metrics_due = time.monotonic() + float(self.cfg.get("metrics_interval", 2.0))
        try:
            write_textfile(path, render_metrics(self.metrics_snapshot()))
        except Exception as exc:  # pylint: disable=broad-except
            error = "%s: %s" % (type(exc).__name__, str(exc)[:200])
            if error != self.metrics_error:
                log("cannot write the metrics file; failover is not affected", path=path, error=error)
            self.metrics_error = error
            return
        if self.metrics_error is not None:
            log("metrics file written again", path=path)
            self.metrics_error = None

    # -- HTTP view --------------------------------------------------------------------------------
    def decisions(self, local):
        with self.lock:
            leader = dm.leader_name(self.view)
            writer_until = self.deadlines()[0]
            opened = self.opened
        writer = dm.writer_decision(local, leader == self.me, opened, time.monotonic(), writer_until)
        if self.repointing:
            reader = (True, "replica, moving to the new primary")
        else:
            reader = dm.reader_decision(local, self.cfg["max_lag"], bool(self.quarantined), self.lag_unknown_for(local),
                                        unknown_grace=self.cfg["ttl"] + self.cfg["max_lag"])
        return writer, reader

    def lag_unknown_for(self, local):
        """Seconds Seconds_Behind_Master has been NULL on this replica (None while it is known)."""
        lag = (local.get("replica") or {}).get("lag") if not local.get("error") else 0
        with self.lock:
            if lag is None or lag == "":
                if self.lag_unknown_since is None:
                    self.lag_unknown_since = time.monotonic()
                return time.monotonic() - self.lag_unknown_since
            self.lag_unknown_since = None
            return None

    def status(self, local):
        writer, reader = self.decisions(local)
        leader_kv = self.view.get("leader") or {}
        members = {n: kv.get("value") for n, kv in self.view.get("members", {}).items()}
        return {"node": self.me, "time": time.time(), "state": local,
                "leader": dm.leader_name(self.view), "lease": "%x" % self.lease if self.lease else None,
                "lease_age_s": round(time.monotonic() - self.renewed_at, 2) if self.lease else None,
                "opened": self.opened, "quarantined": self.quarantined or None,
                # The leader key's revision is the fencing token; "epoch" keeps the shape the
                # promotion module reads (Cluster.newest_epoch).
                "epoch": {"epoch": leader_kv.get("mod_revision", 0), "primary": dm.leader_name(self.view)}
                if leader_kv else {"error": "no leader in etcd"},
                "members": members, "paused": bool(self.view.get("pause")),
                "sync": ((self.view.get("sync") or {}).get("value") or {}).get("nodes"),
                "etcd_error": self.etcd_error or None, "events": self.events[-10:],
                "writer": {"ok": writer[0], "reason": writer[1]}, "reader": {"ok": reader[0], "reason": reader[1]}}


# -- metrics text (node exporter's textfile collector) ---------------------------------------------
METRIC_ROLES = ("primary", "replica", "candidate", "standby", "quarantined", "down", "unknown")
# Events the alert rules count with increase(): exported at 0 from the start, because a counter that first
# appears at 1 shows no increase, and the first fence or promotion after a restart would go unseen.
METRIC_EVENTS = ("fenced", "server_killed", "promoted")


def _number(value):
    if value is None:
        return "NaN"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return "%d" % value
    return repr(float(value))


def _label(value):
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def render_metrics(snap):
    """Prometheus text exposition of one metrics_snapshot(). Series that do not apply are left out
    (read_only when MariaDB does not answer, replication when the node does not replicate), so a
    rule never mistakes "unknown" for 0. A replica whose lag is unknown (NULL) reports NaN."""
    out = []

    def metric(name, help_text, samples, kind="gauge"):
        out.append("# HELP %s %s" % (name, help_text))
        out.append("# TYPE %s %s" % (name, kind))
        for labels, value in samples:
            text = ",".join('%s="%s"' % (k, _label(v)) for k, v in labels)
            out.append("%s%s %s" % (name, "{%s}" % text if text else "", _number(value)))

    local = snap.get("local") or {}
    up = not local.get("error")
    role = snap.get("role") if snap.get("role") in METRIC_ROLES else "unknown"
    metric("ha_lamp_db_manager_metrics_timestamp_seconds", "When the manager wrote this file (Unix time).",
           [((), float(snap["time"]))])
    metric("ha_lamp_db_manager_role", "Role this manager last published (1 for the current one).",
           [((("role", r),), r == role) for r in METRIC_ROLES])
    metric("ha_lamp_db_manager_leader", "1 when the leader key in etcd names this node.", [((), bool(snap.get("leader")))])
    metric("ha_lamp_db_manager_lease_held", "1 while this manager's etcd lease was renewed within its TTL.",
           [((), bool(snap.get("lease_held")))])
    metric("ha_lamp_db_manager_writes_open", "1 when this manager opened writes here (it is the writable primary).",
           [((), bool(snap.get("opened")))])
    metric("ha_lamp_db_manager_etcd_ok", "1 when the last read of etcd succeeded.", [((), bool(snap.get("etcd_ok")))])
    metric("ha_lamp_db_manager_quarantined", "1 when this node holds errant transactions and stays out of service.",
           [((), bool(snap.get("quarantined")))])
    metric("ha_lamp_db_manager_mariadb_up", "1 when the local MariaDB answered the last probe.", [((), up)])
    if up:
        metric("ha_lamp_db_manager_read_only", "@@global.read_only of the local server (0: it accepts writes).",
               [((), local.get("read_only") != "OFF")])
        semi = local.get("semisync_status") or {}
        metric("ha_lamp_db_manager_semisync_primary_status",
               "Rpl_semi_sync_master_status: 1 while commits wait for a replica's acknowledgement.",
               [((), semi.get("Rpl_semi_sync_master_status") == "ON")])
        metric("ha_lamp_db_manager_semisync_primary_clients", "Rpl_semi_sync_master_clients: semi-sync replicas connected.",
               [((), int(semi.get("Rpl_semi_sync_master_clients") or 0))])
        metric("ha_lamp_db_manager_semisync_replica_status", "Rpl_semi_sync_slave_status: 1 when this replica acknowledges.",
               [((), semi.get("Rpl_semi_sync_slave_status") == "ON")])
        replica = local.get("replica")
        if replica:
            lag = replica.get("lag")
            metric("ha_lamp_db_manager_replica_io_running", "1 when the replication IO thread runs.",
                   [((), replica.get("io_running") == "Yes")])
            metric("ha_lamp_db_manager_replica_sql_running", "1 when the replication SQL thread runs.",
                   [((), replica.get("sql_running") == "Yes")])
            metric("ha_lamp_db_manager_replication_lag_seconds", "Seconds_Behind_Master (NaN while unknown).",
                   [((), None if lag in (None, "") else float(lag))])
    events = dict.fromkeys(METRIC_EVENTS, 0)
    events.update(snap.get("events") or {})
    metric("ha_lamp_db_manager_events_total", "Events this manager reported since it started, by name "
           "(fenced and server_killed are fences).", [((("event", name),), count)
                                                      for name, count in sorted(events.items())],
           kind="counter")
    return "\n".join(out) + "\n"


def write_textfile(path, text):
    """Replace path atomically (temporary file beside it, then rename): the collector reads the old
    or the new file, never a torn one. The temporary name starts with a dot and ends in .tmp, so it
    never matches *.prom. No fsync: the file is rewritten every few seconds and lost data is harmless."""
    directory = os.path.dirname(path) or "."
    tmp = os.path.join(directory, ".%s.%d.tmp" % (os.path.basename(path), os.getpid()))
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def post_webhook(url, body):
    from urllib.request import Request, urlopen
    try:
        urlopen(Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}),
                timeout=2).close()
    except Exception as exc:  # pylint: disable=broad-except
        log("webhook failed", error=str(exc)[:200])


class CheckState:
    """The local state for health checks, refreshed every 0.2 s by one thread on one persistent
    connection (no connection storm at max_connections). Answers never wait on the server: while a
    read blocks (SHOW SLAVE STATUS waits for a STOP SLAVE stuck on an unreachable source), checks use
    the last state read, up to a maximum age per check; older than that counts as unreachable."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.lock = threading.Lock()
        self.cluster = NodeCluster(cfg)
        self.cached, self.at = {"error": "not read yet"}, float("-inf")
        threading.Thread(target=self.refresh, daemon=True).start()

    def refresh(self):
        while True:
            state = self.cluster.state(self.cluster.me)
            with self.lock:
                self.cached, self.at = state, time.monotonic()
            time.sleep(0.2)

    def get(self, max_age):
        with self.lock:
            age = time.monotonic() - self.at
            if age > max_age:
                return {"error": "no answer from the local server for %.1fs" % age}
            return self.cached


def peer_cn(peercert):
    """commonName of a verified peer certificate (ssl.getpeercert() form), or "" when it has none."""
    for rdn in (peercert or {}).get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return value
    return ""


def cn_allowed(peercert, allowed):
    """(ok, cn): the chain was verified by the TLS layer already (CERT_REQUIRED, services CA); this
    only narrows who of that CA may ask. Exact, case-sensitive match: CNs are ours, not user input."""
    cn = peer_cn(peercert)
    return bool(cn) and cn in set(allowed or ()), cn


def redact_status(status):
    """/status without replication error text: Last_IO_Error / Last_SQL_Error can carry host names,
    user names and SQL from the binlog, so callers get only whether there is one (review H4). Event
    "error" fields are cut the same way; the full text stays in the journal."""
    out = copy.deepcopy(status)
    replica = (out.get("state") or {}).get("replica")
    if isinstance(replica, dict):
        for key in ("io_error", "sql_error"):
            if key in replica:
                replica[key] = bool(replica[key])
    for event in out.get("events") or []:
        if isinstance(event, dict) and "error" in event:
            event["error"] = bool(event["error"])
    return out


def agent_ssl_context(cfg):
    """Server context: TLS >= 1.2, a client certificate from the services CA required."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_cert_chain(cfg["agent_cert"], cfg["agent_key"])
    ctx.load_verify_locations(cafile=cfg["agent_ca"])
    return ctx


class AgentServer(socketserver.TCPServer):
    """HTTPS server with bounded concurrency: at most `workers` connections are served at once and
    one more is closed at once (HAProxy retries on its next check), so a flood costs threads and
    sockets up to that bound only. Every connection has a socket timeout per read/write and a
    deadline for handshake + request + answer together, so slow or half-sent requests cannot keep a
    worker. The answers never touch MariaDB (see CheckState), so no request opens a DB connection."""

    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, address, handler, ctx, workers, timeout, allowed_cns):
        self.ctx = ctx
        self.conn_timeout = float(timeout)
        self.allowed_cns = tuple(allowed_cns)
        self.slots = threading.BoundedSemaphore(int(workers))
        self.active = {}
        self.active_lock = threading.Lock()
        self.refusals = {}
        super().__init__(address, handler)
        threading.Thread(target=self.reaper, daemon=True).start()

    def reaper(self):
        """Enforce the per-connection deadline (the socket timeout alone bounds each read, not a
        client that sends one byte just before every timeout)."""
        while True:
            time.sleep(0.5)
            now = time.monotonic()
            with self.active_lock:
                late = [sock for sock, deadline in self.active.items() if deadline < now]
            for sock in late:
                try:
                    # The plain socket's shutdown, not SSLSocket's (which drops the TLS object under
                    # the worker): the worker's next read or write fails, it closes and frees its slot.
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)
                except OSError:
                    pass

    def refused(self, cn, peer):
        """Journal a refused CN, at most once a minute per CN and peer (a flood must not flood the journal)."""
        now = time.monotonic()
        if now - self.refusals.get((cn, peer), float("-inf")) >= 60:
            self.refusals[(cn, peer)] = now
            if len(self.refusals) > 1000:
                self.refusals.clear()
            log("agent client refused: CN not in agent_allowed_cns", cn=cn, peer=peer)

    def process_request(self, request, client_address):
        if not self.slots.acquire(blocking=False):
            self.shutdown_request(request)
            return
        request.settimeout(self.conn_timeout)
        with self.active_lock:
            self.active[request] = time.monotonic() + self.conn_timeout
        threading.Thread(target=self.serve_one, args=(request, client_address), daemon=True).start()

    def serve_one(self, request, client_address):
        conn = request
        try:
            # The handshake runs here, in the worker, so a slow client never blocks accept().
            conn = self.ctx.wrap_socket(request, server_side=True)
            with self.active_lock:
                self.active[conn] = self.active.pop(request, time.monotonic() + self.conn_timeout)
            self.finish_request(conn, client_address)
        except Exception:  # pylint: disable=broad-except
            pass  # refused handshake, unknown CA, timeout, reset: nothing to answer; the slot is freed below
        finally:
            with self.active_lock:
                self.active.pop(request, None)
                self.active.pop(conn, None)
            self.shutdown_request(conn)
            self.slots.release()


def make_handler(manager, checks):
    class Handler(BaseHTTPRequestHandler):
        server_version = "ha-lamp-db-manager"
        protocol_version = "HTTP/1.0"

        def _send(self, code, body, ctype="text/plain"):
            data = body.encode()
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # HAProxy closes a check as soon as it has read the status line

        def do_GET(self):  # noqa: N802 (http.server naming)
            ok, cn = cn_allowed(self.connection.getpeercert(), self.server.allowed_cns)
            if not ok:
                self.server.refused(cn, self.client_address[0])
                self._send(403, "client certificate not allowed\n")
                return
            # Answers come from the cached local state (CheckState, refreshed every 0.2 s): at most
            # WRITER_MAX_AGE (1 s) old for /writer and READER_MAX_AGE (3 s) for /reader and /status;
            # older than that counts as "local server unreachable".
            path = self.path.split("?", 1)[0]
            if path == "/writer":
                writer = manager.decisions(checks.get(WRITER_MAX_AGE))[0]
                self._send(200 if writer[0] else 503, writer[1] + "\n")
            elif path == "/reader":
                reader = manager.decisions(checks.get(READER_MAX_AGE))[1]
                self._send(200 if reader[0] else 503, reader[1] + "\n")
            elif path == "/status":
                body = redact_status(manager.status(checks.get(READER_MAX_AGE)))
                self._send(200, json.dumps(body, default=str, sort_keys=True) + "\n", "application/json")
            else:
                self._send(404, "unknown path; use /writer, /reader or /status\n")

        do_HEAD = do_GET

        def log_message(self, fmt, *args):  # checks every second: keep the journal quiet
            return

    return Handler


# The agent serves HTTPS only: no certificate in the configuration means no start, never plain HTTP.
REQUIRED = ("node", "cluster", "nodes", "server_ids", "etcd_endpoints", "socket", "local_user", "monitor_user",
            "monitor_password", "repl_user", "repl_password", "ttl", "listen", "agent_ca", "agent_cert", "agent_key")
DEFAULTS = {"port": 3306, "http_port": 9200, "max_lag": 10, "tick": 0.25,
            "agent_allowed_cns": ["ha-lamp-haproxy", "ha-lamp-controller"], "agent_workers": 16, "agent_timeout": 3.0,
            "renew_interval": 1.0, "fence_margin": 2.0, "check_window": 2.0, "fail_limit": 3,
            "failover_window": 300, "nofailover": False, "connect_timeout": 1, "read_timeout": 5, "probe_timeout": 1.5,
            "etcd_timeout": 1.0, "fence_timeout": 3.0, "apply_timeout": 60, "switchover_timeout": 5, "claim_backoff": 10,
            "repl_ssl": False, "tls_ca": "", "role_file": "", "heartbeat": 1, "connect_retry": 1, "service": "mariadb",
            "metrics_file": "", "metrics_interval": 2.0}


def load_config(path):
    with open(path, encoding="utf-8") as handle:
        cfg = json.load(handle)
    missing = [k for k in REQUIRED if k not in cfg]
    if missing:
        raise ValueError("missing %s in %s" % (", ".join(missing), path))
    for key, value in DEFAULTS.items():
        cfg.setdefault(key, value)
    return cfg


def main(argv):
    path = argv[1] if len(argv) > 1 else DEFAULT_CONFIG
    try:
        cfg = load_config(path)
    except (OSError, ValueError) as exc:
        sys.stderr.write("ha-lamp-db-manager: bad configuration: %s\n" % exc)
        return 2
    if pymysql is None:
        sys.stderr.write("ha-lamp-db-manager: python3-pymysql is not installed\n")
        return 2
    manager = Manager(cfg)
    for target in (manager.renewer, manager.watchdog, manager.run):
        threading.Thread(target=target, daemon=True).start()
    server = AgentServer((cfg["listen"], int(cfg["http_port"])), make_handler(manager, CheckState(cfg)),
                         agent_ssl_context(cfg), cfg["agent_workers"], cfg["agent_timeout"], cfg["agent_allowed_cns"])
    log("listening", node=cfg["node"], address=cfg["listen"], port=cfg["http_port"], tls=True,
        allowed_cns=cfg["agent_allowed_cns"], ttl=cfg["ttl"])
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
