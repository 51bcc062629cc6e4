#!/usr/bin/env bash
# Check that the Galaxy tarball holds the collection and nothing else.
#
#   tests/tarball_contents.sh                 build the tarball from this checkout (into a temporary
#                                             directory, removed afterwards) and check it
#   tests/tarball_contents.sh FILE.tar.gz     check a tarball already built (tests/collection_install.sh)
#
# Fails, naming every offender, when:
#   - a path is outside the allow-list below (the lab, labctl, Molecule, benchmarks, ansible.cfg, the
#     lab inventory, dev requirements, test suites... are not in it, so they fail if build_ignore lets
#     them through), or is junk anywhere (__pycache__, *.pyc, an operator's vault.yml);
#   - a role, playbook or plugin file of the checkout is missing from the tarball;
#   - a file ansible-builder or ansible-test read from the installed collection is missing, or
#     tests/sanity/ignore-*.txt names a path that does not ship (ansible-test rejects such entries);
#   - requirements.txt carries a development pin (==, ansible, ansible-core, test tools).
# Prints the top-level listing with entry counts and the tarball size. Needs ansible-galaxy on PATH
# (the .venv) only when it builds. Exit status: 0 clean, 1 offenders found, 2 usage or build error.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Where each shipped path may live. The whole of these top-level directories is the collection.
readonly whole_dirs='meta|plugins|roles|playbooks|docs|changelogs'
# Top-level files: the docs, the generated manifests, and the runtime dependency files that
# ansible-builder reads (meta/execution-environment.yml points at them).
readonly top_files='README\.md|LICENSE|CHANGELOG\.md|MANIFEST\.json|FILES\.json|requirements\.txt|bindep\.txt'
# Mixed directories: only these parts ship (see build_ignore in galaxy.yml for why).
readonly partial_paths='inventories|inventories/example(/.*)?|tests|tests/sanity|tests/sanity/ignore-[0-9.]+\.txt|tools|tools/ha_lamp_probe\.py|tools/wordpress(/.*)?'
readonly allowed="^((${whole_dirs})(/.*)?|(${top_files})|(${partial_paths}))$"
# Never acceptable, wherever they are.
readonly junk='(^|/)(__pycache__(/|$)|[^/]*\.pyc$|\.pytest_cache(/|$)|\.cache(/|$)|vault\.yml$)'

die() { echo "$*" >&2; exit 2; }

build_tarball() {
  ansible-galaxy collection build "$repo" --output-path "$work/dist" --force >/dev/null \
    || die "ansible-galaxy collection build failed"
  ls "$work"/dist/onprem-ha_lamp-*.tar.gz
}

# The tarball's paths, one a line, without the "./" prefix or a trailing "/" on directories.
list_paths() {
  tar -tzf "$1" | sed -e 's|^\./||' -e 's|/$||' | grep -v '^$' | sort -u
}

report_offenders() {
  local title="$1" offenders="$2"
  [[ -z "$offenders" ]] && return 0
  echo "FAIL: $title:" >&2
  local line
  while IFS= read -r line; do printf '  %s\n' "$line" >&2; done <<< "$offenders"
  return 1
}

outside_allow_list() { grep -Ev "$allowed" "$1" || true; }
junk_paths() { grep -E "$junk" "$1" || true; }

# Every role, playbook and plugin file of the checkout (caches aside) must ship.
missing_content() {
  local listing="$1"
  (cd "$repo" && find roles playbooks plugins -type f ! -path '*/__pycache__/*' ! -name '*.pyc' | sort) \
    | comm -23 - <(sort "$listing")
}

# Files read from the installed collection: by ansible-builder (EE dependencies), ansible-galaxy and
# ansible-test (requires_ansible).
missing_required_files() {
  local listing="$1" file
  for file in MANIFEST.json FILES.json README.md LICENSE meta/runtime.yml meta/execution-environment.yml \
      requirements.txt bindep.txt; do
    grep -qxF "$file" "$listing" || echo "$file"
  done
}

# ansible-test fails an ignore entry whose path does not exist, so every path an ignore file names
# must ship beside it.
ignored_paths_not_shipped() {
  local tarball="$1" listing="$2" ignore_file path
  for ignore_file in $(grep -E '^tests/sanity/ignore-[0-9.]+\.txt$' "$listing" || true); do
    tar -xOzf "$tarball" "$ignore_file" | sed -e 's/#.*//' | awk 'NF {print $1}' | while read -r path; do
      grep -qxF "${path%/}" "$listing" || echo "$ignore_file:$path"
    done
  done
}

# requirements.txt ships to every EE: no exact pins, no Ansible itself, no development tools.
dev_pins_in_requirements() {
  local tarball="$1"
  tar -xOzf "$tarball" requirements.txt 2>/dev/null | sed -e 's/#.*//' | grep -v '^\s*$' \
    | grep -Ei '==|^\s*(ansible|ansible-core|ansible-lint|molecule|pytest[a-z-]*|yamllint|jinja2)\s*([<>=!~;[]|$)' \
    | tr -d ' ' || true
}

print_summary() {
  local tarball="$1" listing="$2"
  echo "tarball $(basename "$tarball"): $(stat -c %s "$tarball") bytes, $(wc -l < "$listing") entries"
  cut -d/ -f1 "$listing" | sort | uniq -c | sort -rn | awk '{printf "  %5d  %s\n", $1, $2}'
}

main() {
  local tarball listing="$work/paths.txt" failed=0
  case $# in
    0) tarball="$(build_tarball)" ;;
    1) tarball="$1"; [[ -f "$tarball" ]] || die "no such tarball: $tarball" ;;
    *) die "usage: $0 [FILE.tar.gz]" ;;
  esac
  list_paths "$tarball" > "$listing"
  print_summary "$tarball" "$listing"

  report_offenders "paths outside the allow-list (add them to build_ignore in galaxy.yml, or to this test's allow-list if they belong to the collection)" \
    "$(outside_allow_list "$listing")" || failed=1
  report_offenders "junk in the tarball" "$(junk_paths "$listing")" || failed=1
  report_offenders "roles/playbooks/plugins files of the checkout missing from the tarball" \
    "$(missing_content "$listing")" || failed=1
  report_offenders "files the installed collection needs, missing" "$(missing_required_files "$listing")" || failed=1
  report_offenders "sanity ignore entries for paths that do not ship" \
    "$(ignored_paths_not_shipped "$tarball" "$listing")" || failed=1
  report_offenders "development pins in requirements.txt (they belong in test-requirements.txt)" \
    "$(dev_pins_in_requirements "$tarball")" || failed=1

  if ((failed)); then exit 1; fi
  echo "tarball contents: OK (allow-list, no junk, every role/playbook/plugin present)"
}

main "$@"
