#!/usr/bin/env python
# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fill the lab's application schema with a dataset of a given size (default 1 GiB of InnoDB data), for the
backup benchmark (benchmarks/bench_backup.py, issue 14 "Figures").

  python tools/make_dataset.py [--size 1GiB] [--tables 8] [--threads 4] [--inventory inventories/lab]
  python tools/make_dataset.py --measure          # print what is there and its real size; change nothing
  python tools/make_dataset.py --drop             # remove the sbtest tables

Run it as root on the lab host (the controller), after `./labctl up`; it needs sysbench (Debian package,
1.0.20 in Debian 12). It refuses an inventory without `ha_lamp_lab: true` and reads every address and
password from the inventory.

What it does: sysbench's `oltp_common prepare` creates the tables sbtest1..sbtestN in the application schema
(ha_lamp_db_app_database) through the database writer VIP (the internal VIP's writer port, so HAProxy sends it
to the primary and it replicates like any application write), as the schema owner ha_lamp_schema (the application account has no
DDL). The number of rows per table comes from the target size: about --bytes-per-row bytes per sysbench row,
secondary index included. The password goes to sysbench in an options file in a private temporary directory,
never in argv. When the schema account requires TLS (REQUIRE SSL, mysql_tls_enabled), sysbench 1.0 gets
--mysql-ssl=on: that version has no --mysql-ssl-ca/-cert/-key options and loads cacert.pem, client-cert.pem and
client-key.pem from its working directory, which are links to the services CA and the controller's certificate
(--pki-dir, default from the inventory as in bench_hops.py).

Afterwards the real size is measured on the primary (podman exec, root over the socket, read-only):
information_schema's data_length + index_length, and the .ibd files' bytes on disk.

Idempotent: when sbtest1..sbtestN exist with exactly the planned row count each, nothing is done. Tables that
exist but differ (another size, a run that was cut short) are refused with a message: run --drop first.
A prepare that fails or times out (--timeout) drops what it created, so no half dataset is left behind.
"""
import argparse
import dataclasses
import math
import os
import re
import shutil
import subprocess
import sys

BENCHMARKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")
if BENCHMARKS not in sys.path:
    sys.path.insert(0, BENCHMARKS)

import labkit  # noqa: E402  benchmarks/labkit.py: inventory and podman helpers shared with the benchmarks

SCHEMA = labkit.CONTRACT["ha_lamp_db_app_database"]  # the application's schema (roles/contract/defaults/main.yml)
SCHEMA_USER = "ha_lamp_schema"        # mysql_schema_user: DDL on SCHEMA, from the load balancers' addresses
TABLE_PREFIX = "sbtest"               # sysbench's own table names: sbtest1..sbtestN
TABLE_NAME = re.compile(r"^sbtest([1-9][0-9]*)$")
DB_PORT = labkit.CONTRACT["ha_lamp_db_writer_port"]  # HAProxy's writer frontend on the internal VIP
BYTES_PER_ROW = 230                   # one sysbench row (id, k, c CHAR(120), pad CHAR(60)) with the k index
DEFAULT_SIZE = "1GiB"
SIZE_LIMITS = (1 << 20, 64 << 30)     # 1 MiB .. 64 GiB: a typo must not fill the machine's disk
SIZE_UNITS = {"": 1, "b": 1, "k": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mib": 1 << 20, "g": 1 << 30,
              "gib": 1 << 30, "kb": 10 ** 3, "mb": 10 ** 6, "gb": 10 ** 9}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$", re.I)
# sysbench 1.0 reads these from its working directory when --mysql-ssl=on (mysql_ssl_set in drv_mysql.c).
MARIADB_TIMEOUT_S = 300               # exact COUNT(*) of a few large tables


# -- pure functions (unit-tested in tests/unit/test_bench_backup.py) ------------------------------------------

def parse_size(text):
    """'1GiB', '512M', '2GB', '1073741824' -> bytes. K/M/G and KiB/MiB/GiB are binary, KB/MB/GB decimal."""
    match = _SIZE.match(str(text))
    unit = match.group(2).lower() if match else None
    if not match or unit not in SIZE_UNITS:
        raise ValueError(f"not a size: {text!r} (examples: 1GiB, 512MiB, 2GB, 1073741824)")
    return int(float(match.group(1)) * SIZE_UNITS[unit])


def rows_per_table(target_bytes, tables, bytes_per_row=BYTES_PER_ROW):
    """Rows in each of `tables` tables so that the dataset holds at least target_bytes."""
    if target_bytes <= 0 or tables <= 0 or bytes_per_row <= 0:
        raise ValueError("the target size, the table count and the bytes per row must be positive")
    return math.ceil(target_bytes / (tables * bytes_per_row))


def table_names(tables):
    """sysbench's table names for --tables=N, in order."""
    return [f"{TABLE_PREFIX}{number}" for number in range(1, tables + 1)]


def table_number(name):
    """sbtest12 -> 12; None for a name sysbench does not use."""
    match = TABLE_NAME.match(name)
    return int(match.group(1)) if match else None


def dataset_state(counts, tables, table_size):
    """('present' | 'absent' | 'mismatch', why) for the exact row counts {table: rows} found in the schema."""
    if not counts:
        return "absent", "no sbtest table in the schema"
    wanted = table_names(tables)
    if sorted(counts) != sorted(wanted):
        return "mismatch", (f"found tables {', '.join(sorted(counts, key=table_number))}, "
                            f"the plan is {wanted[0]}..{wanted[-1]}")
    wrong = {name: rows for name, rows in counts.items() if rows != table_size}
    if wrong:
        ordered = sorted(wrong.items(), key=lambda kv: table_number(kv[0]))
        shown = ", ".join(f"{name} {rows}" for name, rows in ordered[:3]) + (", ..." if len(ordered) > 3 else "")
        return "mismatch", f"{len(wrong)} table(s) do not hold {table_size} rows: {shown}"
    return "present", f"{tables} tables of {table_size} rows"


def parse_rows(text):
    """`mariadb -N -B` output of 'name<TAB>value' lines -> {name: int(value)}."""
    rows = {}
    for line in text.splitlines():
        name, sep, value = line.partition("\t")
        if sep and value.strip().lstrip("-").isdigit():
            rows[name.strip()] = int(value.strip())
    return rows


def parse_file_sizes(text):
    """`find ... -printf '%s %f\\n'` -> {file name: bytes}."""
    sizes = {}
    for line in text.splitlines():
        size, sep, name = line.strip().partition(" ")
        if sep and size.isdigit():
            sizes[name] = int(size)
    return sizes


def count_sql(names):
    """One SELECT per table: 'name<TAB>exact row count' lines (the names come from table_number-checked input)."""
    return "".join(f"SELECT '{name}', COUNT(*) FROM `{SCHEMA}`.`{name}`;\n" for name in names)


def human_bytes(value):
    """1234567890 -> '1.15 GiB'."""
    if value is None:
        return "-"
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if abs(value) >= scale:
            return f"{value / scale:.2f} {unit}"
    return f"{value} B"


# -- the lab -------------------------------------------------------------------------------------------------

@dataclasses.dataclass
class Lab:
    inventory: dict      # ansible-inventory --list, for callers that need more of it (bench_backup.py)
    dbs: dict            # inventory name -> address (the container's name)
    internal_vip: str
    cluster: str
    schema_password: str
    pki_dir: str


@dataclasses.dataclass
class Measurement:
    counts: dict         # table -> exact rows
    info_bytes: int      # information_schema data_length + index_length of those tables
    ibd_bytes: int       # their .ibd files on the primary's disk
    primary: str

    @property
    def rows(self):
        return sum(self.counts.values())


def read_lab(inventory):
    """Addresses and the schema owner's password from the inventory; refuses anything but the lab."""
    inv = labkit.read_inventory(inventory)
    dbs = labkit.group_hosts(inv, "databases")
    if not dbs or not labkit.group_hosts(inv, "loadbalancers"):
        sys.exit(f"{inventory}: no `databases` or `loadbalancers` hosts: is this the lab inventory?")
    first = inv["_meta"]["hostvars"][next(iter(dbs))]
    if first.get("ha_lamp_lab") is not True:
        sys.exit(f"{inventory} is not the lab (ha_lamp_lab is not true): this tool writes gigabytes into the "
                 "application schema, so it runs only against the lab")
    cluster = first.get("ha_lamp_cluster_name", "lab")
    pki_dir = first.get("pki_ca_dir") or f"~/.ha-lamp/pki/{cluster}/services"  # roles/pki/defaults/main.yml
    return Lab(inventory=inv, dbs=dbs, internal_vip=labkit.lab_vips(inv)["internal"], cluster=cluster,
               schema_password=first["ha_lamp_db_schema_password"], pki_dir=os.path.expanduser(pki_dir))


def mariadb(address, sql, timeout=labkit.PODMAN_TIMEOUT_S):
    """SQL as root over a node's socket (podman exec); the statements go on stdin, never in argv."""
    return labkit.podman("exec", "-i", address, "mariadb", "-N", "-B", stdin=sql, timeout=timeout)


def find_primary(dbs):
    """(name, address) of the one writable database node (read_only = 0); exits when there is not exactly one."""
    writable, problems = [], []
    for name, address in dbs.items():
        try:
            if mariadb(address, "SELECT @@global.read_only;").strip() == "0":
                writable.append(name)
        except subprocess.SubprocessError as exc:
            problems.append(f"{name}: {str(exc)[:120]}")  # a stopped node is not the primary
    if len(writable) != 1:
        sys.exit(f"expected exactly one writable database node, found {writable or 'none'}"
                 f"{' (' + '; '.join(problems) + ')' if problems else ''}: is the lab up and healthy?")
    return writable[0], dbs[writable[0]]


def schema_account_needs_tls(primary_address):
    """True when ha_lamp_schema is REQUIRE SSL (any of its host entries)."""
    out = mariadb(primary_address, f"SELECT COUNT(*) FROM mysql.user WHERE user = '{SCHEMA_USER}' "
                                   "AND ssl_type <> '';")
    return out.strip() not in ("", "0")


def measure(primary_name, primary_address):
    """The sbtest tables on the primary: exact row counts, information_schema size and .ibd bytes."""
    listing = mariadb(primary_address, "SELECT table_name, data_length + index_length FROM information_schema.tables "
                                       f"WHERE table_schema = '{SCHEMA}' AND table_name LIKE '{TABLE_PREFIX}%';")
    sizes = {name: size for name, size in parse_rows(listing).items() if table_number(name) is not None}
    counts = parse_rows(mariadb(primary_address, count_sql(sorted(sizes, key=table_number)),
                                timeout=MARIADB_TIMEOUT_S)) if sizes else {}
    ibd = 0
    if sizes:
        datadir = mariadb(primary_address, "SELECT @@datadir;").strip()
        files = parse_file_sizes(labkit.podman("exec", primary_address, "find", os.path.join(datadir, SCHEMA),
                                               "-maxdepth", "1", "-name", f"{TABLE_PREFIX}*.ibd",
                                               "-printf", "%s %f\\n"))
        ibd = sum(size for name, size in files.items() if table_number(name[:-len(".ibd")]) is not None)
    return Measurement(counts=counts, info_bytes=sum(sizes.values()), ibd_bytes=ibd, primary=primary_name)


def print_measurement(found, target_bytes=None):
    tables = len(found.counts)
    per_row = found.info_bytes / found.rows if found.rows else None
    print(f"\n{'tables':>6} {'rows':>12} {'data+index (information_schema)':>33} {'.ibd on disk':>14} "
          f"{'bytes/row':>10} {'target':>10}")
    print(f"{tables:>6} {found.rows:>12} {human_bytes(found.info_bytes):>33} {human_bytes(found.ibd_bytes):>14} "
          f"{labkit.fmt(per_row, '.0f'):>10} {human_bytes(target_bytes):>10}")
    print(f"(measured on the primary {found.primary}; information_schema's sizes are InnoDB's estimates, updated "
          "by its statistics; the .ibd bytes are the files' real size)")


# -- sysbench ------------------------------------------------------------------------------------------------

def sysbench_workdir(lab, tls):
    """sysbench's private working directory for the schema owner (labkit.sysbench_workdir)."""
    # General and driver options only: sysbench 1.0 ignores the Lua script's own (tables, table_size) here.
    options = [f"mysql-user={SCHEMA_USER}", f"mysql-password={lab.schema_password}", f"mysql-db={SCHEMA}"]
    return labkit.sysbench_workdir(options, tls, lab.pki_dir, prefix="make-dataset-")


def sysbench_argv(test, command, host, tables, table_size=None, threads=1, extra=()):
    """One sysbench command line through the writer VIP, reading the options file of sysbench_workdir."""
    argv = ["sysbench", test, "--config-file=options", f"--mysql-host={host}", f"--mysql-port={DB_PORT}",
            f"--tables={tables}", f"--threads={threads}"]
    if table_size is not None:
        argv.append(f"--table_size={table_size}")
    return argv + list(extra) + [command]


def run_sysbench(workdir, argv, timeout, quiet=False):
    """Run sysbench (bounded by a timeout); its progress goes to the terminal unless quiet. Raises on failure."""
    done = subprocess.run(argv, cwd=workdir, timeout=timeout, check=False, text=True,
                          capture_output=quiet)
    if done.returncode != 0:
        tail = "\n".join(((done.stdout or "") + (done.stderr or "")).strip().splitlines()[-5:])
        raise RuntimeError(f"sysbench {argv[1]} {argv[-1]} failed with exit {done.returncode}"
                           + (f":\n{tail}" if tail else ""))
    return done.stdout


def drop_tables(lab, workdir, found_counts, timeout):
    """`oltp_common cleanup` drops sbtest1..sbtestN (N: the highest found) through the writer VIP."""
    highest = max((table_number(name) for name in found_counts), default=0)
    if highest == 0:
        print("no sbtest table to drop")
        return
    run_sysbench(workdir, sysbench_argv("oltp_common", "cleanup", lab.internal_vip, highest), timeout)


def prepare(lab, workdir, tables, table_size, threads, timeout):
    """sysbench oltp_common prepare; on failure or timeout, the tables it created are dropped again."""
    argv = sysbench_argv("oltp_common", "prepare", lab.internal_vip, tables, table_size, min(threads, tables))
    print(f"sysbench oltp_common prepare: {tables} tables x {table_size} rows through {lab.internal_vip}:{DB_PORT} "
          f"as {SCHEMA_USER}, {min(threads, tables)} threads (at most {timeout} s)", flush=True)
    completed = False
    try:
        run_sysbench(workdir, argv, timeout)
        completed = True
    finally:
        if not completed:  # failed, timed out or interrupted: a half dataset would only be refused later
            print("prepare did not complete: dropping the tables it created", file=sys.stderr)
            try:
                run_sysbench(workdir, sysbench_argv("oltp_common", "cleanup", lab.internal_vip, tables), timeout=600,
                             quiet=True)
            except (RuntimeError, subprocess.SubprocessError) as exc:
                print(f"ERROR: the clean-up failed too ({exc}); by hand: python tools/make_dataset.py --drop",
                      file=sys.stderr)


def ensure(lab, target_bytes, tables, threads, bytes_per_row=BYTES_PER_ROW, timeout=3600):
    """The dataset exists with the planned rows (prepared when absent); returns its Measurement.

    Raises RuntimeError when other sbtest tables are in the way (run --drop first)."""
    table_size = rows_per_table(target_bytes, tables, bytes_per_row)
    name, address = find_primary(lab.dbs)
    found = measure(name, address)
    state, why = dataset_state(found.counts, tables, table_size)
    if state == "present":
        print(f"the dataset is there already ({why}): nothing to do")
        return found
    if state == "mismatch":
        raise RuntimeError(f"sbtest tables that do not match the plan are in {SCHEMA} ({why}): "
                           "remove them first with python tools/make_dataset.py --drop")
    if not shutil.which("sysbench"):
        raise RuntimeError("sysbench is missing: apt-get install sysbench (./labctl up installs it)")
    with sysbench_workdir(lab, schema_account_needs_tls(address)) as workdir:
        prepare(lab, workdir, tables, table_size, threads, timeout)
    name, address = find_primary(lab.dbs)  # a failover meanwhile: measure where the data is now written
    return measure(name, address)


def drop(lab, timeout=600):
    name, address = find_primary(lab.dbs)
    found = measure(name, address)
    if not found.counts:
        print(f"no sbtest table in {SCHEMA}: nothing to drop")
        return
    if not shutil.which("sysbench"):
        raise RuntimeError("sysbench is missing: apt-get install sysbench (./labctl up installs it)")
    with sysbench_workdir(lab, schema_account_needs_tls(address)) as workdir:
        drop_tables(lab, workdir, found.counts, timeout)
    print(f"dropped {len(found.counts)} sbtest table(s) ({human_bytes(found.info_bytes)}) from {SCHEMA}")


# -- main ----------------------------------------------------------------------------------------------------

def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--inventory", default="inventories/lab")
    parser.add_argument("--size", default=DEFAULT_SIZE, help="target size of the InnoDB data (default %(default)s)")
    parser.add_argument("--tables", type=int, default=8, help="sysbench tables (default %(default)s)")
    parser.add_argument("--threads", type=int, default=4, help="sysbench threads for prepare (default %(default)s)")
    parser.add_argument("--bytes-per-row", type=int, default=BYTES_PER_ROW,
                        help="sizing rule: bytes of one sysbench row with its index (default %(default)s)")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds sysbench prepare may take")
    parser.add_argument("--pki-dir", default="", help="the services CA's directory on the controller "
                        "(ca.crt, controller.crt, controller.key); default from the inventory")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--drop", action="store_true", help="drop the sbtest tables")
    action.add_argument("--measure", action="store_true", help="only print the dataset and its size")
    args = parser.parse_args(argv)
    try:
        args.size_bytes = parse_size(args.size)
    except ValueError as exc:
        parser.error(str(exc))
    limits = {"size_bytes": SIZE_LIMITS, "tables": (1, 64), "threads": (1, 64), "bytes_per_row": (50, 10000),
              "timeout": (60, 14400)}
    for key, (low, high) in limits.items():
        if not low <= getattr(args, key) <= high:
            parser.error(f"--{key.replace('_bytes', '').replace('_', '-')} must be {low}..{high}")
    return args


def main(argv=None):
    args = parse_args(argv)
    lab = read_lab(args.inventory)
    if args.pki_dir:
        lab.pki_dir = os.path.expanduser(args.pki_dir)
    try:
        if args.drop:
            drop(lab)
            return 0
        if args.measure:
            print_measurement(measure(*find_primary(lab.dbs)))
            return 0
        found = ensure(lab, args.size_bytes, args.tables, args.threads, args.bytes_per_row, args.timeout)
    except (RuntimeError, subprocess.SubprocessError) as exc:
        print(f"make_dataset: {exc}", file=sys.stderr)
        return 1
    print_measurement(found, args.size_bytes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
