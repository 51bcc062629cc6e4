"""etcd and the leader lease, seen from outside: the etcd members form one healthy TLS cluster that
refuses clients without a certificate, the leader key names the one node HAProxy writes to, and the
database managers run unprivileged."""
import json

from conftest import agent_get

ETCDCTL = ("ETCDCTL_API=3 etcdctl --cacert=/etc/ha-lamp/etcd/ca.crt --cert=/etc/ha-lamp/etcd/admin.crt "
           "--key=/etc/ha-lamp/etcd/admin.key --endpoints=https://127.0.0.1:2379 ")


def manager_status(lab, db):
    status, body = agent_get(lab, db, "/status")
    assert status == 200, f"{db}: /status answered {status}"
    return json.loads(body)


def test_every_etcd_member_is_healthy_over_tls(lab):
    member = lab.groups["dcs"][0]
    cmd = lab.host(member).run(ETCDCTL + "endpoint health --cluster -w json")
    assert cmd.rc == 0, cmd.stderr
    health = json.loads(cmd.stdout)
    assert len(health) == len(lab.groups["dcs"])
    assert all(entry["health"] for entry in health), health
    assert all(entry["endpoint"].startswith("https://") for entry in health), health


def test_etcd_refuses_a_client_without_a_certificate(lab):
    member = lab.groups["dcs"][0]
    cmd = lab.host(member).run("curl -sk --max-time 3 -X POST -d '{}' https://127.0.0.1:2379/v3/kv/range")
    assert cmd.rc != 0 or '"kvs"' not in cmd.stdout, "etcd answered a client without a certificate"


def test_the_leader_key_names_the_only_writer(lab):
    statuses = {db: manager_status(lab, db) for db in lab.groups["databases"]}
    leaders = {s["leader"] for s in statuses.values()}
    assert len(leaders) == 1, f"managers disagree on the leader: {leaders}"
    leader = leaders.pop()
    writers = [db for db, s in statuses.items() if s["writer"]["ok"]]
    assert writers == [leader], f"leader {leader}, writer check passes on {writers}"
    assert statuses[leader]["lease_age_s"] < 3, statuses[leader]["lease_age_s"]


def test_every_replica_is_in_the_sync_set(lab):
    statuses = {db: manager_status(lab, db) for db in lab.groups["databases"]}
    leader = next(iter(statuses.values()))["leader"]
    replicas = sorted(db for db in lab.groups["databases"] if db != leader)
    assert sorted(statuses[leader]["sync"]) == replicas


def test_semi_sync_never_falls_back_to_async(lab):
    for db in lab.groups["databases"]:
        timeout = int(lab.mysql(db, "SELECT @@global.rpl_semi_sync_master_timeout")[0][0])
        assert timeout >= 2 ** 32 - 1, f"{db}: rpl_semi_sync_master_timeout {timeout} ms allows an async fallback"


def test_the_manager_runs_unprivileged_with_only_cap_kill(lab):
    for db in lab.groups["databases"]:
        host = lab.host(db)
        user = host.run("systemctl show --property=User --value ha-lamp-db-manager").stdout.strip()
        caps = host.run("systemctl show --property=CapabilityBoundingSet --value ha-lamp-db-manager").stdout.strip()
        assert user == "ha-lamp-agent", f"{db}: manager runs as {user!r}"
        assert caps == "cap_kill", f"{db}: manager capabilities {caps!r}"
        grants = " ".join(r[0] for r in lab.mysql(db, "SHOW GRANTS FOR 'ha-lamp-agent'@'localhost'"))
        for data_privilege in ("SELECT", "INSERT", "UPDATE", "DELETE", "ALL PRIVILEGES", "SUPER"):
            assert f" {data_privilege}," not in grants and f"GRANT {data_privilege} " not in grants, grants
