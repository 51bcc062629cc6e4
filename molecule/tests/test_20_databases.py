"""Database tier, seen from outside: one writable primary, semi-sync ON, replicas applying its GTIDs."""
import json
import uuid

import pymysql

from conftest import agent_context, agent_get, http_get, wait_until


def agent(lab, db, check):
    status = agent_get(lab, db, f"/{check}")[0]
    return status


def test_the_agent_answers_only_https_with_an_allowed_client_certificate(lab):
    """Review H4: plain HTTP and TLS without a client certificate get no answer; /status carries no
    replication error text; the agent listens on the node's own address, not on every address."""
    for db in lab.groups["databases"]:
        port = int(lab.value(db, "ha_lamp_db_agent_port", "mysql_agent_port"))
        assert http_get(f"http://{lab.address(db)}:{port}/writer")[0] is None, f"{db}: plain HTTP answered"
        assert agent_get(lab, db, "/writer", context=agent_context(lab, client_cert=False))[0] is None, \
            f"{db}: TLS without a client certificate answered"
        status, body = agent_get(lab, db, "/status")
        assert status == 200, f"{db}: /status answered {status}"
        replica = json.loads(body)["state"].get("replica") or {}
        assert all(isinstance(replica.get(k, False), bool) for k in ("io_error", "sql_error")), replica
        listen = lab.host(db).run("ss -Htln sport = :%s", str(port)).stdout.split()
        assert f"{lab.address(db)}:{port}" in listen and f"0.0.0.0:{port}" not in listen, listen


def the_primary(lab):
    writers = [db for db in lab.groups["databases"] if agent(lab, db, "writer") == 200]
    assert len(writers) == 1, f"databases passing the writer check: {writers}"
    return writers[0]


def test_exactly_one_database_passes_the_writer_check(lab):
    the_primary(lab)


def test_every_replica_passes_the_reader_check(lab):
    primary = the_primary(lab)
    for db in lab.groups["databases"]:
        if db != primary:
            assert wait_until(lambda: agent(lab, db, "reader") == 200, timeout=20, message=f"{db} reader check")


def test_primary_is_writable_and_replicas_read_only(lab):
    primary = the_primary(lab)
    for db in lab.groups["databases"]:
        read_only = lab.mysql(db, "SELECT @@global.read_only")[0][0]
        assert read_only == ("0" if db == primary else "1"), f"{db}: read_only={read_only}"


def test_semi_sync_is_on_with_every_replica_acknowledging(lab):
    primary = the_primary(lab)
    status = wait_until(lambda: (s := lab.status_vars(primary, "Rpl_semi_sync_master_%"))
                        and s["Rpl_semi_sync_master_status"] == "ON" and s or None,
                        timeout=20, message="semi-sync master status ON")
    replicas = len(lab.groups["databases"]) - 1
    assert int(status["Rpl_semi_sync_master_clients"]) == replicas
    assert lab.mysql(primary, "SELECT @@global.rpl_semi_sync_master_wait_point")[0][0] == "AFTER_SYNC"


def test_replicas_run_both_threads_from_the_primary(lab):
    primary = the_primary(lab)
    for db in lab.groups["databases"]:
        if db == primary:
            continue
        status = lab.replica_status(db)
        assert status["Slave_IO_Running"] == "Yes", f"{db}: {status.get('Last_IO_Error')}"
        assert status["Slave_SQL_Running"] == "Yes", f"{db}: {status.get('Last_SQL_Error')}"
        assert status["Master_Host"] == lab.address(primary)
        assert status["Using_Gtid"] == "Slave_Pos"


def test_a_write_through_the_vip_reaches_every_replica(lab):
    """Write through HAProxy's writer port, then find the row, and the primary's GTID, on every replica."""
    primary = the_primary(lab)
    marker = uuid.uuid4().hex
    schema = lab.value(primary, "ha_lamp_db_app_database", "mysql_app_database")
    lab.mysql(primary, f"CREATE TABLE IF NOT EXISTS {schema}.verify_marks (mark CHAR(32) PRIMARY KEY)")
    # Through the database VIP with the application account, as an application would.
    conn = pymysql.connect(host=lab.db_vip, port=lab.db_writer_port, user=lab.value(primary, "ha_lamp_db_app_user", "mysql_app_user"),
                           database=schema,
                           password=lab.hostvars[primary]["ha_lamp_db_app_password"], connect_timeout=5, autocommit=True)
    with conn, conn.cursor() as cur:
        cur.execute("INSERT INTO verify_marks VALUES (%s)", (marker,))
        cur.execute("SELECT @@hostname")
        assert cur.fetchone()[0] == primary, "the VIP's writer port reached another node than the primary"
    gtid = lab.mysql(primary, "SELECT @@global.gtid_binlog_pos")[0][0]
    for db in lab.groups["databases"]:
        if db == primary:
            continue
        wait_until(lambda: lab.mysql(db, f"SELECT COUNT(*) FROM {schema}.verify_marks WHERE mark='{marker}'")[0][0] == "1",
                   timeout=15, message=f"row {marker} on {db}")
        assert lab.mysql(db, "SELECT @@global.gtid_slave_pos")[0][0] == gtid
