#!/usr/bin/env bash
# Install-as-a-user check: build the Galaxy tarball, check what it holds (tests/tarball_contents.sh),
# install it offline the way the README says (from the checkout, and on a controller without one), and
# run the playbooks by their FQCN from the installed copy (not from this checkout).
#
#   tests/collection_install.sh        (no lab needed; ansible-galaxy, ansible-doc, ansible-playbook on PATH)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

ansible-galaxy collection build "$repo" --output-path "$work/dist" --force
tarball="$(ls "$work"/dist/onprem-ha_lamp-*.tar.gz)"
"$repo/tests/tarball_contents.sh" "$tarball"

# The README's air-gapped command, run in the checkout. The checkout's ansible.cfg points
# collections_path at .collections, which links back to the checkout: without the
# ANSIBLE_COLLECTIONS_PATH prefix ansible-galaxy finds 0.1.0 "already installed" there and installs
# nothing. ($work/from-checkout stands for the README's ./collections: the test writes nothing here.)
(
  cd "$repo"
  ANSIBLE_CONFIG="$repo/ansible.cfg" ANSIBLE_COLLECTIONS_PATH="$work/from-checkout" \
    ansible-galaxy collection install --offline "$tarball" -p "$work/from-checkout"
)
test -f "$work/from-checkout/ansible_collections/onprem/ha_lamp/MANIFEST.json" || {
  echo "the README's air-gapped install, run in the checkout, installed nothing" >&2; exit 1; }

# From here on, behave like a user's machine: outside the checkout, with an empty ansible.cfg, so nothing
# resolves through the repo's .collections link.
cd "$work"
printf '[defaults]\n' > "$work/ansible.cfg"
export ANSIBLE_CONFIG="$work/ansible.cfg" ANSIBLE_COLLECTIONS_PATH="$work/collections"
ansible-galaxy collection install --offline "$tarball" -p "$work/collections"
installed="$work/collections/ansible_collections/onprem/ha_lamp"
test -f "$installed/MANIFEST.json" || {
  echo "the collection was not installed into $work/collections" >&2; exit 1; }
ansible-doc onprem.ha_lamp.validate_inventory >/dev/null
ansible-doc -t filter onprem.ha_lamp.redundancy_report >/dev/null
for playbook in site validate switchover failover rejoin rolling_update; do
  test -f "$installed/playbooks/$playbook.yml" || { echo "playbooks/$playbook.yml did not ship" >&2; exit 1; }
  ansible-playbook "onprem.ha_lamp.$playbook" -i "$repo/inventories/lab" --syntax-check
done
# The installed validator gates the lab inventory exactly as the checkout does.
ansible-playbook onprem.ha_lamp.validate -i "$repo/inventories/lab"
