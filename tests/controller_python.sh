#!/usr/bin/env bash
# ansible-test sanity and units on the other controller Python we support: Python 3.13, Debian 13's
# (Debian 12 has only 3.11, which tests/sanity.sh and tests/units.sh run on the host). Both scripts run
# unchanged, with ANSIBLE_TEST_PYTHON=3.13, in a podman container of the lab's Debian 13 image.
#
#   tests/controller_python.sh                     sanity (every test) and units
#   tests/controller_python.sh sanity --test pylint   one of them, with ansible-test options
#   tests/controller_python.sh units
#
# How (root; podman with runc, as for the lab):
#   - image: localhost/ha-lamp-debian:trixie, built with `./labctl images trixie` if missing (no registry
#     here), plus tests/controller_python/Containerfile: python3-venv, shellcheck, git from Debian's
#     archive and the ansible-core pinned in test-requirements.txt in /opt/ansible-core, as
#     localhost/ha-lamp-ansible-test:trixie. That image is rebuilt only when its recipe changes (the
#     Containerfile, the pin, the host's CA certificates, the parent image's ID);
#   - container: podman's default network (it reaches PyPI and Debian's archive; never the lab network),
#     the checkout mounted read-only at its own path, nothing of the lab touched;
#   - cache: ansible-test's sanity venvs (~/.ansible/test in the container) live in
#     .cache/controller-python/<image ID>/ (git-ignored), one folder per image, so a venv is only ever
#     reused by the same Python build it was made with (ansible-test keys each venv by its requirements
#     and marks it complete only after its install); a flock keeps two runs from sharing it at once.
#     CONTROLLER_PYTHON_CACHE=0 runs without it (everything from PyPI, as on a fresh machine).
#
# Exit status: 0 both passed, 1 a test run failed (both always run), 2 set-up error.
set -uo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo" || exit 2
export CONTAINERS_CONF="${CONTAINERS_CONF:-$repo/lab/containers.conf}"

readonly python_version=3.13 release=trixie
readonly debian_image="localhost/ha-lamp-debian:$release"
readonly test_image="localhost/ha-lamp-ansible-test:$release"
readonly ca_dir="${HA_LAMP_EE_CA_DIR:-/usr/local/share/ca-certificates}"
readonly container="ha-lamp-controller-py${python_version//./}-$$"
start=$SECONDS
# shellcheck source=tests/lib/idle_cgroup.sh
source "$repo/tests/lib/idle_cgroup.sh"   # podman_run_cgroup, podman_build_cgroup: beside the lab, its idle cgroup

say() { printf '\n==> %s\n' "$*"; }
die() { echo "controller_python.sh: $*" >&2; exit 2; }

work="$(mktemp -d /var/tmp/ha-lamp-controller-python.XXXXXX)"
cleanup() {
  podman rm -f --ignore "$container" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

# --- the image --------------------------------------------------------------------------------------
phase_start=$SECONDS
say "image $test_image"
if ! podman image exists "$debian_image"; then
  ./labctl images "$release" || die "building $debian_image failed"
fi
ansible_core="$(grep -E '^ansible-core==' test-requirements.txt)" || die "test-requirements.txt pins no ansible-core"
context="$work/context"
mkdir -p "$context/ca-certificates"
cp tests/controller_python/Containerfile "$context/"
if [[ -d "$ca_dir" ]]; then
  find "$ca_dir" -maxdepth 1 -type f -name '*.crt' -exec cp {} "$context/ca-certificates/" \;
fi
recipe="$( {
  podman image inspect --format '{{.Id}}' "$debian_image"
  echo "$ansible_core"
  cd "$context" && find . -type f | LC_ALL=C sort | xargs sha256sum
} | sha256sum | cut -c1-16)"
current="$(podman image inspect --format '{{ index .Labels "ha_lamp.ansible_test.recipe" }}' "$test_image" 2>/dev/null || true)"
if [[ "$current" == "$recipe" ]]; then
  echo "up to date (recipe $recipe)"
else
  old_id="$(podman image inspect --format '{{.Id}}' "$test_image" 2>/dev/null || true)"
  echo "building (recipe $recipe, $ansible_core) ..."
  podman build "${podman_build_cgroup[@]}" --pull=never --layers=false --label "ha_lamp.ansible_test.recipe=$recipe" \
    --build-arg "DEBIAN_IMAGE=$debian_image" --build-arg "ANSIBLE_CORE=$ansible_core" \
    -f "$context/Containerfile" -t "$test_image" "$context" >"$work/build.log" 2>&1 ||
    { tail -n 40 "$work/build.log" >&2; die "the image build failed (log above)"; }
  # The image this one replaced, now untagged (only ours, and only if no container uses it).
  [[ -z "$old_id" ]] || podman rmi "$old_id" >/dev/null 2>&1 || true
  echo "built $test_image"
fi
image_id="$(podman image inspect --format '{{.Id}}' "$test_image" | cut -c1-12)"
echo "image: $((SECONDS - phase_start)) s"

# --- the cache of ansible-test's venvs ----------------------------------------------------------------
cache_root="$repo/.cache/controller-python"
mounts=(-v "$repo:$repo:ro")
if [[ "${CONTROLLER_PYTHON_CACHE:-1}" != 0 ]]; then
  cache="$cache_root/$image_id"
  mkdir -p "$cache/ansible-test"
  # Folders of images that are gone hold venvs of another Python build: drop them.
  find "$cache_root" -mindepth 1 -maxdepth 1 -type d ! -name "$image_id" -exec rm -rf {} +
  exec 9>"$cache/.lock"
  flock -w 3600 9 || die "another run holds $cache/.lock"
  mounts+=(-v "$cache/ansible-test:/root/.ansible/test")
  echo "cache: $cache"
else
  echo "cache: none (CONTROLLER_PYTHON_CACHE=0)"
fi

# --- the tests ----------------------------------------------------------------------------------------
if (($#)); then runs=("$1"); shift; else runs=(sanity units); fi
for run in "${runs[@]}"; do
  [[ $run == sanity || $run == units ]] || die "unknown run '$run': sanity or units"
done
# Default network (podman's own bridge), no ports, no lab labels: the lab network is never joined.
# shellcheck disable=SC2016  # expanded in the container
podman run "${podman_run_cgroup[@]}" --rm --name "$container" --network podman "${mounts[@]}" -w "$repo" \
  -e ANSIBLE_TEST=/opt/ansible-core/bin/ansible-test -e ANSIBLE_TEST_PYTHON="$python_version" \
  "$test_image" bash -c '
    failed=0 results=()
    runs=($1); shift
    for run in "${runs[@]}"; do
      printf "\n==> ansible-test %s, Python %s (Debian %s in a container)\n" "$run" "$ANSIBLE_TEST_PYTHON" "$(cat /etc/debian_version)"
      begin=$SECONDS
      if "tests/$run.sh" "$@"; then outcome=PASS; else outcome=FAIL; failed=1; fi
      results+=("$(printf "%s  %5ss  ansible-test %s (Python %s)" "$outcome" $((SECONDS - begin)) "$run" "$ANSIBLE_TEST_PYTHON")")
    done
    printf "\n%s\n" "${results[@]}"
    exit "$failed"
  ' bash "${runs[*]}" "$@"
status=$?
echo "controller_python.sh: wall time $((SECONDS - start)) s, exit status $status"
((status == 0)) || exit 1
