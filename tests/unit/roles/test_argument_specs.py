"""meta/argument_specs.yml is the one place role variables are documented (the role READMEs point there).

So every public variable a role declares in defaults/main.yml must be an option of one of its entry points:
a variable missing there would be documented nowhere and never type-checked.
"""
import os

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
ROLES = sorted(r for r in os.listdir(os.path.join(ROOT, "roles"))
               if os.path.exists(os.path.join(ROOT, "roles", r, "defaults", "main.yml")))


def load(*parts):
    with open(os.path.join(ROOT, "roles", *parts), encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


def documented_options(role):
    specs = load(role, "meta", "argument_specs.yml")["argument_specs"]
    return {name for entry in specs.values() for name in (entry.get("options") or {})}


@pytest.mark.parametrize("role", ROLES)
def test_every_default_is_an_option_of_an_entry_point(role):
    undocumented = sorted(set(load(role, "defaults", "main.yml")) - documented_options(role))
    assert undocumented == [], "%s: defaults/main.yml declares variables meta/argument_specs.yml does not document: %s" % (
        role, ", ".join(undocumented))
