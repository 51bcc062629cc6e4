# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A small client for etcd's v3 JSON API (the gRPC gateway every etcd >= 3.4 serves on its client port).

Why not a library: python3-etcd3 needs gRPC, and python3-etcd3gw 2.0 (Debian 12) sets its timeout
on the requests session, where requests ignores it. The database manager must never hang on a
call, so every request here has a hard timeout and fails over to the next endpoint. The API used
(kv/range, kv/txn, kv/put, kv/deleterange, lease/grant, lease/keepalive, lease/revoke,
maintenance/status, cluster/member/list, add and remove) is etcd's documented gateway API.

Only the standard library is used, so the manager runs with Debian's python3 alone.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json
import socket
import ssl
import threading

try:
    from http.client import HTTPConnection, HTTPException, HTTPSConnection
    from urllib.parse import urlsplit
except ImportError:  # pragma: no cover
    HTTPConnection = HTTPSConnection = urlsplit = None
    HTTPException = OSError


# How a kept-alive connection that the server closed while it was idle fails on its next request (http.client's
# RemoteDisconnected is a ConnectionResetError; over TLS the closed connection can show as an unexpected EOF).
CLOSED_WHILE_IDLE = (ConnectionResetError, BrokenPipeError, ssl.SSLEOFError)


class DcsError(Exception):
    """etcd could not be reached by any endpoint, or refused the request."""


def b64(text):
    if not isinstance(text, bytes):
        text = str(text).encode("utf-8")
    return base64.b64encode(text).decode("ascii")


def unb64(text):
    return base64.b64decode(text or "").decode("utf-8")


def prefix_end(prefix):
    """The range_end that selects every key starting with prefix (etcd's WithPrefix)."""
    raw = bytearray(prefix.encode("utf-8"))
    raw[-1] += 1
    return bytes(raw)


def parse_kv(item):
    """One kvs entry of a range response, decoded. Integers come as strings in JSON."""
    value = unb64(item.get("value", ""))
    try:
        decoded = json.loads(value) if value else None
    except ValueError:
        decoded = value
    return {"key": unb64(item.get("key", "")), "value": decoded, "raw": value,
            "create_revision": int(item.get("create_revision", 0)),
            "mod_revision": int(item.get("mod_revision", 0)),
            "lease": int(item.get("lease", 0))}


def put_op(key, value, lease=0):
    body = {"key": b64(key), "value": b64(value if isinstance(value, str) else json.dumps(value, sort_keys=True))}
    if lease:
        body["lease"] = str(lease)
    return {"request_put": body}


def delete_op(key):
    return {"request_delete_range": {"key": b64(key)}}


def absent(key):
    """Compare: the key does not exist (its create revision is 0)."""
    return {"key": b64(key), "target": "CREATE", "result": "EQUAL", "create_revision": "0"}


def mod_revision_is(key, revision):
    return {"key": b64(key), "target": "MOD", "result": "EQUAL", "mod_revision": str(revision)}


class Etcd:
    """etcd over TLS with client certificates; each call tries the endpoints in turn."""

    def __init__(self, endpoints, ca_file=None, cert_file=None, key_file=None, timeout=1.0):
        if not endpoints:
            raise DcsError("no etcd endpoint configured")
        self.endpoints = list(endpoints)
        self.timeout = float(timeout)
        self.context = None
        if any(e.startswith("https://") for e in self.endpoints):
            # A host without the client certificate (a fresh machine, a wrong path) is an input error to
            # report with the path, not a traceback.
            try:
                self.context = ssl.create_default_context(cafile=ca_file)
                if cert_file:
                    self.context.load_cert_chain(cert_file, key_file)
            except (OSError, ssl.SSLError) as exc:
                raise DcsError("cannot load the etcd client TLS files (ca_file %s, cert_file %s, key_file %s): %s"
                               % (ca_file, cert_file, key_file, exc))
        self.preferred = 0
        self._local = threading.local()

    def _connection(self, endpoint):
        """This thread's connection to the endpoint, opened on its first request and kept alive after it."""
        connections = self._local.__dict__.setdefault("connections", {})
        if endpoint not in connections:
            url = urlsplit(endpoint)
            if url.scheme == "https":
                connections[endpoint] = HTTPSConnection(url.hostname, url.port, timeout=self.timeout,
                                                        context=self.context)
            else:
                connections[endpoint] = HTTPConnection(url.hostname, url.port, timeout=self.timeout)
        return connections[endpoint]

    def _drop(self, endpoint):
        connection = self._local.__dict__.get("connections", {}).pop(endpoint, None)
        if connection is not None:
            connection.close()

    def post(self, endpoint, path, payload):
        """One POST: (status, body bytes). http.client directly, not urllib: the manager must reach etcd
        itself, never through an http(s)_proxy from its environment, and every step (connect, TLS handshake
        with the client certificate, read) is bounded by the timeout.

        The connection is kept alive for the next call (one per endpoint and thread: the manager's main
        loop and its lease renewer call at once), so that the manager's five calls a second do not each
        cost a TLS handshake with a client certificate, on its side and on etcd's. A kept-alive connection
        that etcd closed while it was idle fails at once on its next request (closed, reset, broken pipe),
        before etcd could read it: that request goes once more on a new connection. Any other failure
        drops the connection."""
        url_path = urlsplit(endpoint).path.rstrip("/") + path
        connection = self._connection(endpoint)
        reused = connection.sock is not None
        try:
            return self._post_once(connection, url_path, payload)
        except CLOSED_WHILE_IDLE:
            self._drop(endpoint)
            if not reused:
                raise
        except Exception:
            self._drop(endpoint)
            raise
        try:
            return self._post_once(self._connection(endpoint), url_path, payload)
        except Exception:
            self._drop(endpoint)
            raise

    @staticmethod
    def _post_once(connection, url_path, payload):
        connection.request("POST", url_path, body=payload, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, response.read()

    def call(self, path, body):
        errors = []
        count = len(self.endpoints)
        for offset in range(count):
            index = (self.preferred + offset) % count
            endpoint = self.endpoints[index]
            try:
                status, raw = self.post(endpoint, "/v3/" + path, json.dumps(body).encode("utf-8"))
                if status >= 400:
                    errors.append("%s: HTTP %s %s" % (endpoint, status, raw.decode("utf-8", "replace")[:200]))
                    continue
                data = json.loads(raw.decode("utf-8") or "{}")
            except (HTTPException, OSError, socket.timeout, ValueError) as exc:
                errors.append("%s: %s" % (endpoint, getattr(exc, "reason", exc)))
                continue
            self.preferred = index
            return data
        raise DcsError("etcd unreachable: " + "; ".join(errors))

    # -- key-value -----------------------------------------------------------------------
    def get_prefix(self, prefix):
        """{key: parsed kv} for every key under prefix, plus the store revision under None."""
        data = self.call("kv/range", {"key": b64(prefix), "range_end": b64(prefix_end(prefix))})
        items = {}
        for item in data.get("kvs", []):
            kv = parse_kv(item)
            items[kv["key"]] = kv
        items[None] = int(data.get("header", {}).get("revision", 0))
        return items

    def put(self, key, value, lease=0):
        self.call("kv/put", put_op(key, value, lease)["request_put"])

    def delete(self, key):
        self.call("kv/deleterange", {"key": b64(key)})

    def txn(self, compare, success, failure=None):
        """One etcd transaction; True when every compare held and `success` was applied."""
        data = self.call("kv/txn", {"compare": compare, "success": success, "failure": failure or []})
        # proto3 JSON leaves out false booleans.
        return bool(data.get("succeeded", False))

    # -- leases --------------------------------------------------------------------------
    def grant(self, ttl):
        data = self.call("lease/grant", {"TTL": str(int(ttl)), "ID": "0"})
        if data.get("error"):
            raise DcsError("lease grant refused: %s" % data["error"])
        return int(data["ID"])

    def keepalive(self, lease):
        """Renew a lease; returns the TTL etcd granted, 0 when the lease no longer exists."""
        data = self.call("lease/keepalive", {"ID": str(lease)})
        return int((data.get("result") or {}).get("TTL", 0))

    def revoke(self, lease):
        self.call("lease/revoke", {"ID": str(lease)})

    # -- leadership ----------------------------------------------------------------------
    def move_leader_off(self, endpoint):
        """If the etcd member at `endpoint` is the raft leader, hand leadership to another healthy
        member. Returns the new leader's endpoint, or None when nothing was moved."""
        status = self.member_status()
        here = status.get(endpoint) or {}
        if here.get("error") or not here.get("member_id") or here.get("leader") != here.get("member_id"):
            return None
        for other, st in sorted(status.items()):
            if other != endpoint and not st.get("error") and st.get("member_id"):
                single = Etcd([endpoint], timeout=self.timeout * 3)
                single.context = self.context
                single.call("maintenance/transfer-leadership", {"targetID": st["member_id"]})
                return other
        return None

    # -- membership ----------------------------------------------------------------------
    def member_list(self):
        """Every member: ID (a string: 64-bit integers come as strings), name ("" until it has
        started), peerURLs, clientURLs."""
        data = self.call("cluster/member/list", {})
        return [{"ID": str(m.get("ID", "")), "name": m.get("name", ""), "peerURLs": m.get("peerURLs") or [],
                 "clientURLs": m.get("clientURLs") or []} for m in data.get("members", [])]

    def member_add(self, peer_url):
        """Adds an unstarted member; returns the member list after the change."""
        self.call("cluster/member/add", {"peerURLs": [peer_url]})
        return self.member_list()

    def member_remove(self, member_id):
        self.call("cluster/member/remove", {"ID": str(member_id)})

    def answering(self, members):
        """IDs of the started members whose own client URLs answer a status request."""
        ids = set()
        for member in members:
            urls = member.get("clientURLs") or []
            if not member.get("name") or not urls:
                continue
            single = Etcd(urls, timeout=self.timeout)
            single.context = self.context
            try:
                data = single.call("maintenance/status", {})
            except DcsError:
                continue
            if str(data.get("header", {}).get("member_id", "")) == member["ID"]:
                ids.add(member["ID"])
        return ids

    # -- health --------------------------------------------------------------------------
    def member_status(self):
        """Status of every endpoint on its own: {endpoint: {...} or {"error": ...}}."""
        result = {}
        for endpoint in self.endpoints:
            single = Etcd([endpoint], timeout=self.timeout)
            single.context = self.context
            try:
                data = single.call("maintenance/status", {})
                header = data.get("header", {})
                result[endpoint] = {"version": data.get("version"), "leader": str(data.get("leader", "")),
                                    "member_id": str(header.get("member_id", "")),
                                    "raft_term": int(data.get("raftTerm", 0) or 0)}
            except DcsError as exc:
                result[endpoint] = {"error": str(exc)[:200]}
        return result
