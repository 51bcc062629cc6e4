# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Textfile metrics for node exporter that no exporter provides (roles/exporters).

  certs OUTPUT GLOB...            one run: notAfter of the first certificate in every file the globs match
                                  (a systemd timer runs it), `openssl x509 -enddate` per file
  vips OUTPUT INTERVAL NAME=ADDR...   loop: 1 when this host holds the VIP address, else 0, every INTERVAL s

Each file is replaced atomically (temporary file beside it, then rename; the temporary name never
matches *.prom), so the collector never reads a torn file.
"""

import calendar
import glob
import json
import os
import subprocess
import sys
import time

BEGIN = "-----BEGIN CERTIFICATE-----"
END = "-----END CERTIFICATE-----"


def label(value):
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def write_atomic(path, text):
    directory = os.path.dirname(path) or "."
    tmp = os.path.join(directory, ".%s.%d.tmp" % (os.path.basename(path), os.getpid()))
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def first_certificate(path):
    """The first PEM certificate block of a file (a HAProxy bundle holds the key and the chain too)."""
    with open(path, encoding="ascii", errors="replace") as handle:
        text = handle.read()
    start = text.find(BEGIN)
    end = text.find(END, start)
    if start < 0 or end < 0:
        return None
    return text[start:end + len(END)] + "\n"


def not_after(pem):
    """notAfter as Unix time, through openssl (its output: notAfter=Jun  1 12:00:00 2030 GMT)."""
    out = subprocess.run(["openssl", "x509", "-noout", "-enddate"], input=pem, capture_output=True, text=True,
                         timeout=10, check=True).stdout.strip()
    return calendar.timegm(time.strptime(out.split("=", 1)[1], "%b %d %H:%M:%S %Y %Z"))


def certs(output, patterns):
    found, errors = {}, 0
    for pattern in patterns:
        for path in sorted(glob.glob(pattern, recursive=True)):
            if path in found or not os.path.isfile(path):
                continue
            try:
                pem = first_certificate(path)
                if pem is None:
                    continue  # a key file, or no certificate at all: not ours to judge
                found[path] = not_after(pem)
            except (OSError, ValueError, IndexError, subprocess.SubprocessError) as exc:
                errors += 1
                sys.stderr.write(json.dumps({"msg": "cannot read certificate", "path": path, "error": str(exc)[:200]}) + "\n")
    lines = ["# HELP ha_lamp_certificate_not_after_seconds notAfter of the first certificate in the file (Unix time).",
             "# TYPE ha_lamp_certificate_not_after_seconds gauge"]
    lines += ['ha_lamp_certificate_not_after_seconds{path="%s"} %d' % (label(p), t) for p, t in sorted(found.items())]
    lines += ["# HELP ha_lamp_certificate_read_errors Certificate files the last check could not read.",
              "# TYPE ha_lamp_certificate_read_errors gauge", "ha_lamp_certificate_read_errors %d" % errors,
              "# HELP ha_lamp_certificate_check_timestamp_seconds When the last check ran (Unix time).",
              "# TYPE ha_lamp_certificate_check_timestamp_seconds gauge",
              "ha_lamp_certificate_check_timestamp_seconds %.3f" % time.time()]
    write_atomic(output, "\n".join(lines) + "\n")
    return 0


def local_addresses():
    out = subprocess.run(["ip", "-j", "addr", "show"], capture_output=True, text=True, timeout=5, check=True).stdout
    return {info["local"] for link in json.loads(out) for info in link.get("addr_info", []) if "local" in info}


def render_vips(vips, held):
    lines = ["# HELP ha_lamp_vip_held 1 when this host holds the VIP address, else 0.",
             "# TYPE ha_lamp_vip_held gauge"]
    lines += ['ha_lamp_vip_held{vip="%s",address="%s"} %d' % (label(name), label(addr), 1 if addr in held else 0)
              for name, addr in vips]
    return "\n".join(lines) + "\n"


def vips(output, interval, specs):
    pairs = [tuple(spec.split("=", 1)) for spec in specs]
    said = None
    while True:
        try:
            write_atomic(output, render_vips(pairs, local_addresses()))
            said = None
        except (OSError, ValueError, subprocess.SubprocessError) as exc:
            if str(exc) != said:
                sys.stderr.write(json.dumps({"msg": "cannot write the VIP metrics", "error": str(exc)[:200]}) + "\n")
                sys.stderr.flush()
            said = str(exc)
        time.sleep(interval)


def main(argv):
    if len(argv) >= 3 and argv[1] == "certs":
        return certs(argv[2], argv[3:])
    if len(argv) >= 4 and argv[1] == "vips":
        return vips(argv[2], float(argv[3]), argv[4:])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
