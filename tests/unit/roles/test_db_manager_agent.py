# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests for the database manager's HTTPS agent (roles/mysql/files/ha_lamp_db_manager.py):
the client CN allowlist, the /status redaction, and one end-to-end mTLS round trip on 127.0.0.1
with throw-away certificates (no MariaDB, no etcd)."""

import datetime
import importlib.util
import json
import os
import socket
import ssl
import sys
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
os.environ.setdefault("HA_LAMP_LIB", os.path.join(ROOT, ".collections"))
sys.path.insert(0, os.path.join(ROOT, ".collections"))

_SPEC = importlib.util.spec_from_file_location(
    "ha_lamp_db_manager", os.path.join(ROOT, "roles", "mysql", "files", "ha_lamp_db_manager.py"))
mgr = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(mgr)

ALLOWED = ("ha-lamp-haproxy", "ha-lamp-controller")


def cert_dict(cn=None, org="ha_lamp"):
    subject = [(("organizationName", org),)]
    if cn is not None:
        subject.append((("commonName", cn),))
    return {"subject": tuple(subject)}


@pytest.mark.parametrize("peercert,ok,cn", [
    (cert_dict("ha-lamp-haproxy"), True, "ha-lamp-haproxy"),
    (cert_dict("ha-lamp-controller"), True, "ha-lamp-controller"),
    (cert_dict("ha-lamp-agent"), False, "ha-lamp-agent"),        # another node's server cert
    (cert_dict("HA-LAMP-HAPROXY"), False, "HA-LAMP-HAPROXY"),    # exact match only
    (cert_dict("ha-lamp-haproxy.evil"), False, "ha-lamp-haproxy.evil"),
    (cert_dict(None), False, ""),
    ({}, False, ""),
    (None, False, ""),
])
def test_cn_allowlist(peercert, ok, cn):
    assert mgr.cn_allowed(peercert, ALLOWED) == (ok, cn)


def test_empty_allowlist_refuses_everyone():
    assert mgr.cn_allowed(cert_dict("ha-lamp-haproxy"), []) == (False, "ha-lamp-haproxy")


def test_redact_status_replaces_replication_error_text():
    status = {"node": "db2", "state": {"read_only": "ON", "replica": {
        "master_host": "10.0.0.31", "io_running": "No", "sql_running": "Yes",
        "io_error": "error connecting to master 'ha_lamp_repl@10.0.0.31:3306' - retry-time: 1",
        "sql_error": ""}},
        "events": [{"event": "rejoin_failed", "error": "Access denied for user 'x'@'y'"}, {"event": "lead"}],
        "writer": {"ok": False, "reason": "replica"}}
    out = mgr.redact_status(status)
    assert out["state"]["replica"]["io_error"] is True
    assert out["state"]["replica"]["sql_error"] is False
    assert out["events"][0]["error"] is True and "error" not in out["events"][1]
    assert "ha_lamp_repl" not in json.dumps(out) and "Access denied" not in json.dumps(out)
    # the caller's dict (the manager's live view) is not modified
    assert status["state"]["replica"]["io_error"].startswith("error connecting")


@pytest.mark.parametrize("status", [{"state": {"error": "not read yet"}}, {"state": {"replica": None}}, {}])
def test_redact_status_without_replica(status):
    assert mgr.redact_status(status) == status


def test_config_requires_tls(tmp_path):
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps({k: "x" for k in mgr.REQUIRED if k not in ("agent_cert",)}))
    with pytest.raises(ValueError, match="agent_cert"):
        mgr.load_config(str(path))


# --- end to end: a real TLS server on 127.0.0.1 ------------------------------------------------------

def _issue(cn, ca=None, server=False):
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    import ipaddress

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(name)
               .issuer_name(ca[1].subject if ca else name).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
               .not_valid_after(now + datetime.timedelta(days=1)))
    # Key identifiers as community.crypto's ownca provider writes them: Python 3.13's default client context
    # (VERIFY_X509_STRICT) refuses a CA-issued certificate without an Authority Key Identifier.
    builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    if ca is not None:
        builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca[0].public_key()),
                                        critical=False)
    if ca is None:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        builder = builder.add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False),
                                        critical=True)
    else:
        builder = builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        if server:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
    cert = builder.sign(ca[0] if ca else key, hashes.SHA256())
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return key, cert, key_pem, cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pki")
    ca = _issue("ha-lamp services CA")
    rogue_ca = _issue("rogue CA")
    files = {"ca": tmp / "ca.crt"}
    files["ca"].write_bytes(ca[3])
    for label, cn, issuer, server in (("agent", "ha-lamp-agent", ca, True), ("haproxy", "ha-lamp-haproxy", ca, False),
                                      ("other", "ha-lamp-web", ca, False), ("rogue", "ha-lamp-haproxy", rogue_ca, False)):
        key_pem, cert_pem = _issue(cn, (issuer[0], issuer[1]), server=server)[2:]
        (tmp / (label + ".key")).write_bytes(key_pem)
        (tmp / (label + ".crt")).write_bytes(cert_pem)
        files[label] = (str(tmp / (label + ".crt")), str(tmp / (label + ".key")))
    return files


class FakeManager:
    def decisions(self, _local):
        return (True, "primary"), (False, "primary")

    def status(self, _local):
        return {"node": "db1", "state": {"replica": {"io_error": "secret text", "sql_error": ""}}}


class FakeChecks:
    def get(self, _max_age):
        return {}


@pytest.fixture()
def agent(pki):
    import threading
    cfg = {"agent_ca": str(pki["ca"]), "agent_cert": pki["agent"][0], "agent_key": pki["agent"][1]}
    server = mgr.AgentServer(("127.0.0.1", 0), mgr.make_handler(FakeManager(), FakeChecks()),
                             mgr.agent_ssl_context(cfg), 2, 1.0, ALLOWED)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _get(port, path, client):
    import http.client
    ctx = ssl.create_default_context(cafile=client["ca"])
    if client.get("cert"):
        ctx.load_cert_chain(*client["cert"])
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=3)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    finally:
        conn.close()


def test_allowed_client_gets_answers(agent, pki):
    client = {"ca": str(pki["ca"]), "cert": pki["haproxy"]}
    assert _get(agent, "/writer", client) == (200, "primary\n")
    assert _get(agent, "/reader", client)[0] == 503
    status, body = _get(agent, "/status", client)
    assert status == 200 and json.loads(body)["state"]["replica"] == {"io_error": True, "sql_error": False}


def test_ca_client_with_other_cn_gets_403(agent, pki):
    assert _get(agent, "/writer", {"ca": str(pki["ca"]), "cert": pki["other"]})[0] == 403


@pytest.mark.parametrize("cert", [None, "rogue"])
def test_client_without_a_services_ca_certificate_is_refused(agent, pki, cert):
    client = {"ca": str(pki["ca"]), "cert": pki[cert] if cert else None}
    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        _get(agent, "/writer", client)


def test_idle_connections_are_bounded_and_time_out(agent, pki):
    # Two workers: two idle (no handshake) connections take both; a third is closed at once.
    idle = [socket.create_connection(("127.0.0.1", agent), timeout=3) for _worker in range(2)]
    time.sleep(0.2)
    extra = socket.create_connection(("127.0.0.1", agent), timeout=3)
    assert extra.recv(1) == b""
    extra.close()
    # The deadline (1 s here) frees the workers: a real client is served again.
    time.sleep(2.0)
    assert _get(agent, "/writer", {"ca": str(pki["ca"]), "cert": pki["haproxy"]})[0] == 200
    for sock in idle:
        sock.close()
