"""The node lifecycle playbooks' controller gates: each bad request is refused before any host is
contacted, with a message naming the node and what to do. Runs against the lab inventory and copies of
it made by molecule/shared/files/lifecycle_inventory.py (the same tool the Molecule proof uses); no lab
is needed, because the refusals come before the first host play. The accepted paths run against real
containers in the Molecule proof (molecule/shared/node_lifecycle.yml).

    python -m pytest tests/integration/test_node_lifecycle_gates.py
"""

import os
import re
import subprocess
import sys

import pytest
from conftest import ansible_playbook

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAB = os.path.join(ROOT, "inventories", "lab")
TOOL = os.path.join(ROOT, "molecule", "shared", "files", "lifecycle_inventory.py")


def inventory(tmp_path, *args):
    out = tmp_path / "inventory"
    subprocess.run([sys.executable, TOOL, LAB, str(out), *args], check=True)
    return str(out)


def run(playbook, inv, *extra):
    env = dict(os.environ, ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1", ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"))
    proc = subprocess.run([ansible_playbook(), "-i", inv, os.path.join(ROOT, "playbooks", playbook), *extra],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    return proc.returncode, re.sub(r"\s+", " ", proc.stdout + proc.stderr)


def recap_hosts(output):
    return set(re.findall(r"(\S+) : ok=", output))


CASES = [
    ("add_node.yml", [], ["-e", "ha_lamp_node=web9"],
     "web9 is not in the inventory (%s). Add the host to the inventory first, in its tier group" % LAB),
    ("add_node.yml", [], [],
     "add_node.yml needs the inventory name of the host: -e ha_lamp_node=NAME (several: NAME,NAME) (got nothing)."),
    ("add_node.yml", [], ["-e", "ha_lamp_node=backup1"],
     "backup1 must be a host of loadbalancers, webservers or databases, and not of retired (it is in: backup, monitoring)."),
    ("add_node.yml", ["--add", "webservers:web3:10.213.77.23:r3", "--add", "storage:web3:10.213.77.23:r3"],
     ["-e", "ha_lamp_node=web3"],
     "web3 is in the group storage: add_node.yml does not add a brick to the volume (replica 3 with an arbiter, "
     "one brick per storage host). Move a brick to it with gluster volume replace-brick, or take it out of storage; "
     "a dead brick host is rebuilt with replace_node.yml."),
    ("remove_node.yml", [], ["-e", "ha_lamp_node=web2"],
     "web2: remove_node.yml removes a host the inventory has already retired: move it out of storage, webservers into the group `retired`"),
    ("remove_node.yml", ["--retire", "web1"], ["-e", "ha_lamp_node=web1"],
     "TIER_TOO_FEW_HOSTS webservers: only web2; add a second host in another rack"),
    ("remove_node.yml", ["--add", "webservers:web3:10.213.77.23:r3", "--retire", "web3"], ["-e", "ha_lamp_node=web3,web8"],
     "web8 is not in the inventory"),
]


@pytest.mark.parametrize("playbook,edits,extra,expected", CASES,
                         ids=["unknown-host", "no-name", "not-a-tier", "add-brick-host", "not-retired",
                              "one-rack-left", "one-of-two-unknown"])
def test_refused_on_the_controller(tmp_path, playbook, edits, extra, expected):
    inv = inventory(tmp_path, *edits) if edits else LAB
    rc, output = run(playbook, inv, *extra)
    assert rc != 0
    assert expected in output
    # No cluster host was reached: the recap lists the controller only.
    assert recap_hosts(output) <= {"localhost"}
