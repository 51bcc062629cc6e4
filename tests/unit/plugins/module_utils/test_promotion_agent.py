"""Cluster.agent_status: the GET /status the mysql_promotion module sends to each database manager.

It goes through ansible.module_utils.urls (the replace-urlopen sanity test); these tests pin what it did
with urllib before: the JSON body on success, {"error": ...} on any failure, the timeout honoured, no
credentials added. They also check that promotion.py still imports without Ansible, as the database
manager on the DB nodes imports it.

    .venv/bin/python -m pytest -q tests/unit/plugins/module_utils/test_promotion_agent.py
"""

import json
import os
import socket
import subprocess
import sys
import threading
import time
import types
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.onprem.ha_lamp.plugins.module_utils import promotion as pr

# The folder holding ansible_collections/, wherever the collection was imported from (.collections in the
# checkout, ansible-test's own tree under ansible-test units).
COLLECTIONS = os.path.abspath(os.path.join(os.path.dirname(pr.__file__), *[".."] * 5))


class StatusHandler(BaseHTTPRequestHandler):
    """Answers /status with a fixed body (or stalls), and records the request headers."""

    def do_GET(self):  # noqa: N802 (BaseHTTPRequestHandler's name)
        self.server.seen.append({"path": self.path, "headers": dict(self.headers)})
        if self.server.stall_s:
            time.sleep(self.server.stall_s)
        body = json.dumps({"role": "primary", "epoch": {"epoch": 7, "primary": "db1"}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # pylint: disable=arguments-differ
        """Keep the test output quiet."""


@pytest.fixture(name="agent")
def agent_fixture():
    server = ThreadingHTTPServer(("127.0.0.1", 0), StatusHandler)
    server.seen, server.stall_s = [], 0
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def cluster_for(port):
    """The attributes agent_status reads, without PyMySQL connections (Cluster() needs PyMySQL)."""
    return types.SimpleNamespace(agent_ssl=None, agent_port=port, nodes={"db1": "127.0.0.1"})


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_agent_status_returns_the_json_body(agent):
    status = pr.Cluster.agent_status(cluster_for(agent.server_address[1]), "db1")
    assert status == {"role": "primary", "epoch": {"epoch": 7, "primary": "db1"}}
    assert agent.seen[0]["path"] == "/status"


def test_agent_status_sends_no_credentials(agent, tmp_path, monkeypatch):
    # A ~/.netrc entry for the agent's address must not turn into an Authorization header.
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine 127.0.0.1 login someone password secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("HOME", str(tmp_path))
    pr.Cluster.agent_status(cluster_for(agent.server_address[1]), "db1")
    assert "Authorization" not in agent.seen[0]["headers"]


def test_agent_status_reports_a_refused_connection():
    status = pr.Cluster.agent_status(cluster_for(free_port()), "db1", timeout=1)
    assert set(status) == {"error"} and status["error"]


def test_agent_status_gives_up_at_the_timeout(agent):
    agent.stall_s = 2
    started = time.monotonic()
    status = pr.Cluster.agent_status(cluster_for(agent.server_address[1]), "db1", timeout=0.3)
    assert "error" in status
    assert time.monotonic() - started < 1.5


def test_promotion_imports_without_ansible():
    # The database manager runs promotion.py with Debian's python3 alone (no ansible package).
    code = ("import sys\n"
            "class NoAnsible:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name == 'ansible' or name.startswith('ansible.'):\n"
            "            raise ImportError('no ansible here')\n"
            "sys.meta_path.insert(0, NoAnsible())\n"
            "sys.path.insert(0, %r)\n"
            "from ansible_collections.onprem.ha_lamp.plugins.module_utils import promotion\n"
            "assert promotion.Request is None\n" % COLLECTIONS)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
