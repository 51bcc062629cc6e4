#!/usr/bin/env bash
# Galaxy import check: build the collection tarball and run galaxy-importer on it, the tool
# galaxy.ansible.com and Automation Hub run on every uploaded collection (MANIFEST.json/FILES.json and
# galaxy.yml metadata, ansible-doc on every plugin, the changelog, execution-environment dependency
# files, ansible-lint on the whole tarball with Galaxy's own options). Fails on anything it reports,
# so an upload never greets us with import errors or warnings.
#
#   tests/importer.sh                 build the tarball from this checkout (into a temporary directory,
#                                     removed afterwards) and import it
#   tests/importer.sh FILE.tar.gz     import a tarball already built
#
# The importer runs from its own venv, .venv-importer (pins: tests/importer-requirements.txt), made on
# the first run and rebuilt when the requirements file changes (sha256 stamp, like labctl's setup_venv):
# it needs an attrs that the suite's .venv does not carry. Needs python3 with venv, pip (the configured
# index) and .venv's ansible-galaxy to build. No containers, no network beyond pip on the first run.
#
# How the importer reports (galaxy_importer/main.py): it logs to stdout, INFO as the bare message and
# every other level as "LEVEL: message"; an import that fails logs "ERROR: The import failed..." and
# exits 1, one that completes writes importer_result.json in the working directory. Loggers outside
# galaxy_importer.main (spdx_licenses, chksums, finder) have no handler and reach stderr through
# Python's last-resort handler, which prints WARNING and above: any line there counts as a warning.
# Exit status: 0 no error and no warning (prints "galaxy-importer: 0 errors, 0 warnings"), 1 the
# importer reported errors or warnings (printed, with its whole log), 2 usage or setup error.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
venv="$repo/.venv-importer"
requirements="$repo/tests/importer-requirements.txt"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

die() { echo "importer.sh: $*" >&2; exit 2; }

setup_venv() {
  local stamp="$venv/.requirements.sha256" want
  want="$(sha256sum "$requirements" | cut -d' ' -f1)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then return; fi
  echo "importer.sh: creating the galaxy-importer environment in .venv-importer" >&2
  rm -rf "$venv"
  python3 -m venv "$venv" || die "python3 -m venv failed (Debian: python3-venv)"
  "$venv/bin/pip" install -q --upgrade pip >&2 || die "pip upgrade failed"
  "$venv/bin/pip" install -q -r "$requirements" >&2 || die "pip install -r $requirements failed"
  echo "$want" > "$stamp"
}

build_tarball() {
  [[ -x "$repo/.venv/bin/ansible-galaxy" ]] || die "no .venv/bin/ansible-galaxy: run ./labctl setup"
  "$repo/.venv/bin/ansible-galaxy" collection build "$repo" --output-path "$work/dist" --force >/dev/null \
    || die "ansible-galaxy collection build failed"
  ls "$work"/dist/onprem-ha_lamp-*.tar.gz
}

# Every option of galaxy_importer/config.py (Config.DEFAULTS), spelled out rather than left to the
# package defaults, so an importer upgrade cannot change what this test checks without a diff here.
write_config() {
  cat > "$work/galaxy-importer.cfg" <<EOF
[galaxy-importer]
# No ansible-test: the importer would run it in a container (ansible_test_local_image, infra_osd: podman,
# docker or an OpenShift job) or as a local ansible-test that installs its requirements from the
# network. The suite already runs ansible-test sanity on the collection (tests/sanity.sh, step sanity).
run_ansible_test = False
ansible_test_local_image = False
local_image_docker = False
infra_osd = False
# The rest as galaxy.ansible.com imports a collection: ansible-doc on every plugin, the changelog check,
# ansible-lint (production profile, offline, Galaxy's own -x list; the importer's default), and the
# required tag list (galaxy.yml tags: at least one of infrastructure, database, linux...). No flake8
# (off by default; the suite's sanity step runs pep8 and pylint) and no "version >= 1.0.0" rule (an
# Automation Hub certification rule: galaxy.ansible.com takes 0.x versions).
run_ansible_doc = True
run_ansible_lint = True
offline_ansible_lint = True
check_changelog = True
check_required_tags = True
require_v1_or_greater = False
run_flake8 = False
log_level_main = INFO
# Scratch space (extracted tarball, ansible-doc and ansible-lint temp and cache) in this run's directory.
ansible_local_tmp = $work/ansible-tmp
tmp_root_dir = $work
EOF
}

# Runs the importer in $work (it writes importer_result.json to its working directory), with the
# importer venv first on PATH (it calls ansible-doc and ansible-lint from PATH) and an environment
# cleaned of what would make it differ from Galaxy's: ANSIBLE_* (run-all.sh exports ANSIBLE_CONFIG,
# whose collections_path resolves onprem.ha_lamp from the checkout instead of the tarball) and
# GALAXY_IMPORTER_* (the importer lets them override any config option).
run_importer() {
  local tarball="$1" name
  (
    cd "$work"
    for name in $(compgen -e); do
      case "$name" in ANSIBLE_* | GALAXY_IMPORTER_* | PYTHONPATH | VIRTUAL_ENV) unset "$name" ;; esac
    done
    printf '[defaults]\n' > "$work/ansible.cfg"
    export ANSIBLE_CONFIG="$work/ansible.cfg" GALAXY_IMPORTER_CONFIG="$work/galaxy-importer.cfg"
    export PATH="$venv/bin:$PATH"
    "$venv/bin/python" -m galaxy_importer.main "$tarball" > "$work/importer.log" 2> "$work/importer.stderr"
  )
}

# The import result: present only when the import completed (main.write_output_file).
check_result() {
  "$venv/bin/python" - "$work/importer_result.json" <<'EOF'
import json, sys
result = json.load(open(sys.argv[1]))
metadata = result["metadata"]
print(f"importer_result.json: {metadata['namespace']}.{metadata['name']} {metadata['version']}, "
      f"{len(result['contents'])} contents, requires_ansible {result['requires_ansible']}")
EOF
}

main() {
  local tarball status=0 errors warnings findings
  case $# in
    0) tarball="" ;;
    1) tarball="$(realpath "$1")"; [[ -f "$tarball" ]] || die "no such tarball: $1" ;;
    *) die "usage: $0 [FILE.tar.gz]" ;;
  esac
  setup_venv
  if [[ -z "$tarball" ]]; then tarball="$(build_tarball)"; fi
  write_config
  run_importer "$tarball" || status=$?

  # Findings: the importer's WARNING/ERROR/CRITICAL log lines, and what its handler-less loggers left on
  # stderr (a traceback counts by its unindented lines: the message and the exception, not its frames).
  findings="$( { grep -E '^(WARNING|ERROR|CRITICAL): ' "$work/importer.log" || true
                 grep -Ev '^([[:space:]]|Traceback |$)' "$work/importer.stderr" | sed 's/^/WARNING: (stderr) /' || true
               } )"
  errors="$(grep -cE '^(ERROR|CRITICAL): ' <<< "$findings" || true)"
  warnings="$(grep -c '^WARNING: ' <<< "$findings" || true)"
  if ((status != 0)) && ((errors == 0)); then
    findings+=$'\n'"ERROR: galaxy-importer exited with status $status"
    errors=1
  fi
  if ((status == 0)) && ! check_result > "$work/result.txt" 2>&1; then
    findings+=$'\n'"ERROR: no readable importer_result.json: $(tail -n 1 "$work/result.txt")"
    errors=$((errors + 1))
  fi

  if ((errors + warnings == 0)); then
    echo "galaxy-importer: 0 errors, 0 warnings"
    return 0
  fi
  {
    echo "---- galaxy-importer log ($(basename "$tarball")) ----"
    cat "$work/importer.log"
    if [[ -s "$work/importer.stderr" ]]; then
      echo "---- galaxy-importer stderr ----"
      cat "$work/importer.stderr"
    fi
    echo "---- findings ----"
    sed '/^$/d' <<< "$findings"
    echo "galaxy-importer: $errors errors, $warnings warnings"
  } >&2
  return 1
}

main "$@"
