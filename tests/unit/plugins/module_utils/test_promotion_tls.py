# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Replication TLS in every CHANGE MASTER (issue 13, review M1): the statement builder, the Cluster
repoint the database managers and rejoin use, and the YAML paths of the mysql role."""

import os
import re
import sys

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, ".collections"))

from ansible_collections.onprem.ha_lamp.plugins.module_utils import promotion as pr  # noqa: E402

CA = "/etc/mysql/pki/ca.crt"
TLS_CLAUSE = "MASTER_SSL=%s, MASTER_SSL_CA=%s, MASTER_SSL_VERIFY_SERVER_CERT=%s"


# --- the statement ---------------------------------------------------------------------------------

def test_statement_with_tls_verifies_the_source():
    sql, args = pr.change_master_statement("10.0.0.32", 3306, "repl", "pw", 1, 1, ssl_ca=CA)
    assert sql == ("CHANGE MASTER TO MASTER_HOST=%s, MASTER_PORT=%s, MASTER_USER=%s, MASTER_PASSWORD=%s, "
                   "MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=%s, MASTER_HEARTBEAT_PERIOD=%s, " + TLS_CLAUSE)
    assert args == ("10.0.0.32", 3306, "repl", "pw", 1, 1, 1, CA, 1)


@pytest.mark.parametrize("ssl_ca", [None, ""])
def test_statement_without_tls_clears_every_tls_setting(ssl_ca):
    sql, args = pr.change_master_statement("10.0.0.32", "3306", "repl", "pw", "2", "1", ssl_ca=ssl_ca)
    assert sql.endswith(TLS_CLAUSE)
    assert args == ("10.0.0.32", 3306, "repl", "pw", 2, 1, 0, "", 0)


def test_statement_demote_keeps_tls():
    sql, args = pr.change_master_statement("10.0.0.32", 3306, "repl", "pw", 1, 1, ssl_ca=CA, demote=True)
    assert sql.endswith(TLS_CLAUSE + ", MASTER_DEMOTE_TO_SLAVE=1")
    assert args[-3:] == (1, CA, 1)


# --- the Cluster repoint (database managers: switchover, failover; mysql_promotion: rejoin) -----------

class RecordingCluster(pr.Cluster):
    """Cluster whose queries are recorded instead of sent; @@ssl_ca answers from `server_ca`."""

    def __init__(self, server_ca="", **kwargs):
        if pr.pymysql is None:  # pragma: no cover
            pytest.skip("PyMySQL not installed")
        super().__init__({"db1": "10.0.0.31", "db2": "10.0.0.32"}, "admin", "pw", repl_user="repl",
                         repl_password="rpw", **kwargs)
        self.server_ca, self.sent = server_ca, []

    def query(self, node, sql, args=None):
        self.sent.append((node, sql, args))
        if "@@global.ssl_ca" in sql:
            return [{"ca": self.server_ca}]
        return []


def change_masters(cluster):
    return [(node, args) for node, sql, args in cluster.sent if sql.startswith("CHANGE MASTER")]


def test_make_replica_with_tls_uses_the_replicas_own_ca():
    cluster = RecordingCluster(server_ca=CA, repl_ssl=True)
    cluster.make_replica("db1", "db2", demote=True)
    [(node, args)] = change_masters(cluster)
    assert node == "db1"
    assert args == ("10.0.0.32", 3306, "repl", "rpw", 1, 1, 1, CA, 1)
    assert "MASTER_SSL=1, MASTER_SSL_CA='%s', MASTER_SSL_VERIFY_SERVER_CERT=1" % CA in cluster.log[-2]["step"]


def test_make_replica_with_a_configured_ca_path_does_not_ask_the_server():
    cluster = RecordingCluster(repl_ssl=True, repl_ssl_ca="/srv/ca.pem")
    cluster.make_replica("db1", "db2")
    assert not [s for _node, s, _args in cluster.sent if "@@global.ssl_ca" in s]
    assert change_masters(cluster)[0][1][-3:] == (1, "/srv/ca.pem", 1)


def test_make_replica_refuses_tls_without_a_server_ca():
    cluster = RecordingCluster(server_ca="", repl_ssl=True)
    with pytest.raises(pr.PromotionError) as err:
        cluster.make_replica("db1", "db2")
    assert "db1 has no ssl_ca configured" in str(err.value)
    assert not change_masters(cluster)


def test_make_replica_without_tls():
    cluster = RecordingCluster(repl_ssl=False)
    cluster.make_replica("db1", "db2")
    assert change_masters(cluster)[0][1][-3:] == (0, "", 0)


def test_manager_config_turns_tls_on():
    """The database manager builds its Cluster from db-manager.json: repl_ssl + tls_ca."""
    cluster = RecordingCluster(repl_ssl=True, repl_ssl_ca=CA)
    assert cluster.replica_ssl_ca("db1") == CA


# --- survey ----------------------------------------------------------------------------------------

def test_replicas_without_tls():
    survey = {
        "db1": {"replica": None},
        "db2": {"replica": {"ssl": "Yes", "ssl_verify": "Yes"}},
        "db3": {"replica": {"ssl": "Yes", "ssl_verify": "No"}},
        "db4": {"replica": {"ssl": "No", "ssl_verify": "No"}},
        "db5": {"error": "unreachable"},
    }
    assert pr.replicas_without_tls(survey) == ["db3", "db4"]


# --- TLS context -----------------------------------------------------------------------------------

def test_tls_context_none_without_ca():
    assert pr.tls_context(None) is None
    assert pr.tls_context("") is None


def test_tls_context_verifies_host_names(tmp_path):
    cryptography = pytest.importorskip("cryptography")  # noqa: F841
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    import datetime
    import ssl
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "test CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    path = tmp_path / "ca.crt"
    path.write_text(pem)
    for ca in (str(path), pem):
        ctx = pr.tls_context(ca)
        assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
        assert ctx.minimum_version >= ssl.TLSVersion.TLSv1_2


# --- the role's YAML paths -------------------------------------------------------------------------

def _yaml_change_masters():
    found = []
    for rel in ("roles/mysql/tasks/replication.yml", "roles/mysql/tasks/reseed.yml"):
        text = open(os.path.join(ROOT, rel), encoding="utf-8").read()
        for match in re.finditer(r"CHANGE MASTER TO[^\n]*(?:\n[ ]+MASTER_[^\n]*)*", text):
            found.append((rel, " ".join(match.group(0).split())))
    return found


def test_every_yaml_change_master_sets_tls_and_verification():
    found = _yaml_change_masters()
    assert len(found) == 2
    for rel, statement in found:
        assert re.search(r"MASTER_SSL=%(\(ssl\))?s", statement), rel
        assert re.search(r"MASTER_SSL_CA=%(\(ssl_ca\))?s", statement), rel
        assert re.search(r"MASTER_SSL_VERIFY_SERVER_CERT=%(\(ssl\))?s", statement), rel


def test_yaml_tls_arguments_follow_mysql_tls_enabled():
    replication = yaml.safe_load(open(os.path.join(ROOT, "roles/mysql/tasks/replication.yml"), encoding="utf-8"))
    args = replication[0]["community.mysql.mysql_query"]["positional_args"]
    assert args[-3:] == ["{{ mysql_tls_enabled | bool | int }}",
                         "{{ (mysql_tls_dir ~ '/ca.crt') if mysql_tls_enabled | bool else '' }}",
                         "{{ mysql_tls_enabled | bool | int }}"]


def test_the_old_replication_ssl_switch_is_gone():
    """mysql_replication_ssl was silently reset by every promotion (M1): one TLS switch only."""
    for base in ("roles", "plugins", "playbooks"):
        for dirpath, _dirs, files in os.walk(os.path.join(ROOT, base)):
            for name in files:
                if name.endswith((".yml", ".j2", ".py")):
                    with open(os.path.join(dirpath, name), encoding="utf-8") as handle:
                        assert "mysql_replication_ssl" not in handle.read(), os.path.join(dirpath, name)
