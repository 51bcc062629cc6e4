# shellcheck shell=bash
# Shared by tests/sanity.sh and tests/units.sh (sourced, not run): run one ansible-test command on a copy of the
# working tree laid out as ansible_collections/onprem/ha_lamp, offline except for PyPI.
#
# The sourcing script sets, before sourcing:
#   at_script   its name for messages (sanity.sh, units.sh)
#   at_prefix   the prefix of its environment variables: <prefix>_TIMEOUT (seconds before the run is killed,
#               default 3600) and <prefix>_KEEP=1 (keep the temporary tree and its tests/output)
#   at_tools    (an array) the commands it needs besides git and Python (sanity.sh: shellcheck)
# then calls `at_main COMMAND "$@"` (COMMAND: sanity, units).
#
# Environment common to both: ANSIBLE_TEST (the ansible-test to run; default .venv/bin/ansible-test, else
# PATH), ANSIBLE_TEST_PYTHON (the controller Python that runs the tests, default 3.11; 3.13 in the
# controller-py313 step). Each test gets its own venv from PyPI (--venv --requirements), cached in
# ~/.ansible/test/venv.

: "${at_script:=ansible_test_tree.sh}" "${at_prefix:=ANSIBLE_TEST_TREE}"
[[ -v at_tools ]] || at_tools=()
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
at_python="${ANSIBLE_TEST_PYTHON:-3.11}"
at_start_seconds=$SECONDS
at_work=""

at_die_missing() {
  echo "$at_script: $1" >&2
  exit 2
}

at_cleanup() {
  local status=$? keep_var="${at_prefix}_KEEP"
  if [[ -n "$at_work" ]]; then
    if [[ "${!keep_var:-0}" == 1 ]]; then
      echo "$at_script: kept the test tree in $at_work"
    else
      rm -rf "$at_work"
    fi
  fi
  echo "$at_script: wall time $((SECONDS - at_start_seconds))s, exit status $status"
}

at_find_ansible_test() {
  if [[ -n "${ANSIBLE_TEST:-}" ]]; then
    echo "$ANSIBLE_TEST"
  elif [[ -x "$repo/.venv/bin/ansible-test" ]]; then
    echo "$repo/.venv/bin/ansible-test"
  elif command -v ansible-test >/dev/null 2>&1; then
    command -v ansible-test
  else
    at_die_missing "ansible-test not found: build .venv (./labctl test does), or pip install the pinned ansible-core"
  fi
}

# git (the tree copy), python<version> with ensurepip (the get-pip stand-in), and the commands named as
# arguments (sanity.sh: shellcheck).
at_check_prerequisites() {
  local python="python$at_python" tool
  command -v git >/dev/null 2>&1 || at_die_missing "git is missing: apt-get install git"
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || at_die_missing "$tool is missing (the $tool sanity test needs it): apt-get install $tool"
  done
  command -v "$python" >/dev/null 2>&1 || at_die_missing "$python is missing: apt-get install $python"
  "$python" -c 'import ensurepip' 2>/dev/null ||
    at_die_missing "$python has no ensurepip (the offline get-pip stand-in needs it): apt-get install $python-venv (Debian 13: python3-venv)"
}

# ansible-test bootstraps pip in each venv with a get-pip script from ci-files.testing.ansible.com, which is
# unreachable here. It first looks in a cache file (ansible_test/_util/target/setup/requirements.py,
# bootstrap()): ~/.ansible/test/cache/get_pip_<pip version with _ for .>.py, the version coming from
# get_venv_packages() in ansible_test/_internal/python_requirements.py (24.2 in ansible-core 2.19). We
# ask that same function rather than hard-coding the version, so an ansible-core upgrade keeps working.
at_pip_bootstrap_version() {
  # The interpreter in ansible-test's shebang (a venv's python, or e.g. "/usr/bin/env python3"), so
  # that we read the same ansible_test package it runs.
  local first_line interpreter
  first_line="$(head -n 1 "$1")"
  read -r -a interpreter <<<"${first_line#\#!}"
  "${interpreter[@]}" - "$at_python" <<'PY'
import sys
import types
from ansible_test._internal.python_requirements import get_venv_packages
print(get_venv_packages(types.SimpleNamespace(version=sys.argv[1]))['pip'])
PY
}

# The stand-in: ansible-test runs the cache file as a module with get-pip's arguments
# (--disable-pip-version-check pip==<version> --no-setuptools --no-wheel). We get pip from the
# standard library's ensurepip, then upgrade it to the pinned version from PyPI; get-pip's own flags
# are translated, so the venv ends up as get-pip would leave it (pip only).
at_write_get_pip_stand_in() {
  local cache_file="$1"
  mkdir -p "$(dirname "$cache_file")"
  cat >"$cache_file.tmp" <<'PY'
"""Offline stand-in for get-pip.py, written by tests/lib/ansible_test_tree.sh (onprem.ha_lamp): ensurepip, then pip from PyPI."""
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

at_ensure_get_pip_stand_in() {
  local version cache_file
  version="$(at_pip_bootstrap_version "$1")"
  cache_file="$HOME/.ansible/test/cache/get_pip_${version//./_}.py"
  # A real get-pip.py someone put there is fine too; only write ours when nothing is there.
  if [[ ! -s "$cache_file" ]]; then
    at_write_get_pip_stand_in "$cache_file"
    echo "$at_script: wrote the offline get-pip stand-in $cache_file"
  fi
}

# Copy the working tree's files (symlinks stay symlinks) into ansible_collections/onprem/ha_lamp, and make
# the copy a git work tree (no commit) so ansible-test lists files with git, as it does in a real clone.
at_copy_collection() {
  local destination="$1"
  mkdir -p "$destination"
  (
    cd "$repo" || exit 1
    git ls-files -z --cached --others --exclude-standard |
      while IFS= read -r -d '' path; do
        # Tracked files deleted in the working tree are left out, as they would be after a commit.
        if [[ -e "$path" || -L "$path" ]]; then printf '%s\0' "$path"; fi
      done |
      tar --null --no-recursion -T - -cf -
  ) | tar -xf - -C "$destination"
  git -C "$destination" init --quiet
}

# at_main COMMAND [ansible-test options...]: the whole run.
at_main() {
  local command="$1" timeout_var="${at_prefix}_TIMEOUT" ansible_test collection
  shift
  at_check_prerequisites "${at_tools[@]}"
  ansible_test="$(at_find_ansible_test)"
  at_ensure_get_pip_stand_in "$ansible_test"

  trap at_cleanup EXIT
  at_work="$(mktemp -d -t "ha_lamp-$command.XXXXXX")"
  collection="$at_work/ansible_collections/onprem/ha_lamp"
  at_copy_collection "$collection"

  cd "$collection" || exit 1
  # The repository's ansible.cfg and an operator's collection path must not leak into the test.
  unset ANSIBLE_CONFIG ANSIBLE_COLLECTIONS_PATH ANSIBLE_COLLECTIONS_PATHS
  timeout --kill-after=30 "${!timeout_var:-3600}" \
    "$ansible_test" "$command" --venv --requirements --python "$at_python" --color no "$@"
}
