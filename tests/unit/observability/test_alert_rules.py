"""The table servers' Prometheus alert rules (ops/prometheus/alerts.yml) read as operators need.

Each alert links a section of docs/RUNBOOK.md that exists, and the error-rate alerts count
only server faults: a client's bad messages must not page anyone.
"""

from __future__ import annotations

import re

import yaml

from devstack.paths import ROOT

RULES = yaml.safe_load((ROOT / "ops/prometheus/alerts.yml").read_text())
ALERTS = {rule["alert"]: rule for group in RULES["groups"] for rule in group["rules"]}


def _anchor(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    return re.sub(r"[^a-z0-9 -]", "", heading.lower()).replace(" ", "-")


def test_every_alert_links_a_runbook_section_that_exists():
    runbook = (ROOT / "docs/RUNBOOK.md").read_text()
    anchors = {_anchor(line[3:]) for line in runbook.splitlines() if line.startswith("## ")}
    for name, rule in ALERTS.items():
        link = rule["annotations"]["runbook"]
        assert link.startswith("docs/RUNBOOK.md#"), name
        assert link.split("#", 1)[1] in anchors, (name, link)


def test_error_rate_alerts_count_server_faults_only():
    for name in ("TableServerErrorRateWarning", "TableServerErrorRateCritical"):
        expr = ALERTS[name]["expr"]
        assert 'edge_errors_total{job="table-server", fault="server"}' in expr, name
    assert ALERTS["TableServerErrorRateCritical"]["labels"]["severity"] == "critical"
