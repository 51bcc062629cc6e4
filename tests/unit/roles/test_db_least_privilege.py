"""Static checks of the database accounts (roles/mysql) and of the web tier's database use (roles/web).

The lab proves the live grants (molecule/tests/test_40_security.py); these catch a regression
without it: no request-time DDL in the PHP code, no wildcard account host in the defaults, no raw
session id in a query, and an admin account without root-equivalent privileges.
"""

import os
import re

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
WEB_FILES = os.path.join(ROOT, "roles", "web", "files")
DDL = re.compile(r"\b(CREATE|ALTER|DROP|TRUNCATE|RENAME)\s+(TABLE|INDEX|VIEW|TRIGGER|DATABASE|SCHEMA)\b", re.I)


def _php_files():
    for base, _dirs, files in os.walk(WEB_FILES):
        for name in files:
            if name.endswith(".php"):
                yield os.path.join(base, name)


def _load(*parts):
    with open(os.path.join(ROOT, *parts), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def test_the_php_code_runs_no_ddl():
    found = []
    for path in _php_files():
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if DDL.search(line):
                    found.append(f"{os.path.relpath(path, ROOT)}:{number}: {line.strip()}")
    assert found == [], "request-time DDL (the runtime account has none; create tables in roles/web/tasks/schema.yml):\n" + "\n".join(found)


def test_no_account_host_default_is_a_wildcard():
    defaults = _load("roles", "mysql", "defaults", "main.yml")
    hosts = {name: value for name, value in defaults.items() if re.fullmatch(r"mysql_\w+_hosts?", name)}
    assert set(hosts) >= {"mysql_app_hosts", "mysql_schema_hosts", "mysql_replication_hosts", "mysql_monitor_hosts", "mysql_admin_hosts"}
    assert not any(name.endswith("_host") for name in hosts), "the single-host variables are retired"
    for name, value in hosts.items():
        assert "'%'" not in str(value) and '"%"' not in str(value) and str(value).strip() != "%", f"{name}: {value}"


def test_the_admin_account_is_not_root_equivalent():
    tasks = _load("roles", "mysql", "tasks", "primary.yml")
    block = next(task for task in tasks if task.get("name") == "Manage the accounts")
    privileges = {p.strip() for p in block["vars"]["__mysql_operator_privileges"].split(",")}
    assert privileges == {"READ_ONLY ADMIN", "CONNECTION ADMIN", "REPLICATION SLAVE ADMIN", "REPLICATION MASTER ADMIN",
                          "BINLOG MONITOR", "SLAVE MONITOR", "RELOAD", "PROCESS"}
    admin = next(a for a in block["vars"]["__mysql_accounts"] if a["name"] == "{{ mysql_admin_user }}")
    assert admin["priv"] == "*.*:{{ __mysql_operator_privileges }}"
    assert admin["tls"] == "{{ mysql_tls_enabled }}"
    assert admin["hosts"] == "{{ mysql_admin_hosts }}"


def test_the_runtime_account_has_no_ddl_on_its_schema():
    defaults = _load("roles", "mysql", "defaults", "main.yml")
    assert {p.strip() for p in defaults["mysql_app_privileges"].split(",")} == {"SELECT", "INSERT", "UPDATE", "DELETE"}


def test_session_rows_are_keyed_by_a_digest_of_the_id():
    with open(os.path.join(WEB_FILES, "lib", "HaLampSessionHandler.php"), encoding="utf-8") as handle:
        code = handle.read()
    assert "hash('sha256', $id)" in code
    assert not re.search(r"bind_param\('[a-z]+',\s*\$id\b", code), "a query binds the raw session id"
