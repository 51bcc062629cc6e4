"""Unit tests of the onprem.ha_lamp.redundancy_report filter (thin wrapper over the rule core)."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.onprem.ha_lamp.plugins.filter.redundancy_report import FilterModule, redundancy_report

from ..module_utils.inventory_cases import lab, set_host


def test_filter_is_registered():
    assert FilterModule().filters() == {"redundancy_report": redundancy_report}


def test_lab_passes():
    inventory = lab()
    groups = dict(inventory["groups"], all=sorted(inventory["hostvars"]), ungrouped=[])
    report = redundancy_report(groups, inventory["hostvars"])
    assert report["ok"] is True
    assert report["errors"] == 0
    assert "text" not in report


def test_bad_inventory_is_a_report_not_an_exception():
    inventory = lab()
    set_host(inventory, "lb2", rack="r1")
    report = redundancy_report(inventory["groups"], inventory["hostvars"], text=True)
    assert report["ok"] is False
    assert [(f["rule"], f["hosts"]) for f in report["findings"]] == [("TIER_SINGLE_DOMAIN", ["lb1", "lb2"])]
    assert "TIER_SINGLE_DOMAIN loadbalancers: lb1 and lb2 are both in rack 'r1'" in report["text"]


def test_options_are_passed_through():
    inventory = lab()
    report = redundancy_report(
        inventory["groups"], inventory["hostvars"], host_availability=0.9, domain_availability=1.0, failure_domain="rack"
    )
    assert report["availability"]["tiers"]["loadbalancers"]["unavailability"] == pytest.approx(0.01)


@pytest.mark.parametrize(
    "groups, hostvars, kwargs, message",
    [
        pytest.param(["lb1"], {}, {}, "redundancy_report: groups must be a mapping of group name to host list, got list", id="groups"),
        pytest.param({}, 5, {}, "redundancy_report: hostvars must be a mapping of host name to variables, got int", id="hostvars"),
        pytest.param(
            {}, {}, {"host_availability": 0}, "redundancy_report: host_availability must be a number in (0, 1], got 0", id="availability"
        ),
        pytest.param(
            {}, {}, {"failure_domain": "row"}, "redundancy_report: failure_domain must be one of rack, site, got 'row'", id="failure-domain"
        ),
    ],
)
def test_unusable_input_raises_filter_error(groups, hostvars, kwargs, message):
    with pytest.raises(AnsibleFilterError) as info:
        redundancy_report(groups, hostvars, **kwargs)
    assert info.value.message == message
