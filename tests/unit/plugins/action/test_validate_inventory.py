"""Unit tests of the onprem.ha_lamp.validate_inventory action plugin, with Ansible's collaborators mocked.

The end-to-end behaviour (real inventories, ansible-playbook exit codes) is covered by
tests/integration/test_validate_playbook.py.
"""

import json
from unittest import mock

import pytest

from ansible_collections.onprem.ha_lamp.plugins.action import validate_inventory
from ansible_collections.onprem.ha_lamp.plugins.action.validate_inventory import ActionModule

from ..module_utils.inventory_cases import lab, set_host


def make_action(args):
    task = mock.MagicMock()
    task.args = args
    task.async_val = 0
    task.check_mode = False
    task.diff = False
    play_context = mock.MagicMock()
    play_context.check_mode = False
    connection = mock.MagicMock()
    connection._shell.tmpdir = None
    action = ActionModule(
        task=task,
        connection=connection,
        play_context=play_context,
        loader=mock.MagicMock(),
        templar=mock.MagicMock(),
        shared_loader_obj=mock.MagicMock(),
    )
    return action, connection


def run(args, inventory):
    action, connection = make_action(args)
    with mock.patch.object(validate_inventory, "display") as display:
        result = action.run(task_vars={"groups": inventory["groups"], "hostvars": inventory["hostvars"]})
    assert connection.exec_command.call_count == 0, "the gate must never run a command on a host"
    return result, display


def test_does_not_require_a_connection():
    assert ActionModule._requires_connection is False


def test_lab_passes_and_prints_availability():
    result, display = run({}, lab())
    assert result.get("failed") is not True
    assert result["changed"] is False
    assert result["report"]["ok"] is True
    assert result["msg"].startswith("Inventory redundancy check passed: 7 cluster hosts, 0 warning(s); stack availability 99.97")
    printed = display.display.call_args[0][0]
    assert printed.startswith(
        "Inventory redundancy check: 0 error(s), 0 warning(s); failure domain: rack; 7 cluster hosts\nAVAILABILITY ESTIMATE"
    )
    assert "losing rack r1 stops: none" in printed
    display.warning.assert_not_called()


def test_errors_fail_the_task_listing_all_of_them():
    inventory = lab()
    set_host(inventory, "lb2", rack="r1")
    set_host(inventory, "db3", mysql_server_id=7)
    set_host(inventory, "db2", mysql_server_id=7, rack="r1")
    inventory["groups"]["dcs"] = ["db1", "db3", "web2"]  # etcd members still one per rack
    result, display = run({}, inventory)
    assert result["failed"] is True
    lines = result["msg"].splitlines()
    assert lines[0] == (
        "Inventory redundancy check failed: 2 error(s), 1 warning(s). No host was contacted or changed. Fix every item below and run again."
    )
    assert lines[1:] == [
        "ERRORS",
        "  [loadbalancers]",
        "    TIER_SINGLE_DOMAIN loadbalancers: lb1 and lb2 are both in rack 'r1' (var rack); place them in at least 2 racks "
        "so losing one rack keeps a load balancer",
        "  [databases]",
        "    DB_SERVER_ID_DUPLICATE databases: db2 and db3 share mysql_server_id 7; replication ignores events from its own "
        "server id, so give every database a unique mysql_server_id",
    ]
    display.warning.assert_called_once_with(
        "DB_REPLICA_SHARES_PRIMARY_DOMAIN [databases] databases: replica db2 shares rack 'r1' with primary db1; its semi-sync "
        "acknowledgement can satisfy a commit that then dies with the rack; move it to another rack"
    )
    assert result["report"]["errors"] == 2


def test_warnings_pass_unless_fail_on_warnings():
    inventory = lab()
    set_host(inventory, "db2", rack="r1")
    inventory["groups"]["dcs"] = ["db1", "db3", "web2"]  # etcd members still one per rack
    result, _display = run({}, inventory)
    assert result.get("failed") is not True
    result, _display = run({"fail_on_warnings": True}, inventory)
    assert result["failed"] is True
    assert "WARNINGS (fail_on_warnings is set)" in result["msg"]
    assert "DB_REPLICA_SHARES_PRIMARY_DOMAIN" in result["msg"]


def test_dcs_findings_are_listed_under_their_own_heading():
    inventory = lab()
    del inventory["groups"]["dcs"]
    result, _display = run({}, inventory)
    assert result["failed"] is True
    assert result["msg"].splitlines()[1:] == [
        "ERRORS",
        "  [dcs]",
        "    DCS_MISSING dcs: the group is not defined, but automatic database failover needs etcd members to hold the leader "
        "lease; add a group dcs with 3 or 5 hosts in different racks (for example the databases hosts)",
    ]


def test_report_path_writes_json(tmp_path):
    path = tmp_path / "reports" / "redundancy.json"
    inventory = lab()
    set_host(inventory, "lb2", rack="r1")
    result, _display = run({"report_path": str(path)}, inventory)
    assert result["failed"] is True
    assert result["report_path"] == str(path)
    written = json.loads(path.read_text())
    assert written == result["report"]
    assert written["findings"][0]["rule"] == "TIER_SINGLE_DOMAIN"


def test_unwritable_report_path_fails_cleanly(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result, _display = run({"report_path": str(blocker / "sub" / "r.json")}, lab())
    assert result["failed"] is True
    assert result["msg"].startswith("validate_inventory: cannot write the report to ")


@pytest.mark.parametrize(
    "args, message",
    [
        pytest.param({"host_availability": 2}, "validate_inventory: host_availability must be a number in (0, 1], got 2.0", id="range"),
    ],
)
def test_bad_options_fail_cleanly(args, message):
    result, _display = run(args, lab())
    assert result["failed"] is True
    assert result["msg"] == message
