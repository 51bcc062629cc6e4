# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run the onprem.ha_lamp drill probe from a shell, without Ansible.

  python3 tools/ha_lamp_probe.py --url http://VIP/ --db-host VIP --duration 30 \
      --events /tmp/probe.jsonl --verify
  python3 tools/ha_lamp_probe.py --url http://VIP/ --read-url http://VIP/read.php --db-host VIP \
      --duration 30 --events /tmp/probe.jsonl --verify --report --read-gate

The database password is read from the HA_LAMP_PROBE_DB_PASSWORD environment variable or from
--db-password-file, never from the command line (it would show in ps and shell history).
Prints the run summary (and, with --report, the drill report computed from the events) as JSON.
Exit status: 0 ok, 1 acknowledged writes lost or verification impossible (or, with --read-gate,
the read-only page gate breached), 2 bad usage.
"""

import argparse
import json
import os
import sys
from pathlib import Path


def _import_collection():
    """Make ansible_collections.onprem.ha_lamp importable from a checkout or an installed copy."""
    root = Path(__file__).resolve().parents[1]  # the collection root
    candidates = [root / ".collections"]  # repository checkout (links back to the repo)
    if root.parent.parent.name == "ansible_collections":  # installed: .../ansible_collections/onprem/ha_lamp
        candidates.insert(0, root.parents[2])
    for path in candidates:
        if (path / "ansible_collections" / "onprem" / "ha_lamp").exists() and str(path) not in sys.path:
            sys.path.insert(0, str(path))
    from ansible_collections.onprem.ha_lamp.plugins.module_utils import drill_probe, drill_report

    return drill_probe, drill_report


def _parser():
    ap = argparse.ArgumentParser(description="Bounded HTTP + DB write probe for HA LAMP failure drills.")
    ap.add_argument("--events", default="probe-events.jsonl", help="JSONL events file (default %(default)s)")
    ap.add_argument("--url", help="URL to GET, e.g. http://192.0.2.10/")
    ap.add_argument("--duration", type=float, default=60.0, help="hard time bound, s (default %(default)s)")
    ap.add_argument("--max-requests", type=int, default=20000, help="hard request bound (default %(default)s)")
    ap.add_argument("--rate", type=float, default=20.0, help="HTTP requests/s (default %(default)s)")
    ap.add_argument("--concurrency", type=int, default=4, help="HTTP threads (default %(default)s)")
    ap.add_argument("--read-url", help="read-only page to GET in a second stream, e.g. http://192.0.2.10/read.php")
    ap.add_argument("--read-rate", type=float, default=10.0, help="read-only page requests/s (default %(default)s)")
    ap.add_argument("--read-concurrency", type=int, default=2, help="read-only page threads (default %(default)s)")
    ap.add_argument("--max-read-requests", type=int, default=10000,
                    help="hard read-only page request bound (default %(default)s)")
    ap.add_argument("--read-gate", action="store_true",
                    help="with --report: apply the read-only page gate (as for a DB drill)")
    ap.add_argument("--read-gate-max-failures", type=int, default=0,
                    help="failed read-only page requests the gate tolerates (default %(default)s)")
    ap.add_argument("--http-timeout", type=float, default=2.0, help="per request, s (default %(default)s)")
    ap.add_argument("--insecure", action="store_true", help="do not verify TLS certificates")
    ap.add_argument("--host-header", help="Host header to send")
    ap.add_argument("--db-host", help="MySQL writer endpoint (VIP)")
    ap.add_argument("--db-port", type=int, default=3306)
    ap.add_argument("--db-user", default="ha_lamp_app")
    ap.add_argument("--db-password-file", help="file holding the password (else $HA_LAMP_PROBE_DB_PASSWORD)")
    ap.add_argument("--db-name", default="ha_lamp_app")
    ap.add_argument("--db-table", default="drill_writes")
    ap.add_argument("--write-rate", type=float, default=5.0, help="writes/s (default %(default)s)")
    ap.add_argument("--max-writes", type=int, default=5000, help="hard write bound (default %(default)s)")
    ap.add_argument("--db-timeout", type=float, default=2.0, help="connect/read/write timeout, s")
    ap.add_argument("--run-id", help="run identifier (random by default)")
    ap.add_argument("--stop-file", help="stop early once this file exists")
    ap.add_argument("--verify", action="store_true", help="read the rows back after the run")
    ap.add_argument("--verify-only", action="store_true", help="only verify the writes recorded in --events")
    ap.add_argument("--report", action="store_true", help="also print the drill report of the events")
    ap.add_argument("--name", default="adhoc", help="drill name for --report")
    ap.add_argument("--fault-at", type=float, help="epoch of the fault for --report")
    return ap


def _password(args):
    if args.db_password_file:
        with open(args.db_password_file, encoding="utf-8") as fh:
            return fh.read().strip()
    return os.environ.get("HA_LAMP_PROBE_DB_PASSWORD")


def main(argv=None):
    parser = _parser()
    args = parser.parse_args(argv)
    if args.verify_only and not args.db_host:
        parser.error("--verify-only needs --db-host")
    drill_probe, drill_report = _import_collection()
    db = {"db_host": args.db_host, "db_port": args.db_port, "db_user": args.db_user,
          "db_password": _password(args), "db_name": args.db_name, "db_table": args.db_table}
    out = {}
    try:
        if not args.verify_only:
            config = drill_probe.ProbeConfig(
                events_path=args.events, url=args.url, duration=args.duration,
                max_requests=args.max_requests, rate=args.rate, concurrency=args.concurrency,
                http_timeout=args.http_timeout, validate_certs=not args.insecure,
                host_header=args.host_header, write_rate=args.write_rate, max_writes=args.max_writes,
                db_timeout=args.db_timeout, run_id=args.run_id, stop_file=args.stop_file,
                read_url=args.read_url, read_rate=args.read_rate, read_concurrency=args.read_concurrency,
                max_read_requests=args.max_read_requests, **db)
            print("probing for at most %.0f s, events -> %s" % (config.duration, args.events), file=sys.stderr)
            out["run"] = drill_probe.run_probe(config)
        if (args.verify or args.verify_only) and args.db_host:
            out["verify"] = drill_probe.verify_events_file(args.events, **db)
        if args.report:
            events = drill_probe.load_events(args.events)
            out["report"] = drill_report.build_report(
                args.name, events, fault_at=args.fault_at, read_gate=args.read_gate,
                read_gate_max_failures=args.read_gate_max_failures)
    except drill_probe.ProbeError as exc:
        print("ha_lamp_probe: %s" % exc, file=sys.stderr)
        return 2
    except OSError as exc:
        print("ha_lamp_probe: %s" % exc, file=sys.stderr)
        return 2
    print(json.dumps(out, indent=2, sort_keys=True))
    verify = out.get("verify")
    if verify is not None and (not verify["verified"] or verify["lost"]):
        return 1
    if out.get("report", {}).get("read_gate_breaches"):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
