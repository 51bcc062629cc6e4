# Copyright: (c) 2026, onprem.ha_lamp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests for module_utils/dcs_membership.py: one etcd membership change at a time, never one
that leaves the answering members short of a quorum."""

import os
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, ".collections"))

from ansible_collections.onprem.ha_lamp.plugins.module_utils.dcs_membership import (  # noqa: E402
    MembershipError, initial_cluster, plan_absent, plan_present, quorum)


def member(name, last, started=True):
    peer = "https://10.0.0.%d:2380" % last
    return {"ID": str(1000 + last), "name": name if started else "", "peerURLs": [peer],
            "clientURLs": ["https://10.0.0.%d:2379" % last] if started else []}


DB1, DB2, DB3 = member("db1", 31), member("db2", 32), member("db3", 33)
THREE = [DB1, DB2, DB3]
ALL_UP = {"1031", "1032", "1033"}
DB4_PEER = "https://10.0.0.34:2380"


@pytest.mark.parametrize("size, expected", [(1, 1), (2, 2), (3, 2), (4, 3), (5, 3)])
def test_quorum(size, expected):
    assert quorum(size) == expected


def test_adding_a_new_member_is_one_add():
    assert plan_present(THREE, ALL_UP, "db4", DB4_PEER, replace=False) == [{"action": "add", "name": "db4"}]


def test_an_existing_member_needs_nothing():
    assert plan_present(THREE, ALL_UP, "db2", "https://10.0.0.32:2380", replace=False) == []


def test_an_added_but_unstarted_member_needs_nothing_more():
    members = THREE + [member("db4", 34, started=False)]
    assert plan_present(members, ALL_UP, "db4", DB4_PEER, replace=False) == []


def test_a_lost_member_is_removed_then_added_back():
    assert plan_present(THREE, {"1031", "1033"}, "db2", "https://10.0.0.32:2380", replace=True) == [
        {"action": "remove", "id": "1032", "name": "db2"}, {"action": "add", "name": "db2"}]


def test_replace_of_a_member_that_still_answers_is_refused():
    with pytest.raises(MembershipError) as err:
        plan_present(THREE, ALL_UP, "db2", "https://10.0.0.32:2380", replace=True)
    assert str(err.value) == (
        "refusing to replace etcd member db2: it still answers at https://10.0.0.32:2379, yet its host has "
        "no etcd data. Is the inventory address right?")


def test_replace_without_a_quorum_left_is_refused():
    with pytest.raises(MembershipError) as err:
        plan_present(THREE, {"1031"}, "db2", "https://10.0.0.32:2380", replace=True)
    assert str(err.value) == (
        "refusing to remove the lost member db2: the cluster would have 2 member(s), which need 2 answering "
        "for a quorum, but only 1 answer (db1); not answering: db3. Bring those members back first.")


def test_add_that_would_lose_the_quorum_is_refused():
    with pytest.raises(MembershipError) as err:
        plan_present([DB1, DB2], {"1031"}, "db3", "https://10.0.0.33:2380", replace=False)
    assert str(err.value) == (
        "refusing to add db3: the cluster would have 3 member(s), which need 2 answering for a quorum, "
        "but only 1 answer (db1); not answering: db2. Bring those members back first.")


def test_a_second_pending_member_is_refused():
    members = THREE + [member("db4", 34, started=False)]
    with pytest.raises(MembershipError) as err:
        plan_present(members, ALL_UP, "db5", "https://10.0.0.35:2380", replace=False)
    assert str(err.value) == (
        "refusing to add db5: unstarted member https://10.0.0.34:2380 was added but never started; "
        "start it or remove it first (one membership change at a time)")


def test_a_peer_url_of_another_member_is_refused():
    with pytest.raises(MembershipError) as err:
        plan_present(THREE, ALL_UP, "db4", "https://10.0.0.32:2380", replace=False)
    assert str(err.value) == "refusing to add db4: its peer URL https://10.0.0.32:2380 belongs to member db2"


def test_a_name_at_another_address_is_refused():
    with pytest.raises(MembershipError) as err:
        plan_present(THREE, ALL_UP, "db2", "https://10.0.0.42:2380", replace=True)
    assert str(err.value) == (
        "refusing to add db2 at https://10.0.0.42:2380: a member with that name advertises "
        "https://10.0.0.32:2380. Remove it first (remove_node.yml), or keep the address.")


def test_removing_a_member_is_one_remove():
    assert plan_absent(THREE, ALL_UP, "db3") == [{"action": "remove", "id": "1033", "name": "db3"}]


def test_removing_a_down_member_keeps_the_quorum_of_the_rest():
    assert plan_absent(THREE, {"1031", "1032"}, "db3") == [{"action": "remove", "id": "1033", "name": "db3"}]


def test_removing_a_non_member_needs_nothing():
    assert plan_absent(THREE, ALL_UP, "db9") == []


def test_removing_a_member_while_another_is_down_is_refused():
    with pytest.raises(MembershipError) as err:
        plan_absent(THREE, {"1031", "1033"}, "db3")
    assert str(err.value) == (
        "refusing to remove db3: the cluster would have 2 member(s), which need 2 answering for a quorum, "
        "but only 1 answer (db1); not answering: db2. Bring those members back first.")


def test_removing_the_last_member_is_refused():
    with pytest.raises(MembershipError) as err:
        plan_absent([DB1], {"1031"}, "db1")
    assert str(err.value) == "refusing to remove db1: it is the cluster's last member"


def test_initial_cluster_names_the_joining_member():
    members = [DB1, DB3, member("db2", 32, started=False)]
    assert initial_cluster(members, "db2", "https://10.0.0.32:2380") == (
        "db1=https://10.0.0.31:2380,db2=https://10.0.0.32:2380,db3=https://10.0.0.33:2380")


def test_initial_cluster_refuses_a_foreign_unstarted_member():
    members = [DB1, DB3, member("", 35, started=False)]
    with pytest.raises(MembershipError) as err:
        initial_cluster(members, "db2", "https://10.0.0.32:2380")
    assert str(err.value) == ("cannot build the initial cluster: unstarted member https://10.0.0.35:2380 "
                              "is neither started nor db2")
