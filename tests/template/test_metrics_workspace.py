"""What scrapes the table-server fleet in AWS: each task's ADOT sidecar remote-writes its
server's metrics to the stack's Amazon Managed Prometheus workspace, which evaluates the same
alert rules as `./dev up --monitoring` and sends alerts to the alarm topic in the shape the
pager subscription filters on."""

from __future__ import annotations

import json
import re

import yaml

from devstack.monitoring import ALERT_RULES
from tests.template.test_iam import stack


def _collector_config() -> dict:
    s = stack("prod")
    task = s.resolve(s.resources["TableServerTaskDefinition"]["Properties"])
    (collector,) = [c for c in task["ContainerDefinitions"] if c["Name"] == "metrics-collector"]
    (content,) = [e["Value"] for e in collector["Environment"] if e["Name"] == "AOT_CONFIG_CONTENT"]
    return yaml.safe_load(content)


def test_the_workspace_evaluates_exactly_the_repos_alert_rules():
    s = stack("prod")
    rules = s.resolve(s.resources["MetricsAlertRules"]["Properties"])
    assert rules["Workspace"] == s.get_att("MetricsWorkspace", "Arn")
    assert yaml.safe_load(rules["Data"]) == yaml.safe_load(ALERT_RULES.read_text())


def test_the_sidecar_scrapes_the_servers_metrics_port_as_the_alerts_job():
    s = stack("prod")
    task = s.resolve(s.resources["TableServerTaskDefinition"]["Properties"])
    (server,) = [c for c in task["ContainerDefinitions"] if c["Name"] == "table-server"]
    metrics_port = {e["Name"]: e["Value"] for e in server["Environment"]}["METRICS_PORT"]
    config = _collector_config()
    (job,) = config["receivers"]["prometheus"]["config"]["scrape_configs"]
    assert job["job_name"] == "table-server"  # what every rule of alerts.yml selects
    assert job["static_configs"] == [{"targets": [f"127.0.0.1:{metrics_port}"]}]
    rules = [rule for group in _rule_groups() for rule in group["rules"]]
    assert all('job="table-server"' in rule["expr"] for rule in rules)


def test_the_sidecar_writes_to_the_workspace_with_each_task_as_its_own_instance():
    config = _collector_config()
    exporter = config["exporters"]["prometheusremotewrite"]
    endpoint = stack("prod").get_att("MetricsWorkspace", "PrometheusEndpoint")
    assert exporter["endpoint"] == f"{endpoint}api/v1/remote_write"
    assert exporter["auth"] == {"authenticator": "sigv4auth"}
    assert config["extensions"]["sigv4auth"]["service"] == "aps"
    (pipeline,) = config["service"]["pipelines"].values()
    assert pipeline["processors"][:2] == ["resourcedetection", "resource"]
    (instance,) = config["processors"]["resource"]["attributes"]
    # Every task scrapes 127.0.0.1:9100: without the task's ARN as `instance`, the tasks'
    # series would collide in the workspace and the per-instance alerts would merge them.
    assert instance == {
        "key": "service.instance.id",
        "from_attribute": "aws.ecs.task.arn",
        "action": "upsert",
    }


def test_alerts_reach_the_topic_as_alarm_shaped_json_that_pages_when_critical():
    s = stack("prod")
    definition = s.resolve(s.resources["MetricsWorkspace"]["Properties"])
    config = yaml.safe_load(
        yaml.safe_load(definition["AlertManagerDefinition"])["alertmanager_config"]
    )
    (receiver,) = config["receivers"]
    assert config["route"]["receiver"] == receiver["name"]
    (sns,) = receiver["sns_configs"]
    assert sns["topic_arn"] == s.ref("AlarmTopic")
    pager = s.resolve(
        s.template["Resources"]["AlarmPagerSubscription"]["Properties"]["FilterPolicy"]
    )
    prefix = pager["AlarmDescription"][0]["prefix"]
    for severity, pages in (("critical", True), ("warning", False)):
        message = json.loads(_render(sns["message"], severity))
        assert message["AlarmDescription"].startswith(prefix) is pages, message


def _rule_groups() -> list[dict]:
    groups: list[dict] = yaml.safe_load(ALERT_RULES.read_text())["groups"]
    return groups


def _render(template: str, severity: str) -> str:
    """The alert manager's Go template for one alert of `severity`, firing: the conditionals
    the message uses, every other field as a placeholder."""
    chosen = "CRITICAL" if severity == "critical" else "WARNING"
    severity_choice = r'\{\{ if eq \.CommonLabels\.severity "critical" \}\}CRITICAL'
    text = re.sub(severity_choice + r"\{\{ else \}\}WARNING\{\{ end \}\}", chosen, template)
    text = re.sub(
        r'\{\{ if eq \.Status "firing" \}\}ALARM\{\{ else \}\}OK\{\{ end \}\}', "ALARM", text
    )
    assert '"' not in "".join(re.findall(r"\{\{.*?\}\}", text)), "an unhandled conditional"
    return re.sub(r"\{\{.*?\}\}", "x", text)
