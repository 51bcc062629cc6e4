#!/usr/bin/env bash
# ansible-test sanity for this collection, offline except for PyPI (and Debian for shellcheck).
#
# Usage: tests/sanity.sh [extra ansible-test sanity options...]
#   e.g. tests/sanity.sh                      # every test, Python 3.11
#        tests/sanity.sh --test pylint        # one test
#        SANITY_KEEP=1 tests/sanity.sh        # keep the temporary tree (its tests/output) for a look
#
# What it tests: the WORKING TREE (tracked files plus new, not git-ignored ones, with their uncommitted
# edits; deleted files are left out), copied into a temporary ansible_collections/onprem/ha_lamp, because
# ansible-test needs that layout. On a clean CI clone that is exactly the committed content.
#
# Needs: git, python3.11 with ensurepip (Debian: python3.11-venv), shellcheck (Debian: shellcheck),
# and ansible-test (ansible-core) in .venv or on PATH. Each sanity test gets its own venv with its pinned
# tools from PyPI (--venv --requirements); the venvs are cached in ~/.ansible/test/venv, so the first run is
# the slow one.
#
# Environment: ANSIBLE_TEST (the ansible-test to run; default .venv/bin/ansible-test, else PATH),
#   SANITY_TIMEOUT (seconds before the run is killed, default 3600), SANITY_KEEP=1 (keep the tree).
# Exit status: ansible-test's (non-zero on any sanity error), 124 on timeout, 2 on a missing prerequisite.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
start_seconds=$SECONDS
timeout_seconds="${SANITY_TIMEOUT:-3600}"
work=""

usage() {
  sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
}

die_missing() {
  echo "sanity.sh: $1" >&2
  exit 2
}

cleanup() {
  local status=$?
  if [[ -n "$work" ]]; then
    if [[ "${SANITY_KEEP:-0}" == 1 ]]; then
      echo "sanity.sh: kept the test tree in $work"
    else
      rm -rf "$work"
    fi
  fi
  echo "sanity.sh: wall time $((SECONDS - start_seconds))s, exit status $status"
}

find_ansible_test() {
  if [[ -n "${ANSIBLE_TEST:-}" ]]; then
    echo "$ANSIBLE_TEST"
  elif [[ -x "$repo/.venv/bin/ansible-test" ]]; then
    echo "$repo/.venv/bin/ansible-test"
  elif command -v ansible-test >/dev/null 2>&1; then
    command -v ansible-test
  else
    die_missing "ansible-test not found: build .venv (./labctl test does), or pip install the pinned ansible-core"
  fi
}

check_prerequisites() {
  command -v git >/dev/null 2>&1 || die_missing "git is missing: apt-get install git"
  command -v shellcheck >/dev/null 2>&1 ||
    die_missing "shellcheck is missing (the shellcheck sanity test needs it): apt-get install shellcheck"
  command -v python3.11 >/dev/null 2>&1 || die_missing "python3.11 is missing: apt-get install python3.11"
  python3.11 -c 'import ensurepip' 2>/dev/null ||
    die_missing "python3.11 has no ensurepip (the offline get-pip stand-in needs it): apt-get install python3.11-venv"
}


# ansible-test bootstraps pip in each venv with a get-pip script from ci-files.testing.ansible.com, which is
# unreachable here. It first looks in a cache file (ansible_test/_util/target/setup/requirements.py,
# bootstrap()): ~/.ansible/test/cache/get_pip_<pip version with _ for .>.py, the version coming from
# get_venv_packages() in ansible_test/_internal/python_requirements.py (24.2 in ansible-core 2.19). We
# ask that same function rather than hard-coding the version, so an ansible-core upgrade keeps working.
pip_bootstrap_version() {
  # The interpreter in ansible-test's shebang (a venv's python, or e.g. "/usr/bin/env python3"), so
  # that we read the same ansible_test package it runs.
  local first_line interpreter
  first_line="$(head -n 1 "$1")"
  read -r -a interpreter <<<"${first_line#\#!}"
  "${interpreter[@]}" - <<'PY'
import types
from ansible_test._internal.python_requirements import get_venv_packages
print(get_venv_packages(types.SimpleNamespace(version='3.11'))['pip'])
PY
}

# The stand-in: ansible-test runs the cache file as a module with get-pip's arguments
# (--disable-pip-version-check pip==<version> --no-setuptools --no-wheel). We get pip from the
# standard library's ensurepip, then upgrade it to the pinned version from PyPI; get-pip's own flags
# are translated, so the venv ends up as get-pip would leave it (pip only).
write_get_pip_stand_in() {
  local cache_file="$1"
  mkdir -p "$(dirname "$cache_file")"
  cat >"$cache_file.tmp" <<'PY'
"""Offline stand-in for get-pip.py, written by tests/sanity.sh (onprem.ha_lamp): ensurepip, then pip from PyPI."""
import subprocess
import sys

GET_PIP_ONLY_FLAGS = ('--no-setuptools', '--no-wheel')
arguments = sys.argv[1:]
pip_arguments = [argument for argument in arguments if argument not in GET_PIP_ONLY_FLAGS]
subprocess.run([sys.executable, '-m', 'ensurepip', '--default-pip'], check=True, stdout=subprocess.DEVNULL)
subprocess.run([sys.executable, '-m', 'pip', 'install', '--quiet'] + pip_arguments, check=True)
# ensurepip also brings setuptools on Python 3.11; get-pip --no-setuptools would not have installed it.
if '--no-setuptools' in arguments:
    subprocess.run([sys.executable, '-m', 'pip', 'uninstall', '--quiet', '--yes', 'setuptools'], check=False)
PY
  mv "$cache_file.tmp" "$cache_file"
}

ensure_get_pip_stand_in() {
  local version cache_file
  version="$(pip_bootstrap_version "$1")"
  cache_file="$HOME/.ansible/test/cache/get_pip_${version//./_}.py"
  # A real get-pip.py someone put there is fine too; only write ours when nothing is there.
  if [[ ! -s "$cache_file" ]]; then
    write_get_pip_stand_in "$cache_file"
    echo "sanity.sh: wrote the offline get-pip stand-in $cache_file"
  fi
}

# Copy the working tree's files (symlinks stay symlinks) into ansible_collections/onprem/ha_lamp, and make
# the copy a git work tree (no commit) so ansible-test lists files with git, as it does in a real clone.
copy_collection() {
  local destination="$1"
  mkdir -p "$destination"
  (
    cd "$repo"
    git ls-files -z --cached --others --exclude-standard |
      while IFS= read -r -d '' path; do
        # Tracked files deleted in the working tree are left out, as they would be after a commit.
        if [[ -e "$path" || -L "$path" ]]; then printf '%s\0' "$path"; fi
      done |
      tar --null --no-recursion -T - -cf -
  ) | tar -xf - -C "$destination"
  git -C "$destination" init --quiet
}

main() {
  if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
    usage
    exit 0
  fi
  check_prerequisites
  local ansible_test collection
  ansible_test="$(find_ansible_test)"
  ensure_get_pip_stand_in "$ansible_test"

  trap cleanup EXIT
  work="$(mktemp -d -t ha_lamp-sanity.XXXXXX)"
  collection="$work/ansible_collections/onprem/ha_lamp"
  copy_collection "$collection"

  cd "$collection"
  # The repository's ansible.cfg and an operator's collection path must not leak into the test.
  unset ANSIBLE_CONFIG ANSIBLE_COLLECTIONS_PATH ANSIBLE_COLLECTIONS_PATHS
  timeout --kill-after=30 "$timeout_seconds" \
    "$ansible_test" sanity --venv --requirements --python 3.11 --color no "$@"
}

main "$@"
