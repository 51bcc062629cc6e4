"""The cluster's cross-tier values are declared once (roles/contract/defaults/main.yml).

Everything that deploys or drives the cluster (roles, playbooks, the Molecule proofs, the lab, the benchmarks)
must point at the contract variable instead of repeating its value: an operator who changes the agent port in
the inventory then changes it everywhere. Out of scope here: the programs that run on the nodes or in a module
(roles/*/files, plugins/), which take these values as arguments and document their own fallbacks, and the unit
tests' fixtures.
"""
import os
import re

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
CONTRACT_DIR = os.path.join(ROOT, "roles", "contract")
SCANNED = ("roles", "playbooks", "molecule", "lab", "benchmarks", "inventories")
SUFFIXES = (".yml", ".yaml", ".j2", ".py", ".sh", ".cfg")
# Where a value may be written: the contract itself, and the haproxy role's internals for its admin socket.
ALLOWED = (os.path.join("roles", "contract") + os.sep, os.path.join("roles", "haproxy", "vars", "main.yml"))
SKIPPED_PARTS = {"files", "__pycache__"}


def load(*parts):
    with open(os.path.join(ROOT, *parts), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


CONTRACT = load("roles", "contract", "defaults", "main.yml")
# Not a contract variable, but the same rule: the haproxy role owns its runtime API's socket.
OWNED_LITERALS = dict(CONTRACT, __haproxy_admin_socket=load("roles", "haproxy", "vars", "main.yml")["__haproxy_admin_socket"])


def scanned_files():
    for top in SCANNED:
        for folder, dirs, files in os.walk(os.path.join(ROOT, top)):
            dirs[:] = [d for d in dirs if d not in SKIPPED_PARTS]
            for name in files:
                path = os.path.relpath(os.path.join(folder, name), ROOT)
                if name.endswith(SUFFIXES) and not path.startswith(ALLOWED):
                    yield path


def literal_pattern(value):
    # Not inside a longer word, number or file name ("19200", "ha_lamp_admin_networks", "admin.sock.bak"). A
    # name followed by a dot and a word is still the value when it is a schema ("ha_lamp_app.visits").
    after = r"(?!\w)" if re.fullmatch(r"\w+", str(value)) and not str(value).isdigit() else r"(?!\w|\.\w)"
    return re.compile(r"(?<![\w.])" + re.escape(str(value)) + after)


def value_alternatives(value, *contexts):
    """`value` where it stands as a value: quoted whole (\'/healthz\', "admin"), a YAML value that ends its line
    (`key: /healthz  # comment`), or right after one of the `contexts` (lookbehind expressions)."""
    escaped = re.escape(value)
    return re.compile("|".join([r"(['\"])%s\1" % escaped, r"(?<=:\s)%s\s*(?:#.*)?$" % escaped]
                               + [r"%s%s(?![\w.-])" % (context, escaped) for context in contexts]))


def path_pattern(value):
    # A URL path as a value: besides the quoted and YAML forms, the path of a URL ("http://{{ host }}/healthz",
    # "127.0.0.1/healthz", f"http://{address}/healthz") or of an HTTP request line ("GET /healthz"). Not where
    # prose names the endpoint ("Check /healthz on the node", "first: /healthz reports 503"), nor a longer path or
    # a file ("/healthz.php", "/healthz-old").
    return value_alternatives(value, r"(?<=[\w}])", r"(?<=GET\s)", r"(?<=HEAD\s)")


# The HAProxy stats user is a common word (etcd's admin certificate, the admin socket, the admin networks,
# WordPress's admin): it counts only as a value (quoted, a YAML value, "user admin", "auth admin:", "-u admin")
# where the same line, or the YAML key just above it (an argument spec's option), names HAProxy's stats user.
STATS_USER_CONTEXT = re.compile(r"stats[_ ]?(?:user|auth)|url_username", re.I)
CONTEXT_LINES = 3


def word_pattern(value):
    return value_alternatives(value, r"(?<=\buser\s)", r"(?<=\bauth\s)", r"(?<=-u\s)")


def value_matcher(name, value):
    """lines -> numbers (1-based) of the lines that repeat the contract value `value` of variable `name`."""
    if name == "ha_lamp_haproxy_stats_user":
        pattern = word_pattern(value)

        def matcher(lines):
            return [number for number, line in enumerate(lines, 1) if pattern.search(line) and any(
                STATS_USER_CONTEXT.search(context) for context in lines[max(0, number - 1 - CONTEXT_LINES):number])]
        return matcher
    pattern = path_pattern(value) if str(value).startswith("/") and name.endswith("_path") else literal_pattern(value)
    return lambda lines: [number for number, line in enumerate(lines, 1) if pattern.search(line)]


def stray_literals(paths, literals):
    found = []
    matchers = {name: value_matcher(name, value) for name, value in literals.items()}
    for path in paths:
        with open(os.path.join(ROOT, path), encoding="utf-8") as handle:
            lines = handle.read().splitlines()
        for name, value in literals.items():
            found += ["%s:%d: %s (%s)" % (path, number, value, name) for number in matchers[name](lines)]
    return found


def test_no_file_repeats_a_contract_value():
    found = stray_literals(list(scanned_files()), OWNED_LITERALS)
    assert found == [], "use the contract variable instead of its value:\n" + "\n".join(found)


@pytest.mark.parametrize("name,value,text,found", [
    ("ha_lamp_db_agent_port", 9200, "mysql_agent_port: 9200", True),
    ("ha_lamp_db_agent_port", 9200, "url: https://db1:9200/writer", True),
    ("ha_lamp_db_agent_port", 9200, "port = 19200", False),
    ("ha_lamp_db_admin_user", "ha_lamp_admin", "user: ha_lamp_admin", True),
    ("ha_lamp_db_admin_user", "ha_lamp_admin", "networks: ha_lamp_admin_networks", False),
    ("__haproxy_admin_socket", "/run/haproxy/admin.sock", "stats socket /run/haproxy/admin.sock mode 660", True),
    ("__haproxy_admin_socket", "/run/haproxy/admin.sock", "socket /run/haproxy/admin.sock.bak", False),
    # The database ports: the number alone, wherever it stands (a comment naming the port goes stale too).
    ("ha_lamp_db_port", 3306, "mysql_port: 3306", True),
    ("ha_lamp_db_writer_port", 3306, "conn = pymysql.connect(host=vip, port=3306)", True),
    ("ha_lamp_db_reader_port", 3307, "# the database frontends (3306/3307) bind", True),
    ("ha_lamp_db_reader_port", 3307, "server_id: 33070", False),
    # The application account and schema, in SQL too.
    ("ha_lamp_db_app_user", "ha_lamp_app", "web_db_user: ha_lamp_app", True),
    ("ha_lamp_db_app_database", "ha_lamp_app", "SELECT COUNT(*) FROM ha_lamp_app.verify_marks", True),
    ("ha_lamp_db_app_user", "ha_lamp_app", 'user="ha_lamp_app", database="ha_lamp_app"', True),
    ("ha_lamp_db_app_database", "ha_lamp_app", "web_app_root: /srv/ha_lamp_apps", False),
    ("ha_lamp_db_app_password", "ha_lamp_app", 'password: "{{ ha_lamp_db_app_password }}"', False),
    # The health path where it is a value, not where prose names the endpoint.
    ("ha_lamp_web_health_path", "/healthz", "haproxy_web_health_path: /healthz", True),
    ("ha_lamp_web_health_path", "/healthz", "url: http://{{ proof_target_address }}/healthz", True),
    ("ha_lamp_web_health_path", "/healthz", 'http_get(f"http://{lab.address(web)}/healthz")', True),
    ("ha_lamp_web_health_path", "/healthz", "{{ web_healthz_path | default('/healthz') }}", True),
    ("ha_lamp_web_health_path", "/healthz", "option httpchk GET /healthz HTTP/1.1", True),
    ("ha_lamp_web_health_path", "/healthz", "- name: Check /healthz on the node itself", False),
    ("ha_lamp_web_health_path", "/healthz", "# /healthz fails only for this node's own faults", False),
    ("ha_lamp_web_health_path", "/healthz", "# The flag goes first: /healthz reports 503 while it exists.", False),
    ("ha_lamp_web_health_path", "/healthz", "  - '/healthz answers 503 only when neither port accepts'", False),
    ("ha_lamp_web_health_path", "/healthz", "Alias {{ web_healthz_path }} {{ __web_lib_dir }}/healthz.php", False),
    # The stats user only as HAProxy's stats user.
    ("ha_lamp_haproxy_stats_user", "admin", "haproxy_stats_user: admin", True),
    ("ha_lamp_haproxy_stats_user", "admin", "url_username: \"{{ haproxy_stats_user | default('admin') }}\"", True),
    ("ha_lamp_haproxy_stats_user", "admin", 'auth=(hv.get("haproxy_stats_user", "admin"), password)', True),
    ("ha_lamp_haproxy_stats_user", "admin", "  stats auth admin:secret", True),
    ("ha_lamp_haproxy_stats_user", "admin", "      haproxy_stats_user:\n        type: str\n        default: admin", True),
    ("ha_lamp_haproxy_stats_user", "admin", "etcd_admin_client_name: admin", False),
    ("ha_lamp_haproxy_stats_user", "admin", "      etcd_admin_client_name:\n        type: str\n        default: admin", False),
    ("ha_lamp_haproxy_stats_user", "admin", "    stats socket {{ __haproxy_admin_socket }} mode 660 level admin", False),
    ("ha_lamp_haproxy_stats_user", "admin", "haproxy_stats_user: admin_stats", False),
    ("ha_lamp_haproxy_stats_user", "admin", "userlist haproxy_stats_users\n    user {{ haproxy_stats_user }}\n# for the\n# admin networks", False),
    ("ha_lamp_haproxy_stats_user", "admin", 'u.add_argument("--user", default="admin")', False),
    ("ha_lamp_haproxy_stats_user", "admin", "haproxy_stats_user: \"{{ ha_lamp_haproxy_stats_user }}\"", False),
])
def test_the_scan_finds_values_not_their_neighbours(name, value, text, found):
    assert bool(value_matcher(name, value)(text.splitlines())) is found


def test_every_contract_variable_is_documented_with_its_default():
    options = load("roles", "contract", "meta", "argument_specs.yml")["argument_specs"]["main"]["options"]
    assert sorted(options) == sorted(CONTRACT)
    assert {name: spec["default"] for name, spec in options.items()} == CONTRACT


def test_every_role_that_uses_a_contract_variable_depends_on_the_contract():
    pattern = re.compile(r"\b(%s)\b" % "|".join(map(re.escape, CONTRACT)))
    missing = []
    for role in sorted(os.listdir(os.path.join(ROOT, "roles"))):
        defaults = os.path.join(ROOT, "roles", role, "defaults", "main.yml")
        if role == "contract" or not os.path.exists(defaults):
            continue
        with open(defaults, encoding="utf-8") as handle:
            if not pattern.search(handle.read()):
                continue
        dependencies = load("roles", role, "meta", "main.yml").get("dependencies") or []
        names = [d["role"] if isinstance(d, dict) else d for d in dependencies]
        if "onprem.ha_lamp.contract" not in names:
            missing.append(role)
    assert missing == [], "roles whose defaults use a contract variable without depending on the contract: %s" % missing
