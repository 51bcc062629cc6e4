#!/usr/bin/env bash
# The alert rules (roles/monitoring/files/rules/*.rules.yml): `promtool check rules`, then the unit tests
# of tests/promtool/*.test.yml (`promtool test rules`). Run by tests/run-all.sh (step `promtool`).
#
# promtool comes from Debian's `prometheus` package, unpacked into a cache directory (nothing is
# installed or started on this machine): $PROMTOOL if set, else `promtool` on PATH, else
# $HA_LAMP_PROMTOOL_CACHE (default .cache/promtool in the checkout) from an earlier run, else
# `apt-get download prometheus` + `dpkg-deb -x` into that cache. On a fresh machine whose package lists
# are empty, root runs `apt-get update` first.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cache="${HA_LAMP_PROMTOOL_CACHE:-$repo/.cache/promtool}"

find_promtool() {
  if [[ -n "${PROMTOOL:-}" ]]; then echo "$PROMTOOL"; return; fi
  if command -v promtool >/dev/null 2>&1; then command -v promtool; return; fi
  if [[ -x "$cache/usr/bin/promtool" ]]; then echo "$cache/usr/bin/promtool"; return; fi
  local tmp
  tmp="$(mktemp -d)"
  # shellcheck disable=SC2064
  trap "rm -rf '$tmp'" RETURN
  if ! apt-cache show prometheus >/dev/null 2>&1; then
    if [[ $(id -u) -eq 0 ]]; then
      apt-get update -qq >&2
    else
      echo "promtool: the package lists do not know 'prometheus'; run 'apt-get update' as root, or set PROMTOOL" >&2
      return 1
    fi
  fi
  (cd "$tmp" && apt-get download -qq prometheus >&2 2>/dev/null) \
    || (cd "$tmp" && apt-get download prometheus >&2) \
    || { echo "promtool: 'apt-get download prometheus' failed" >&2; return 1; }
  mkdir -p "$cache"
  dpkg-deb -x "$tmp"/prometheus_*.deb "$tmp/root"
  install -D -m 0755 "$tmp/root/usr/bin/promtool" "$cache/usr/bin/promtool"
  echo "$cache/usr/bin/promtool"
}

promtool="$(find_promtool)"
echo "promtool: $promtool ($("$promtool" --version 2>&1 | head -n 1))"
cd "$repo"
shopt -s nullglob
rules=(roles/monitoring/files/rules/*.rules.yml)
tests=(tests/promtool/*.test.yml)
((${#rules[@]})) || { echo "no rule files under roles/monitoring/files/rules" >&2; exit 1; }
((${#tests[@]})) || { echo "no rule tests under tests/promtool" >&2; exit 1; }
"$promtool" check rules "${rules[@]}"
"$promtool" test rules "${tests[@]}"
