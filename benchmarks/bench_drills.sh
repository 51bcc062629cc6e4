#!/usr/bin/env bash
# Drill figures as medians: run playbooks/drill.yml RUNS times against the running lab, then write
# the median of every drill's figures (drill_report mode=median) next to the runs.
#
#   benchmarks/bench_drills.sh 5                          # every drill, 5 runs
#   benchmarks/bench_drills.sh 20 db_kill                 # 20 kill -9 failovers
#   benchmarks/bench_drills.sh 5 lb_kill,lb_graceful      # some drills
#
# Output: drill-reports/bench-<UTC time>/run-N/ (each run's reports) and median.md / median.json.
# A run with a correctness breach stops the series (the cluster may need repair); the medians of
# the runs before it are still written, and the script exits non-zero.
set -uo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo" || exit 1
export ANSIBLE_CONFIG="$repo/ansible.cfg" CONTAINERS_CONF="$repo/lab/containers.conf"
export PATH="$repo/.venv/bin:$PATH"

runs="${1:?usage: benchmarks/bench_drills.sh RUNS [DRILL,DRILL...]}"
drills="${2:-}"
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "RUNS must be a positive whole number, got '$runs'" >&2; exit 2; }
out="$repo/drill-reports/bench-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"

status=0 done_runs=()
for ((i = 1; i <= runs; i++)); do
  echo "== run $i of $runs: ${drills:-every drill} -> $out/run-$i"
  args=(-i inventories/lab playbooks/drill.yml -e "drill_report_dir=$out/run-$i")
  [[ -n "$drills" ]] && args+=(-e "drills=$drills")
  if ansible-playbook "${args[@]}" > "$out/run-$i.log" 2>&1; then
    done_runs+=("$out/run-$i")
  else
    echo "run $i failed (see $out/run-$i.log); stopping the series" >&2
    [[ -f "$out/run-$i/report.json" ]] && done_runs+=("$out/run-$i")
    status=1
    break
  fi
  # Each drill's figures line, as the YAML callback prints it (first line of it when wrapped).
  grep -E "^\s+- '[a-z_]+: RTO" "$out/run-$i.log" | sed "s/^ *- '//"
done

if ((${#done_runs[@]})); then
  runs_json="$(printf '"%s",' "${done_runs[@]}")"
  ansible localhost -o -m onprem.ha_lamp.drill_report \
    -a "{\"mode\": \"median\", \"report_dir\": \"$out\", \"runs\": [${runs_json%,}]}" > "$out/median.log" 2>&1 \
    || { echo "median report failed: $out/median.log" >&2; status=1; }
  [[ -f "$out/median.md" ]] && cat "$out/median.md"
fi
echo "reports: $out"
exit $status
