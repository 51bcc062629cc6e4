"""A writer gap fails fast: with no mysql_writer server UP, HAProxy refuses a new connection to the writer port
at once (tcp-request connection reject, counted as a denied connection) instead of queueing it, so a PHP page's
own connect fails in milliseconds instead of hanging. The gap is made with the runtime API (every writer server
in maintenance on every load balancer) and undone whatever happens."""
import socket
import time

from conftest import labkit

SOCKET = labkit.HAPROXY_SOCKET


def runtime(lab, lb, command):
    cmd = lab.host(lb).run(f"echo '{command}' | socat stdio UNIX-CONNECT:{SOCKET}")
    assert cmd.rc == 0, f"{lb}: {command}: {cmd.stderr}"
    return cmd.stdout


def stat_rows(lab, lb):
    """HAProxy's `show stat` on this load balancer, one dict per proxy or server line."""
    stat = runtime(lab, lb, "show stat").splitlines()
    header = stat[0].lstrip("# ").split(",")
    return [dict(zip(header, line.split(","))) for line in stat[1:] if line]


def denied_connections(lab, lb):
    """The writer frontend's dcon counter (connections refused by tcp-request connection rules)."""
    for row in stat_rows(lab, lb):
        if row.get("pxname") == "ft_mysql_writer" and row.get("svname") == "FRONTEND":
            return int(row["dcon"] or 0)
    raise AssertionError(f"{lb}: no ft_mysql_writer frontend in show stat")


def writers_up(lab, lb):
    """The mysql_writer servers this load balancer reports UP."""
    return sorted(row["svname"] for row in stat_rows(lab, lb) if row.get("pxname") == "mysql_writer"
                  and row.get("svname") not in ("FRONTEND", "BACKEND") and row.get("status") == "UP")


def first_bytes(address, port):
    """What the server sends first: MariaDB's greeting, or b'' when the connection is closed or reset (HAProxy's
    reject can arrive while connect() is still returning). A timeout raises: that is the queueing we forbid."""
    try:
        with socket.create_connection((address, port), timeout=5) as conn:
            conn.settimeout(5)
            return conn.recv(64)
    except (ConnectionResetError, ConnectionRefusedError):
        return b""


def test_the_writer_port_refuses_at_once_when_no_writer_is_up(lab):
    lbs, dbs = lab.groups["loadbalancers"], lab.groups["databases"]
    assert first_bytes(lab.db_vip, lab.db_writer_port), "the writer port sent no greeting before the gap"
    before = {lb: denied_connections(lab, lb) for lb in lbs}
    try:
        for lb in lbs:
            for db in dbs:
                runtime(lab, lb, f"set server mysql_writer/{db} state maint")
        assert first_bytes(lab.db_vip, lab.db_writer_port) == b"", "a connection during the writer gap got a greeting"
        after = {lb: denied_connections(lab, lb) for lb in lbs}
        # Refused by the reject rule, not queued until timeout queue (which would leave dcon alone). The web
        # nodes' health checks' TCP probes of the writer port are refused too, so the count may rise by more than one.
        assert sum(after.values()) > sum(before.values()), (before, after)
    finally:
        for lb in lbs:
            for db in dbs:
                runtime(lab, lb, f"set server mysql_writer/{db} state ready")
    # Out of maintenance, the servers take their checks' state again: wait until every load balancer has exactly
    # one writer UP, as before the gap (a replica still UP there would take the next test's write).
    deadline = time.monotonic() + 30
    while True:
        writers = {lb: writers_up(lab, lb) for lb in lbs}
        if all(len(up) == 1 for up in writers.values()) and first_bytes(lab.db_vip, lab.db_writer_port):
            break
        assert time.monotonic() < deadline, \
            f"the writer backends did not come back to one UP server within 30 s of the gap: {writers}"
        time.sleep(0.5)
