"""The cluster's cross-tier values are declared once (roles/contract/defaults/main.yml).

Everything that deploys or drives the cluster (roles, playbooks, the Molecule proofs, the lab, the benchmarks)
must point at the contract variable instead of repeating its value: an operator who changes the agent port in
the inventory then changes it everywhere. Out of scope here: the programs that run on the nodes or in a module
(roles/*/files, plugins/), which take these values as arguments and document their own fallbacks, and the unit
tests' fixtures.
"""
import os
import re

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
CONTRACT_DIR = os.path.join(ROOT, "roles", "contract")
SCANNED = ("roles", "playbooks", "molecule", "lab", "benchmarks", "inventories")
SUFFIXES = (".yml", ".yaml", ".j2", ".py", ".sh", ".cfg")
# Where a value may be written: the contract itself, and the haproxy role's internals for its admin socket.
ALLOWED = (os.path.join("roles", "contract") + os.sep, os.path.join("roles", "haproxy", "vars", "main.yml"))
SKIPPED_PARTS = {"files", "__pycache__"}


def load(*parts):
    with open(os.path.join(ROOT, *parts), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


CONTRACT = load("roles", "contract", "defaults", "main.yml")
# Not a contract variable, but the same rule: the haproxy role owns its runtime API's socket.
OWNED_LITERALS = dict(CONTRACT, __haproxy_admin_socket=load("roles", "haproxy", "vars", "main.yml")["__haproxy_admin_socket"])


def scanned_files():
    for top in SCANNED:
        for folder, dirs, files in os.walk(os.path.join(ROOT, top)):
            dirs[:] = [d for d in dirs if d not in SKIPPED_PARTS]
            for name in files:
                path = os.path.relpath(os.path.join(folder, name), ROOT)
                if name.endswith(SUFFIXES) and not path.startswith(ALLOWED):
                    yield path


def literal_pattern(value):
    # Not inside a longer word, number or file name ("19200", "ha_lamp_admin_networks", "admin.sock.bak").
    return re.compile(r"(?<![\w.])" + re.escape(str(value)) + r"(?!\w|\.\w)")


def stray_literals(paths, literals):
    found = []
    for path in paths:
        with open(os.path.join(ROOT, path), encoding="utf-8") as handle:
            lines = handle.read().splitlines()
        for name, value in literals.items():
            pattern = literal_pattern(value)
            found += ["%s:%d: %s (%s)" % (path, number, value, name)
                      for number, line in enumerate(lines, 1) if pattern.search(line)]
    return found


def test_no_file_repeats_a_contract_value():
    found = stray_literals(list(scanned_files()), OWNED_LITERALS)
    assert found == [], "use the contract variable instead of its value:\n" + "\n".join(found)


@pytest.mark.parametrize("value,line,found", [
    (9200, "mysql_agent_port: 9200", True),
    (9200, "url: https://db1:9200/writer", True),
    (9200, "port = 19200", False),
    ("ha_lamp_admin", "user: ha_lamp_admin", True),
    ("ha_lamp_admin", "networks: ha_lamp_admin_networks", False),
    ("/run/haproxy/admin.sock", "stats socket /run/haproxy/admin.sock mode 660", True),
    ("/run/haproxy/admin.sock", "socket /run/haproxy/admin.sock.bak", False),
])
def test_the_scan_finds_values_not_their_neighbours(value, line, found):
    assert bool(literal_pattern(value).search(line)) is found


def test_every_contract_variable_is_documented_with_its_default():
    options = load("roles", "contract", "meta", "argument_specs.yml")["argument_specs"]["main"]["options"]
    assert sorted(options) == sorted(CONTRACT)
    assert {name: spec["default"] for name, spec in options.items()} == CONTRACT


def test_every_role_that_uses_a_contract_variable_depends_on_the_contract():
    pattern = re.compile(r"\b(%s)\b" % "|".join(map(re.escape, CONTRACT)))
    missing = []
    for role in sorted(os.listdir(os.path.join(ROOT, "roles"))):
        defaults = os.path.join(ROOT, "roles", role, "defaults", "main.yml")
        if role == "contract" or not os.path.exists(defaults):
            continue
        with open(defaults, encoding="utf-8") as handle:
            if not pattern.search(handle.read()):
                continue
        dependencies = load("roles", role, "meta", "main.yml").get("dependencies") or []
        names = [d["role"] if isinstance(d, dict) else d for d in dependencies]
        if "onprem.ha_lamp.contract" not in names:
            missing.append(role)
    assert missing == [], "roles whose defaults use a contract variable without depending on the contract: %s" % missing
