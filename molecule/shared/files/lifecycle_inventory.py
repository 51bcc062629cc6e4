#!/usr/bin/env python
"""Write a copy of the lab inventory with hosts added to or retired from its groups.

The node lifecycle proof (molecule/shared/node_lifecycle.yml) needs the inventory an operator would
edit at each step: a new host in its tier group (add_node.yml), a leaving host moved into `retired`
(remove_node.yml). Inventory sources only add to each other, so each step gets a whole copy:

  lifecycle_inventory.py BASE_DIR OUT_DIR [--add GROUP:HOST:ADDRESS:RACK]... [--retire HOST]...

OUT_DIR/hosts.yml is BASE_DIR/hosts.yml changed as asked; OUT_DIR/group_vars links to BASE_DIR's.
"""
import argparse
import os
import sys

import yaml


def parse_add(text):
    parts = text.split(":")
    if len(parts) != 4 or not all(parts):
        raise argparse.ArgumentTypeError("--add wants GROUP:HOST:ADDRESS:RACK, got %r" % text)
    return parts


def change(inventory, added, retired):
    groups = inventory["all"]["children"]
    for group, host, address, rack in added:
        groups.setdefault(group, {}).setdefault("hosts", {})[host] = {"ansible_host": address, "rack": rack}
    for host in retired:
        kept = {}
        for name, group in groups.items():
            members = (group or {}).get("hosts") or {}
            if host in members:
                kept.update(members.pop(host) or {})
        if not kept.get("ansible_host"):
            raise SystemExit("--retire %s: the host has no ansible_host in %s" % (host, ", ".join(groups)))
        groups.setdefault("retired", {}).setdefault("hosts", {})[host] = kept
    return inventory


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base_dir")
    parser.add_argument("out_dir")
    parser.add_argument("--add", type=parse_add, action="append", default=[])
    parser.add_argument("--retire", action="append", default=[])
    args = parser.parse_args(argv)
    with open(os.path.join(args.base_dir, "hosts.yml"), encoding="utf-8") as handle:
        inventory = yaml.safe_load(handle)
    os.makedirs(args.out_dir, exist_ok=True)
    with open(os.path.join(args.out_dir, "hosts.yml"), "w", encoding="utf-8") as handle:
        yaml.safe_dump(change(inventory, args.add, args.retire), handle, sort_keys=False)
    link = os.path.join(args.out_dir, "group_vars")
    if not os.path.lexists(link):
        os.symlink(os.path.abspath(os.path.join(args.base_dir, "group_vars")), link)


if __name__ == "__main__":
    main(sys.argv[1:])
