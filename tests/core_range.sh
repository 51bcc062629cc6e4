#!/usr/bin/env bash
# The oldest ansible-core releases of the supported range (meta/runtime.yml requires_ansible), tested the
# way the newest is tested by the rest of the suite: every playbook's syntax check, the unit tests of the
# plugin logic, the validator's playbook-level tests on good and bad inventories, and ansible-test sanity.
# The newest release of the range (the pinned one in test-requirements.txt) runs the whole suite, the
# Molecule cluster scenarios included; this script covers the older ones.
#
#   tests/core_range.sh                 every version in VERSIONS below
#   tests/core_range.sh 2.18.19         only the named versions
#
# Why the range starts at 2.17: community.crypto 3 (the services PKI, etcd and HAProxy certificates)
# requires ansible-core 2.17 or newer; 2.17 is also the oldest ansible-core that Python 3.11 controllers
# and current execution environments run. Each version gets its own venv, .venv-core-<version>
# (ansible-core at that version and the unit tests' pins from tests/unit/requirements.txt, pytest included),
# rebuilt when those requirements change. The collections galaxy.yml depends on come from the suite's
# .venv (the pinned `ansible` package, the lower bounds of galaxy.yml's ranges), as in an execution
# environment that holds them.
# Exit status: 0 every version passed, 1 a version failed (each failure is printed), 2 setup error.
set -uo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo" || exit 2
readonly VERSIONS=(2.17.14 2.18.19)
readonly suite_python="$repo/.venv/bin/python"
dependency_collections="$("$suite_python" -c 'import ansible_collections, os; print(os.path.dirname(list(ansible_collections.__path__)[0]))')" ||
  { echo "core_range.sh: the suite's .venv with the ansible package is missing (./labctl setup)" >&2; exit 2; }
export ANSIBLE_COLLECTIONS_PATH="$repo/.collections:$dependency_collections"
export ANSIBLE_CONFIG="$repo/ansible.cfg"

make_venv() {
  local version="$1" venv="$repo/.venv-core-$1" want
  want="$(printf '%s\n' "$version" | cat - tests/unit/requirements.txt test-requirements.txt | sha256sum | cut -d' ' -f1)"
  if [[ -f "$venv/.requirements.sha256" && "$(cat "$venv/.requirements.sha256")" == "$want" ]]; then return 0; fi
  echo "core_range.sh: creating $venv"
  rm -rf "$venv"
  python3 -m venv "$venv" || return 1
  # pip's warnings about this machine's absent local index folders are noise.
  # tests/unit/requirements.txt pins pytest, pytest-xdist and Jinja2 at test-requirements.txt's versions too.
  "$venv/bin/pip" install -q "ansible-core==$version" -r tests/unit/requirements.txt 2>&1 |
    grep -v "^WARNING: Location"
  "$venv/bin/ansible-playbook" --version >/dev/null 2>&1 || { echo "core_range.sh: ansible-core $version did not install" >&2; return 1; }
  echo "$want" > "$venv/.requirements.sha256"
}

check() {
  local what="$1"; shift
  local start=$SECONDS
  if "$@"; then
    results+=("PASS  $(printf '%4ss' $((SECONDS - start)))  $version: $what")
  else
    results+=("FAIL  $(printf '%4ss' $((SECONDS - start)))  $version: $what")
    failed=$((failed + 1))
  fi
}

syntax_check_all() {
  local playbook status=0
  for playbook in playbooks/*.yml; do
    "$venv/bin/ansible-playbook" -i inventories/lab --syntax-check "$playbook" >"$log" 2>&1 ||
      { echo "syntax check failed: $playbook"; cat "$log"; status=1; }
  done
  return "$status"
}

results=() failed=0
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
for version in "${@:-${VERSIONS[@]}}"; do
  venv="$repo/.venv-core-$version"
  printf '\n==> ansible-core %s\n' "$version"
  make_venv "$version" || exit 2
  check "syntax check of every playbook" syntax_check_all
  # conftest.py runs the ansible-playbook next to the interpreter: this version's.
  check "unit tests and the validator's playbook tests (pytest)" \
    "$venv/bin/python" -m pytest -q -n 2 -p no:cacheprovider tests/unit tests/integration/test_validate_playbook.py
  check "ansible-test sanity" env ANSIBLE_TEST="$venv/bin/ansible-test" tests/sanity.sh
done

printf '\n%s\n' "${results[@]}"
[[ $failed -eq 0 ]]
