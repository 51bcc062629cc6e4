#!/usr/bin/env bash
# The collection's documentation as the ecosystem builds it, offline:
#   1. `antsibull-docs lint-collection-docs --plugin-docs`: every plugin's and role's docs against the schema,
#      markup and references included;
#   2. a docs site built with antsibull-docs and Sphinx (`sphinx-init`, then its build.sh: warnings are errors);
#   3. a rendered check: every module's, filter's and role entry point's option has its anchor on its page.
# Sphinx links the pages to the Ansible docs through intersphinx. There is no network here, so the three
# labels antsibull-docs links to (return values, configuration settings, action plugins) come from a small
# local inventory that points at their pages on docs.ansible.com; every other reference must resolve inside
# the site. Needs antsibull-docs, Sphinx and sphinx-ansible-theme (test-requirements.txt).
# Usage: tests/docsite.sh [DEST]   (default: a temporary directory, removed afterwards)
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
collection="$repo/.collections/ansible_collections/onprem/ha_lamp"
[[ -L "$collection" ]] || { echo "missing $collection: run ./labctl setup first" >&2; exit 2; }
export ANSIBLE_COLLECTIONS_PATH="$repo/.collections"

if [[ -n "${1:-}" ]]; then
  site="$1"; rm -rf "$site"; mkdir -p "$site"
else
  site="$(mktemp -d)"; trap 'rm -rf "$site"' EXIT
fi

echo "--- antsibull-docs lint-collection-docs"
(cd "$collection" && antsibull-docs lint-collection-docs --plugin-docs .)

echo "--- docs site (antsibull-docs sphinx-init + Sphinx, warnings are errors)"
antsibull-docs sphinx-init --use-current --fail-on-error --dest-dir "$site" onprem.ha_lamp >/dev/null
python3 - "$site" <<'PY'
import re
import sys
import zlib
from pathlib import Path

site = Path(sys.argv[1])
# Only the Ansible docs' inventory, read from the local file: no other site is reachable from CI.
conf = site / "conf.py"
text = conf.read_text()
mapping = ("intersphinx_mapping = {\n"
           "    'ansible_devel': ('https://docs.ansible.com/projects/ansible/devel/', '../ansible_devel.inv'),\n}\n")
text, count = re.subn(r"(?ms)^intersphinx_mapping = \{.*?^\}\n", mapping, text)
if count != 1:
    sys.exit("conf.py: no intersphinx_mapping block to replace (antsibull-docs changed its template?)")
conf.write_text(text)
# The labels antsibull-docs' pages link to, with their pages in the Ansible docs (Sphinx inventory v2).
labels = {
    "common_return_values": "reference_appendices/common_return_values.html#common-return-values",
    "ansible_configuration_settings": "reference_appendices/config.html#ansible-configuration-settings",
    "action_plugins": "plugins/action.html#action-plugins",
}
body = "".join(f"{name} std:label -1 {uri} -\n" for name, uri in labels.items())
header = "# Sphinx inventory version 2\n# Project: Ansible\n# Version: devel\n# The remainder of this file is compressed using zlib.\n"
(site / "ansible_devel.inv").write_bytes(header.encode() + zlib.compress(body.encode()))
PY
(cd "$site" && ./build.sh >"$site/build.log" 2>&1) || { tail -n 40 "$site/build.log" >&2; echo "docs site build failed" >&2; exit 1; }
# Sphinx already fails on a warning (-W); antsibull-docs, which writes the pages first, only prints its own.
grep -i "warning" "$site/build.log" && { echo "the docs site build warned (above)" >&2; exit 1; }

echo "--- every option rendered on its page"
ansible-doc --metadata-dump --no-fail-on-errors onprem.ha_lamp >"$site/metadata.json"
python3 - "$site" <<'PY'
import json
import sys
from pathlib import Path

site = Path(sys.argv[1])
pages = site / "build" / "html" / "collections" / "onprem" / "ha_lamp"
everything = json.loads((site / "metadata.json").read_text())["all"]
missing, checked = [], 0


def require(page, anchors):
    global checked
    path = pages / page
    html = path.read_text() if path.exists() else ""
    if not html:
        missing.append(f"{page}: no page")
        return
    for anchor in anchors:
        checked += 1
        if f'id="{anchor}"' not in html:
            missing.append(f"{page}: no {anchor}")


for kind in ("module", "filter"):
    for fqcn, entry in everything.get(kind, {}).items():
        options = (entry.get("doc") or {}).get("options") or {}
        require(f"{fqcn.split('.')[-1]}_{kind}.html", [f"parameter-{name}" for name in options])
for fqcn, entry in everything.get("role", {}).items():
    anchors = [f"parameter-{point}--{name}"
               for point, spec in entry["entry_points"].items() for name in (spec.get("options") or {})]
    require(f"{fqcn.split('.')[-1]}_role.html", anchors)
if missing:
    sys.exit("options missing from the rendered docs:\n  " + "\n  ".join(missing))
kinds = {kind: len(everything.get(kind, {})) for kind in ("module", "filter", "role")}
print(f"docs site: {kinds['module']} modules, {kinds['filter']} filters, {kinds['role']} roles; "
      f"{checked} options, each on its page")
PY
