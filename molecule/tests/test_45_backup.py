"""The backup tier as deployed (roles/backup): the archiver follows the primary, the repository opens,
the timers are scheduled, and the database nodes' agent serves only what it should."""
import json

import pytest


@pytest.fixture(scope="module")
def backup_host(lab):
    hosts = lab.groups.get("backup", [])
    if not hosts:
        pytest.skip("the inventory has no backup hosts")
    return lab.host(hosts[0])


def archive_state(backup_host):
    cmd = backup_host.run("cat /var/lib/ha-lamp-backup/binlog-archive.json")
    assert cmd.rc == 0, cmd.stderr
    return json.loads(cmd.stdout)


def primary(lab):
    writable = [n for n in lab.groups["databases"]
                if lab.mysql(n, "SELECT @@read_only")[0][0] == "0"]
    assert len(writable) == 1, f"expected one writable primary, found {writable}"
    return writable[0]


def test_the_archiver_streams_from_the_primary_and_is_caught_up(lab, backup_host):
    # A write on the primary gives the archive something to catch up with.
    node = primary(lab)
    schema = lab.value(node, "ha_lamp_db_app_database", "mysql_app_database")
    lab.mysql(node, f"CREATE TABLE IF NOT EXISTS {schema}.backup_canary (id INT PRIMARY KEY, at DATETIME(6))")
    lab.mysql(node, f"REPLACE INTO {schema}.backup_canary VALUES (1, NOW(6))")
    gtid = lab.mysql(node, "SELECT @@gtid_binlog_pos")[0][0]
    for _attempt in range(30):
        state = archive_state(backup_host)
        if state.get("source") == node and state.get("caught_up_gtid") == gtid:
            break
        backup_host.run("sleep 1")
    assert state.get("source") == node, state
    assert state.get("streaming") is True, state
    assert state.get("caught_up_gtid") == gtid, state
    assert state.get("gap") is False, state


def test_the_archive_metrics_are_exported(lab, backup_host):
    metrics_dir = lab.value(lab.groups["backup"][0], "ha_lamp_backup_metrics_dir", "backup_metrics_dir")
    text = backup_host.file(metrics_dir + "/binlog_archive.prom").content_string
    assert "ha_lamp_binlog_archive_lag_seconds " in text
    assert "ha_lamp_binlog_archive_streaming 1" in text


def test_the_key_opens_the_repository(backup_host):
    cmd = backup_host.run("RESTIC_REPOSITORY=/var/lib/ha-lamp-backup/repo "
                          "RESTIC_PASSWORD_FILE=/etc/ha-lamp-backup/repository.password restic --no-lock --no-cache cat config")
    assert cmd.rc == 0, cmd.stderr


def test_the_repository_and_the_secrets_are_private(backup_host):
    for path in ("/var/lib/ha-lamp-backup", "/etc/ha-lamp-backup"):
        assert backup_host.file(path).mode == 0o700, path
    for path in ("/etc/ha-lamp-backup/repository.password", "/etc/ha-lamp-backup/db.password"):
        f = backup_host.file(path)
        assert (f.user, f.mode) == ("root", 0o600), path


@pytest.mark.parametrize("job", ["full", "incremental", "verify", "freshness"])
def test_every_backup_job_has_an_enabled_timer(backup_host, job):
    timer = backup_host.service(f"ha-lamp-backup-{job}.timer")
    assert timer.is_enabled


def test_the_scratch_server_never_runs_as_a_service(backup_host):
    assert not backup_host.service("mariadb").is_running


def test_the_database_nodes_accept_the_backup_key_for_the_agent_only(lab):
    for node in lab.groups["databases"]:
        keys = lab.host(node).file("/var/lib/ha-lamp-backup-agent/login/.ssh/authorized_keys").content_string
        lines = [line for line in keys.splitlines() if line.strip()]
        assert lines, node
        for line in lines:
            options = line.split(" ssh-")[0]
            for option in ("restrict", 'from="', 'command="/usr/local/sbin/ha-lamp-backup-agent-ssh"'):
                assert option in options, (node, line)


def agent(lab, node, command):
    """The agent as the SSH wrapper runs it (one argument: the client's whole command)."""
    return lab.host(node).run("sudo -n -u ha-lamp-backup env SSH_ORIGINAL_COMMAND=%s /usr/local/sbin/ha-lamp-backup-agent-ssh",
                              command)


@pytest.mark.parametrize("command,message", [
    ("bash -i", "unknown command 'bash -i'"),
    ("stream full ../../etc", "bad argument '../../etc'"),
    ("stream incremental b1 12x", "the LSN must be a number, got '12x'"),
    ("receive r1 0", "no restore r1 is armed on this node"),
    ("replay r1", "no restore r1 is armed on this node"),
    ("import r1 some_schema", "no restore r1 is armed on this node"),
    ("stream full b1; rm -rf /", "unknown command"),
])
def test_the_agent_refuses_what_it_does_not_serve(lab, command, message):
    node = lab.groups["databases"][0]
    result = agent(lab, node, command)
    assert result.rc == 2, (command, result.stdout, result.stderr)
    assert message in result.stderr, (command, result.stderr)


def test_the_agent_reports_the_datadir_size(lab):
    node = lab.groups["databases"][0]
    result = agent(lab, node, "size")
    assert result.rc == 0, result.stderr
    assert int(result.stdout.strip()) > 10 * 1024 * 1024


def backup_cli(backup_host, args, attempts=60):
    """ha-lamp-backup ARGS, waiting while a scheduled job holds the lock (the timers fire right after
    the first deploy)."""
    for _attempt in range(attempts):
        cmd = backup_host.run("/usr/local/sbin/ha-lamp-backup " + args)
        if "holds the backup lock" not in cmd.stderr:
            return cmd
        backup_host.run("sleep 2")
    return cmd


def test_a_backup_is_taken_from_a_replica_and_verified(lab, backup_host):
    """On each Debian release: mariabackup (its file names changed in 11.1), restic and the scratch server."""
    node = primary(lab)
    take = backup_cli(backup_host, "take full")
    assert take.rc == 0, take.stderr
    done = [json.loads(line) for line in take.stdout.splitlines() if '"backup done"' in line][-1]
    assert done["id"].endswith("-full-" + done["id"].rsplit("-", 1)[1])
    assert done["id"].rsplit("-", 1)[1] != node, f"the backup was taken from the primary {node}"
    verify = backup_cli(backup_host, "verify")
    assert verify.rc == 0, verify.stderr
    status = json.loads(backup_cli(backup_host, "status --json").stdout)
    newest = [b for b in status["backups"] if b["id"] == done["id"]][0]
    assert newest["verified"] is True, newest
