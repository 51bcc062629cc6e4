"""The plugin documentation lists every rule id the core can emit, with the right severity."""

import os
import re

import yaml

from ansible_collections.onprem.ha_lamp.plugins.module_utils.redundancy import RULES
from ansible_collections.onprem.ha_lamp.plugins.modules import validate_inventory

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def test_filter_sidecar_lists_every_rule_with_its_severity():
    with open(os.path.join(ROOT, "plugins", "filter", "redundancy_report.yml"), encoding="utf-8") as handle:
        docs = yaml.safe_load(handle)
    notes = docs["DOCUMENTATION"]["notes"]
    errors = next(note for note in notes if note.startswith("Rule ids (errors)"))
    warnings = next(note for note in notes if note.startswith("Rule ids (warnings)"))
    assert set(re.findall(r"[A-Z][A-Z_]{3,}", errors.split(":", 1)[1])) == {rule for rule, sev in RULES.items() if sev == "error"}
    assert set(re.findall(r"[A-Z][A-Z_]{3,}", warnings.split(":", 1)[1])) == {rule for rule, sev in RULES.items() if sev == "warning"}
    assert docs["DOCUMENTATION"]["name"] == "redundancy_report"


def test_module_documentation_parses_and_matches_the_action_arguments():
    from ansible_collections.onprem.ha_lamp.plugins.action.validate_inventory import ARGUMENT_SPEC

    docs = yaml.safe_load(validate_inventory.DOCUMENTATION)
    assert docs["module"] == "validate_inventory"
    assert set(docs["options"]) == set(ARGUMENT_SPEC)
    for name, spec in ARGUMENT_SPEC.items():
        assert docs["options"][name]["type"] == spec["type"], name
    yaml.safe_load(validate_inventory.EXAMPLES)
    yaml.safe_load(validate_inventory.RETURN)
