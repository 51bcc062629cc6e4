"""The host firewall (roles/firewall): every cluster host has the ha_lamp nftables table loaded with a
drop policy on input, the persisted rule set passes `nft -c`, and the boot unit is enabled so the
table comes back after a restart. That the allowed traffic still flows is what the other suites prove."""
import json

import pytest

TABLE = "ha_lamp"
RULESET = "/etc/ha-lamp-firewall/firewall.nft"
UNIT = "ha-lamp-firewall.service"


def cluster_hosts(lab):
    return sorted({h for group in lab.groups.values() for h in group})


def input_chain(lab, name):
    cmd = lab.host(name).run(f"nft -j list chain inet {TABLE} input")
    assert cmd.rc == 0, f"{name}: table inet {TABLE} is not loaded: {cmd.stderr}"
    chains = [obj["chain"] for obj in json.loads(cmd.stdout)["nftables"] if "chain" in obj]
    assert len(chains) == 1, f"{name}: expected one input chain, got {chains}"
    return chains[0]


@pytest.fixture(scope="module")
def hosts(lab):
    return cluster_hosts(lab)


def test_every_host_drops_inbound_by_default(lab, hosts):
    for name in hosts:
        chain = input_chain(lab, name)
        assert chain["hook"] == "input", f"{name}: {chain}"
        assert chain["policy"] == "drop", f"{name}: input policy is {chain['policy']}, not drop"


def test_the_persisted_rule_set_passes_nft_check(lab, hosts):
    for name in hosts:
        cmd = lab.host(name).run(f"nft -c -f {RULESET}")
        assert cmd.rc == 0, f"{name}: nft -c -f {RULESET} failed: {cmd.stderr}"


def test_the_boot_unit_is_enabled(lab, hosts):
    for name in hosts:
        host = lab.host(name)
        assert host.service(UNIT).is_enabled, f"{name}: {UNIT} is not enabled: the table would not come back at boot"
