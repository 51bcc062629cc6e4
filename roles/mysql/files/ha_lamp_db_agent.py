#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""ha-lamp database health agent.

HAProxy asks this agent, over HTTP on :9200, whether the local MariaDB may take writes
(GET /writer) or reads (GET /reader). The answer must never be "yes" on two nodes for
/writer, so the writer check needs three independent facts to agree:

* the server is writable (read_only=OFF),
* it replicates from nobody (no replication source configured at all), and
* the promotion epoch file written by the controller names this node.

A partitioned old primary that comes back writable still fails the third test: only the
controller's promotion playbooks rewrite the epoch file (see promotion-checklist C11).

The agent also watches the semi-sync state of the primary. On a replica it polls the
primary it replicates from, so the observation survives the primary's death: failover.yml
reads it from GET /status and refuses to promote when the primary had fallen back to
asynchronous replication (acknowledged writes could be lost).

All decisions are pure functions (writer_decision, reader_decision, ...) so the unit tests
import this file and test them without a database.
"""

import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

try:
    import pymysql
except ImportError:  # the unit tests import the decision functions without PyMySQL
    pymysql = None

DEFAULT_CONFIG = "/etc/ha-lamp/db-agent.json"


# ---------------------------------------------------------------------------
# Pure decision functions (unit-tested)
# ---------------------------------------------------------------------------

def parse_epoch(text):
    """Parse the epoch file contents. Returns (epoch_dict, error)."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        return None, "epoch file is not JSON: %s" % exc
    if not isinstance(data, dict):
        return None, "epoch file is not a JSON object"
    if not isinstance(data.get("epoch"), int) or isinstance(data.get("epoch"), bool):
        return None, "epoch file has no integer 'epoch'"
    if not isinstance(data.get("primary"), str) or not data["primary"]:
        return None, "epoch file has no 'primary'"
    return data, None


def is_yes(value):
    return str(value or "").strip().lower() == "yes"


def is_on(value):
    return str(value if value is not None else "").strip().upper() in ("ON", "1", "YES", "TRUE")


def writer_decision(state, epoch, node):
    """Decide GET /writer. Returns (ok, reason).

    state: dict from collect_state() or {"error": "..."}; epoch: dict from parse_epoch()
    or {"error": "..."}; node: this node's name (inventory hostname).
    """
    if state.get("error"):
        return False, "database unreachable: %s" % state["error"]
    if is_on(state.get("read_only")):
        return False, "read_only is ON"
    if state.get("replica"):
        return False, "replication source configured (%s)" % state["replica"].get("Master_Host", "?")
    if epoch is None or epoch.get("error"):
        return False, "no valid epoch: %s" % ((epoch or {}).get("error") or "missing")
    if epoch.get("primary") != node:
        return False, "epoch %s names %s, not %s" % (epoch.get("epoch"), epoch.get("primary"), node)
    return True, "writable primary, epoch %s" % epoch.get("epoch")


def reader_decision(state, max_lag):
    """Decide GET /reader. Returns (ok, reason)."""
    if state.get("error"):
        return False, "database unreachable: %s" % state["error"]
    replica = state.get("replica")
    if not replica:
        return False, "not a replica"
    if not is_yes(replica.get("Slave_SQL_Running")):
        return False, "SQL thread not running"
    lag = replica.get("Seconds_Behind_Master")
    if lag is None or lag == "":
        return False, "lag unknown (Seconds_Behind_Master is NULL)"
    try:
        lag = int(lag)
    except (TypeError, ValueError):
        return False, "lag unknown (%r)" % (lag,)
    if lag > max_lag:
        return False, "lag %ss above bound %ss" % (lag, max_lag)
    return True, "replica, lag %ss" % lag


def update_observation(previous, primary, status, now):
    """Fold one observation of a primary's semi-sync state into the running record.

    status: dict of Rpl_semi_sync_master_* status values, or None if the primary could not
    be read. Returns the new record. The record keeps when semi-sync was last seen ON and
    OFF, so failover can tell "had fallen back to async before it died" from "was fine".
    """
    record = dict(previous or {})
    if record.get("primary") != primary:
        record = {"primary": primary}
    if status is None:
        record["last_error_at"] = now
        record.setdefault("unreachable_since", now)
        return record
    record.pop("unreachable_since", None)
    state = "ON" if is_on(status.get("Rpl_semi_sync_master_status")) else "OFF"
    record["status"] = state
    record["clients"] = _int(status.get("Rpl_semi_sync_master_clients"))
    record["no_tx"] = _int(status.get("Rpl_semi_sync_master_no_tx"))
    record["observed_at"] = now
    record["last_on_at" if state == "ON" else "last_off_at"] = now
    return record


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# ---------------------------------------------------------------------------
# Database access
# ---------------------------------------------------------------------------

def connect(cfg, host=None):
    kwargs = dict(user=cfg["user"], password=cfg["password"], connect_timeout=cfg.get("connect_timeout", 1),
                  read_timeout=cfg.get("read_timeout", 2), cursorclass=pymysql.cursors.DictCursor,
                  autocommit=True)
    if host:
        kwargs.update(host=host, port=int(cfg.get("peer_port", 3306)))
    else:
        kwargs.update(unix_socket=cfg.get("socket", "/run/mysqld/mysqld.sock"))
    return pymysql.connect(**kwargs)


def collect_state(cfg):
    """Read what the decisions need from the local server. Never raises."""
    try:
        conn = connect(cfg)
    except Exception as exc:  # pylint: disable=broad-except
        return {"error": str(exc).splitlines()[0][:200]}
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT @@global.read_only AS read_only, @@global.gtid_binlog_pos AS gtid_binlog_pos, "
                        "@@global.gtid_current_pos AS gtid_current_pos, @@global.gtid_slave_pos AS gtid_slave_pos, "
                        "@@global.server_id AS server_id, @@hostname AS hostname")
            state = dict(cur.fetchone())
            cur.execute("SHOW SLAVE STATUS")
            row = cur.fetchone()
            state["replica"] = _replica_summary(row) if row and row.get("Master_Host") else None
            cur.execute("SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_%'")
            state["semisync"] = {r["Variable_name"]: r["Value"] for r in cur.fetchall()}
        state["read_only"] = "ON" if is_on(state["read_only"]) else "OFF"
        return state
    except Exception as exc:  # pylint: disable=broad-except
        return {"error": str(exc).splitlines()[0][:200]}
    finally:
        conn.close()


def _replica_summary(row):
    keys = ("Master_Host", "Master_Port", "Slave_IO_Running", "Slave_SQL_Running", "Seconds_Behind_Master",
            "Gtid_IO_Pos", "Using_Gtid", "Last_IO_Error", "Last_SQL_Error", "Slave_SQL_Running_State")
    return {k: (row.get(k) if not isinstance(row.get(k), bytes) else row[k].decode()) for k in keys}


def read_primary_semisync(cfg, host):
    try:
        conn = connect(cfg, host=host)
    except Exception:  # pylint: disable=broad-except
        return None
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_master_%'")
            return {r["Variable_name"]: r["Value"] for r in cur.fetchall()}
    except Exception:  # pylint: disable=broad-except
        return None
    finally:
        conn.close()


def read_epoch_file(path):
    try:
        with open(path, encoding="utf-8") as handle:
            data, error = parse_epoch(handle.read())
    except OSError as exc:
        return {"error": "cannot read %s: %s" % (path, exc.strerror)}
    return data if data else {"error": error}


# ---------------------------------------------------------------------------
# Semi-sync observer thread
# ---------------------------------------------------------------------------

class Observer(threading.Thread):
    """Polls the semi-sync state of the primary (the local server if it is the primary,
    else the server it replicates from) and persists the record across agent restarts."""

    def __init__(self, cfg):
        super().__init__(daemon=True)
        self.cfg = cfg
        self.lock = threading.Lock()
        self.record = self._load()

    def _load(self):
        try:
            with open(self.cfg["observation_file"], encoding="utf-8") as handle:
                return json.load(handle)
        except (OSError, ValueError):
            return {}

    def snapshot(self):
        with self.lock:
            return dict(self.record)

    def run(self):
        while True:
            try:
                self.poll_once()
            except Exception as exc:  # pylint: disable=broad-except
                sys.stderr.write("observer: %s\n" % exc)
            time.sleep(float(self.cfg.get("observe_interval", 1)))

    def poll_once(self):
        state = collect_state(self.cfg)
        if state.get("error"):
            return
        now = time.time()
        if state.get("replica"):
            primary = state["replica"]["Master_Host"]
            status = read_primary_semisync(self.cfg, primary)
        elif not is_on(state.get("read_only")):
            primary = "local"
            status = {k: v for k, v in state["semisync"].items() if k.startswith("Rpl_semi_sync_master")}
        else:
            return  # read-only node outside the topology: nothing to observe
        with self.lock:
            before = self.record
            self.record = update_observation(before, primary, status, now)
            changed = before.get("status") != self.record.get("status") or before.get("primary") != primary
            record = dict(self.record)
        if changed:
            sys.stderr.write("semi-sync of primary %s observed %s\n" % (primary, record.get("status", "unreadable")))
        self._save(record)

    def _save(self, record):
        path = self.cfg["observation_file"]
        tmp = path + ".tmp"
        try:
            with open(tmp, "w", encoding="utf-8") as handle:
                json.dump(record, handle)
            os.replace(tmp, path)
        except OSError as exc:
            sys.stderr.write("cannot persist observation: %s\n" % exc)


# ---------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------

def make_handler(cfg, observer):
    node = cfg["node"]
    max_lag = int(cfg.get("max_lag", 10))

    class Handler(BaseHTTPRequestHandler):
        server_version = "ha-lamp-db-agent"

        def _send(self, code, body, ctype="text/plain"):
            data = body.encode()
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def do_GET(self):  # noqa: N802 (http.server naming)
            path = self.path.split("?", 1)[0]
            if path == "/writer":
                ok, reason = writer_decision(collect_state(cfg), read_epoch_file(cfg["epoch_file"]), node)
                self._send(200 if ok else 503, reason + "\n")
            elif path == "/reader":
                ok, reason = reader_decision(collect_state(cfg), max_lag)
                self._send(200 if ok else 503, reason + "\n")
            elif path == "/status":
                state = collect_state(cfg)
                epoch = read_epoch_file(cfg["epoch_file"])
                writer = writer_decision(state, epoch, node)
                reader = reader_decision(state, max_lag)
                body = {"node": node, "time": time.time(), "state": state, "epoch": epoch,
                        "writer": {"ok": writer[0], "reason": writer[1]},
                        "reader": {"ok": reader[0], "reason": reader[1]},
                        "semisync_observed": observer.snapshot() if observer else {}}
                self._send(200, json.dumps(body, default=str, sort_keys=True) + "\n", "application/json")
            else:
                self._send(404, "unknown path; use /writer, /reader or /status\n")

        do_HEAD = do_GET

        def log_message(self, fmt, *args):  # health checks every second: keep the journal quiet
            return

    return Handler


def load_config(path):
    with open(path, encoding="utf-8") as handle:
        cfg = json.load(handle)
    for key in ("user", "password", "node", "epoch_file", "observation_file"):
        if key not in cfg:
            raise ValueError("missing %r in %s" % (key, path))
    return cfg


def main(argv):
    path = argv[1] if len(argv) > 1 else DEFAULT_CONFIG
    try:
        cfg = load_config(path)
    except (OSError, ValueError) as exc:
        sys.stderr.write("ha-lamp-db-agent: bad configuration: %s\n" % exc)
        return 2
    if pymysql is None:
        sys.stderr.write("ha-lamp-db-agent: python3-pymysql is not installed\n")
        return 2
    observer = Observer(cfg)
    observer.start()
    server = ThreadingHTTPServer((cfg.get("listen", "0.0.0.0"), int(cfg.get("port", 9200))), make_handler(cfg, observer))
    server.daemon_threads = True
    sys.stderr.write("ha-lamp-db-agent listening on %s:%s for node %s\n"
                     % (cfg.get("listen", "0.0.0.0"), cfg.get("port", 9200), cfg["node"]))
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
