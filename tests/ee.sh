#!/usr/bin/env bash
# Execution environment check: build the collection's execution environment (EE) image with
# ansible-builder and podman from the shipped execution-environment.yml, unchanged, then run in it
# what an AWX job runs: playbooks/validate.yml from a project checkout, against inventories/example
# (must pass) and against inventories/examples/bad_single_webserver (must be refused, exit code 2),
# plus ansible-doc of one of the collection's modules and a check that the collection, the
# collections it depends on and its Python requirements (PyMySQL, cryptography, matplotlib) are
# installed in the image.
#
# Why: execution-environment.yml, bindep.txt, requirements.txt and meta/execution-environment.yml are
# only read by ansible-builder; nothing else in the suite would notice if they stopped producing a
# working EE. CI has no container registry and no Galaxy, so:
#   - the base image is built locally (tests/ee/base.Containerfile, FROM the lab's Debian 12 image
#     that lab/build-image.sh makes with debootstrap) and passed as --build-arg EE_BASE_IMAGE; its
#     Debian specifics reach ansible-builder's dnf-minded steps through the PYPKG, PYCMD and PKGMGR
#     build args (tests/ee/ee-python3, tests/ee/ee-pkgmgr);
#   - the collection goes in from the tarball built here (into build/ee/, where the recipe expects
#     it), its dependency collections from the `ansible` package (PyPI), as the recipe says.
#
#   tests/ee.sh      (root; podman with runc, python3-venv, and the .venv of ./labctl setup for
#                     ansible-galaxy; the build reaches PyPI and deb.debian.org, the checks no network)
#
# Phases, each timed: .venv-ee (ansible-builder, pinned in tests/ee/requirements.txt, reinstalled
# when that file changes), base image (rebuilt only when its recipe hash changes, like
# lab/build-image.sh), collection tarball (replaced only when its content changes, so podman's layer
# cache holds), ansible-builder build (localhost/ha-lamp-ee:ci), checks in the EE. A second run with
# nothing changed reuses every layer.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$repo/lab/containers.conf}"

readonly debian_image="localhost/ha-lamp-debian:bookworm"
readonly base_image="localhost/ha-lamp-ee-base:bookworm"
readonly ee_image="localhost/ha-lamp-ee:ci"
readonly venv="$repo/.venv-ee"
readonly dist="$repo/build/ee"   # execution-environment.yml's additional_build_files read it
# Locally added CA certificates of this host, copied into the base image (see base.Containerfile).
readonly ca_dir="${HA_LAMP_EE_CA_DIR:-/usr/local/share/ca-certificates}"
# The inventory that must be refused, and the text the refusal must contain.
readonly bad_inventory="inventories/examples/bad_single_webserver"
readonly bad_finding="TIER_TOO_FEW_HOSTS webservers: only web1"

# shellcheck source=tests/lib/idle_cgroup.sh
source "$repo/tests/lib/idle_cgroup.sh"   # podman_run_cgroup, podman_build_cgroup: beside the lab, its idle cgroup
work="$(mktemp -d /var/tmp/ha-lamp-ee.XXXXXX)"
trap 'rm -rf "$work"' EXIT

die() { echo "ERROR: $*" >&2; exit 1; }
say() { printf '\n==> %s\n' "$*"; }

timings=()
phase_start=$SECONDS
phase() { phase_start=$SECONDS; say "$*"; }
phase_done() { timings+=("$(printf '%5ss  %s' $((SECONDS - phase_start)) "$1")"); }

# ---------------------------------------------------------------------------------------------------
phase "ansible-builder in .venv-ee"
want="$(sha256sum tests/ee/requirements.txt | cut -d' ' -f1)"
if [[ -x "$venv/bin/ansible-builder" && "$(cat "$venv/.requirements.sha256" 2>/dev/null)" == "$want" ]]; then
  echo "up to date ($("$venv/bin/ansible-builder" --version))"
else
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r tests/ee/requirements.txt > "$work/pip.log" 2>&1 \
    || { cat "$work/pip.log" >&2; die "installing tests/ee/requirements.txt into .venv-ee failed (log above)"; }
  echo "$want" > "$venv/.requirements.sha256"
  echo "installed ansible-builder $("$venv/bin/ansible-builder" --version)"
fi
phase_done ".venv-ee (ansible-builder)"

# ---------------------------------------------------------------------------------------------------
phase "base image $base_image"
if ! podman image exists "$debian_image"; then
  lab/build-image.sh bookworm
fi
context="$work/base"
mkdir -p "$context/ca-certificates"
cp tests/ee/base.Containerfile tests/ee/ee-pkgmgr tests/ee/ee-python3 "$context/"
if [[ -d "$ca_dir" ]]; then
  find "$ca_dir" -maxdepth 1 -type f -name '*.crt' -exec cp {} "$context/ca-certificates/" \;
fi
# The recipe: these files, the CA certificates and the exact parent image (a rebuilt lab image
# rebuilds this one).
recipe="$( {
  podman image inspect --format '{{.Id}}' "$debian_image"
  cd "$context" && find . -type f | LC_ALL=C sort | xargs sha256sum
} | sha256sum | cut -c1-16)"
current="$(podman image inspect --format '{{ index .Labels "ha_lamp.ee_base.recipe" }}' "$base_image" 2>/dev/null || true)"
if [[ "$current" == "$recipe" ]]; then
  echo "up to date (recipe $recipe)"
else
  echo "building (recipe $recipe) ..."
  podman build "${podman_build_cgroup[@]}" --pull=never --layers=false --label "ha_lamp.ee_base.recipe=$recipe" \
    -f "$context/base.Containerfile" -t "$base_image" "$context" > "$work/base-build.log" 2>&1 \
    || { tail -n 40 "$work/base-build.log" >&2; die "the base image build failed (log above)"; }
  echo "built $base_image"
fi
phase_done "base image"

# ---------------------------------------------------------------------------------------------------
phase "collection tarball in build/ee"
.venv/bin/ansible-galaxy collection build . --output-path "$work/dist" --force > /dev/null
new="$(ls "$work"/dist/onprem-ha_lamp-*.tar.gz)"
name="$(basename "$new")"
grep -qF "collections/$name" execution-environment.yml \
  || die "execution-environment.yml does not install collections/$name: keep its galaxy entry in step with galaxy.yml's version"
# ansible-galaxy stamps build times into the tarball, so a rebuilt tarball never matches the last one
# byte for byte. Compare what it holds (paths, modes, sizes, contents) and keep the old file when that
# is unchanged: podman's layer cache then reuses every layer that the collection feeds.
content_digest() { { tar -tvzf "$1" | awk '{print $1, $3, $NF}'; tar -xOzf "$1"; } | sha256sum | cut -d' ' -f1; }
mkdir -p "$dist"
if [[ -f "$dist/$name" && "$(content_digest "$dist/$name")" == "$(content_digest "$new")" ]]; then
  echo "$name: content unchanged, kept"
else
  mv "$new" "$dist/$name"
  echo "$name: written"
fi
find "$dist" -maxdepth 1 -name 'onprem-ha_lamp-*.tar.gz' ! -name "$name" -delete
phase_done "collection tarball"

# ---------------------------------------------------------------------------------------------------
phase "ansible-builder build $ee_image"
# The shipped recipe, unchanged; the build args replace its UBI specifics. The build context is
# scratch (podman's cache keys on file contents, not on the context's path or mtimes).
build_log="$dist/ansible-builder.log"   # timestamped; kept for a look after the run (build/ is ignored)
if ! "$venv/bin/ansible-builder" build -v 3 \
    --file execution-environment.yml --context "$work/context" \
    --container-runtime podman --tag "$ee_image" \
    --build-arg "EE_BASE_IMAGE=$base_image" \
    --build-arg PYPKG=python3 \
    --build-arg PYCMD=/usr/local/sbin/ee-python3 \
    --build-arg PKGMGR=/usr/local/sbin/ee-pkgmgr \
    --extra-build-cli-args="--pull=never${podman_build_cgroup[*]:+ ${podman_build_cgroup[*]}}" 2>&1 | awk '{ print strftime("%H:%M:%S"), $0; fflush() }' > "$build_log"; then
  tail -n 60 "$build_log" >&2
  die "ansible-builder build failed (last lines above)"
fi
steps="$(grep -cE 'STEP [0-9]+/[0-9]+: [^F]' "$build_log" || true)"
cached="$(grep -c -- ' --> Using cache' "$build_log" || true)"
echo "built $ee_image: $cached of $steps build steps from the layer cache; $(podman image inspect --format '{{.Size}}' "$ee_image" | awk '{printf "%.0f MB", $1 / 1e6}')"
# Every image these builds make carries the base recipe label. Those this build did not use (left by
# an earlier base recipe or collection tarball) can never serve the cache again: remove them, so a
# long-lived CI machine does not collect a gigabyte per change. The ones it used are the cache.
used="$( { grep -oE -- ' --> (Using cache )?[0-9a-f]{11,}' "$build_log" | grep -oE '[0-9a-f]{11,}'
           podman image inspect --format '{{.Id}}' "$base_image" "$ee_image"; } | cut -c1-11 | sort -u)"
mapfile -t stale < <(podman images -a --filter label=ha_lamp.ee_base.recipe --format '{{.ID}}' | cut -c1-11 \
                       | sort -u | grep -vxF -f <(echo "$used") || true)
if ((${#stale[@]})); then
  podman rmi "${stale[@]}" > "$work/rmi.log" 2>&1 || true
  echo "removed ${#stale[@]} image(s) of earlier builds"
fi
phase_done "ansible-builder build"

# ---------------------------------------------------------------------------------------------------
phase "checks in $ee_image"
# A project as AWX syncs it: the checkout's files at /runner/project (only the ones these runs read),
# read-only, run as the image's own user, without network (the validator contacts no host). AWX sets
# ANSIBLE_COLLECTIONS_PATH for every job: its requirements_collections, the project ansible.cfg's
# collections_path, then ~/.ansible/collections and the EE's /usr/share/ansible/collections; so here.
# (This checkout's ansible.cfg names ./.collections, a link that only labctl makes: without AWX's
# setting, ansible-playbook in the EE would look nowhere else and not find onprem.ha_lamp.)
project="$work/project"
mkdir -p "$project/inventories/examples"
cp -r ansible.cfg playbooks "$project/"
cp -r inventories/example "$project/inventories/"
cp -r "$bad_inventory" "$project/inventories/examples/"
chmod -R a+rX,go-w "$project"
cfg_collections_path="$(sed -n 's/^collections_path *= *//p' ansible.cfg)"
ee_run() {
  local stdin=()
  if [[ "$1" == --stdin ]]; then stdin=(-i); shift; fi
  podman run "${podman_run_cgroup[@]}" --rm "${stdin[@]}" --network none \
    -v "$project:/runner/project:ro,Z" -w /runner/project \
    -e "ANSIBLE_COLLECTIONS_PATH=/runner/requirements_collections:${cfg_collections_path:+$cfg_collections_path:}~/.ansible/collections:/usr/share/ansible/collections" \
    -e ANSIBLE_NOCOLOR=1 -e ANSIBLE_FORCE_COLOR=0 \
    "$ee_image" "$@"
}

echo "--- installed: the collection, its dependencies (galaxy.yml's ranges), requirements.txt, bindep.txt"
ee_run --stdin python3 - <<'PY'
import json, subprocess, sys
from importlib import metadata

from ansible.galaxy.dependency_resolution.versioning import meets_requirements
from packaging.requirements import Requirement

listing = json.loads(subprocess.run(["ansible-galaxy", "collection", "list", "--format", "json"],
                                    check=True, capture_output=True, text=True).stdout)
found = {}
for path, collections in listing.items():
    for fqcn, info in collections.items():
        found.setdefault(fqcn, (info["version"], path))
version, root = found.get("onprem.ha_lamp", (None, None))
print(f"onprem.ha_lamp {version} in {root}")
if root != "/usr/share/ansible/collections/ansible_collections":
    sys.exit("onprem.ha_lamp is not installed in the EE's /usr/share/ansible/collections")
collection = f"{root}/onprem/ha_lamp"
failed = False
with open(f"{collection}/MANIFEST.json", encoding="utf-8") as manifest:
    dependencies = json.load(manifest)["collection_info"]["dependencies"]
for fqcn, spec in sorted(dependencies.items()):
    version, path = found.get(fqcn, (None, None))
    ok = version is not None and meets_requirements(version, spec)
    failed |= not ok
    print(f"  {'ok  ' if ok else 'FAIL'} {fqcn} {version} (galaxy.yml: {spec}) in {path}")
with open(f"{collection}/requirements.txt", encoding="utf-8") as requirements:
    lines = [line.split("#")[0].strip() for line in requirements]
for requirement in [Requirement(line) for line in lines if line]:
    try:
        version = metadata.version(requirement.name)
    except metadata.PackageNotFoundError:
        version = None
    ok = version is not None and requirement.specifier.contains(version, prereleases=True)
    failed |= not ok
    print(f"  {'ok  ' if ok else 'FAIL'} {requirement.name} {version} (requirements.txt: {requirement.specifier})")
# bindep.txt's Debian lines (platform:dpkg, or no platform): ansible-builder's bindep step saw to them.
with open(f"{collection}/bindep.txt", encoding="utf-8") as bindep:
    entries = [line.split("#")[0].split() for line in bindep]
for entry in entries:
    if entry and ("platform:dpkg" in " ".join(entry[1:]) or "platform:" not in " ".join(entry[1:])):
        query = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", entry[0]], capture_output=True, text=True)
        failed |= query.returncode != 0
        print(f"  {'ok  ' if query.returncode == 0 else 'FAIL'} {entry[0]} {query.stdout or 'not installed'} (bindep.txt)")
import cryptography.hazmat.primitives.asymmetric.ec, matplotlib.pyplot, pymysql  # noqa: E401,F401 the imports work
print("  ok   import pymysql, cryptography, matplotlib.pyplot")
print("  " + ", ".join(f"{dist} {metadata.version(dist)}" for dist in ("ansible-core", "ansible", "ansible-runner"))
      + f"; python {sys.version.split()[0]} ({sys.executable})")
sys.exit(1 if failed else 0)
PY

echo "--- ansible-doc onprem.ha_lamp.mysql_promotion"
doc="$(ee_run ansible-doc onprem.ha_lamp.mysql_promotion)"
grep -q '/usr/share/ansible/collections/ansible_collections/onprem/ha_lamp/plugins/modules/mysql_promotion.py' <<< "$doc" \
  || { echo "$doc" >&2; die "ansible-doc did not document onprem.ha_lamp.mysql_promotion from the EE's collection"; }
head -n 3 <<< "$doc"

echo "--- ansible-runner: playbooks/validate.yml -i inventories/example (must pass)"
rc=0
out="$(ee_run ansible-runner run /runner -p playbooks/validate.yml \
  --inventory /runner/project/inventories/example 2>&1)" || rc=$?
if ((rc != 0)) || ! grep -q 'Inventory redundancy check: 0 error(s)' <<< "$out"; then
  echo "$out" >&2; die "validate.yml against inventories/example: exit code $rc, expected 0 and no error"
fi
grep -E '^Inventory redundancy check|^localhost ' <<< "$out"

echo "--- ansible-runner: playbooks/validate.yml -i $bad_inventory (must be refused, exit code 2)"
rc=0
out="$(ee_run ansible-runner run /runner -p playbooks/validate.yml \
  --inventory "/runner/project/$bad_inventory" 2>&1)" || rc=$?
if ((rc != 2)) || ! grep -q 'Inventory redundancy check failed' <<< "$out" || ! grep -qF "$bad_finding" <<< "$out"; then
  echo "$out" >&2; die "validate.yml against $bad_inventory: exit code $rc, expected 2 naming $bad_finding"
fi
grep -m 1 -F "$bad_finding" <<< "$out" | sed 's/^ *//'
grep -F 'localhost ' <<< "$out"
phase_done "checks in the EE"

# ---------------------------------------------------------------------------------------------------
echo
printf '%s\n' "${timings[@]}"
echo "total: $SECONDS s; execution environment $ee_image: OK"
