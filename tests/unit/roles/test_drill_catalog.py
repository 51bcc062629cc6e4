"""The drill catalog (roles/drill/vars/main.yml) is data the engine can run.

Each drill names its target and its fault, heal and restore steps; each step is an injector verb that
every injector implements (the contract in roles/drill/README.md) or a step file in tasks/steps/. These
checks catch a typo in a step or a verb an injector lacks before a drill breaks a cluster halfway.
"""
import os

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
ROLE = os.path.join(ROOT, "roles", "drill")
INJECT_DIR = os.path.join(ROLE, "tasks", "inject")
STEPS_DIR = os.path.join(ROLE, "tasks", "steps")

DRILL_KEYS = {"what", "fix", "target", "fault", "heal", "restore", "vip_stays_moved"}
REQUIRED_DRILL_KEYS = ("what", "fix", "target", "fault", "restore")
PHASES = ("fault", "heal", "restore")
STEP_KEYS = {"do", "hosts", "injector", "service", "socket", "process", "keep_down", "signal", "peers",
             "seconds", "since", "label", "any", "revert"}


def load_vars():
    with open(os.path.join(ROLE, "vars", "main.yml"), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def stems(folder):
    return {name[:-len(".yml")] for name in os.listdir(folder) if name.endswith(".yml")}


def step_problems(drill, phase, index, step, context):
    where = "%s.%s[%d]" % (drill, phase, index)
    problems = ["%s: unknown key %s" % (where, key) for key in sorted(set(step) - STEP_KEYS)]
    name = step.get("do")
    if name in context["verbs"]:
        injector = step.get("injector")
        if injector is not None and injector not in context["injectors"]:
            problems.append("%s: unknown injector %s" % (where, injector))
    elif name not in context["steps"]:
        problems.append("%s: %s is neither an injector verb nor a file in tasks/steps/" % (where, name))
    if step.get("hosts", "target") not in context["hosts"]:
        problems.append("%s: unknown hosts %s" % (where, step["hosts"]))
    if step.get("peers", "all") not in context["peers"]:
        problems.append("%s: unknown peers %s" % (where, step["peers"]))
    if name == "pause" and "seconds" not in step:
        problems.append("%s: pause without seconds" % where)
    if name == "mark" and "label" not in step:
        problems.append("%s: mark without label" % where)
    return problems


def catalog_problems(catalog, order, context):
    problems = []
    if sorted(order) != sorted(catalog):
        problems.append("the order and the catalog list different drills: %s"
                        % sorted(set(order).symmetric_difference(catalog)))
    for drill, spec in catalog.items():
        problems += ["%s: missing %s" % (drill, key) for key in REQUIRED_DRILL_KEYS if key not in spec]
        problems += ["%s: unknown key %s" % (drill, key) for key in sorted(set(spec) - DRILL_KEYS)]
        if spec.get("target") not in context["targets"]:
            problems.append("%s: unknown target %s" % (drill, spec.get("target")))
        labels = []
        for phase in PHASES:
            for index, step in enumerate(spec.get(phase) or []):
                problems += step_problems(drill, phase, index, step, context)
                if "since" in step and step["since"] not in labels:
                    problems.append("%s.%s[%d]: since %s before any such mark" % (drill, phase, index, step["since"]))
                if step.get("do") == "mark":
                    labels.append(step.get("label"))
        # A partition must heal whatever the fault phase did (the heal phase runs in `always`).
        partitions = [step for step in spec.get("fault") or [] if step.get("do") == "partition"]
        heals = [step for step in spec.get("heal") or [] if step.get("do") == "heal"]
        if partitions and not heals:
            problems.append("%s: a partition without a heal phase" % drill)
    return problems


@pytest.fixture(name="role_vars", scope="module")
def fixture_role_vars():
    return load_vars()


@pytest.fixture(name="context", scope="module")
def fixture_context(role_vars):
    return {
        "verbs": set(role_vars["__drill_injector_verbs"]),
        "injectors": set(os.listdir(INJECT_DIR)),
        "steps": stems(STEPS_DIR),
        "hosts": set(role_vars["__drill_step_hosts"]),
        "peers": set(role_vars["__drill_step_peers"]),
        "targets": set(role_vars["__drill_targets"]),
    }


def test_the_catalog_runs(role_vars, context):
    assert catalog_problems(role_vars["__drill_catalog"], role_vars["__drill_order"], context) == []


@pytest.mark.parametrize("injector", sorted(os.listdir(INJECT_DIR)))
def test_every_injector_implements_the_contract_and_nothing_else(role_vars, injector):
    assert stems(os.path.join(INJECT_DIR, injector)) == set(role_vars["__drill_injector_verbs"])


def test_every_step_file_is_used(role_vars):
    used = {step["do"] for spec in role_vars["__drill_catalog"].values()
            for phase in PHASES for step in spec.get(phase) or []}
    assert stems(STEPS_DIR) - used == set()


def test_every_drill_is_in_the_readme_table(role_vars):
    with open(os.path.join(ROLE, "README.md"), encoding="utf-8") as handle:
        readme = handle.read()
    assert [drill for drill in role_vars["__drill_order"] if "| `%s` |" % drill not in readme] == []


GOOD = {"what": "w", "fix": "f", "target": "primary", "fault": [{"do": "kill_node"}], "restore": []}


@pytest.mark.parametrize("spec,order,expected", [
    (GOOD, ["x"], []),
    (dict(GOOD, fault=[{"do": "partition"}], heal=[{"do": "heal"}]), ["x"], []),
    (dict(GOOD, fault=[{"do": "mark", "label": "cut"}, {"do": "pause", "seconds": 5, "since": "cut"}]), ["x"], []),
    (GOOD, ["x", "y"], ["the order and the catalog list different drills: ['y']"]),
    ({"what": "w", "target": "primary", "fault": []}, ["x"], ["x: missing fix", "x: missing restore"]),
    (dict(GOOD, colour="red"), ["x"], ["x: unknown key colour"]),
    (dict(GOOD, target="dns"), ["x"], ["x: unknown target dns"]),
    (dict(GOOD, fault=[{"do": "kil_node"}]), ["x"],
     ["x.fault[0]: kil_node is neither an injector verb nor a file in tasks/steps/"]),
    (dict(GOOD, fault=[{"do": "kill_node", "hosts": "webservers"}]), ["x"], ["x.fault[0]: unknown hosts webservers"]),
    (dict(GOOD, fault=[{"do": "kill_node", "injector": "ipmi"}]), ["x"], ["x.fault[0]: unknown injector ipmi"]),
    (dict(GOOD, restore=[{"do": "heal", "peers": "racks"}]), ["x"], ["x.restore[0]: unknown peers racks"]),
    (dict(GOOD, fault=[{"do": "kill_node", "sevrice": "haproxy"}]), ["x"], ["x.fault[0]: unknown key sevrice"]),
    (dict(GOOD, fault=[{"do": "pause"}]), ["x"], ["x.fault[0]: pause without seconds"]),
    (dict(GOOD, fault=[{"do": "mark"}]), ["x"], ["x.fault[0]: mark without label"]),
    (dict(GOOD, fault=[{"do": "pause", "seconds": 5, "since": "cut"}]), ["x"],
     ["x.fault[0]: since cut before any such mark"]),
    (dict(GOOD, fault=[{"do": "partition"}]), ["x"], ["x: a partition without a heal phase"]),
])
def test_catalog_problems_are_named(context, spec, order, expected):
    assert catalog_problems({"x": spec}, order, context) == expected
