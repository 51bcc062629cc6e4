#!/usr/bin/env bash
# ansible-test sanity for this collection, offline except for PyPI (and Debian for shellcheck).
#
# Usage: tests/sanity.sh [extra ansible-test sanity options...]
#   e.g. tests/sanity.sh                      # every test, Python 3.11
#        tests/sanity.sh --test pylint        # one test
#        SANITY_KEEP=1 tests/sanity.sh        # keep the temporary tree (its tests/output) for a look
#        ANSIBLE_TEST_PYTHON=3.13 tests/sanity.sh   # on another controller Python (tests/controller_python.sh)
#
# What it tests: the WORKING TREE (tracked files plus new, not git-ignored ones, with their uncommitted
# edits; deleted files are left out), copied into a temporary ansible_collections/onprem/ha_lamp, because
# ansible-test needs that layout. On a clean CI clone that is exactly the committed content.
#
# Needs: git, python3.11 with ensurepip (Debian: python3.11-venv), shellcheck (Debian: shellcheck),
# and ansible-test (ansible-core) in .venv or on PATH. Each sanity test gets its own venv with its pinned
# tools from PyPI (--venv --requirements); the venvs are cached in ~/.ansible/test/venv, so the first run is
# the slow one. The shared parts (tree copy, get-pip stand-in) are in tests/lib/ansible_test_tree.sh.
#
# Environment: ANSIBLE_TEST (the ansible-test to run; default .venv/bin/ansible-test, else PATH),
#   ANSIBLE_TEST_PYTHON (default 3.11), SANITY_TIMEOUT (seconds before the run is killed, default 3600),
#   SANITY_KEEP=1 (keep the tree).
# Exit status: ansible-test's (non-zero on any sanity error), 124 on timeout, 2 on a missing prerequisite.
set -euo pipefail

at_script=sanity.sh at_prefix=SANITY at_tools=(shellcheck)
# shellcheck source=tests/lib/ansible_test_tree.sh
source "$(dirname "$0")/lib/ansible_test_tree.sh"

if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
  sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi
at_main sanity "$@"
