#!/usr/bin/env bash
# The whole test suite, in the order that fails fastest. Called by `./labctl test` (which installs
# everything first) and therefore by CI's .ci/run. Prints each step's wall time and a closing tally.
# With step keys as arguments (`./labctl test pytest sanity`), runs only those steps; `--list` lists them.
set -uo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo" || exit 1
export ANSIBLE_CONFIG="$repo/ansible.cfg" CONTAINERS_CONF="$repo/lab/containers.conf"
export PY_COLORS=0 ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0
# shellcheck source=tests/lib/idle_cgroup.sh
source tests/lib/idle_cgroup.sh

# The suite, in order. Each step is declared once, here: a first pass over it only collects the keys
# that `./labctl test KEY...` accepts, the second runs the steps.
suite() {
  step yamllint "yamllint" yamllint --strict .
  step ansible-lint "ansible-lint (production profile)" ansible-lint
  # Two workers (pytest-xdist): the playbook-level tests spend their time in ansible-playbook subprocesses.
  step pytest "unit and plugin tests (pytest)" python -m pytest -q -n 2 tests/unit tests/integration
  step promtool "alert rules: promtool check rules and promtool test rules" tests/promtool.sh
  step sanity "ansible-test sanity (Python 3.11)" tests/sanity.sh
  step units "ansible-test units (Python 3.11, tests/unit/requirements.txt)" tests/units.sh
  step core-range "older ansible-core of the supported range (2.17, 2.18): syntax, units, validator, sanity" tests/core_range.sh
  step controller-py313 "ansible-test sanity and units on Python 3.13 (Debian 13, in a container)" tests/controller_python.sh
  step docs "docs: antsibull-docs lint, docs site, every option rendered" tests/docsite.sh
  step validator-bench "validator benchmark (small sizes)" python benchmarks/bench_validator.py --sizes 100,1000
  step collection-install "collection build and offline install" tests/collection_install.sh
  step importer "galaxy-importer on the built tarball (0 errors, 0 warnings)" tests/importer.sh
  step ee "execution environment: ansible-builder build, validate.yml through ansible-runner in it" tests/ee.sh
  step molecule-cluster "molecule cluster (Debian 12, with failure drills)" molecule_test cluster
  step molecule-trixie "molecule cluster_trixie (Debian 13)" molecule_test cluster_trixie
}

# `molecule test -s SCENARIO`, one action at a time in the scenario's own test_sequence, so that the
# converge alone runs site.yml under HA_LAMP_SITE_STRATEGY (labctl names Mitogen's linear strategy:
# see labctl's site_strategy). The other actions keep Ansible's linear strategy. After a failed
# action the lab is destroyed, as `molecule test` does.
molecule_test() {
  local scenario="$1" action
  for action in $(python -c 'import sys, yaml; print(*yaml.safe_load(open(sys.argv[1]))["scenario"]["test_sequence"])' \
                    "molecule/$scenario/molecule.yml"); do
    if [[ $action == converge ]]; then
      ANSIBLE_STRATEGY="${HA_LAMP_SITE_STRATEGY:-linear}" molecule converge -s "$scenario"
    else
      molecule "${action//_/-}" -s "$scenario"
    fi || { molecule destroy -s "$scenario"; return 1; }
  done
}

# The steps that need no lab. In a whole-suite run they run beside the Molecule scenarios, in one background
# run of this script in an idle CPU cgroup (tests/lib/idle_cgroup.sh): the scenarios leave the CPU idle while
# they wait on failovers, timeouts and the drills' bounded probes, and these steps use only that time instead
# of adding about 15 minutes before the lab starts. Only yamllint and the collection build and install still
# run first: ansible-lint and pytest took two minutes there that the suite's 60-minute budget no longer has,
# and their verdict counts the same at the end. HA_LAMP_SUITE_SERIAL=1 runs every step in order instead, and
# so does a host where no idle cgroup can be made.
beside_lab=(ansible-lint pytest promtool sanity units core-range controller-py313 docs validator-bench importer ee)

mode=keys all_steps=()
step() {
  local key="$1" name="$2"; shift 2
  if [[ $mode == keys ]]; then all_steps+=("$key"); return; fi
  if ((${#selected[@]})) && [[ " ${selected[*]} " != *" $key "* ]]; then return; fi
  if [[ $beside_wanted == 1 && " ${beside_lab[*]} " == *" $key "* ]]; then
    [[ -n $beside_pid ]] || start_beside_lab
    [[ -z $beside_pid ]] || return 0
  fi
  local start=$SECONDS log="$logs/$key.log"
  printf '\n\033[1m==> %s\033[0m\n' "$name"
  # The output goes to the terminal as it comes, and to a log the failure digest reads.
  if "$@" 2>&1 | tee "$log"; then
    passed=$((passed + 1)); results+=("PASS  $(printf '%5ss' $((SECONDS - start)))  $name")
  else
    failed=$((failed + 1)); results+=("FAIL  $(printf '%5ss' $((SECONDS - start)))  $name")
    failed_keys+=("$key")
  fi
}

# After the tally, what each failed step said when it failed: its error lines (Ansible's fatal results
# and failed assertions, pytest's failures, ansible-test's errors), so that the end of a long CI log names
# the cause; a step whose log has none of them shows its last lines. Retries ("FAILED - RETRYING") are
# not failures and are left out.
failure_digest() {
  local key digest
  for key in "${failed_keys[@]}"; do
    printf '\n--- %s: the failure, from %s\n' "$key" "$logs/$key.log"
    digest="$(grep -n -E -A 12 '^fatal: |^FAILED |^ERROR: |^E   |^\[ERROR\]' "$logs/$key.log" | grep -v 'FAILED - RETRYING' | tail -n 60)"
    if [[ -n $digest ]]; then printf '%s\n' "$digest"; else tail -n 30 "$logs/$key.log"; fi
  done
}
# Starts the steps that need no lab in the background, at the first of them; when no idle cgroup can be made,
# says so and leaves beside_pid empty (the steps then run in order, here).
start_beside_lab() {
  if ! idle_cgroup_make; then
    echo "(no idle CPU cgroup on this host: the steps that need no lab run in order, before the lab)"
    beside_wanted=0
    return
  fi
  printf '\n\033[1m==> beside the lab, in the background at idle CPU priority: %s\033[0m\n' "${beside_lab[*]}"
  printf '    their output follows the lab steps; it is written to %s as it comes\n' "$logs/beside-lab.log"
  beside_start=$SECONDS
  # setsid: its own process group, which the exit trap can stop as a whole. The shell enters the cgroup, then
  # becomes the background run (exec keeps its PID, hence its cgroup).
  # shellcheck disable=SC2016  # expanded by that shell
  setsid bash -c 'source tests/lib/idle_cgroup.sh
                  idle_cgroup_enter || echo "(could not enter the idle CPU cgroup: these steps run at normal priority)"
                  HA_LAMP_PODMAN_CGROUP_PARENT="/$idle_cgroup_name" HA_LAMP_SUITE_RESULTS="$0" exec bash tests/run-all.sh "$@"' \
    "$logs/beside-lab.results" "${beside_lab[@]}" > "$logs/beside-lab.log" 2>&1 &
  beside_pid=$!
}

# Waits for the background steps, shows their output, and counts their results as this run's.
finish_beside_lab() {
  [[ -n $beside_pid ]] || return 0
  wait "$beside_pid"
  beside_pid=""
  printf '\n\033[1m==> the steps beside the lab (finished %ss after they started)\033[0m\n' $((SECONDS - beside_start))
  cat "$logs/beside-lab.log"
  local line beside_failed=0
  if [[ -s "$logs/beside-lab.results" ]]; then
    while IFS= read -r line; do
      results+=("$line (beside the lab)")
      if [[ $line == PASS* ]]; then passed=$((passed + 1)); else failed=$((failed + 1)) beside_failed=1; fi
    done < "$logs/beside-lab.results"
  else
    # A background run that died before its tally counts as one failure.
    failed=$((failed + 1)) beside_failed=1
    results+=("FAIL  the steps beside the lab: no tally")
  fi
  # The failure digest then reads the background run's log, which holds its own digest.
  ((beside_failed == 0)) || failed_keys+=(beside-lab)
  idle_cgroup_remove
}
suite

selected=("$@")
if [[ "${1:-}" == "--list" ]]; then printf '%s\n' "${all_steps[@]}"; exit 0; fi
for key in "${selected[@]}"; do
  [[ " ${all_steps[*]} " == *" $key "* ]] || { echo "unknown step '$key'; the steps are: ${all_steps[*]}" >&2; exit 2; }
done

passed=0 failed=0 results=() failed_keys=()
# Each step's output, kept for the failure digest (and for a look afterwards, outside the checkout).
logs="$(mktemp -d /var/tmp/ha-lamp-suite.XXXXXX)"
cleanup() {
  # Never leave lab containers or the lab network behind, whatever failed; nor the background steps.
  [[ -z $beside_pid ]] || kill -- "-$beside_pid" 2>/dev/null
  ansible-playbook -i inventories/lab lab/destroy.yml >/dev/null 2>&1 || true
}
# Only a run with a Molecule step owns the lab: `./labctl test pytest` leaves a running lab alone.
if ((${#selected[@]} == 0)) || [[ " ${selected[*]} " == *" molecule-"* ]]; then trap cleanup EXIT; fi

beside_pid="" beside_wanted=0
((${#selected[@]} == 0)) && [[ ${HA_LAMP_SUITE_SERIAL:-0} != 1 ]] && beside_wanted=1
mode=run
suite
finish_beside_lab

failure_digest
printf '\n%s\n' "${results[@]}"
# A background run of this script (the steps beside the lab) hands its tally to the run that started it.
[[ -z ${HA_LAMP_SUITE_RESULTS:-} ]] || printf '%s\n' "${results[@]}" > "$HA_LAMP_SUITE_RESULTS"
echo "suite: $passed passed, $failed failed; each step's output in $logs"
[[ $failed -eq 0 ]]
