"""End-to-end tests of playbooks/validate.yml: ansible-playbook against the example inventories.

Each bad_* inventory carries exactly one fault and must fail (exit code 2) naming it; good_* and
warn_* inventories must pass (exit code 0). Run from the repository root, whose ansible.cfg puts
the collection on the collections path:

    python -m pytest tests/integration/test_validate_playbook.py
"""

import json
import os
import subprocess

import pytest
from conftest import ansible_playbook

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = os.path.join(ROOT, "inventories", "examples")
PLAYBOOK = os.path.join(ROOT, "playbooks", "validate.yml")


def run_validate(inventory, *extra):
    env = dict(os.environ, ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1", ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"))
    proc = subprocess.run(
        [ansible_playbook(), "-i", inventory, PLAYBOOK, *extra],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return proc.returncode, proc.stdout + proc.stderr


# inventory directory -> text the failure output must contain (rule id and the fault's specifics)
BAD = {
    "bad_admin_network_invalid": "ADMIN_NETWORKS_INVALID cluster: ha_lamp_admin_networks[0] is '10.20.0.5/24', which has host bits set",
    "bad_admin_networks_lockout": ("ADMIN_NETWORKS_LOCKOUT cluster: ha_lamp_controller_addresses 10.20.0.5 is outside "
                                   "every network of ha_lamp_admin_networks (10.20.1.0/24)"),
    "bad_controller_address_invalid": "CONTROLLER_ADDRESSES_INVALID cluster: ha_lamp_controller_addresses[0] is 'controller.example', not an IP address",
    "bad_db_on_public_vip": "DB_ON_PUBLIC_VIP loadbalancers: ha_lamp_vips has no VIP with purpose: internal",
    "bad_vip_public_missing": "VIP_PUBLIC_MISSING loadbalancers: every VIP in ha_lamp_vips (VIP 'public' and VIP 'internal') has purpose internal",
    "bad_vip_purpose_invalid": "VIP_PURPOSE_INVALID loadbalancers: VIP 'internal' purpose is 'database'",
    "bad_address_unparseable": "ADDRESS_INVALID db2: ansible_host '10.20.0.320' does not parse as an IP address",
    "bad_db_primary_unknown": "DB_PRIMARY_NOT_IN_DATABASES databases: ha_lamp_db_primary is 'db9'",
    "bad_db_same_rack": "DB_NO_REMOTE_REPLICA databases: primary db1 is in rack 'r1'",
    "bad_dcs_domain_majority": "DCS_DOMAIN_MAJORITY dcs: rack 'r1' (var rack) holds 2 of the 3 etcd members (db1 and web1); "
    "losing it leaves 1, short of the quorum of 2",
    "bad_dcs_even": "DCS_SIZE dcs: 4 members (db1, db2, db3 and db4), an even number: the quorum is 3 of 4",
    "bad_dcs_missing": "DCS_MISSING dcs: the group is not defined, but automatic database failover needs etcd members",
    "bad_dr_db_in_dcs": "DR_DB_IN_DCS dbdr1: in the group dcs, the main site's etcd quorum, but in the DR site 'dr' (var site)",
    "bad_dr_vip_subnet": "DR_VIP_SUBNET DR site 'dr': VIP 'public' 10.20.0.100/24 (ha_lamp_vips on lbdr1 and lbdr2) is in the "
    "main site's VIP subnet 10.20.0.0/24",
    "bad_duplicate_address": "ADDRESS_DUPLICATE web1 and web2 share the address 10.20.0.21",
    "bad_lease_ttl_short": "DB_LEASE_TTL_TOO_SHORT databases: ha_lamp_db_lease_ttl is 6 s, below the minimum of 9 s = "
    "haproxy_db_check_inter 2s x haproxy_db_check_fall 3 + 2 s margin + 1 s renewal slack, rounded up",
    "bad_lb_one_site": "TIER_SINGLE_DOMAIN loadbalancers: lb1 and lb2 are both in site 'dc1' (var site)",
    "bad_lb_same_rack": "TIER_SINGLE_DOMAIN loadbalancers: lb1 and lb2 are both in rack 'r1' (var rack)",
    "bad_missing_group": "TIER_MISSING webservers: the group is not defined",
    "bad_missing_rack": "RACK_MISSING webservers: web2 has no rack (var rack)",
    "bad_nofailover_all": "DB_FAILOVER_CANDIDATES_TOO_FEW databases: every database (db1, db2 and db3) has ha_lamp_db_nofailover: true",
    "bad_nofailover_primary": "DB_PRIMARY_NOFAILOVER databases: the initial primary db1 (ha_lamp_db_primary) has ha_lamp_db_nofailover: true",
    "bad_rack_list": 'RACK_INVALID db3: rack ["r3", "r4"] is a list, not a string',
    "bad_rack_undefined_template": "VAR_TEMPLATE_ERROR lb1, lb2, web1, web2, db1, db2 and db3: variable rack could not be templated",
    "bad_server_id_duplicate": "DB_SERVER_ID_DUPLICATE databases: db1 and db2 share mysql_server_id 1",
    "bad_switchover_target_nofailover": "DB_SWITCHOVER_TARGET_NOFAILOVER databases: ha_lamp_switchover_target is 'db3', "
    "which has ha_lamp_db_nofailover: true and may never be promoted; name one of db1 and db2",
    "bad_single_webserver": "TIER_TOO_FEW_HOSTS webservers: only web1",
    "bad_storage_missing_rack": "RACK_MISSING storage: nas3 has no rack (var rack)",
    "bad_storage_same_rack": "STORAGE_DOMAINS storage: rack 'r1' (var rack) holds 2 of the 3 bricks, web1 and db1, both data bricks; "
    "losing it leaves 1, short of the client quorum of 2",
    "bad_storage_two_hosts": "STORAGE_SIZE storage: 2 hosts (web1 and web2), but the shared uploads volume is one GlusterFS replica 3 "
    "volume with an arbiter",
    "bad_vip_is_host_address": "VIP_ADDRESS_CONFLICT loadbalancers: VIP 'public' address 10.20.0.21 is also web1's ansible_host",
    "bad_vip_outside_subnet": "VIP_OUTSIDE_LB_SUBNET loadbalancers: VIP 'public' 10.30.0.100/24 is outside the subnet",
    "bad_vips_string": "VIPS_MALFORMED loadbalancers: ha_lamp_vips is a string ('10.20.0.100/24'), not a list",
    "bad_vrid_duplicate": "VIP_VRID_DUPLICATE loadbalancers: VIP 'public' and VIP 'internal' use vrid 51",
    "bad_vrid_out_of_range": "VIP_VRID_INVALID loadbalancers: VIP 'public' vrid is 300, outside 1-255",
}
GOOD = [
    "good_db_public_vip_allowed",
    "good_failover_tuned",
    "good_minimal",
    "good_multisite",
    "good_storage",
    "good_templated",
    "good_vrrp_segment",
]
WARN = {"warn_even_sites": "DB_EVEN_SITES [databases] databases: spread over 2 sites (dc1, dc2)"}
# Valid inventories that validate.yml refuses after the check: this version does not deploy them.
REFUSED = {
    "refused_dr_site": (
        "The inventory has a DR site: site 'dr' (lbdr1, lbdr2, webdr1, dbdr1). Deploying a DR site is not implemented "
        "in this version of onprem.ha_lamp"
    ),
}


def test_every_example_is_covered():
    assert sorted(os.listdir(EXAMPLES)) == sorted(["README.md"] + list(BAD) + GOOD + list(WARN) + list(REFUSED))


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_inventory_fails_naming_its_fault(name):
    rc, output = run_validate(os.path.join(EXAMPLES, name))
    assert rc == 2, output
    assert "Inventory redundancy check failed" in output
    assert BAD[name] in output, output


@pytest.mark.parametrize("name", GOOD)
def test_good_inventory_passes(name):
    rc, output = run_validate(os.path.join(EXAMPLES, name))
    assert rc == 0, output
    assert "ok: [localhost]" in output
    assert "[WARNING]" not in output, output


@pytest.mark.parametrize("name", sorted(WARN))
def test_warning_only_inventory_passes_with_warning(name):
    rc, output = run_validate(os.path.join(EXAMPLES, name))
    assert rc == 0, output
    assert WARN[name] in " ".join(output.split()), output


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_valid_inventory_this_version_cannot_deploy_is_refused(name, tmp_path):
    report_path = tmp_path / "report.json"
    rc, output = run_validate(os.path.join(EXAMPLES, name), "-e", "ha_lamp_validate_report_path=%s" % report_path)
    assert rc == 2, output
    assert "Inventory redundancy check: 0 error(s), 0 warning(s)" in output, output
    # The YAML callback of ansible-core 2.17/2.18 prints the message single-quoted, its quotes doubled.
    assert REFUSED[name] in " ".join(output.split()).replace("''", "'"), output
    report = json.loads(report_path.read_text())
    assert report["ok"] is True and report["findings"] == []


def test_lab_inventory_passes_and_writes_json_report(tmp_path):
    report_path = tmp_path / "report.json"
    rc, output = run_validate(os.path.join(ROOT, "inventories", "lab"), "-e", "ha_lamp_validate_report_path=%s" % report_path)
    assert rc == 0, output
    assert "losing rack r1 stops: none" in output
    report = json.loads(report_path.read_text())
    assert report["ok"] is True
    assert report["summary"]["hosts"] == 7


def test_switchover_target_extra_var_is_checked():
    """ha_lamp_switchover_target usually comes as an extra var: the gate sees it through hostvars."""
    rc, output = run_validate(os.path.join(EXAMPLES, "good_minimal"), "-e", "ha_lamp_switchover_target=db9")
    assert rc == 2, output
    assert (
        "DB_SWITCHOVER_TARGET_NOT_IN_DATABASES databases: ha_lamp_switchover_target is 'db9', which is not in the databases "
        "group; name one of db1, db2 and db3" in output
    ), output
    rc, output = run_validate(os.path.join(EXAMPLES, "good_minimal"), "-e", "ha_lamp_switchover_target=db2")
    assert rc == 0, output


def test_fail_on_warnings_turns_warnings_into_failure():
    rc, output = run_validate(os.path.join(EXAMPLES, "warn_even_sites"), "-e", "ha_lamp_validate_fail_on_warnings=true")
    assert rc == 2, output
    assert "WARNINGS (fail_on_warnings is set)" in output


FILTER_PLAY = """---
- name: Use the redundancy_report filter in a play
  hosts: localhost
  gather_facts: false
  vars:
    ansible_connection: local
    ansible_host: localhost
  tasks:
    - name: Show the text report
      ansible.builtin.debug:
        msg: "{{ (groups | onprem.ha_lamp.redundancy_report(hostvars, text=true))['text'] }}"
    - name: Assert the inventory has no error
      ansible.builtin.assert:
        that: __report['ok']
        fail_msg: "{{ __report['findings'] | map(attribute='rule') | list }}"
      vars:
        __report: "{{ groups | onprem.ha_lamp.redundancy_report(hostvars) }}"
"""


@pytest.mark.parametrize(
    "name, rc, expected",
    [
        ("good_templated", 0, "Inventory redundancy report: 0 error(s), 0 warning(s)"),
        ("bad_rack_list", 2, "RACK_INVALID"),
    ],
)
def test_filter_in_a_play(tmp_path, name, rc, expected):
    """The filter reads Ansible's real hostvars (templated rack, address and VIP in good_templated)."""
    playbook = tmp_path / "filter.yml"
    playbook.write_text(FILTER_PLAY)
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"))
    proc = subprocess.run(
        [ansible_playbook(), "-i", os.path.join(EXAMPLES, name), str(playbook)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == rc, output
    assert expected in output, output
