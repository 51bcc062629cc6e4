#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: drill_probe
short_description: Measure a failure drill with bounded HTTP and database write load
version_added: 0.1.0
description:
  - Sends steady HTTP GET requests to O(url) (normally the cluster VIP) at O(rate) requests per
    second from O(concurrency) threads, one new connection per request, and separately inserts
    numbered rows (seq 1..N under one run id) through a MySQL endpoint (normally VIP:3306),
    with autocommit and reconnecting after every failure.
  - Records every request and every write as one JSON line in O(events_path) with the time sent,
    the time answered (epoch seconds that advance with the monotonic clock), the outcome with its
    error class, and which web node (C(web_node=) line of the page) or database node
    (C(@@hostname) of the connection) answered.
  - With O(read_url) it also sends a second, independent stream of GETs to a read-only page (normally
    C(http://VIP/read.php), which reads through the readers port), recorded as C(kind=read) events
    with the same fields plus C(via) (the page's C(read_via=) line), so
    M(onprem.ha_lamp.drill_report) can tell whether reads survived a database writer gap.
  - Always bounded; it stops by itself at O(duration), at O(max_requests)/O(max_writes), or when
    O(stop_file) appears. Run it with C(async) so a playbook can inject the fault meanwhile.
  - With O(mode=verify) (or O(verify=true) after a run) it reads the run's rows back through the
    writer and reports acknowledged writes that are missing (lost writes); the result is also
    appended to the events file for M(onprem.ha_lamp.drill_report).
  - The row table C(ha_lamp_app.drill_writes) (run_id, seq, db_node, ts) is created if missing.
author:
  - onprem.ha_lamp maintainers (@onprem)
requirements:
  - PyMySQL on the host running the probe, only when O(db_host) is set.
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: none
    details: It generates real load and writes real rows; in check mode it is skipped.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
options:
  mode:
    description:
      - V(run) runs the probe (and verifies afterwards when O(verify=true)).
      - V(verify) only verifies the acknowledged writes already recorded in O(events_path).
    type: str
    choices: [run, verify]
    default: run
  events_path:
    description:
      - JSONL file the events are written to (overwritten by V(run), appended to by verification).
    type: path
    required: true
  url:
    description:
      - URL to GET, for example C(http://192.0.2.10/). Omit to probe only database writes.
    type: str
  duration:
    description:
      - Hard time bound of the run in seconds (at most 3600).
    type: float
    default: 60
  max_requests:
    description:
      - Hard bound on the number of HTTP requests.
    type: int
    default: 20000
  rate:
    description:
      - Target HTTP requests per second over all threads. Missed slots are skipped, not queued,
        so recovery is not followed by a burst.
    type: float
    default: 20
  concurrency:
    description:
      - Number of HTTP worker threads (requests in flight at most).
    type: int
    default: 4
  read_url:
    description:
      - URL of a read-only page to GET in a second stream, for example C(http://192.0.2.10/read.php).
        Omit to send no such requests.
    type: str
  read_rate:
    description:
      - Target requests per second of the O(read_url) stream.
    type: float
    default: 10
  read_concurrency:
    description:
      - Worker threads of the O(read_url) stream.
    type: int
    default: 2
  max_read_requests:
    description:
      - Hard bound on the number of O(read_url) requests.
    type: int
    default: 10000
  http_timeout:
    description:
      - Connect and read timeout of each HTTP request (both streams), seconds.
    type: float
    default: 2
  validate_certs:
    description:
      - Verify the TLS certificate for C(https://) URLs.
    type: bool
    default: true
  host_header:
    description:
      - Host header to send instead of the URL's host.
    type: str
  db_host:
    description:
      - MySQL/MariaDB endpoint for writes and verification (the VIP). Omit to probe only HTTP.
    type: str
  db_port:
    description:
      - Port of the writer endpoint.
    type: int
    default: 3306
  db_user:
    description:
      - Database user; needs INSERT, SELECT and CREATE on O(db_name).
    type: str
    default: ha_lamp_app
  db_password:
    description:
      - Password of O(db_user).
    type: str
  db_name:
    description:
      - Database holding the probe table.
    type: str
    default: ha_lamp_app
  db_table:
    description:
      - Probe table name (created if missing).
    type: str
    default: drill_writes
  write_rate:
    description:
      - Target writes per second (one writer thread, so writes are strictly sequential).
    type: float
    default: 5
  max_writes:
    description:
      - Hard bound on the number of write attempts.
    type: int
    default: 5000
  db_timeout:
    description:
      - Connect, read and write timeout of the database connection, seconds.
    type: float
    default: 2
  run_id:
    description:
      - Identifier of this run in the table and the events; random when omitted.
    type: str
  stop_file:
    description:
      - Stop early once this file exists on the probe host (checked every 0.2 s).
    type: path
  verify:
    description:
      - After a run with O(db_host), read the rows back and report lost acknowledged writes.
      - Leave it off when the cluster may still be failing over at the end of the run, and call
        O(mode=verify) once it has recovered.
    type: bool
    default: false
  verify_attempts:
    description:
      - Connection attempts of the verification (it waits for the writer to come back).
    type: int
    default: 10
  verify_retry_delay:
    description:
      - Seconds between verification attempts.
    type: float
    default: 2
seealso:
  - module: onprem.ha_lamp.drill_report
notes:
  - Run it on localhost or on a dedicated probe host outside the cluster, never on a node the
    drill will break.
  - The events schema is documented in C(plugins/module_utils/drill_probe.py).
'''

EXAMPLES = r'''
- name: Start the probe in the background for at most 90 seconds
  onprem.ha_lamp.drill_probe:
    url: "http://{{ drill_vip }}/"
    db_host: "{{ drill_vip }}"
    db_password: "{{ ha_lamp_db_app_password }}"
    events_path: "{{ drill_report_dir }}/lb_kill.events.jsonl"
    stop_file: "{{ drill_report_dir }}/lb_kill.stop"
    duration: 90
    max_requests: 3000
    rate: 20
    concurrency: 4
  async: 150
  poll: 0
  no_log: true
  register: drill_probe_job

- name: Wait for the probe to finish
  ansible.builtin.async_status:
    jid: "{{ drill_probe_job.ansible_job_id }}"
  register: drill_probe_result
  until: drill_probe_result is finished
  retries: 150
  delay: 1

- name: Verify acknowledged writes once the cluster has recovered
  onprem.ha_lamp.drill_probe:
    mode: verify
    events_path: "{{ drill_report_dir }}/lb_kill.events.jsonl"
    db_host: "{{ drill_vip }}"
    db_password: "{{ ha_lamp_db_app_password }}"
  no_log: true
  register: drill_verify
'''

RETURN = r'''
run_id:
  description: Identifier of the run (rows and events carry it).
  returned: always
  type: str
  sample: 3f2a9c1b7d0e
events_path:
  description: The events file.
  returned: always
  type: str
probe_start:
  description: Epoch seconds when the run started.
  returned: mode=run
  type: float
probe_end:
  description: Epoch seconds when the run ended.
  returned: mode=run
  type: float
duration_s:
  description: Actual run time in seconds.
  returned: mode=run
  type: float
http_ok:
  description: Successful (2xx) HTTP requests.
  returned: mode=run
  type: int
http_error:
  description: Failed HTTP requests (connection errors, timeouts, non-2xx).
  returned: mode=run
  type: int
read_ok:
  description: Successful (2xx) requests to O(read_url).
  returned: mode=run
  type: int
read_error:
  description: Failed requests to O(read_url) (connection errors, timeouts, non-2xx).
  returned: mode=run
  type: int
write_ok:
  description: Acknowledged writes.
  returned: mode=run
  type: int
write_error:
  description: Write attempts that failed (not acknowledged).
  returned: mode=run
  type: int
writes_acknowledged:
  description: Number of acknowledged writes (same as write_ok).
  returned: mode=run
  type: int
stragglers:
  description: Threads still running at the hard end (should be empty).
  returned: mode=run
  type: list
  elements: str
verify:
  description:
    - Verification result, also appended to the events file as a C(kind=verify) line.
    - C(lost) lists acknowledged seqs missing from the table; null when verification could not
      connect (C(verified=false), C(error) says why).
  returned: mode=verify, or mode=run with verify=true and db_host
  type: dict
  sample:
    verified: true
    node: db2
    acknowledged: 412
    present: 413
    lost: []
    unacknowledged_present: [205]
    error: null
'''

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.onprem.ha_lamp.plugins.module_utils.drill_probe import (
    ProbeConfig,
    ProbeError,
    run_probe,
    verify_events_file,
)


def _db_args(params):
    return {"db_host": params["db_host"], "db_port": params["db_port"], "db_user": params["db_user"],
            "db_password": params["db_password"], "db_name": params["db_name"],
            "db_table": params["db_table"], "attempts": params["verify_attempts"],
            "retry_delay": params["verify_retry_delay"]}


def main():
    module = AnsibleModule(
        argument_spec=dict(
            mode=dict(type="str", choices=["run", "verify"], default="run"),
            events_path=dict(type="path", required=True),
            url=dict(type="str"),
            duration=dict(type="float", default=60),
            max_requests=dict(type="int", default=20000),
            rate=dict(type="float", default=20),
            concurrency=dict(type="int", default=4),
            http_timeout=dict(type="float", default=2),
            read_url=dict(type="str"),
            read_rate=dict(type="float", default=10),
            read_concurrency=dict(type="int", default=2),
            max_read_requests=dict(type="int", default=10000),
            validate_certs=dict(type="bool", default=True),
            host_header=dict(type="str"),
            db_host=dict(type="str"),
            db_port=dict(type="int", default=3306),
            db_user=dict(type="str", default="ha_lamp_app"),
            db_password=dict(type="str", no_log=True),
            db_name=dict(type="str", default="ha_lamp_app"),
            db_table=dict(type="str", default="drill_writes"),
            write_rate=dict(type="float", default=5),
            max_writes=dict(type="int", default=5000),
            db_timeout=dict(type="float", default=2),
            run_id=dict(type="str"),
            stop_file=dict(type="path"),
            verify=dict(type="bool", default=False),
            verify_attempts=dict(type="int", default=10),
            verify_retry_delay=dict(type="float", default=2),
        ),
        required_if=[("mode", "verify", ["db_host"])],
        supports_check_mode=False,
    )
    p = module.params
    try:
        if p["mode"] == "verify":
            result = verify_events_file(p["events_path"], **_db_args(p))
            module.exit_json(changed=True, events_path=p["events_path"], run_id=result["run_id"],
                             verify=result)
        config = ProbeConfig(
            events_path=p["events_path"], url=p["url"], duration=p["duration"],
            max_requests=p["max_requests"], rate=p["rate"], concurrency=p["concurrency"],
            http_timeout=p["http_timeout"], validate_certs=p["validate_certs"],
            host_header=p["host_header"], db_host=p["db_host"], db_port=p["db_port"],
            db_user=p["db_user"], db_password=p["db_password"], db_name=p["db_name"],
            db_table=p["db_table"], write_rate=p["write_rate"], max_writes=p["max_writes"],
            db_timeout=p["db_timeout"], run_id=p["run_id"], stop_file=p["stop_file"],
            read_url=p["read_url"], read_rate=p["read_rate"], read_concurrency=p["read_concurrency"],
            max_read_requests=p["max_read_requests"])
        result = run_probe(config)
        if p["verify"] and p["db_host"]:
            result["verify"] = verify_events_file(p["events_path"], **_db_args(p))
    except ProbeError as exc:
        module.fail_json(msg="drill probe: %s" % to_native(exc))
    except (IOError, OSError) as exc:
        module.fail_json(msg="drill probe: cannot use %s: %s" % (p["events_path"], to_native(exc)))
    module.exit_json(changed=True, **result)


if __name__ == "__main__":
    main()
