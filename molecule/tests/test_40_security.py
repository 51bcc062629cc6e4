"""Security, seen from a stranger on the lab network and from the cluster itself.

A container that is not a cluster member (the "outsider") joins the lab network: it may reach the
public VIP's 80/443 and nothing else. Its forged VRRP adverts move no VIP. A host that takes over a
stopped database node's address and answers the agent's /writer check gets no writes: HAProxy checks
the agent over mutual TLS, and the impostor holds no certificate of the cluster's CA.
Replication runs over verified TLS. The verify run after the side effects (switchover, failovers and
rejoins of the drill set) is what proves that no promotion path turns it off.
"""
import ipaddress
import json
import os
import subprocess
import textwrap
import time

import pytest

from conftest import labkit, wait_until

RELEASE = os.environ.get("HA_LAMP_LAB_RELEASE", "bookworm")
IMAGE = f"localhost/ha-lamp-debian:{RELEASE}"
PODMAN_ENV = dict(os.environ)

# Probes every target from inside a container in parallel: "open", "refused" or "filtered" (timeout).
PORT_PROBE = textwrap.dedent("""
    import json, socket, sys
    from concurrent.futures import ThreadPoolExecutor
    def probe(target):
        host, port = target
        s = socket.socket()
        s.settimeout(2)
        try:
            s.connect((host, port))
            return "open"
        except ConnectionRefusedError:
            return "refused"
        except OSError:
            return "filtered"
        finally:
            s.close()
    targets = json.loads(sys.argv[1])
    with ThreadPoolExecutor(32) as pool:
        print(json.dumps(list(pool.map(probe, [tuple(t) for t in targets]))))
""")

# Sends VRRP adverts in the cluster's version (priority 254; v2 with the cluster's own pass, v3 with
# the checksum over the IPv4 pseudo-header) for one VRID to one address, `count` times a second
# apart: a neighbour who sniffed one advert could send exactly this.
VRRP_FORGER = textwrap.dedent("""
    import socket, struct, sys, time
    dest, vrid, vip, password, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
    version, source = int(sys.argv[6]), sys.argv[7]
    def checksum(data):
        data += b"\\0" * (len(data) % 2)
        total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
        total = (total >> 16) + (total & 0xFFFF)
        return ~(total + (total >> 16)) & 0xFFFF
    if version == 2:
        body = struct.pack("!BBBBBBH", 0x21, vrid, 254, 1, 1, 1, 0) + socket.inet_aton(vip)
        body += password.encode()[:8].ljust(8, b"\\0")
        summed = body
    else:
        body = struct.pack("!BBBBHH", 0x31, vrid, 254, 1, 100, 0) + socket.inet_aton(vip)
        summed = socket.inet_aton(source) + socket.inet_aton(dest) + struct.pack("!BBH", 0, 112, len(body)) + body
    packet = body[:6] + struct.pack("!H", checksum(summed)) + body[8:]
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 255)
    for _ in range(count):
        s.sendto(packet, (dest, 0))
        time.sleep(1)
""")

# A fake database node: 200 to every HTTP request on the agent port (plain HTTP and, for a TLS
# client hello, a dropped connection), and a listener on the MariaDB port that counts the connections it gets.
IMPOSTOR = textwrap.dedent("""
    import socket, sys, threading
    agent_port, db_port = int(sys.argv[1]), int(sys.argv[2])
    def serve(port, handler):
        srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("0.0.0.0", port)); srv.listen(64)
        while True:
            conn, peer = srv.accept()
            threading.Thread(target=handler, args=(conn, peer[0]), daemon=True).start()
    def agent(conn, _peer):
        try:
            with open("/tmp/impostor-agent-requests", "a") as log:
                log.write("1\\n")
            conn.recv(4096)
            conn.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Length: 9\\r\\nConnection: close\\r\\n\\r\\nwritable\\n")
        finally:
            conn.close()
    def database(conn, peer):
        with open("/tmp/impostor-db-connections", "a") as log:
            log.write(peer + "\\n")
        conn.close()
    threading.Thread(target=serve, args=(db_port, database), daemon=True).start()
    serve(agent_port, agent)
""")


def podman(*args, check=True):
    return subprocess.run(["podman", *args], check=check, capture_output=True, text=True, env=PODMAN_ENV)


def network_of(lab):
    return lab.hostvars[lab.groups["loadbalancers"][0]]["ha_lamp_lab_network"]


def free_address(lab):
    """An address of the lab subnet that no inventory host and no VIP uses."""
    first = lab.groups["loadbalancers"][0]
    subnet = ipaddress.ip_network(lab.hostvars[first]["ha_lamp_lab_subnet"])
    used = {lab.address(h) for h in lab.hostvars} | {v["address"].split("/")[0] for v in lab.hostvars[first]["ha_lamp_vips"]}
    used.add(lab.hostvars[first]["ha_lamp_lab_gateway"])
    return next(str(a) for a in reversed(list(subnet.hosts())) if str(a) not in used)


def start_container(lab, name, address):
    podman("rm", "-f", name, check=False)
    podman("run", "-d", "--rm", "--name", name, "--network", network_of(lab), "--ip", address,
           "--cap-add", "NET_RAW", "--entrypoint", "sleep", IMAGE, "900")


@pytest.fixture(scope="module")
def outsider(lab):
    name = "ha-lamp-outsider"
    start_container(lab, name, free_address(lab))
    yield name
    podman("rm", "-f", name, check=False)


def in_container(name, *argv, timeout=120):
    return subprocess.run(["podman", "exec", name, *argv], capture_output=True, text=True, timeout=timeout,
                          env=PODMAN_ENV, check=False)


def probe_ports(name, targets):
    out = in_container(name, "python3", "-c", PORT_PROBE, json.dumps(targets))
    assert out.returncode == 0, out.stderr
    return dict(zip([f"{h}:{p}" for h, p in targets], json.loads(out.stdout)))


def vips(lab):
    """{purpose: [address, ...]} of the cluster's VIPs."""
    found = {}
    for vip in lab.hostvars[lab.groups["loadbalancers"][0]]["ha_lamp_vips"]:
        found.setdefault(vip.get("purpose", "public"), []).append(vip["address"].split("/")[0])
    return found


def test_an_outsider_reaches_only_the_public_vips_http_and_https(lab, outsider):
    public = vips(lab)["public"]
    stats_port = lab.value(lab.groups["loadbalancers"][0], "ha_lamp_haproxy_stats_port", "haproxy_stats_port")
    allowed = [[vip, port] for vip in public for port in (80, 443)]
    refused = [[vip, port] for vip in vips(lab).get("internal", []) + public for port in (22, 80, 443, lab.db_writer_port, lab.db_reader_port, stats_port)
               if [vip, port] not in allowed]
    for lb in lab.groups["loadbalancers"]:
        refused += [[lab.address(lb), port] for port in (22, 80, 443, lab.db_writer_port, lab.db_reader_port, stats_port)]
    for web in lab.groups["webservers"]:
        refused += [[lab.address(web), port] for port in (22, 80, 443)]
    for db in lab.groups["databases"]:
        db_ports = (22, int(lab.value(db, "ha_lamp_db_port", "mysql_port")),
                    int(lab.value(db, "ha_lamp_db_agent_port", "mysql_agent_port")))
        refused += [[lab.address(db), port] for port in db_ports]
    for member in lab.groups["dcs"]:
        refused += [[lab.address(member), port] for port in (2379, 2380)]
    result = probe_ports(outsider, allowed + refused)
    assert {t: s for t, s in result.items() if [t.rsplit(":", 1)[0], int(t.rsplit(":", 1)[1])] in allowed
            and s != "open"} == {}, "the public VIP's 80/443 must answer"
    reachable = sorted(t for t, s in result.items() if s == "open" and [t.rsplit(":", 1)[0], int(t.rsplit(":", 1)[1])] in refused)
    assert reachable == [], f"an outsider reaches {reachable}"


def vip_holders(lab):
    holders = {}
    for lb in lab.groups["loadbalancers"]:
        out = lab.host(lb).run("ip -o -4 addr show")
        for address in sum(vips(lab).values(), []):
            if f" {address}/" in out.stdout:
                holders.setdefault(address, []).append(lb)
    return holders


def keepalived_vrrp_version(lab, lb):
    """The VRRP version the deployed keepalived speaks, from its own configuration."""
    out = lab.host(lb).run("awk '$1 == \"vrrp_version\" {print $2}' /etc/keepalived/keepalived.conf")
    assert out.rc == 0 and out.stdout.strip() in ("2", "3"), out
    return out.stdout.strip()


def outsider_address(name):
    out = in_container(name, "hostname", "-I")
    assert out.returncode == 0, out.stderr
    return out.stdout.split()[0]


def test_forged_vrrp_adverts_from_an_outsider_move_no_vip(lab, outsider):
    before = vip_holders(lab)
    assert all(len(h) == 1 for h in before.values()) and len(before) == len(sum(vips(lab).values(), [])), before
    lb0 = lab.groups["loadbalancers"][0]
    password = lab.hostvars[lb0].get("ha_lamp_vrrp_auth_pass", "")
    version = keepalived_vrrp_version(lab, lb0)
    source = outsider_address(outsider)
    forgers = []
    for vip in lab.hostvars[lb0]["ha_lamp_vips"]:
        for lb in lab.groups["loadbalancers"]:
            forgers.append(subprocess.Popen(
                ["podman", "exec", outsider, "python3", "-c", VRRP_FORGER, lab.address(lb), str(vip["vrid"]),
                 vip["address"].split("/")[0], password, "6", version, source], env=PODMAN_ENV))
    for forger in forgers:
        assert forger.wait(timeout=60) == 0, "the forger could not send its adverts"
    time.sleep(2)
    assert vip_holders(lab) == before, "a forged advert from a non-peer moved a VIP"


def haproxy_server_states(lab, lb, backend):
    """{server: status} of one backend, from the HAProxy runtime socket on lb."""
    out = lab.host(lb).run(f"echo 'show stat' | socat stdio UNIX-CONNECT:{labkit.HAPROXY_SOCKET}")
    assert out.rc == 0, out.stderr
    header = out.stdout.splitlines()[0].lstrip("# ").split(",")
    states = {}
    for line in out.stdout.splitlines()[1:]:
        row = dict(zip(header, line.split(",")))
        if row.get("pxname") == backend and row.get("svname") not in ("BACKEND", "FRONTEND"):
            states[row["svname"]] = row["status"]
    return states


def the_writer(lab):
    lb = lab.groups["loadbalancers"][0]
    up = [s for s, st in haproxy_server_states(lab, lb, "mysql_writer").items() if st.startswith("UP")]
    assert len(up) == 1, f"writer backend servers UP: {up}"
    return up[0]


@pytest.mark.skipif(RELEASE != "bookworm", reason="the same HAProxy check path; proven once, on Debian 12")
def test_an_impostor_on_a_stopped_replicas_address_gets_no_writes(lab):
    """Stop a replica's container, start a fake node on its address that answers /writer with 200 and listens
    on MariaDB's port: HAProxy must keep it DOWN in the writer backend, and writes through the DB VIP never reach it."""
    writer = the_writer(lab)
    victim = next(db for db in lab.groups["databases"] if db != writer)
    address = lab.address(victim)
    agent_port = int(lab.value(victim, "ha_lamp_db_agent_port", "mysql_agent_port"))
    db_port = int(lab.value(victim, "ha_lamp_db_port", "mysql_port"))
    container = podman("ps", "--filter", f"label=ha_lamp.host={victim}", "--format", "{{.Names}}").stdout.split()[0]
    impostor = "ha-lamp-impostor"
    podman("stop", "-t", "5", container)
    try:
        start_container(lab, impostor, address)
        out = in_container(impostor, "sh", "-c", f"nohup python3 -c '{IMPOSTOR}' {agent_port} {db_port} >/dev/null 2>&1 &")
        assert out.returncode == 0, out.stderr
        # Until every LB has checked the impostor several times (each LB's ARP entry for the address must
        # first go stale and resolve to the impostor), then a few more intervals for `rise` to be met if
        # HAProxy believed it.
        wait_until(lambda: int(in_container(impostor, "sh", "-c", "cat /tmp/impostor-agent-requests 2>/dev/null | wc -l")
                               .stdout.strip() or 0) >= 6 * len(lab.groups["loadbalancers"]),
                   timeout=60, interval=1, message="HAProxy checks reaching the impostor")
        time.sleep(5)
        for lb in lab.groups["loadbalancers"]:
            for backend in ("mysql_writer", "mysql_readers"):
                state = haproxy_server_states(lab, lb, backend).get(victim, "")
                assert not state.startswith("UP"), f"{lb}: {backend} marked the impostor on {address} {state}"
        # Every connection counts but the backup hosts': their binlog archiver knocks on every node's port each
        # second, and stops at TLS, which the impostor cannot complete.
        peers = in_container(impostor, "sh", "-c", "cat /tmp/impostor-db-connections 2>/dev/null").stdout.split()
        archivers = {lab.address(host) for host in lab.groups.get("backup", [])}
        assert [p for p in peers if p not in archivers] == [], "HAProxy opened database connections to the impostor"
    finally:
        podman("rm", "-f", impostor, check=False)
        podman("start", container)
    # The real node comes back as a replica of the same writer.
    wait_until(lambda: haproxy_server_states(lab, lab.groups["loadbalancers"][0], "mysql_readers").get(victim, "")
               .startswith("UP"), timeout=120, interval=2, message=f"{victim} back in the readers backend")
    assert the_writer(lab) == writer


def test_replication_runs_over_verified_tls_on_every_replica(lab):
    writer = the_writer(lab)
    for db in lab.groups["databases"]:
        if db == writer:
            continue
        status = lab.replica_status(db)
        assert status["Slave_IO_Running"] == "Yes", f"{db}: {status.get('Last_IO_Error')}"
        assert status["Master_SSL_Allowed"] == "Yes", f"{db}: replication without TLS"
        assert status["Master_SSL_Verify_Server_Cert"] == "Yes", f"{db}: the primary's certificate is not verified"


def test_no_database_account_is_open_to_every_host_and_admin_is_not_root_equivalent(lab):
    writer = the_writer(lab)
    wildcard = lab.mysql(writer, "SELECT CONCAT(user, '@', host) FROM mysql.user WHERE host = '%'")
    assert wildcard == [], f"accounts open to every host: {wildcard}"
    admin = lab.value(writer, "ha_lamp_db_admin_user", "mysql_admin_user")
    admins = lab.mysql(writer, f"SELECT host FROM mysql.user WHERE user = '{admin}'")
    assert sorted(h[0] for h in admins) == sorted(lab.hostvars[writer]["ha_lamp_controller_addresses"])
    for (host,) in admins:
        grants = " ".join(g[0] for g in lab.mysql(writer, f"SHOW GRANTS FOR '{admin}'@'{host}'"))
        for forbidden in ("ALL PRIVILEGES", " FILE", "CREATE USER", "SHUTDOWN", "WITH GRANT OPTION"):
            assert forbidden not in grants, f"{admin}@{host} has {forbidden.strip()}: {grants}"
        assert "REQUIRE SSL" in grants or "REQUIRE X509" in grants, f"{admin}@{host} may log in without TLS"
