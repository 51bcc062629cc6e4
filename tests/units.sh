#!/usr/bin/env bash
# ansible-test units for this collection (tests/unit), offline except for PyPI.
#
# Usage: tests/units.sh [extra ansible-test units options...]
#   e.g. tests/units.sh                                    # every unit test, Python 3.11
#        tests/units.sh tests/unit/plugins/filter/         # some of them
#        UNITS_KEEP=1 tests/units.sh                       # keep the temporary tree (its tests/output)
#        ANSIBLE_TEST_PYTHON=3.13 tests/units.sh           # another controller Python (tests/controller_python.sh)
#
# What it tests: the working tree copied into a temporary ansible_collections/onprem/ha_lamp, as
# tests/sanity.sh does (tests/lib/ansible_test_tree.sh). ansible-test runs pytest in its own venv with
# ansible-test's unit-test tools and tests/unit/requirements.txt, imports the collection as
# ansible_collections.onprem.ha_lamp from the copy, and runs the tests there. The suite's pytest step runs
# the same tests in .venv against the checkout itself.
#
# Needs: git, python3.11 with ensurepip (Debian: python3.11-venv), ansible-test in .venv or on PATH.
#
# Environment: ANSIBLE_TEST (the ansible-test to run; default .venv/bin/ansible-test, else PATH),
#   ANSIBLE_TEST_PYTHON (default 3.11), UNITS_TIMEOUT (seconds before the run is killed, default 3600),
#   UNITS_KEEP=1 (keep the tree).
# Exit status: ansible-test's (non-zero on any failed test), 124 on timeout, 2 on a missing prerequisite.
set -euo pipefail

at_script=units.sh at_prefix=UNITS at_tools=()
# shellcheck source=tests/lib/ansible_test_tree.sh
source "$(dirname "$0")/lib/ansible_test_tree.sh"

if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
  sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi
at_main units "$@"
