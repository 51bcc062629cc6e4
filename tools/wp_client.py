#!/usr/bin/env python
# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Drive a WordPress site of the HA LAMP cluster the way a user does, and check what each web node serves.

Standard library only (urllib + http.cookiejar), so it runs with the controller's ansible-playbook
Python. It prints one JSON document and exits 0 when every check passed, 1 otherwise.

    WP_ADMIN_PASSWORD=... tools/wp_client.py proof --site http://10.213.77.100 \\
        --node web1=http://10.213.77.21 --node web2=http://10.213.77.22

``proof``: installs the site through the VIP if it is not installed yet (POST
/wp-admin/install.php?step=2), logs in, creates a post through the REST API (cookie + nonce),
uploads a generated PNG through /wp/v2/media, then GETs the image and the post from every node
directly: each must answer 200, the image byte for byte as uploaded, the post with its title.
``--no-post`` skips the post (the storage proof only needs upload + read).

The admin password comes from the environment (WP_ADMIN_PASSWORD), never from argv.
"""

import argparse
import hashlib
import http.cookiejar
import json
import os
import struct
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib

USER_AGENT = "ha-lamp-wp-client/1"


def make_png(width=64, height=48, seed=0):
    """A small RGB PNG (gradient; the seed changes the pixels, so every upload is a new file)."""
    rows = []
    for y in range(height):
        row = bytearray([0])  # filter type 0 for the scanline
        for x in range(width):
            row += bytes(((x * 4 + seed) % 256, (y * 5 + seed // 256) % 256, (x * y + seed) % 256))
        rows.append(bytes(row))

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"".join(rows), 9)) + chunk(b"IEND", b""))


class NoRedirect(urllib.request.HTTPRedirectHandler):
    """Report 3xx as they are: a login answers 302, and following it would hide that."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


class Client:
    def __init__(self, site, timeout=30.0):
        self.site = site.rstrip("/")
        self.timeout = timeout
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), NoRedirect)

    def request(self, method, url, data=None, headers=None, opener=None):
        """Returns (status, headers, body bytes, seconds); HTTP errors are answers, not exceptions."""
        if not url.startswith("http"):
            url = self.site + url
        req = urllib.request.Request(url, data=data, method=method,
                                     headers={"User-Agent": USER_AGENT, **(headers or {})})
        started = time.monotonic()
        try:
            with (opener or self.opener).open(req, timeout=self.timeout) as resp:
                body = resp.read()
                return resp.status, resp.headers, body, time.monotonic() - started
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers, exc.read(), time.monotonic() - started

    def form(self, url, fields):
        return self.request("POST", url, urllib.parse.urlencode(fields).encode(),
                            {"Content-Type": "application/x-www-form-urlencoded"})

    def installed(self):
        status, _headers, body, _seconds = self.request("GET", "/wp-admin/install.php")
        if status != 200:
            raise RuntimeError("GET /wp-admin/install.php answered %d: %r" % (status, body[:200]))
        # An installed site answers the installer with "Already Installed".
        return b"Already Installed" in body or b"already installed" in body

    def install(self, title, user, password, email):
        status, _headers, body, seconds = self.form("/wp-admin/install.php?step=2", {
            "weblog_title": title, "user_name": user, "admin_password": password,
            "admin_password2": password, "pw_weak": "1", "admin_email": email,
            "blog_public": "0", "language": "", "Submit": "Install WordPress"})
        # The installer prints "Success!" even after its CREATE TABLEs were refused: check for those too.
        if status != 200 or b"Success!" not in body or b"WordPress database error" in body:
            raise RuntimeError("install answered %d without Success!: %r" % (status, body[:300]))
        return round(seconds, 3)

    def login(self, user, password):
        # wp-login.php refuses a login without its test cookie (set by the GET).
        self.request("GET", "/wp-login.php")
        status, headers, body, _seconds = self.form("/wp-login.php", {
            "log": user, "pwd": password, "wp-submit": "Log In",
            "redirect_to": self.site + "/wp-admin/", "testcookie": "1"})
        logged_in = any(c.name.startswith("wordpress_logged_in_") for c in self.jar)
        if status != 302 or not logged_in:
            raise RuntimeError("login answered %d (logged-in cookie: %s): %r" % (status, logged_in, body[:300]))
        status, _headers, body, _seconds = self.request("GET", "/wp-admin/admin-ajax.php?action=rest-nonce")
        nonce = body.decode().strip()
        if status != 200 or not nonce or nonce == "0":
            raise RuntimeError("rest-nonce answered %d: %r" % (status, body[:200]))
        return nonce

    def rest(self, nonce, route, data, content_type, extra_headers=None):
        # ?rest_route= works whatever the permalink structure is.
        status, _headers, body, seconds = self.request(
            "POST", "/?rest_route=" + urllib.parse.quote(route), data,
            {"X-WP-Nonce": nonce, "Content-Type": content_type, **(extra_headers or {})})
        if status != 201:
            raise RuntimeError("POST %s answered %d: %r" % (route, status, body[:300]))
        return json.loads(body), round(seconds, 3)


def read_from_nodes(client, nodes, path, expect_bytes=None, expect_text=None):
    """GET path from every node directly, anonymously (no cookie): status, size, match, latency."""
    plain = urllib.request.build_opener(NoRedirect)
    out = {}
    for name, base in nodes.items():
        status, _headers, body, seconds = client.request("GET", base.rstrip("/") + path, opener=plain)
        entry = {"status": status, "bytes": len(body), "seconds": round(seconds, 3)}
        if expect_bytes is not None:
            entry["same_bytes"] = body == expect_bytes
        if expect_text is not None:
            entry["has_text"] = expect_text.encode() in body
        entry["ok"] = status == 200 and entry.get("same_bytes", True) and entry.get("has_text", True)
        out[name] = entry
    return out


def upload_image(client, nonce, tag):
    """Upload a fresh PNG; returns (media JSON, png bytes, upload seconds)."""
    png = make_png(seed=int(time.time() * 1000) % 65536)
    filename = "ha-lamp-%s-%d.png" % (tag, int(time.time() * 1000))
    media, seconds = client.rest(nonce, "/wp/v2/media", png, "image/png",
                                 {"Content-Disposition": 'attachment; filename="%s"' % filename})
    return media, png, seconds


def proof(args):
    password = os.environ.get("WP_ADMIN_PASSWORD", "")
    if len(password) < 8:
        raise SystemExit("WP_ADMIN_PASSWORD must be set (8 characters or more)")
    nodes = dict(n.split("=", 1) for n in args.node)
    client = Client(args.site, timeout=args.timeout)
    result = {"site": client.site, "nodes": list(nodes)}

    if client.installed():
        result["install"] = "already installed"
    else:
        result["install"] = "installed in %s s" % client.install(args.title, args.user, password, args.email)

    nonce = client.login(args.user, password)
    result["login"] = "ok"
    checks = []

    if not args.no_post:
        title = "HA proof %s" % time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        post, seconds = client.rest(nonce, "/wp/v2/posts",
                                    json.dumps({"title": title, "status": "publish",
                                                "content": "<p>Served by every web node.</p>"}).encode(),
                                    "application/json")
        path = urllib.parse.urlsplit(post["link"])
        post_path = path.path + ("?" + path.query if path.query else "")
        reads = read_from_nodes(client, nodes, post_path, expect_text=title)
        result["post"] = {"id": post["id"], "link": post["link"], "path": post_path, "title": title,
                          "create_s": seconds, "reads": reads}
        checks += [r["ok"] for r in reads.values()]

    media, png, seconds = upload_image(client, nonce, args.tag)
    source = urllib.parse.urlsplit(media["source_url"]).path
    started = time.monotonic()
    reads = read_from_nodes(client, nodes, source, expect_bytes=png)
    result["media"] = {"id": media["id"], "source_url": media["source_url"], "path": source,
                       "bytes": len(png), "sha256": hashlib.sha256(png).hexdigest(),
                       "upload_s": seconds, "read_all_nodes_s": round(time.monotonic() - started, 3),
                       "sizes": sorted((media.get("media_details") or {}).get("sizes", {})),
                       "reads": reads}
    checks += [r["ok"] for r in reads.values()]

    result["ok"] = bool(checks) and all(checks)
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("proof", help="install if needed, log in, post, upload, read through every node")
    p.add_argument("--site", required=True, help="WordPress address (the VIP), e.g. http://10.213.77.100")
    p.add_argument("--node", action="append", required=True, metavar="NAME=URL",
                   help="a web node to read from directly (repeat)")
    p.add_argument("--user", default="admin")
    p.add_argument("--email", default="admin@example.invalid")
    p.add_argument("--title", default="HA LAMP WordPress")
    p.add_argument("--tag", default="proof", help="part of the uploaded file's name")
    p.add_argument("--no-post", action="store_true", help="skip creating and reading a post")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per HTTP request")
    args = parser.parse_args(argv)
    for node in args.node:
        if "=" not in node or not node.split("=", 1)[1].startswith("http"):
            parser.error("--node wants NAME=http://ADDRESS, got %r" % node)
    try:
        result = proof(args)
    except (RuntimeError, OSError, ValueError, KeyError) as exc:
        result = {"ok": False, "error": "%s: %s" % (type(exc).__name__, exc)}
    print(json.dumps(result, indent=2, sort_keys=True))
    return 0 if result.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
