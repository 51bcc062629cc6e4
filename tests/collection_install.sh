#!/usr/bin/env bash
# Install-as-a-user check: build the Galaxy tarball, install it offline into an empty collections
# path, and run the playbooks by their FQCN from that installed copy (not from this checkout).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

ansible-galaxy collection build "$repo" --output-path "$work/dist" --force
tarball="$(ls "$work"/dist/onprem-ha_lamp-*.tar.gz)"
echo "built $(basename "$tarball") ($(du -k "$tarball" | cut -f1) KiB)"
if tar -tzf "$tarball" | grep -E '(^|/)(\.venv|\.collections|\.cache|__pycache__|drill-reports)(/|$)'; then
  echo "the tarball carries build artefacts listed above; fix build_ignore in galaxy.yml" >&2
  exit 1
fi

# From here on, behave like a user's machine: outside the checkout, with an empty ansible.cfg, so nothing
# resolves through the repo's .collections link (galaxy would otherwise find 0.1.0 "already installed").
cd "$work"
printf '[defaults]\n' > "$work/ansible.cfg"
export ANSIBLE_CONFIG="$work/ansible.cfg" ANSIBLE_COLLECTIONS_PATH="$work/collections"
ansible-galaxy collection install --offline "$tarball" -p "$work/collections"
test -f "$work/collections/ansible_collections/onprem/ha_lamp/MANIFEST.json" || {
  echo "the collection was not installed into $work/collections" >&2; exit 1; }
ansible-doc onprem.ha_lamp.validate_inventory >/dev/null
ansible-doc -t filter onprem.ha_lamp.redundancy_report >/dev/null
for playbook in site validate switchover failover rejoin rolling_update; do
  if [[ -f "$work/collections/ansible_collections/onprem/ha_lamp/playbooks/$playbook.yml" ]]; then
    ansible-playbook "onprem.ha_lamp.$playbook" -i "$repo/inventories/lab" --syntax-check
  fi
done
# The installed validator gates the lab inventory exactly as the checkout does.
ansible-playbook onprem.ha_lamp.validate -i "$repo/inventories/lab"
