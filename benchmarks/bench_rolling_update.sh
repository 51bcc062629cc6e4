#!/usr/bin/env bash
# Failed requests during a rolling update, over several runs: each run rolls a new release
# (bench-<time>-N) over the web nodes of the running lab with playbooks/rolling_update.yml while the
# drill probe sends 20 requests/s through the VIP (molecule/shared/rolling_update_under_load.yml),
# then prints the requests and failures of every run and their medians.
#
#   benchmarks/bench_rolling_update.sh 5
#
# A run with a failed request fails that playbook (its assert); the series goes on, so the figures
# show how many runs failed. Logs: drill-reports/rolling-<UTC time>/run-N.log
set -uo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo" || exit 1
export ANSIBLE_CONFIG="$repo/ansible.cfg" CONTAINERS_CONF="$repo/lab/containers.conf"
export PATH="$repo/.venv/bin:$PATH" ANSIBLE_NOCOLOR=1

runs="${1:?usage: benchmarks/bench_rolling_update.sh RUNS}"
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "RUNS must be a positive whole number, got '$runs'" >&2; exit 2; }
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
out="$repo/drill-reports/rolling-$stamp"
mkdir -p "$out"

figures=()
for ((i = 1; i <= runs; i++)); do
  start=$SECONDS
  ansible-playbook -i inventories/lab molecule/shared/rolling_update_under_load.yml \
    -e "web_app_release_id=bench-$stamp-$i" > "$out/run-$i.log" 2>&1
  rc=$?
  # The assert prints "rolling update: N requests, 0 failed" or "F of T requests failed during ...".
  line="$(grep -Eo 'rolling update: [0-9]+ requests, 0 failed|[0-9]+ of [0-9]+ requests failed' "$out/run-$i.log" | head -1)"
  if [[ "$line" =~ ^rolling\ update:\ ([0-9]+)\ requests ]]; then
    total="${BASH_REMATCH[1]}" failed=0
  elif [[ "$line" =~ ^([0-9]+)\ of\ ([0-9]+) ]]; then
    failed="${BASH_REMATCH[1]}" total="${BASH_REMATCH[2]}"
  else
    echo "run $i: no result (rc=$rc), see $out/run-$i.log" >&2
    continue
  fi
  echo "run $i: $total requests, $failed failed, $((SECONDS - start)) s (rc=$rc)"
  figures+=("$total $failed $((SECONDS - start))")
done

((${#figures[@]})) || { echo "no run produced a result" >&2; exit 1; }
printf '%s\n' "${figures[@]}" | python3 -c '
import statistics, sys
rows = [list(map(int, line.split())) for line in sys.stdin if line.strip()]
print("runs %d: requests median %s, failed median %s (max %d, runs with failures %d), duration median %s s" % (
    len(rows), statistics.median(r[0] for r in rows), statistics.median(r[1] for r in rows),
    max(r[1] for r in rows), sum(1 for r in rows if r[1]), statistics.median(r[2] for r in rows)))'
echo "logs: $out"
