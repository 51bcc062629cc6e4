# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests for the pure decisions in module_utils/promotion.py."""

import os
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, ".collections"))

from ansible_collections.onprem.ha_lamp.plugins.module_utils import promotion as pr  # noqa: E402


# --- current leader (the managers' /status 'epoch') -----------------------------------------------

def test_newest_epoch():
    assert pr.newest_epoch([None, {"epoch": 2, "primary": "db2"}, {"epoch": 5, "primary": "db3"}, {"x": 1},
                            {"error": "no leader in etcd"}]) == {"epoch": 5, "primary": "db3"}
    with pytest.raises(pr.PromotionError) as err:
        pr.newest_epoch([None, {"error": "no leader in etcd"}, {"epoch": 0, "primary": None}])
    assert str(err.value) == ("no database manager reports a leader in etcd (/status 'epoch'): "
                              "check playbooks/db_status.yml")


# --- rejoin (C3, C10) ----------------------------------------------------------------------------------

def test_rejoin_contained():
    assert pr.rejoin_verdict("db1", "0-1-100", "db2", "0-1-100,0-2-120") == (True, "db1's transactions are all on db2")


def test_rejoin_errant_tail_refused_with_reseed_command():
    ok, reason = pr.rejoin_verdict("db1", "0-1-105", "db2", "0-1-100,0-2-120")
    assert ok is False
    assert reason == ("db1 holds transactions the primary db2 lacks (0-1-105; primary has 0-1-100,0-2-120). "
                      "Replicating would fail (gtid_strict_mode) or silently diverge. Reseed it from a healthy "
                      "replica: ansible-playbook playbooks/rejoin.yml -e ha_lamp_rejoin_reseed=db1")


def test_rejoin_local_write_on_a_replica_is_errant():
    ok, reason = pr.rejoin_verdict("db3", "0-1-100,0-3-1", "db2", "0-1-100,0-2-120")
    assert ok is False and "(0-3-1;" in reason


# --- reseed donor --------------------------------------------------------------------------------------

@pytest.mark.parametrize("version,expected", [
    ("10.11.18-MariaDB-0+deb12u1-log", "10.11"), ("11.8.6-MariaDB-0+deb13u1 from Debian-log", "11.8"), ("", ""), (None, "")])
def test_series(version, expected):
    assert pr.series(version) == expected


def test_choose_donor_prefers_same_series_replica_then_primary():
    versions = {"db1": "10.11", "db2": "10.11", "db3": "11.8"}
    assert pr.choose_donor("db1", versions, ["db3", "db2"], "db2") == "db2"
    assert pr.choose_donor("db1", versions, ["db3"], "db2") == "db2"
    assert pr.choose_donor("db3", versions, ["db2"], "db1") == ""
    assert pr.choose_donor("db2", {"db1": "10.11", "db2": "10.11", "db4": "10.11"}, ["db4"], "db1") == "db4"


def test_a_controller_without_pymysql_gets_the_install_hint(monkeypatch):
    monkeypatch.setattr(pr, "pymysql", None)
    with pytest.raises(pr.PromotionError) as raised:
        pr.Cluster({"db1": "10.0.0.31"}, "admin", "secret")
    assert str(raised.value) == (
        "PyMySQL is required on the host running mysql_promotion (the controller): "
        "pip install -r requirements.txt of the collection, or apt-get install python3-pymysql")


# --- connections to the peers ---------------------------------------------------------------------------

class FakeConnection:
    """A PyMySQL connection's ping: reconnects as PyMySQL does, or fails as a down server does."""

    def __init__(self, ping_error=None):
        self.ping_error, self.pings, self.closed = ping_error, [], False

    def ping(self, reconnect=True):
        self.pings.append(reconnect)
        if self.ping_error:
            raise self.ping_error

    def close(self):
        self.closed = True


class ConnectLog(list):
    """The hosts pymysql.connect() was called for; .queue holds the connections it returns, in order."""

    def __init__(self):
        super().__init__()
        self.queue = []


@pytest.fixture(name="connects")
def fixture_connects(monkeypatch):
    made = ConnectLog()

    class FakePyMySQL:
        cursors = pr.pymysql.cursors

        @staticmethod
        def connect(**kwargs):
            made.append(kwargs["host"])
            return made.queue.pop(0)

    monkeypatch.setattr(pr, "pymysql", FakePyMySQL)
    return made


def idle(cluster, node):
    """As if the node's connection had last been used longer ago than PING_AFTER_IDLE_S."""
    cluster.conn_used[node] -= pr.PING_AFTER_IDLE_S + 1


def test_a_cached_connection_is_pinged_with_reconnect_when_it_was_idle(connects):
    cluster = pr.Cluster({"db1": "10.0.0.1"}, "manager", "pw")
    first = FakeConnection()
    connects.queue.append(first)
    assert cluster.conn("db1") is first and first.pings == []
    # Used again at once (the manager's own reads, several a second): no ping.
    assert cluster.conn("db1") is first and first.pings == []
    # Idle for a while: the peer may have restarted; PyMySQL's ping(reconnect=True) reconnects the same object.
    idle(cluster, "db1")
    assert cluster.conn("db1") is first and first.pings == [True]
    assert cluster.conn("db1") is first and first.pings == [True]
    assert connects == ["10.0.0.1"]


def test_a_peer_that_stays_down_raises_and_the_next_call_connects_afresh(connects):
    cluster = pr.Cluster({"db2": "10.0.0.2"}, "manager", "pw")
    down = FakeConnection(ping_error=OSError("(2003, \"Can't connect to MySQL server on '10.0.0.2'\")"))
    fresh = FakeConnection()
    connects.queue.extend([down, fresh])
    cluster.conn("db2")
    idle(cluster, "db2")
    with pytest.raises(OSError) as err:
        cluster.conn("db2")
    assert str(err.value) == "(2003, \"Can't connect to MySQL server on '10.0.0.2'\")"
    assert down.closed and "db2" not in cluster.conns
    assert cluster.conn("db2") is fresh and connects == ["10.0.0.2", "10.0.0.2"]
