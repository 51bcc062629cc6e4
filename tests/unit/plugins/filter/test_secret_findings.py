"""The onprem.ha_lamp.secret_findings filter: a thin wrapper over module_utils/secrets_guard (tested there).

    .venv/bin/python -m pytest -q tests/unit/plugins/filter/test_secret_findings.py
"""

import pytest
from ansible.errors import AnsibleFilterError
from jinja2 import Undefined

from ansible_collections.onprem.ha_lamp.plugins.filter.secret_findings import FilterModule, secret_findings


def test_filter_wrapper():
    assert FilterModule().filters()["secret_findings"] is secret_findings
    (finding,) = secret_findings({"web_db_password": Undefined(name="ha_lamp_db_app_password")}, host="web1")
    assert finding["rule"] == "SECRET_EMPTY"
    assert secret_findings({"web_db_password": "lab-only-app"}, lab=True) == []
    with pytest.raises(AnsibleFilterError, match="secret_findings: the input must be a mapping"):
        secret_findings("lab-only")
    with pytest.raises(AnsibleFilterError, match="secret_findings: sources must be a mapping"):
        secret_findings({"a": "b"}, sources="x")
