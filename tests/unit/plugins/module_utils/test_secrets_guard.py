"""The secrets guard: rules, exact messages, and that no message ever carries the value.

The secret_findings filter wrapper is tested in tests/unit/plugins/filter/test_secret_findings.py: ansible-test units
runs this folder with ansible.module_utils only (no ansible.errors).
"""

import os

import pytest
import yaml

from ansible_collections.onprem.ha_lamp.plugins.module_utils.secrets_guard import (
    KNOWN_DIGESTS,
    RULES,
    GuardError,
    check_value,
    digest,
    findings,
)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
FIX = "put a secret of your own in an ansible-vault encrypted file (README.md, section Secrets)."


def lab_secrets():
    with open(os.path.join(ROOT, "inventories", "lab", "group_vars", "all", "lab_secrets.yml"), encoding="utf-8") as fh:
        return yaml.safe_load(fh)


@pytest.mark.parametrize(
    "value,lab,rule",
    [
        (None, False, "SECRET_EMPTY"),
        ("", True, "SECRET_EMPTY"),
        (12345678, False, "SECRET_EMPTY"),
        ("example-only-CHANGE-ME", True, "SECRET_PLACEHOLDER"),
        ("CHANGE_ME", False, "SECRET_PLACEHOLDER"),
        ("my-changeme-pass", False, "SECRET_PLACEHOLDER"),
        ("lab-only", False, "SECRET_LAB_PREFIX"),
        ("lab-only-root", False, "SECRET_LAB_PREFIX"),
        ("Example-Only-x", False, "SECRET_LAB_PREFIX"),
        ("lab-only", True, None),
        ("lab-only-root", True, None),
        ("a-real-S3cret-of-my-own", False, None),
        # a truthy string is not the lab: the guard gets stricter, never looser
        ("lab-only", "true", "SECRET_LAB_PREFIX"),
    ],
)
def test_rules(value, lab, rule):
    assert check_value(value, lab=lab) == rule


def test_every_lab_secret_is_refused_outside_the_lab_and_accepted_inside():
    secrets = lab_secrets()
    assert set(secrets) >= {"ha_lamp_db_root_password", "ha_lamp_vrrp_auth_pass"}
    for name, value in secrets.items():
        assert check_value(value, lab=False) in ("SECRET_LAB_PREFIX", "SECRET_KNOWN"), name
        assert digest(value) in KNOWN_DIGESTS, name
        assert check_value(value, lab=True) is None, name


def test_known_digest_without_prefix(monkeypatch):
    from ansible_collections.onprem.ha_lamp.plugins.module_utils import secrets_guard

    monkeypatch.setattr(secrets_guard, "KNOWN_DIGESTS", frozenset([digest("Xy7-published")]))
    assert secrets_guard.check_value("Xy7-published") == "SECRET_KNOWN"
    assert secrets_guard.check_value("Xy7-published", lab=True) is None


def test_example_inventory_placeholders_are_refused_even_in_the_lab():
    path = os.path.join(ROOT, "inventories", "example", "group_vars", "all", "vault.yml.example")
    with open(path, encoding="utf-8") as fh:
        values = yaml.safe_load(fh)
    assert values
    for name, value in values.items():
        assert check_value(value, lab=True) == "SECRET_PLACEHOLDER", name


def test_exact_messages():
    result = findings(
        {
            "mysql_admin_password": "lab-only-root",
            "mysql_app_password": "fine-and-long-enough",
            "mysql_monitor_password": None,
            "keepalived_auth_pass": "lab-only",
            "web_db_password": "CHANGE_ME",
            "mysql_replication_password": "",
        },
        host="db1",
        sources={"mysql_admin_password": "ha_lamp_db_root_password", "keepalived_auth_pass": "ha_lamp_vrrp_auth_pass"},
    )
    assert result == [
        {
            "variable": "mysql_admin_password",
            "rule": "SECRET_LAB_PREFIX",
            "message": "host db1: mysql_admin_password (from ha_lamp_db_root_password) holds a value published in this "
            "repository (it starts with 'lab-only' or 'example-only') and the inventory does not set ha_lamp_lab: true; "
            "set mysql_admin_password or ha_lamp_db_root_password: " + FIX,
        },
        {
            "variable": "mysql_monitor_password",
            "rule": "SECRET_EMPTY",
            "message": "host db1: mysql_monitor_password is not set; set mysql_monitor_password: " + FIX,
        },
        {
            "variable": "keepalived_auth_pass",
            "rule": "SECRET_LAB_PREFIX",
            "message": "host db1: keepalived_auth_pass (from ha_lamp_vrrp_auth_pass) holds a value published in this "
            "repository (it starts with 'lab-only' or 'example-only') and the inventory does not set ha_lamp_lab: true; "
            "set keepalived_auth_pass or ha_lamp_vrrp_auth_pass: " + FIX,
        },
        {
            "variable": "web_db_password",
            "rule": "SECRET_PLACEHOLDER",
            "message": "host db1: web_db_password still holds a CHANGE-ME placeholder; set web_db_password: " + FIX,
        },
        {
            "variable": "mysql_replication_password",
            "rule": "SECRET_EMPTY",
            "message": "host db1: mysql_replication_password is empty; set mysql_replication_password: " + FIX,
        },
    ]


def test_known_value_message_and_no_value_leak(monkeypatch):
    from ansible_collections.onprem.ha_lamp.plugins.module_utils import secrets_guard

    monkeypatch.setattr(secrets_guard, "KNOWN_DIGESTS", frozenset([digest("Qz9PublishedValue")]))
    (finding,) = secrets_guard.findings({"haproxy_stats_password": "Qz9PublishedValue"})
    assert finding["message"] == (
        "haproxy_stats_password holds a value published in this repository (a known lab or example secret) and the "
        "inventory does not set ha_lamp_lab: true; set haproxy_stats_password: " + FIX
    )
    assert "Qz9PublishedValue" not in repr(finding)


def test_no_message_carries_the_value():
    # 'lab-only' itself is the rule's own wording, so only longer values can be searched for.
    secrets = {name: value for name, value in lab_secrets().items() if value != "lab-only"}
    secrets["x_password"] = "example-only-CHANGE-ME-zz"
    for finding in findings(secrets):
        value = secrets[finding["variable"]]
        assert value not in finding["message"].replace(finding["variable"], "")


def test_bad_input():
    with pytest.raises(GuardError, match="must be a mapping"):
        findings(["lab-only"])
    with pytest.raises(GuardError, match="sources must be a mapping"):
        findings({"a": "b"}, sources=["a"])


def test_sidecar_lists_every_rule():
    with open(os.path.join(ROOT, "plugins", "filter", "secret_findings.yml"), encoding="utf-8") as fh:
        docs = yaml.safe_load(fh)
    text = " ".join(docs["DOCUMENTATION"]["description"])
    for rule in RULES:
        assert "C(%s)" % rule in text, rule
    assert docs["DOCUMENTATION"]["name"] == "secret_findings"
