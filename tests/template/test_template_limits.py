"""The limits cfn-lint does not check (AWS_NOTES.md), and the template's promises.

Each check is a function over the parsed template, run on template.yaml and also on a small
broken snippet, so a check that could never fail is caught too.
"""

from __future__ import annotations

import re
import subprocess
from typing import Any

import pytest

from devstack.paths import ROOT
from devstack.template import Tag, load_template

TEMPLATE = load_template(ROOT / "template.yaml")


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {
        name: resource.get("Properties", {})
        for name, resource in template["Resources"].items()
        if resource["Type"] == kind
    }


def _default(template: dict[str, Any], value: Any) -> Any:
    """A literal, or the default of the parameter a `!Ref` names."""
    if isinstance(value, Tag) and value.name == "Ref":
        return template["Parameters"][value.value]["Default"]
    return value


def fargate_stop_timeouts(template: dict[str, Any]) -> list[str]:
    problems = []
    for name, props in _resources(template, "AWS::ECS::TaskDefinition").items():
        if "FARGATE" not in props.get("RequiresCompatibilities", []):
            continue
        for container in props["ContainerDefinitions"]:
            timeout = container.get("StopTimeout")
            if timeout is None or not 0 < int(timeout) <= 120:
                problems.append(f"{name}/{container['Name']}: StopTimeout {timeout} (1..120)")
    return problems


def cache_failover(template: dict[str, Any]) -> list[str]:
    problems = []
    for name, props in _resources(template, "AWS::ElastiCache::ReplicationGroup").items():
        if props.get("AutomaticFailoverEnabled") or props.get("MultiAZEnabled"):
            nodes = int(props.get("NumCacheClusters", 1))
            if "ReplicasPerNodeGroup" in props:
                nodes = 1 + int(props["ReplicasPerNodeGroup"])
            if nodes < 2:
                problems.append(f"{name}: automatic failover with {nodes} node(s)")
    return problems


def alb_idle_timeouts(template: dict[str, Any]) -> list[str]:
    problems = []
    for name, props in _resources(template, "AWS::ElasticLoadBalancingV2::LoadBalancer").items():
        for attribute in props.get("LoadBalancerAttributes", []):
            if attribute["Key"] == "idle_timeout.timeout_seconds":
                seconds = int(attribute["Value"])
                if not 1 <= seconds <= 4000:
                    problems.append(f"{name}: idle timeout {seconds} s (1..4000)")
    return problems


def schedule_problems(template: dict[str, Any]) -> list[str]:
    problems = []
    for name, props in _resources(template, "AWS::Serverless::Function").items():
        for event_name, event in (props.get("Events") or {}).items():
            if event["Type"] not in ("ScheduleV2", "Schedule"):
                continue
            where = f"{name}.{event_name}"
            if event["Type"] == "Schedule":
                problems.append(f"{where}: use ScheduleV2 (EventBridge Scheduler, timezones)")
                continue
            schedule = event["Properties"]
            expression = schedule["ScheduleExpression"]
            cron = re.fullmatch(r"cron\((.*)\)", expression)
            if cron and len(cron.group(1).split()) != 6:
                problems.append(f"{where}: {expression} is not a 6-field cron")
            if "ScheduleExpressionTimezone" not in schedule:
                problems.append(f"{where}: no ScheduleExpressionTimezone")
            schedule_name = schedule.get("Name")
            if not (
                isinstance(schedule_name, Tag) and "${AWS::StackName}" in str(schedule_name.value)
            ):
                problems.append(f"{where}: Name must be !Sub ${{AWS::StackName}}-...")
    return problems


def aurora_capacity(template: dict[str, Any]) -> list[str]:
    problems = []
    for name, props in _resources(template, "AWS::RDS::DBCluster").items():
        scaling = props.get("ServerlessV2ScalingConfiguration")
        if scaling and not 0 <= float(_default(template, scaling["MaxCapacity"])) <= 256:
            problems.append(f"{name}: MaxCapacity above 256 ACUs")
    return problems


def sqs_event_problems(template: dict[str, Any]) -> list[str]:
    problems = []
    queues = _resources(template, "AWS::SQS::Queue")
    for name, props in _resources(template, "AWS::Serverless::Function").items():
        for event_name, event in (props.get("Events") or {}).items():
            if event["Type"] != "SQS":
                continue
            where = f"{name}.{event_name}"
            source = event["Properties"]
            if "ReportBatchItemFailures" not in source.get("FunctionResponseTypes", []):
                problems.append(f"{where}: no ReportBatchItemFailures")
            if "MaximumConcurrency" not in (source.get("ScalingConfig") or {}):
                problems.append(f"{where}: no ScalingConfig.MaximumConcurrency")
            queue = str(source["Queue"].value).split(".")[0]
            if "RedrivePolicy" not in queues.get(queue, {}):
                problems.append(f"{where}: queue {queue} has no dead-letter queue")
            timeout = int(props.get("Timeout", _global_timeout(template)))
            visibility = int(queues.get(queue, {}).get("VisibilityTimeout", 30))
            if visibility < 6 * timeout:
                problems.append(f"{where}: {queue} visibility {visibility} s < 6 x {timeout} s")
    return problems


def _global_timeout(template: dict[str, Any]) -> int:
    return int(template.get("Globals", {}).get("Function", {}).get("Timeout", 3))


def scheduled_dead_letters(template: dict[str, Any]) -> list[str]:
    """A schedule that cannot start its function must leave a trace (its DLQ has an alarm)."""
    problems = []
    for name, props in _resources(template, "AWS::Serverless::Function").items():
        for event_name, event in (props.get("Events") or {}).items():
            if event["Type"] == "ScheduleV2" and "DeadLetterConfig" not in event["Properties"]:
                problems.append(f"{name}.{event_name}: no DeadLetterConfig")
    return problems


def schedules_shorter_than_their_period(template: dict[str, Any]) -> list[str]:
    """A job scheduled every minute must finish within the minute (no overlapping runs)."""
    problems = []
    for name, props in _resources(template, "AWS::Serverless::Function").items():
        for event in (props.get("Events") or {}).values():
            if event["Type"] != "ScheduleV2":
                continue
            if event["Properties"]["ScheduleExpression"].startswith("cron(* "):
                timeout = int(props.get("Timeout", _global_timeout(template)))
                if timeout >= 60:
                    problems.append(f"{name}: timeout {timeout} s on a one-minute schedule")
    return problems


CHECKS = [
    fargate_stop_timeouts,
    cache_failover,
    alb_idle_timeouts,
    schedule_problems,
    aurora_capacity,
    sqs_event_problems,
    scheduled_dead_letters,
    schedules_shorter_than_their_period,
]

BROKEN: dict[str, dict[str, Any]] = {
    "fargate_stop_timeouts": {
        "T": {
            "Type": "AWS::ECS::TaskDefinition",
            "Properties": {
                "RequiresCompatibilities": ["FARGATE"],
                "ContainerDefinitions": [{"Name": "c", "StopTimeout": 300}],
            },
        }
    },
    "cache_failover": {
        "R": {
            "Type": "AWS::ElastiCache::ReplicationGroup",
            "Properties": {"AutomaticFailoverEnabled": True, "NumCacheClusters": 1},
        }
    },
    "alb_idle_timeouts": {
        "L": {
            "Type": "AWS::ElasticLoadBalancingV2::LoadBalancer",
            "Properties": {
                "LoadBalancerAttributes": [{"Key": "idle_timeout.timeout_seconds", "Value": "4001"}]
            },
        }
    },
    "schedule_problems": {
        "F": {
            "Type": "AWS::Serverless::Function",
            "Properties": {
                "Events": {
                    "Nightly": {
                        "Type": "ScheduleV2",
                        "Properties": {"ScheduleExpression": "cron(0 4 * * MON)", "Name": "x"},
                    }
                }
            },
        }
    },
    "aurora_capacity": {
        "C": {
            "Type": "AWS::RDS::DBCluster",
            "Properties": {
                "ServerlessV2ScalingConfiguration": {"MinCapacity": 1, "MaxCapacity": 512}
            },
        }
    },
    "scheduled_dead_letters": {
        "F": {
            "Type": "AWS::Serverless::Function",
            "Properties": {
                "Events": {"Hourly": {"Type": "ScheduleV2", "Properties": {"Name": "x"}}}
            },
        }
    },
    "schedules_shorter_than_their_period": {
        "F": {
            "Type": "AWS::Serverless::Function",
            "Properties": {
                "Timeout": 300,
                "Events": {
                    "Minutely": {
                        "Type": "ScheduleV2",
                        "Properties": {"ScheduleExpression": "cron(* * * * ? *)"},
                    }
                },
            },
        }
    },
    "sqs_event_problems": {
        "Q": {"Type": "AWS::SQS::Queue", "Properties": {}},
        "F": {
            "Type": "AWS::Serverless::Function",
            "Properties": {
                "Events": {"Jobs": {"Type": "SQS", "Properties": {"Queue": Tag("GetAtt", "Q.Arn")}}}
            },
        },
    },
}


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_template_passes_the_checks_cfn_lint_misses(check):
    assert check(TEMPLATE) == []


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_each_check_rejects_a_broken_template(check):
    broken = {"Parameters": {}, "Resources": BROKEN[check.__name__]}
    assert check(broken), f"{check.__name__} accepted a broken template"


def test_schedule_check_rejects_five_fields_missing_timezone_and_a_shared_name():
    problems = schedule_problems({"Resources": BROKEN["schedule_problems"]})
    assert len(problems) == 3


def test_every_dead_letter_queue_has_an_alarm_on_its_depth():
    queues = _resources(TEMPLATE, "AWS::SQS::Queue")
    dead_letter = {
        str(props["RedrivePolicy"]["deadLetterTargetArn"].value).split(".")[0]
        for props in queues.values()
        if "RedrivePolicy" in props
    }
    assert dead_letter
    watched = set()
    for props in _resources(TEMPLATE, "AWS::CloudWatch::Alarm").values():
        for dimension in props.get("Dimensions", []):
            value = dimension["Value"]
            if isinstance(value, Tag) and value.name == "GetAtt":
                watched.add(str(value.value).split(".")[0])
        if props.get("MetricName") == "ApproximateNumberOfMessagesVisible":
            assert props["Threshold"] == 0
            assert props["ComparisonOperator"] == "GreaterThanThreshold"
    assert dead_letter <= watched


def test_api_error_rate_alarms_warn_at_1_and_page_at_5_percent_with_metric_math():
    alarms = _resources(TEMPLATE, "AWS::CloudWatch::Alarm")
    thresholds = sorted(
        props["Threshold"]
        for props in alarms.values()
        if any("errors / requests" in m.get("Expression", "") for m in props.get("Metrics", []))
    )
    assert thresholds == [1, 5]


def test_p95_latency_alarms_for_the_api_and_the_table_servers_at_500_ms():
    alarms = _resources(TEMPLATE, "AWS::CloudWatch::Alarm")
    latency = {p["MetricName"]: p for p in alarms.values() if p.get("ExtendedStatistic") == "p95"}
    assert latency["Latency"]["Threshold"] == 500  # API Gateway: milliseconds
    assert latency["TargetResponseTime"]["Threshold"] == 0.5  # ALB: seconds


def test_redis_never_evicts_and_fails_over():
    (group,) = _resources(TEMPLATE, "AWS::ElastiCache::ParameterGroup").values()
    conf = (ROOT / "config/production/redis.conf").read_text()
    policy = re.search(r"^maxmemory-policy\s+(\S+)", conf, re.MULTILINE)
    assert policy is not None
    assert group["Properties"]["maxmemory-policy"] == policy.group(1) == "noeviction"
    (cache,) = _resources(TEMPLATE, "AWS::ElastiCache::ReplicationGroup").values()
    assert cache["AtRestEncryptionEnabled"] is True
    assert cache["TransitEncryptionEnabled"] is True
    assert int(_default(TEMPLATE, cache["SnapshotRetentionLimit"])) >= 1


_RDS_UNITS = {"kB": 1, "MB": 1024, "GB": 1024 * 1024}


def _conf_in_rds_units(name: str, value: str) -> str:
    """postgresql.conf value → the unit RDS parameter groups use for that parameter."""
    pages = {"shared_buffers", "effective_cache_size"}  # 8 kB pages
    kilobytes = {"work_mem", "maintenance_work_mem"}
    megabytes = {"max_wal_size"}
    milliseconds = {
        "statement_timeout",
        "idle_in_transaction_session_timeout",
        "lock_timeout",
        "log_min_duration_statement",
    }
    seconds = {"checkpoint_timeout"}
    size = re.fullmatch(r"(\d+)(kB|MB|GB)", value)
    duration = re.fullmatch(r"(\d+)(ms|s|min)", value)
    if size and name in pages | kilobytes | megabytes:
        kb = int(size.group(1)) * _RDS_UNITS[size.group(2)]
        divisor = 8 if name in pages else 1024 if name in megabytes else 1
        return str(kb // divisor)
    if duration and name in milliseconds | seconds:
        ms = int(duration.group(1)) * {"ms": 1, "s": 1000, "min": 60_000}[duration.group(2)]
        return str(ms if name in milliseconds else ms // 1000)
    return value


def test_database_parameter_group_mirrors_the_production_postgresql_conf():
    (group,) = _resources(TEMPLATE, "AWS::RDS::DBParameterGroup").values()
    parameters = group["Parameters"]
    conf = (ROOT / "config/production/postgresql.conf").read_text()
    not_settable_on_rds = {"fsync", "full_page_writes", "wal_level"}
    compared = 0
    for line in conf.splitlines():
        found = re.match(r"^(\w+)\s*=\s*(\S+)", line)
        if not found or found.group(1) in not_settable_on_rds:
            continue
        name, value = found.groups()
        assert name in parameters, f"{name} of postgresql.conf is not in the parameter group"
        assert parameters[name] == _conf_in_rds_units(name, value), name
        compared += 1
    assert compared >= 15


def test_database_has_point_in_time_recovery_deletion_protection_and_the_documented_retention():
    (db,) = _resources(TEMPLATE, "AWS::RDS::DBInstance").values()
    assert TEMPLATE["Resources"]["Database"]["DeletionPolicy"] == "Snapshot"
    assert db["DeletionProtection"] is True
    assert db["MultiAZ"] is True
    assert db["StorageEncrypted"] is True
    retention = int(_default(TEMPLATE, db["BackupRetentionPeriod"]))
    assert retention >= 7
    deploy = (ROOT / "docs/DEPLOY.md").read_text()
    assert f"{retention} days" in deploy, "DEPLOY.md must state the PITR window the template sets"
    cache_days = int(TEMPLATE["Parameters"]["CacheSnapshotRetentionDays"]["Default"])
    assert f"{cache_days} days" in deploy


def test_archive_bucket_goes_cold_after_30_days_and_expires_at_365():
    bucket = TEMPLATE["Resources"]["HandArchiveBucket"]["Properties"]
    (rule,) = bucket["LifecycleConfiguration"]["Rules"]
    assert rule["Transitions"][0]["TransitionInDays"] == 30
    assert rule["ExpirationInDays"] == 365
    assert "NoncurrentVersionExpiration" in rule
    assert bucket["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] is True


def test_no_secret_is_inline_every_credential_is_a_reference():
    text = (ROOT / "template.yaml").read_text()
    env = dict(TEMPLATE["Globals"]["Function"]["Environment"]["Variables"])
    for props in _resources(TEMPLATE, "AWS::Serverless::Function").values():
        env.update(props.get("Environment", {}).get("Variables", {}))
    for name in (
        "DATABASE_URL",
        "REDIS_URL",
        "AUTH__JWT_SECRET",
        "MONEY__WEBHOOK_SECRET",
        "MONEY__GATEWAY_API_KEY",
        "MONEY__GATEWAY_PASSWORD",
    ):
        assert "{{secret:" in str(env[name].value), name
    assert not re.search(r"(?i)(password|secret|token)\s*:\s*['\"]?[A-Za-z0-9]{16,}", text)


def test_fleet_task_runs_the_image_parameter_with_a_health_check_and_drains_on_deploy():
    task = TEMPLATE["Resources"]["TableServerTaskDefinition"]["Properties"]
    server, collector = task["ContainerDefinitions"]
    assert server["Image"] == Tag("Ref", "TableServerImage")
    assert server["Essential"] is True
    assert collector["Essential"] is False  # losing metrics never stops a running hand
    container = server
    assert "/healthz" in " ".join(container["HealthCheck"]["Command"])
    service = TEMPLATE["Resources"]["TableServerService"]["Properties"]
    deployment = service["DeploymentConfiguration"]
    assert deployment["MinimumHealthyPercent"] == 100
    assert deployment["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}


def test_dockerfile_referenced_by_the_deploy_guide_exists_and_checks_healthz():
    dockerfile = (ROOT / "edge/Dockerfile").read_text()
    assert "HEALTHCHECK" in dockerfile
    assert "/healthz" in dockerfile
    assert re.search(r"^USER\s+(?!root)\S+", dockerfile, re.MULTILINE)
    assert "edge/Dockerfile" in (ROOT / "docs/DEPLOY.md").read_text()


def test_the_image_base_is_one_argument_and_the_release_build_pins_it_by_digest():
    dockerfile = (ROOT / "edge/Dockerfile").read_text()
    stages = re.findall(r"^FROM\s+(\S+)", dockerfile, re.MULTILINE)
    assert stages
    assert set(stages) == {"${PYTHON_IMAGE}"}, "every stage starts from the pinned argument"
    deploy = (ROOT / "docs/DEPLOY.md").read_text()
    assert "--build-arg PYTHON_IMAGE=$base" in deploy
    assert re.search(r"base=python:[\w.-]+@\$\(docker buildx imagetools inspect", deploy)
    assert "ALLOW_UNPINNED_BASE" not in deploy.split("docker buildx build")[1].split("```")[0]


def _pinned_base_check(image: str, allow: str = "") -> subprocess.CompletedProcess[str]:
    script = ROOT / "edge/require-pinned-base.sh"
    return subprocess.run(
        ["sh", str(script), image, allow], capture_output=True, text=True, check=False
    )


def test_the_image_build_refuses_a_base_not_pinned_by_digest():
    dockerfile = (ROOT / "edge/Dockerfile").read_text()
    build_stage = dockerfile.split("FROM ${PYTHON_IMAGE} AS build", 1)[1].split("\nFROM ", 1)[0]
    first_run = re.search(r"^RUN (.*)$", build_stage, re.MULTILINE)
    assert first_run is not None
    assert first_run.group(1) == (
        'sh /usr/local/bin/require-pinned-base.sh "$PYTHON_IMAGE" "$ALLOW_UNPINNED_BASE"'
    ), "the check runs before anything is installed"
    digest = "0123456789abcdef" * 4
    assert _pinned_base_check(f"python:3.12-slim@sha256:{digest}").returncode == 0
    for unpinned in ("python:3.12-slim", "python:latest", f"python@sha256:{digest[:-1]}", ""):
        refused = _pinned_base_check(unpinned)
        assert refused.returncode == 1, unpinned
        assert "not pinned by digest" in refused.stderr
        assert "docker buildx imagetools inspect" in refused.stderr
    assert _pinned_base_check("python:3.12-slim", "1").returncode == 0  # a local build says so


def test_outputs_name_the_api_the_websocket_the_bucket_and_the_queues():
    outputs = set(TEMPLATE["Outputs"])
    assert {"ApiUrl", "WebSocketUrl", "HandArchiveBucketName", "PayoutQueueUrl"} <= outputs


def test_the_http_api_uses_the_default_stage():
    (api,) = _resources(TEMPLATE, "AWS::Serverless::HttpApi").values()
    assert api["StageName"] == "$default"


def test_every_alarm_has_a_runbook_entry():
    runbook = (ROOT / "docs/RUNBOOK.md").read_text()
    anchors = set(re.findall(r"^#+ .*\{#([\w-]+)\}|<a id=\"([\w-]+)\">", runbook, re.MULTILINE))
    headings = {
        re.sub(r"[^a-z0-9 -]", "", h.lower()).strip().replace(" ", "-")
        for h in re.findall(r"^#+ (.+)$", runbook, re.MULTILINE)
    }
    names = headings | {a for pair in anchors for a in pair if a}
    for alarm, props in _resources(TEMPLATE, "AWS::CloudWatch::Alarm").items():
        link = re.search(r"RUNBOOK\.md#([\w-]+)", props["AlarmDescription"])
        assert link, f"{alarm} does not link the runbook"
        assert link.group(1) in names, f"{alarm}: RUNBOOK.md has no section #{link.group(1)}"


def test_cfnlintrc_ignores_nothing_without_a_reason():
    path = ROOT / ".cfnlintrc"
    if not path.exists():
        return
    text = path.read_text()
    for line in text.splitlines():
        if re.match(r"\s*-\s*[EWI]\d{4}", line):
            assert "#" in line, f".cfnlintrc ignores {line.strip()} without a reason"


def test_checkov_skips_nothing_without_a_reason():
    import yaml

    text = (ROOT / ".checkov.yaml").read_text()
    skipped = yaml.safe_load(text)["skip-check"]
    assert skipped
    for check in skipped:
        (line,) = [line for line in text.splitlines() if re.match(rf"\s*-\s*{check}\b", line)]
        reason = line.partition("#")[2].strip()
        assert len(reason) > 20, f".checkov.yaml skips {check} without a reason"


def test_every_queue_is_encrypted_at_rest():
    for name, props in _resources(TEMPLATE, "AWS::SQS::Queue").items():
        assert props.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in props, name


def test_samconfig_has_a_deploy_profile_per_environment():
    import tomllib

    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    allowed = TEMPLATE["Parameters"]["Environment"]["AllowedValues"]
    for environment in ("dev", "staging", "prod"):
        deploy = config[environment]["deploy"]["parameters"]
        assert deploy["stack_name"] == f"holdem-{environment}"
        assert f"Environment={environment}" in deploy["parameter_overrides"]
        assert environment in allowed
        assert "CAPABILITY_IAM" in deploy["capabilities"]
        for override in deploy["parameter_overrides"]:
            assert override.split("=")[0] in TEMPLATE["Parameters"], override
    assert config["prod"]["deploy"]["parameters"]["confirm_changeset"] is True


@pytest.mark.parametrize(
    ("image", "ok"),
    [
        ("123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/holdem-table-server:3f9c2ab", True),
        (
            "123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/holdem-table-server@sha256:"
            + "a" * 64,
            True,
        ),
        ("123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/holdem-table-server", False),
        ("", False),
    ],
)
def test_the_table_server_image_must_be_pinned(image, ok):
    pattern = TEMPLATE["Parameters"]["TableServerImage"]["AllowedPattern"]
    assert bool(re.fullmatch(pattern.strip("^$"), image)) is ok


def test_connection_budget_holds_during_a_rolling_deploy_at_the_largest_fleet():
    """2 x the fleet's pools (MaximumPercent 200) + the proxy's share + 60 spare fit."""
    (group,) = _resources(TEMPLATE, "AWS::RDS::DBParameterGroup").values()
    max_connections = int(group["Parameters"]["max_connections"])
    (proxy,) = _resources(TEMPLATE, "AWS::RDS::DBProxyTargetGroup").values()
    proxy_share = (
        max_connections * proxy["ConnectionPoolConfigurationInfo"]["MaxConnectionsPercent"]
    )
    task = TEMPLATE["Resources"]["TableServerTaskDefinition"]["Properties"]
    env = {e["Name"]: e["Value"] for e in task["ContainerDefinitions"][0]["Environment"]}
    # Two pools per task: the engine's and the settlements' raw one (Container.settlements).
    per_task = 2 * (int(env["DB__POOL_SIZE"]) + int(env["DB__MAX_OVERFLOW"]))
    service = TEMPLATE["Resources"]["TableServerService"]["Properties"]
    surge = service["DeploymentConfiguration"]["MaximumPercent"] / 100
    largest_fleet = int(TEMPLATE["Parameters"]["TableServerMaxCount"]["MaxValue"])
    fleet = surge * largest_fleet * per_task
    assert fleet + proxy_share / 100 + 60 <= max_connections
