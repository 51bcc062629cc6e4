"""Web tier, seen from outside: health checks, the demo page, sessions shared across web nodes."""
from conftest import http_get, page_fields, session_cookie


def test_every_web_node_is_healthy(lab):
    for web in lab.groups["webservers"]:
        path = lab.value(web, "ha_lamp_web_health_path", "web_healthz_path")
        status, body = http_get(f"http://{lab.address(web)}{path}")
        assert status == 200, f"{web}: {path} answered {status}: {body[:200]}"
        # With a writer in place the node is not merely "degraded" (200 during a writer gap).
        assert body.startswith("ok db="), f"{web}: {path} body {body[:200]!r}"


def test_demo_page_names_the_web_and_database_nodes(lab):
    status, body = http_get(f"http://{lab.vip}/")
    assert status == 200
    fields = page_fields(body)
    assert fields["web_node"] in lab.groups["webservers"]
    assert fields["db_node"] in lab.groups["databases"]


def test_a_session_continues_on_the_other_web_node(lab):
    """Same cookie, requests sent straight to each web node in turn: the counter keeps counting."""
    webs = lab.groups["webservers"]
    cookie = session_cookie(f"http://{lab.address(webs[0])}/")
    counts = []
    for web in webs[1:] + webs * 2:
        status, body = http_get(f"http://{lab.address(web)}/", headers={"Cookie": cookie})
        assert status == 200
        fields = page_fields(body)
        assert fields["web_node"] == web
        counts.append(int(fields["session_count"]))
    assert counts == list(range(counts[0], counts[0] + len(counts))), counts


def test_read_only_page_is_served_from_the_readers_port(lab):
    """read.php: no session, no write, through the VIP's readers port to a replica."""
    status, body = http_get(f"http://{lab.vip}/read.php")
    assert status == 200, body[:200]
    fields = page_fields(body)
    assert fields["web_node"] in lab.groups["webservers"]
    assert fields["db_node"] in lab.groups["databases"]
    assert fields["read_via"] == "reader", body
    assert "last_visit_id" in fields


def test_read_only_page_answers_on_every_web_node(lab):
    for web in lab.groups["webservers"]:
        status, body = http_get(f"http://{lab.address(web)}/read.php")
        assert status == 200, f"{web}: /read.php answered {status}: {body[:200]}"
        assert page_fields(body)["web_node"] == web
