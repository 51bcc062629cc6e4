"""Log parsing and the table of benchmarks/bench_converge.py (no lab).

    .venv/bin/python -m pytest -q tests/unit/test_bench_converge.py
"""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SPEC = importlib.util.spec_from_file_location("bench_converge", ROOT / "benchmarks" / "bench_converge.py")
bench = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(bench)

# The tail of a site.yml run with the profile_roles and timer callbacks, as Ansible prints it.
RERUN_LOG = """TASK [onprem.ha_lamp.web : Install Apache] *****
ok: [web1]

PLAY RECAP *********************************************************************
db1                        : ok=168  changed=0    unreachable=0    failed=0    skipped=39   rescued=0    ignored=0
lb1                        : ok=126  changed=2    unreachable=0    failed=0    skipped=19   rescued=0    ignored=0
web1                       : ok=109  changed=0    unreachable=1    failed=1    skipped=46   rescued=0    ignored=0

ROLES RECAP ********************************************************************
Wednesday 02 December 2026  22:52:43 +0000 (0:00:02.559)       0:10:29.345 ****
===============================================================================
onprem.ha_lamp.web ---------------------------------------------------- 126.30s
pki ------------------------------------------------------------------- 114.68s
ansible.builtin.uri ----------------------------------------------------- 3.15s
~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
total ----------------------------------------------------------------- 244.13s

PLAYBOOK RECAP *****************************************************************
Playbook run took 0 days, 0 hours, 10 minutes, 29 seconds
"""


def test_parse_run_reads_totals_hosts_and_roles():
    run = bench.parse_run(RERUN_LOG)
    assert run["seconds"] == 629
    assert run["changed"] == 2
    assert run["failed"] == 2
    assert run["hosts"]["lb1"] == {"changed": 2, "unreachable": 0, "failed": 0}
    assert run["roles"] == {"web": 126.3, "pki": 114.68, "uri": 3.15}


def test_parse_run_of_an_unfinished_log_has_no_figures():
    run = bench.parse_run("TASK [x] ****\nok: [db1]\n")
    assert run == {"seconds": None, "changed": 0, "failed": 0, "hosts": {}, "roles": {}}


def test_parse_run_counts_only_the_last_recap():
    two_plays = "PLAY RECAP ***\ndb1 : ok=1 changed=5 unreachable=0 failed=0\n" + RERUN_LOG
    assert bench.parse_run(two_plays)["changed"] == 2


def test_table_with_a_first_converge_and_reruns():
    first = {"seconds": 348, "changed": 371, "rc": 0, "roles": {"web": 71.2, "pki": 50.4}}
    reruns = [
        {"seconds": 270, "changed": 0, "rc": 0, "roles": {"web": 48.0, "pki": 56.0}},
        {"seconds": 260, "changed": 0, "rc": 0, "roles": {"web": 50.0, "pki": 54.0}},
        {"seconds": 268, "changed": 0, "rc": 0, "roles": {"web": 49.0, "pki": 55.0}},
    ]
    assert bench.table(first, reruns) == [
        "first converge: 348 s, changed=371, rc=0",
        "idempotent rerun: median 268 s over 3 run(s) (min 260, max 270), changed=[0, 0, 0]",
        "",
        "role             first (s)  rerun median (s)",
        "web                   71.2              49.0",
        "pki                   50.4              55.0",
        "(role seconds add up the time each role's tasks ran, summed over the plays)",
    ]


def test_table_of_reruns_only():
    reruns = [{"seconds": 90, "changed": 0, "rc": 0, "roles": {"base": 7.5}}]
    assert bench.table(None, reruns) == [
        "idempotent rerun: median 90 s over 1 run(s) (min 90, max 90), changed=[0]",
        "",
        "role             first (s)  rerun median (s)",
        "base                     -               7.5",
        "(role seconds add up the time each role's tasks ran, summed over the plays)",
    ]


def test_reruns_must_be_bounded(capsys):
    with pytest.raises(SystemExit) as exit_:
        bench.main(["--reruns", "0"])
    assert exit_.value.code == 2
    assert "--reruns must be 1 to 20, got 0" in capsys.readouterr().err
