# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests for module_utils/dcs.py (the etcd JSON-gateway client).

The HTTP tests run a tiny http.server on 127.0.0.1 that answers like etcd's gateway (base64 keys
and values, 64-bit integers as strings); nothing outside this process is contacted.
"""

import base64
import json
import os
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, ".collections"))

from ansible_collections.onprem.ha_lamp.plugins.module_utils import dcs  # noqa: E402


def enc(text):
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


# --- encoding helpers -----------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["", "/ha-lamp/c1/db/leader", '{"node": "db1"}', "é ü ✓", "a\nb"])
def test_b64_round_trip(text):
    assert dcs.unb64(dcs.b64(text)) == text
    assert dcs.b64(text) == enc(text)


def test_b64_accepts_bytes_and_non_strings():
    assert dcs.b64(b"/a0") == "L2Ew"
    assert dcs.b64(42) == enc("42")


@pytest.mark.parametrize("value", [None, ""])
def test_unb64_empty(value):
    assert dcs.unb64(value) == ""


@pytest.mark.parametrize("prefix,end", [
    ("/a/", b"/a0"),
    ("/ha-lamp/c1/db/", b"/ha-lamp/c1/db0"),
    ("/ha-lamp/c1/db/members/", b"/ha-lamp/c1/db/members0"),
    ("a", b"b"),
    ("é", "é".encode("utf-8")[:-1] + bytes([0xa9 + 1])),
])
def test_prefix_end(prefix, end):
    assert dcs.prefix_end(prefix) == end


def test_prefix_end_selects_exactly_the_prefix():
    start, end = b"/ha-lamp/c1/db/", dcs.prefix_end("/ha-lamp/c1/db/")
    for key, inside in [(b"/ha-lamp/c1/db/leader", True), (b"/ha-lamp/c1/db/", True),
                        (b"/ha-lamp/c1/db/members/db2", True), (b"/ha-lamp/c1/db", False),
                        (b"/ha-lamp/c1/dc/", False), (b"/ha-lamp/c1/db0", False), (b"/ha-lamp/c10/db/", False)]:
        assert (start <= key < end) is inside, key


def test_parse_kv_json_value_and_string_integers():
    item = {"key": enc("/p/leader"), "value": enc('{"node": "db1"}'), "create_revision": "7",
            "mod_revision": "9", "version": "3", "lease": "7587869011227367012"}
    assert dcs.parse_kv(item) == {"key": "/p/leader", "value": {"node": "db1"}, "raw": '{"node": "db1"}',
                                  "create_revision": 7, "mod_revision": 9, "lease": 7587869011227367012}


def test_parse_kv_non_json_value():
    kv = dcs.parse_kv({"key": enc("/p/x"), "value": enc("not json {"), "mod_revision": 4})
    assert kv == {"key": "/p/x", "value": "not json {", "raw": "not json {", "create_revision": 0,
                  "mod_revision": 4, "lease": 0}


@pytest.mark.parametrize("raw,value", [("42", 42), ("[1, 2]", [1, 2]), ("null", None), ('"db1"', "db1")])
def test_parse_kv_other_json_values(raw, value):
    assert dcs.parse_kv({"key": enc("/k"), "value": enc(raw)})["value"] == value


def test_parse_kv_missing_fields():
    # proto3 JSON leaves out empty values and zero integers
    assert dcs.parse_kv({}) == {"key": "", "value": None, "raw": "", "create_revision": 0, "mod_revision": 0,
                                "lease": 0}
    assert dcs.parse_kv({"key": enc("/k")}) == {"key": "/k", "value": None, "raw": "", "create_revision": 0,
                                                "mod_revision": 0, "lease": 0}


def test_put_op_without_lease():
    assert dcs.put_op("/p/sync", {"nodes": ["db2"], "leader": "db1"}) == {
        "request_put": {"key": enc("/p/sync"), "value": enc('{"leader": "db1", "nodes": ["db2"]}')}}


def test_put_op_with_lease():
    assert dcs.put_op("/p/leader", {"node": "db1"}, lease=7587869011227367012) == {
        "request_put": {"key": enc("/p/leader"), "value": enc('{"node": "db1"}'), "lease": "7587869011227367012"}}


def test_put_op_string_value_is_stored_as_is():
    assert dcs.put_op("/p/k", "plain")["request_put"]["value"] == enc("plain")
    assert dcs.put_op("/p/k", 5)["request_put"]["value"] == enc("5")


def test_delete_op():
    assert dcs.delete_op("/p/force_failover") == {"request_delete_range": {"key": enc("/p/force_failover")}}


def test_absent():
    assert dcs.absent("/p/leader") == {"key": enc("/p/leader"), "target": "CREATE", "result": "EQUAL",
                                       "create_revision": "0"}


def test_mod_revision_is():
    assert dcs.mod_revision_is("/p/members/db2", 12) == {"key": enc("/p/members/db2"), "target": "MOD",
                                                         "result": "EQUAL", "mod_revision": "12"}


# --- Etcd: configuration and unreachable endpoints ------------------------------------------------

@pytest.mark.parametrize("endpoints", [[], None, ()])
def test_etcd_without_endpoint(endpoints):
    with pytest.raises(dcs.DcsError) as err:
        dcs.Etcd(endpoints)
    assert str(err.value) == "no etcd endpoint configured"


def test_etcd_plain_http_has_no_tls_context():
    client = dcs.Etcd(["http://127.0.0.1:2379"], timeout="0.5")
    assert client.context is None and client.timeout == 0.5 and client.preferred == 0


def test_etcd_missing_ca_file_names_the_files(tmp_path):
    missing = str(tmp_path / "ca.crt")
    with pytest.raises(dcs.DcsError) as err:
        dcs.Etcd(["https://127.0.0.1:2379"], missing, "/x/admin.crt", "/x/admin.key")
    assert str(err.value) == ("cannot load the etcd client TLS files (ca_file %s, cert_file /x/admin.crt, "
                              "key_file /x/admin.key): [Errno 2] No such file or directory" % missing)


def test_etcd_missing_client_certificate_names_the_files(tmp_path):
    # A fresh machine: the CA bundle is readable (the system's), the client certificate not there yet.
    cert, key = str(tmp_path / "admin.crt"), str(tmp_path / "admin.key")
    with pytest.raises(dcs.DcsError) as err:
        dcs.Etcd(["https://127.0.0.1:2379"], None, cert, key)
    assert str(err.value) == ("cannot load the etcd client TLS files (ca_file None, cert_file %s, key_file %s): "
                              "[Errno 2] No such file or directory" % (cert, key))


def test_etcd_unreadable_client_certificate_names_the_files(tmp_path):
    cert = tmp_path / "admin.crt"
    cert.write_text("not a certificate\n")
    with pytest.raises(dcs.DcsError) as err:
        dcs.Etcd(["https://127.0.0.1:2379"], None, str(cert), str(cert))
    assert str(err.value).startswith("cannot load the etcd client TLS files (ca_file None, cert_file %s, key_file %s): "
                                     % (cert, cert))


def closed_port():
    """A port on 127.0.0.1 with nothing listening (bound, then released)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def test_call_names_every_endpoint_tried():
    endpoints = ["http://127.0.0.1:9", "http://127.0.0.1:%d" % closed_port()]
    client = dcs.Etcd(endpoints, timeout=1.0)
    with pytest.raises(dcs.DcsError) as err:
        client.call("kv/range", {"key": dcs.b64("/x")})
    message = str(err.value)
    assert message.startswith("etcd unreachable: ")
    for endpoint in endpoints:
        assert endpoint + ": " in message
    assert message.count("; ") == 1
    assert client.preferred == 0


def test_call_times_out_instead_of_hanging():
    # a server that accepts connections but never answers
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    endpoint = "http://127.0.0.1:%d" % listener.getsockname()[1]
    try:
        client = dcs.Etcd([endpoint], timeout=0.3)
        started = time.monotonic()
        with pytest.raises(dcs.DcsError) as err:
            client.get_prefix("/p/")
        assert time.monotonic() - started < 5
        assert str(err.value).startswith("etcd unreachable: %s: " % endpoint)
        # and the timed-out connection is not kept for the next call
        assert client._local.connections == {}  # pylint: disable=protected-access
    finally:
        listener.close()


# --- Etcd over real HTTP --------------------------------------------------------------------------

RANGE_RESPONSE = {
    "header": {"cluster_id": "14841639068965178418", "member_id": "10276657743932975437",
               "revision": "42", "raft_term": "3"},
    "kvs": [
        {"key": enc("/p/leader"), "create_revision": "40", "mod_revision": "40", "version": "1",
         "value": enc('{"node": "db1"}'), "lease": "7587869011227367012"},
        {"key": enc("/p/members/db2"), "create_revision": "12", "mod_revision": "41", "version": "5",
         "value": enc('{"node": "db2", "role": "replica"}'), "lease": "7587869011227367013"},
        {"key": enc("/p/pause"), "create_revision": "30", "mod_revision": "30", "version": "1",
         "value": enc("yes")},
    ],
    "count": "3",
}


class FakeEtcd:
    """A canned etcd gateway: responses[path] is (status, body) or a dict served with 200."""

    def __init__(self, responses):
        self.responses = responses
        self.requests = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server naming)
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length).decode("utf-8")
                fake.requests.append((self.path, json.loads(body), self.headers.get("Content-Type")))
                answer = fake.responses.get(self.path, (404, '{"error": "Not Found", "code": 5}'))
                status, payload = answer if isinstance(answer, tuple) else (200, answer)
                data = (payload if isinstance(payload, str) else json.dumps(payload)).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, fmt, *args):
                pass

        self.server = self.make_server(Handler)
        self.endpoint = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02},
                                       daemon=True)

    def make_server(self, handler):
        return HTTPServer(("127.0.0.1", 0), handler)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def test_get_prefix_decodes_the_gateway_response():
    with FakeEtcd({"/v3/kv/range": RANGE_RESPONSE}) as fake:
        client = dcs.Etcd([fake.endpoint], timeout=2)
        items = client.get_prefix("/p/")
    assert items[None] == 42
    assert set(items) == {None, "/p/leader", "/p/members/db2", "/p/pause"}
    assert items["/p/leader"] == {"key": "/p/leader", "value": {"node": "db1"}, "raw": '{"node": "db1"}',
                                  "create_revision": 40, "mod_revision": 40, "lease": 7587869011227367012}
    assert items["/p/members/db2"]["value"] == {"node": "db2", "role": "replica"}
    assert items["/p/members/db2"]["mod_revision"] == 41
    assert items["/p/pause"]["value"] == "yes" and items["/p/pause"]["lease"] == 0
    path, body, ctype = fake.requests[0]
    assert path == "/v3/kv/range" and ctype == "application/json"
    assert body == {"key": enc("/p/"), "range_end": enc("/p0")}


def test_get_prefix_empty_range():
    # an empty range: no "kvs" at all, revision still in the header
    with FakeEtcd({"/v3/kv/range": {"header": {"revision": "7"}}}) as fake:
        items = dcs.Etcd([fake.endpoint]).get_prefix("/p/")
    assert items == {None: 7}


def test_failover_to_the_second_endpoint_and_prefer_it():
    refused = "http://127.0.0.1:%d" % closed_port()
    with FakeEtcd({"/v3/kv/range": RANGE_RESPONSE}) as fake:
        client = dcs.Etcd([refused, fake.endpoint], timeout=2)
        assert client.get_prefix("/p/")[None] == 42
        assert client.preferred == 1
        # the next call starts with the endpoint that answered
        assert client.get_prefix("/p/")[None] == 42
        assert client.preferred == 1
    assert len(fake.requests) == 2


def test_preferred_endpoint_moves_back_when_it_fails():
    with FakeEtcd({"/v3/kv/range": RANGE_RESPONSE}) as first, FakeEtcd({"/v3/kv/range": RANGE_RESPONSE}) as second:
        client = dcs.Etcd([first.endpoint, second.endpoint], timeout=2)
        client.preferred = 1
        client.get_prefix("/p/")
        assert client.preferred == 1 and len(second.requests) == 1 and not first.requests
    # both servers are gone now: the error lists the preferred endpoint first
    with pytest.raises(dcs.DcsError) as err:
        client.get_prefix("/p/")
    message = str(err.value)
    assert message.index(second.endpoint) < message.index(first.endpoint)


def test_http_error_is_reported_with_status_and_detail():
    with FakeEtcd({"/v3/kv/put": (400, '{"error": "etcdserver: requested lease not found", "code": 5}')}) as fake:
        client = dcs.Etcd([fake.endpoint], timeout=2)
        with pytest.raises(dcs.DcsError) as err:
            client.put("/p/members/db2", {"node": "db2"}, lease=5)
    assert str(err.value) == ('etcd unreachable: %s: HTTP 400 {"error": "etcdserver: requested lease not found", '
                              '"code": 5}' % fake.endpoint)
    assert fake.requests[0][1] == {"key": enc("/p/members/db2"), "value": enc('{"node": "db2"}'), "lease": "5"}


def test_http_error_then_next_endpoint():
    with FakeEtcd({"/v3/kv/range": (503, "unavailable")}) as bad, FakeEtcd({"/v3/kv/range": RANGE_RESPONSE}) as good:
        client = dcs.Etcd([bad.endpoint, good.endpoint], timeout=2)
        assert client.get_prefix("/p/")[None] == 42
        assert client.preferred == 1 and len(bad.requests) == 1


def test_invalid_json_response_is_an_error():
    with FakeEtcd({"/v3/kv/range": "<html>proxy</html>"}) as fake:
        with pytest.raises(dcs.DcsError) as err:
            dcs.Etcd([fake.endpoint], timeout=2).get_prefix("/p/")
    assert str(err.value).startswith("etcd unreachable: %s: " % fake.endpoint)


@pytest.mark.parametrize("response,expected", [
    ({"header": {"revision": "43"}}, False),          # proto3 JSON leaves out "succeeded": false
    ({"header": {"revision": "43"}, "succeeded": False}, False),
    ({"header": {"revision": "43"}, "succeeded": True, "responses": [{"response_put": {}}]}, True),
])
def test_txn(response, expected):
    compare = [dcs.absent("/p/leader")]
    success = [dcs.put_op("/p/leader", {"node": "db2"}, lease=9)]
    with FakeEtcd({"/v3/kv/txn": response}) as fake:
        assert dcs.Etcd([fake.endpoint], timeout=2).txn(compare, success) is expected
    assert fake.requests[0][1] == {"compare": compare, "success": success, "failure": []}


def test_delete_sends_the_key():
    with FakeEtcd({"/v3/kv/deleterange": {"header": {}}}) as fake:
        dcs.Etcd([fake.endpoint], timeout=2).delete("/p/pause")
    assert fake.requests == [("/v3/kv/deleterange", {"key": enc("/p/pause")}, "application/json")]


def test_lease_grant_keepalive_revoke():
    responses = {"/v3/lease/grant": {"header": {}, "ID": "7587869011227367012", "TTL": "10"},
                 "/v3/lease/keepalive": {"result": {"header": {}, "ID": "7587869011227367012", "TTL": "10"}},
                 "/v3/lease/revoke": {"header": {}}}
    with FakeEtcd(responses) as fake:
        client = dcs.Etcd([fake.endpoint], timeout=2)
        lease = client.grant(10.7)
        assert lease == 7587869011227367012
        assert client.keepalive(lease) == 10
        client.revoke(lease)
    assert [(p, b) for p, b, _content_type in fake.requests] == [
        ("/v3/lease/grant", {"TTL": "10", "ID": "0"}),
        ("/v3/lease/keepalive", {"ID": "7587869011227367012"}),
        ("/v3/lease/revoke", {"ID": "7587869011227367012"})]


@pytest.mark.parametrize("response", [{"result": {"ID": "5"}}, {"result": {"ID": "5", "TTL": "0"}}, {}])
def test_keepalive_of_an_expired_lease_is_zero(response):
    with FakeEtcd({"/v3/lease/keepalive": response}) as fake:
        assert dcs.Etcd([fake.endpoint], timeout=2).keepalive(5) == 0


def test_lease_grant_refused():
    with FakeEtcd({"/v3/lease/grant": {"error": "etcdserver: too many requests"}}) as fake:
        with pytest.raises(dcs.DcsError) as err:
            dcs.Etcd([fake.endpoint], timeout=2).grant(10)
    assert str(err.value) == "lease grant refused: etcdserver: too many requests"


def test_member_status_per_endpoint():
    status = {"header": {"cluster_id": "1", "member_id": "10276657743932975437", "revision": "42"},
              "version": "3.5.9", "dbSize": "20480", "leader": "10276657743932975437", "raftTerm": "4"}
    refused = "http://127.0.0.1:%d" % closed_port()
    with FakeEtcd({"/v3/maintenance/status": status}) as fake:
        result = dcs.Etcd([fake.endpoint, refused], timeout=2).member_status()
    assert result[fake.endpoint] == {"version": "3.5.9", "leader": "10276657743932975437",
                                     "member_id": "10276657743932975437", "raft_term": 4}
    assert set(result[refused]) == {"error"}
    assert result[refused]["error"].startswith("etcd unreachable: %s: " % refused)


# --- malformed responses --------------------------------------------------------------------------

class RawServer:
    """Answers every connection with fixed bytes, then closes: a truncated body or a non-HTTP service."""

    def __init__(self, reply):
        self.reply = reply
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(5)
        self.endpoint = "http://127.0.0.1:%d" % self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while True:
            try:
                conn = self.listener.accept()[0]
            except OSError:
                return
            try:
                conn.settimeout(2)
                conn.recv(65536)
                conn.sendall(self.reply)
            except OSError:
                pass
            finally:
                conn.close()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.listener.close()


MALFORMED = [
    b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"kvs"',  # cut short
    b"SSH-2.0-OpenSSH_9.2\r\n",                                                                  # not HTTP
]


@pytest.mark.parametrize("reply", MALFORMED, ids=["truncated-body", "bad-status-line"])
def test_malformed_response_is_a_dcs_error(reply):
    with RawServer(reply) as raw:
        with pytest.raises(dcs.DcsError) as err:
            dcs.Etcd([raw.endpoint], timeout=2).get_prefix("/p/")
    assert str(err.value).startswith("etcd unreachable: %s: " % raw.endpoint)


@pytest.mark.parametrize("reply", MALFORMED, ids=["truncated-body", "bad-status-line"])
def test_malformed_response_fails_over_to_the_next_endpoint(reply):
    with RawServer(reply) as raw, FakeEtcd({"/v3/kv/range": RANGE_RESPONSE}) as good:
        client = dcs.Etcd([raw.endpoint, good.endpoint], timeout=2)
        assert client.get_prefix("/p/")[None] == 42
        assert client.preferred == 1


# --- membership -----------------------------------------------------------------------------------

MEMBER_LIST = {"header": {"member_id": "11"}, "members": [
    {"ID": "11", "name": "db1", "peerURLs": ["https://10.0.0.31:2380"], "clientURLs": ["https://10.0.0.31:2379"]},
    # an added member that has not started: no name, no client URLs (proto3 JSON leaves them out)
    {"ID": "14", "peerURLs": ["https://10.0.0.34:2380"]},
]}


def test_member_list_normalises_unstarted_members():
    with FakeEtcd({"/v3/cluster/member/list": MEMBER_LIST}) as fake:
        members = dcs.Etcd([fake.endpoint], timeout=2).member_list()
    assert members == [
        {"ID": "11", "name": "db1", "peerURLs": ["https://10.0.0.31:2380"], "clientURLs": ["https://10.0.0.31:2379"]},
        {"ID": "14", "name": "", "peerURLs": ["https://10.0.0.34:2380"], "clientURLs": []}]
    assert fake.requests[0][:2] == ("/v3/cluster/member/list", {})


def test_member_add_and_remove_send_the_gateway_bodies():
    with FakeEtcd({"/v3/cluster/member/add": {"member": {"ID": "14"}}, "/v3/cluster/member/list": MEMBER_LIST,
                   "/v3/cluster/member/remove": {"header": {}}}) as fake:
        client = dcs.Etcd([fake.endpoint], timeout=2)
        assert [m["ID"] for m in client.member_add("https://10.0.0.34:2380")] == ["11", "14"]
        client.member_remove(14)
    assert [r[:2] for r in fake.requests] == [
        ("/v3/cluster/member/add", {"peerURLs": ["https://10.0.0.34:2380"]}),
        ("/v3/cluster/member/list", {}),
        ("/v3/cluster/member/remove", {"ID": "14"})]


def test_answering_asks_each_started_member_its_own_id():
    with FakeEtcd({"/v3/maintenance/status": {"header": {"member_id": "11"}}}) as up, \
            FakeEtcd({"/v3/maintenance/status": {"header": {"member_id": "99"}}}) as other:
        members = [{"ID": "11", "name": "db1", "clientURLs": [up.endpoint]},
                   # answers, but as another member: not counted
                   {"ID": "12", "name": "db2", "clientURLs": [other.endpoint]},
                   {"ID": "13", "name": "db3", "clientURLs": ["http://127.0.0.1:%d" % closed_port()]},
                   {"ID": "14", "name": "", "clientURLs": []}]
        assert dcs.Etcd([up.endpoint], timeout=1).answering(members) == {"11"}


# --- kept-alive connections -----------------------------------------------------------------------

class KeepAliveEtcd(FakeEtcd):
    """FakeEtcd over HTTP/1.1 (connections kept alive, one thread each), counting the connections it
    accepted; with close_after_each, it closes every connection after its response without saying so, as a
    server closes an idle connection."""

    def __init__(self, responses, close_after_each=False):
        self.connections = 0
        self.close_after_each = close_after_each
        # Connections the server has closed after their one response (close_after_each).
        self.closed = threading.Semaphore(0)
        super().__init__(responses)

    def make_server(self, handler):
        fake = self

        class KeepAliveHandler(handler):
            protocol_version = "HTTP/1.1"

            def handle(self):
                fake.connections += 1
                if fake.close_after_each:
                    self.handle_one_request()
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    fake.closed.release()
                else:
                    super().handle()

        server = ThreadingHTTPServer(("127.0.0.1", 0), KeepAliveHandler)
        server.daemon_threads, server.block_on_close = True, False  # kept-alive clients never hang up
        return server


def test_calls_reuse_one_connection():
    with KeepAliveEtcd({"/v3/kv/range": RANGE_RESPONSE}) as fake:
        client = dcs.Etcd([fake.endpoint], timeout=2)
        for _round in range(5):
            assert client.get_prefix("/p/")[None] == 42
    assert fake.connections == 1 and len(fake.requests) == 5


def test_a_connection_closed_while_idle_is_reopened_on_the_same_endpoint():
    with KeepAliveEtcd({"/v3/kv/range": RANGE_RESPONSE}, close_after_each=True) as fake:
        client = dcs.Etcd([fake.endpoint], timeout=2)
        for _round in range(3):
            assert client.get_prefix("/p/")[None] == 42
            # the server has closed the connection before the next call
            assert fake.closed.acquire(timeout=5)
    assert fake.connections == 3 and len(fake.requests) == 3
    assert client.preferred == 0


def test_a_connection_that_failed_is_not_used_again():
    with KeepAliveEtcd({"/v3/kv/range": "<html>proxy</html>"}) as fake:
        client = dcs.Etcd([fake.endpoint], timeout=2)
        with pytest.raises(dcs.DcsError):
            client.get_prefix("/p/")
        assert fake.connections == 1
        fake.responses["/v3/kv/range"] = (503, "unavailable")
        with pytest.raises(dcs.DcsError) as err:
            client.get_prefix("/p/")
    # an answer that is not JSON is read in full, so its connection stays usable; an HTTP error too
    assert str(err.value) == "etcd unreachable: %s: HTTP 503 unavailable" % fake.endpoint
    assert fake.connections == 1


def test_each_thread_has_its_own_connection():
    with KeepAliveEtcd({"/v3/kv/range": RANGE_RESPONSE}) as fake:
        client = dcs.Etcd([fake.endpoint], timeout=2)
        client.get_prefix("/p/")
        other = threading.Thread(target=client.get_prefix, args=("/p/",))
        other.start()
        other.join(5)
        client.get_prefix("/p/")
    assert fake.connections == 2 and len(fake.requests) == 3
