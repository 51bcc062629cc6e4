"""Load-balancer tier, seen from outside: VIP ownership, HAProxy backends, HTTP through the VIP."""
import csv
import io

from conftest import http_get, page_fields, wait_until


def vip_holders(lab, address):
    return [lb for lb in lab.groups["loadbalancers"]
            if f" {address}/" in lab.host(lb).check_output("ip -o -4 addr show")]


def test_each_vip_is_held_by_exactly_one_load_balancer(lab):
    vips = lab.hostvars[lab.groups["loadbalancers"][0]]["ha_lamp_vips"]
    for vip in vips:
        address = vip["address"].split("/")[0]
        assert len(vip_holders(lab, address)) == 1, f"VIP {address} holders: {vip_holders(lab, address)}"


def test_the_other_load_balancer_is_vrrp_backup(lab):
    holders = vip_holders(lab, lab.vip)
    for lb in lab.groups["loadbalancers"]:
        journal = lab.host(lb).check_output("journalctl -u keepalived --no-pager -n 200 -o cat")
        expected = "Entering MASTER STATE" if lb in holders else "Entering BACKUP STATE"
        assert expected in journal, f"{lb}: keepalived journal lacks {expected!r}"


def stats_rows(lab, lb):
    hv = lab.hostvars[lb]
    port = lab.value(lb, "ha_lamp_haproxy_stats_port", "haproxy_stats_port")
    status, body = http_get(f"http://{lab.address(lb)}:{port}/stats;csv",
                            auth=(lab.value(lb, "ha_lamp_haproxy_stats_user", "haproxy_stats_user"), hv["ha_lamp_haproxy_stats_password"]))
    assert status == 200, f"{lb}: stats page answered {status}"
    return list(csv.DictReader(io.StringIO(body.lstrip("# "))))


def test_haproxy_sees_every_web_node_up(lab):
    for lb in lab.groups["loadbalancers"]:
        def web_status():
            return {r["svname"]: r["status"] for r in stats_rows(lab, lb) if r["pxname"] == "web"
                    and r["svname"] not in ("FRONTEND", "BACKEND")}
        wait_until(lambda: all(s == "UP" for s in web_status().values()) and len(web_status()) == 2,
                   timeout=30, message=f"{lb}: both web servers UP")
        assert set(web_status()) == set(lab.groups["webservers"])


def test_haproxy_routes_writes_to_exactly_one_database(lab):
    for lb in lab.groups["loadbalancers"]:
        def writers():
            return [r["svname"] for r in stats_rows(lab, lb)
                    if r["pxname"] == "mysql_writer" and r["svname"] not in ("FRONTEND", "BACKEND") and r["status"] == "UP"]
        assert len(wait_until(writers, timeout=30, message=f"{lb}: a writer UP")) == 1


def test_vip_answers_and_both_web_nodes_serve(lab):
    served = set()
    for _request in range(10):
        status, body = http_get(f"http://{lab.vip}/")
        assert status == 200, f"GET http://{lab.vip}/ answered {status}: {body[:200]}"
        served.add(page_fields(body).get("web_node"))
    assert served == set(lab.groups["webservers"])
