"""Least privilege, checked on template.yaml as AWS runs it (expanded by aws-sam-translator).

The local stack never checks IAM, so a function that may not read its own secret passes every
other test and fails at its first cold start in AWS. Here, for every function and the
table-server task, under the prod and the dev profile of samconfig.toml:

- each `{{secret:ARN#key}}` in its merged environment (Globals + its own) is readable by its
  role, and no role can read a secret its process does not reference;
- each AWS call its code makes (listed below, per function, with the code that makes it) is
  allowed by its role, and the variable that names the queue or bucket is in its environment;
- no role allows `Resource: "*"` except the statements of AWS-managed policies listed in
  `WILDCARD_ALLOWED`, each with the reason its API cannot be scoped;
- nobody may shorten the audit trail: no role holds lifecycle, lock or delete rights on the
  audit bucket;
- each function reads its own component's PostgreSQL login secret and no other database
  credential, the table servers theirs, RDS Proxy only the functions' logins, the master only
  the deploy's database task; every database credential has a rotation schedule.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache

import pytest

from devstack.paths import ROOT
from tests.template.iam_model import ACCOUNT, REGION, Role, Stack, expand

TEMPLATE_PATH = ROOT / "template.yaml"
READ = "secretsmanager:GetSecretValue"
SECRET_REFERENCE = re.compile(r"\{\{secret:(?P<arn>[^#}]+)(?:#[^}]+)?\}\}")

# What an operator fills into the prod profile (samconfig.toml leaves these for them; the
# template's Rules refuse a prod deploy without them, see test_prod_rules_*).
OPERATOR_VALUES = {
    "TableServerImage": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/holdem-table-server:3f9c2ab",
    "CertificateArn": f"arn:aws:acm:{REGION}:{ACCOUNT}:certificate/ws",
    "ApiDomainName": "api.cardroom.example",
    "ApiCertificateArn": f"arn:aws:acm:{REGION}:{ACCOUNT}:certificate/api",
    "AlarmEmail": "oncall@cardroom.example",
    "NotificationSender": "payments@cardroom.example",
    "WebhookSourceCidrs": "203.0.113.0/24,198.51.100.0/24",
}


# Given on the command line (the image) or by any operator (a verified sender), in every profile.
ALWAYS_GIVEN = ("TableServerImage", "NotificationSender", "WebhookSourceCidrs")


def profile(environment: str) -> dict[str, str]:
    """A samconfig.toml deploy profile's parameters, as an operator deploys it: the values it
    leaves empty for them filled in, plus the image and the sender."""
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    overrides = config[environment]["deploy"]["parameters"]["parameter_overrides"]
    values = dict(item.split("=", 1) for item in overrides)
    for name, value in OPERATOR_VALUES.items():
        if (name in values and not values[name]) or name in ALWAYS_GIVEN:
            values[name] = values.get(name) or value
    return values


@cache
def stack(environment: str) -> Stack:
    parameters = profile(environment)
    return Stack(expand(TEMPLATE_PATH, parameters), parameters)


ENVIRONMENTS = ["prod", "dev"]


# ----- what each process calls ----------------------------------------------------------------
@dataclass(frozen=True)
class Call:
    """One AWS API call a process makes: the IAM action, on what, and the variable that names
    the resource (the code reads it from the environment)."""

    action: str
    resource: str
    env: str | None = None
    context: tuple[tuple[str, str], ...] = ()


def queue_arn(name: str) -> str:
    return f"arn:aws:sqs:{REGION}:{ACCOUNT}:holdem-prod-{name}"


def send(queue: str, env: str) -> Call:
    """`send_message` / `send_message_batch` (both authorize as sqs:SendMessage)."""
    return Call("sqs:SendMessage", queue_arn(queue), env)


def consume(queue: str) -> list[Call]:
    """What Lambda's event source mapping does with the function's role."""
    return [
        Call(action, queue_arn(queue))
        for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")
    ]


ARCHIVE = f"arn:aws:s3:::holdem-prod-hand-archive-{ACCOUNT}"
AUDIT = f"arn:aws:s3:::holdem-prod-audit-{ACCOUNT}"
ARCHIVE_KEY = "hands/2026/11/26/13/table-7-1001.msgpack.xz"  # services/archive.object_key
AUDIT_KEY = "audit/lane=0/000000000001-000000000500.jsonl"  # adapters/audit_relay.object_key

CALLS: dict[str, list[Call]] = {
    "ApiFunction": [
        # admin withdrawal approval (adapters/sqs.withdrawal_enqueuer), admin rakeback
        # re-run (adapters/rakeback_queue), notices (adapters/sqs.message_sender),
        # archived hand history (adapters/archive_store.get)
        send("payouts", "AWS__PAYOUT_QUEUE_URL"),
        send("rakeback", "AWS__RAKEBACK_QUEUE_URL"),
        send("notifications", "AWS__NOTIFICATION_QUEUE_URL"),
        Call("s3:GetObject", f"{ARCHIVE}/{ARCHIVE_KEY}", "AWS__ARCHIVE_BUCKET"),
    ],
    "DepositWebhookFunction": [send("notifications", "AWS__NOTIFICATION_QUEUE_URL")],
    "PayoutWebhookFunction": [send("notifications", "AWS__NOTIFICATION_QUEUE_URL")],
    "WithdrawalSchedulerFunction": [
        send("payouts", "AWS__PAYOUT_QUEUE_URL"),
        send("notifications", "AWS__NOTIFICATION_QUEUE_URL"),
    ],
    "PayoutWorkerFunction": [
        *consume("payouts"),
        send("notifications", "AWS__NOTIFICATION_QUEUE_URL"),
    ],
    "NotifierFunction": [
        *consume("notifications"),
        # functions/notifier/handler.py: ses.send_email from MONEY__NOTIFICATION_SENDER,
        # authorized against the address's identity or its domain's, whichever is verified
        Call(
            "ses:SendEmail",
            f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/cardroom.example",
            "MONEY__NOTIFICATION_SENDER",
        ),
        Call(
            "ses:SendEmail",
            f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/payments@cardroom.example",
            "MONEY__NOTIFICATION_SENDER",
        ),
    ],
    "RakebackPlannerFunction": [send("rakeback", "AWS__RAKEBACK_QUEUE_URL")],
    "RakebackWorkerFunction": [
        *consume("rakeback"),
        send("notifications", "AWS__NOTIFICATION_QUEUE_URL"),
    ],
    "DailyStatsFunction": [],
    "IntegrityFunction": [],
    "ArchiverFunction": [
        Call("s3:PutObject", f"{ARCHIVE}/{ARCHIVE_KEY}", "AWS__ARCHIVE_BUCKET"),
    ],
    "AuditRelayFunction": [
        Call("s3:PutObject", f"{AUDIT}/{AUDIT_KEY}", "AWS__AUDIT_BUCKET"),
        # AuditRelay._exists: list_objects_v2(Prefix=key)
        Call("s3:ListBucket", AUDIT, "AWS__AUDIT_BUCKET", (("s3:prefix", AUDIT_KEY),)),
    ],
}

# Every Lambda in the VPC with active tracing: its logs, its network interfaces, its traces.
LAMBDA_PLATFORM_CALLS = [
    Call("logs:CreateLogStream", "arn:aws:logs:*"),
    Call("logs:PutLogEvents", "arn:aws:logs:*"),
    Call("ec2:CreateNetworkInterface", "*"),
    Call("xray:PutTraceSegments", "*"),
]

TABLE_SERVER_CALLS = [send("notifications", "AWS__NOTIFICATION_QUEUE_URL")]

# Resource "*" is allowed only in these AWS-managed policies, for these reasons.
WILDCARD_ALLOWED = {
    "service-role/AWSLambdaBasicExecutionRole": "logs: the function's log group is named after the "
    "function's generated name; the managed policy SAM attaches cannot name it in advance",
    "service-role/AWSLambdaVPCAccessExecutionRole": "ec2:CreateNetworkInterface and the "
    "Describe* calls support no resource-level scoping for Lambda's hyperplane ENIs",
    "service-role/AWSLambdaSQSQueueExecutionRole": "SAM attaches it to every SQS consumer; "
    "each consumer's own Deny statement keeps it to its queue (test_consumers_receive_*)",
    "AWSXrayWriteOnlyAccess": "X-Ray's PutTraceSegments/GetSampling* have no resource types",
    "service-role/AmazonECSTaskExecutionRolePolicy": "ecr:GetAuthorizationToken has no "
    "resource type; the image pull and log calls of the execution role come with it",
}


# ----- the processes ----------------------------------------------------------------------------
def functions(s: Stack) -> list[str]:
    return sorted(name for name, r in s.resources.items() if r["Type"] == "AWS::Lambda::Function")


def function_environment(s: Stack, function: str) -> dict[str, str]:
    props = s.resolve(s.resources[function]["Properties"])
    variables: dict[str, str] = props.get("Environment", {}).get("Variables", {})
    return variables


def referenced_secrets(values: object) -> set[str]:
    return {m.group("arn") for m in SECRET_REFERENCE.finditer(str(values))}


def secrets(s: Stack) -> dict[str, str]:
    """Every secret of the stack: logical id → ARN."""
    return {
        name: s.ref(name)
        for name, r in s.resources.items()
        if r["Type"] == "AWS::SecretsManager::Secret"
    }


def readable(role: Role, s: Stack) -> set[str]:
    return {arn for arn in secrets(s).values() if role.allows("secretsmanager:GetSecretValue", arn)}


def table_server(s: Stack) -> tuple[dict[str, str], set[str], Role, Role]:
    """The container's environment, the secrets ECS injects, the task and execution roles."""
    task = s.resolve(s.resources["TableServerTaskDefinition"]["Properties"])
    (container,) = [c for c in task["ContainerDefinitions"] if c["Name"] == "table-server"]
    environment = {item["Name"]: item["Value"] for item in container["Environment"]}
    injected = {item["ValueFrom"].split(":key:")[0] for item in container.get("Secrets", [])}
    return (
        environment,
        injected,
        s.role("TableServerTaskRole"),
        s.role("TableServerExecutionRole"),
    )


# ----- the checks ---------------------------------------------------------------------------------
@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_function_of_the_template_has_its_calls_listed_here(environment):
    assert functions(stack(environment)) == sorted(CALLS)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
@pytest.mark.parametrize("function", sorted(CALLS))
def test_each_function_reads_exactly_the_secrets_its_environment_references(environment, function):
    s = stack(environment)
    role = s.role(s.function_role(function))
    wanted = referenced_secrets(function_environment(s, function))
    assert wanted, f"{function} references no secret: it could not reach the database"
    may_read = readable(role, s)
    assert wanted - may_read == set(), f"{function} would fail its cold start"
    assert may_read - wanted == set(), f"{function} may read secrets it never uses"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
@pytest.mark.parametrize("function", sorted(CALLS))
def test_each_aws_call_a_function_makes_is_allowed_and_named_in_its_environment(
    environment, function
):
    s = stack(environment)
    role = s.role(s.function_role(function))
    env = function_environment(s, function)
    for call in [*CALLS[function], *LAMBDA_PLATFORM_CALLS]:
        assert role.allows(call.action, call.resource, dict(call.context)), (function, call)
        if call.env is not None:
            assert env.get(call.env), f"{function} calls {call.action} but has no {call.env}"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_table_servers_read_their_secrets_and_nothing_else(environment):
    s = stack(environment)
    environment_vars, injected, task_role, execution_role = table_server(s)
    wanted = referenced_secrets(environment_vars)
    assert wanted
    assert readable(task_role, s) == wanted
    assert injected
    assert readable(execution_role, s) == injected
    for call in TABLE_SERVER_CALLS:
        assert task_role.allows(call.action, call.resource), call
        assert environment_vars.get(call.env or "")


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_only_the_table_servers_metrics_sidecar_may_write_metrics_to_the_stacks_workspace(
    environment,
):
    s = stack(environment)
    workspace = s.get_att("MetricsWorkspace", "Arn")
    writers = [
        name
        for name, r in s.resources.items()
        if r["Type"] == "AWS::IAM::Role" and s.role(name).allows("aps:RemoteWrite", workspace)
    ]
    assert writers == ["TableServerTaskRole"]
    task_role = s.role("TableServerTaskRole")
    other = f"arn:aws:aps:{REGION}:{ACCOUNT}:workspace/ws-someone-else"
    assert not task_role.allows("aps:RemoteWrite", other)
    assert not task_role.allows("aps:QueryMetrics", workspace)
    task = s.resolve(s.resources["TableServerTaskDefinition"]["Properties"])
    (collector,) = [c for c in task["ContainerDefinitions"] if c["Name"] == "metrics-collector"]
    assert "Secrets" not in collector  # it reads no secret: SigV4 with the task role


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_prometheus_alerts_reach_the_alarm_topic_for_this_workspace_only(environment):
    s = stack(environment)
    policy = s.resolve(s.resources["AlarmTopicPolicy"]["Properties"])
    assert policy["Topics"] == [s.ref("AlarmTopic")]
    by_service = {st["Principal"]["Service"]: st for st in policy["PolicyDocument"]["Statement"]}
    assert set(by_service) == {"cloudwatch.amazonaws.com", "aps.amazonaws.com"}
    for statement in by_service.values():
        assert statement["Resource"] == s.ref("AlarmTopic")
        assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT}
    aps = by_service["aps.amazonaws.com"]
    assert aps["Condition"]["ArnEquals"] == {"aws:SourceArn": s.get_att("MetricsWorkspace", "Arn")}
    key_policy = s.resolve(s.resources["AlarmTopicKey"]["Properties"]["KeyPolicy"])
    (grant,) = [
        st
        for st in key_policy["Statement"]
        if st.get("Principal") == {"Service": "aps.amazonaws.com"}
    ]
    assert {"kms:Decrypt", "kms:GenerateDataKey*"} <= set(grant["Action"])


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_payout_login_is_readable_by_the_payout_worker_only(environment):
    s = stack(environment)
    login = s.ref("GatewayPayoutLoginSecret")
    readers = [
        name
        for name, r in s.resources.items()
        if r["Type"] == "AWS::IAM::Role"
        and s.role(name).allows("secretsmanager:GetSecretValue", login)
    ]
    assert readers == [s.function_role("PayoutWorkerFunction")]


# Each process's PostgreSQL login secret (migration 0010; its username is the login).
DATABASE_LOGIN = {
    "ApiFunction": "DatabaseApiLoginSecret",
    "DepositWebhookFunction": "DatabasePaymentsLoginSecret",
    "PayoutWebhookFunction": "DatabasePaymentsLoginSecret",
    "WithdrawalSchedulerFunction": "DatabasePaymentsLoginSecret",
    "PayoutWorkerFunction": "DatabasePaymentsLoginSecret",
    "NotifierFunction": "DatabasePaymentsLoginSecret",
    "RakebackPlannerFunction": "DatabaseEconomyLoginSecret",
    "RakebackWorkerFunction": "DatabaseEconomyLoginSecret",
    "DailyStatsFunction": "DatabaseEconomyLoginSecret",
    "IntegrityFunction": "DatabaseEconomyLoginSecret",
    "ArchiverFunction": "DatabaseEconomyLoginSecret",
    "AuditRelayFunction": "DatabaseAuditRelayLoginSecret",
}
DATABASE_SECRETS = {"DatabaseSecret", *DATABASE_LOGIN.values(), "DatabaseTableServerLoginSecret"}


@pytest.mark.parametrize("environment", ENVIRONMENTS)
@pytest.mark.parametrize("function", sorted(CALLS))
def test_each_function_reads_its_own_database_login_and_no_other_database_credential(
    environment, function
):
    s = stack(environment)
    role = s.role(s.function_role(function))
    database = {name for name in DATABASE_SECRETS if role.allows(READ, s.ref(name))}
    assert database == {DATABASE_LOGIN[function]}
    own = s.ref(DATABASE_LOGIN[function])
    assert referenced_secrets(function_environment(s, function)["DATABASE_URL"]) == {own}


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_master_credential_is_read_by_the_database_task_only(environment):
    s = stack(environment)
    master = s.ref("DatabaseSecret")
    readers = [
        name
        for name, r in s.resources.items()
        if r["Type"] == "AWS::IAM::Role" and s.role(name).allows(READ, master)
    ]
    assert readers == ["DatabaseTaskRole"]
    environment_vars, _, task_role, _ = table_server(s)
    database = {name for name in DATABASE_SECRETS if task_role.allows(READ, s.ref(name))}
    assert database == {"DatabaseTableServerLoginSecret"}
    assert referenced_secrets(environment_vars["DATABASE_URL"]) == {
        s.ref("DatabaseTableServerLoginSecret")
    }


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_proxy_authenticates_the_functions_logins_and_reads_only_those(environment):
    s = stack(environment)
    proxy = s.resolve(s.resources["DatabaseProxy"]["Properties"])
    function_logins = {s.ref(name) for name in DATABASE_LOGIN.values()}
    assert {auth["SecretArn"] for auth in proxy["Auth"]} == function_logins
    assert readable(s.role("DatabaseProxyRole"), s) == function_logins


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_database_task_reads_the_master_and_every_login_it_sets(environment):
    s = stack(environment)
    task = s.resolve(s.resources["DatabaseTaskDefinition"]["Properties"])
    (container,) = task["ContainerDefinitions"]
    variables = {item["Name"]: item["Value"] for item in container["Environment"]}
    logins = {v for k, v in variables.items() if k.startswith("DATABASE_LOGIN__")}
    wanted = referenced_secrets(variables)
    assert referenced_secrets(logins) == {s.ref(n) for n in DATABASE_SECRETS} - {
        s.ref("DatabaseSecret")
    }
    assert readable(s.role("DatabaseTaskRole"), s) == wanted
    assert referenced_secrets(variables["DATABASE_URL"]) == {s.ref("DatabaseSecret")}


def test_every_database_credential_rotates_with_postgresql_single_user_rotation():
    s = stack("prod")
    schedules = {
        s.resolve(r["Properties"]["SecretId"]): s.resolve(r["Properties"])
        for r in s.resources.values()
        if r["Type"] == "AWS::SecretsManager::RotationSchedule"
    }
    assert set(schedules) == {s.ref(name) for name in DATABASE_SECRETS}
    for schedule in schedules.values():
        assert schedule["HostedRotationLambda"]["RotationType"] == "PostgreSQLSingleUser"
        # The logins' first password comes from the database task: no rotation before it.
        assert schedule["RotateImmediatelyOnUpdate"] is False
        excluded = schedule["HostedRotationLambda"]["ExcludeCharacters"]
        assert set(":/@?#%") <= set(excluded), "rotated passwords go into DATABASE_URL"


def test_the_payout_login_secret_itself_refuses_everyone_but_the_payout_worker():
    s = stack("prod")
    (policy,) = [
        s.resolve(r["Properties"])
        for r in s.resources.values()
        if r["Type"] == "AWS::SecretsManager::ResourcePolicy"
        and r["Properties"]["SecretId"] == {"Ref": "GatewayPayoutLoginSecret"}
    ]
    (deny,) = policy["ResourcePolicy"]["Statement"]
    assert deny["Effect"] == "Deny"
    assert deny["Action"] == "secretsmanager:GetSecretValue"
    worker = s.get_att(s.function_role("PayoutWorkerFunction"), "Arn")
    assert deny["Condition"] == {"StringNotEquals": {"aws:PrincipalArn": worker}}


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_no_role_allows_every_resource_except_where_the_api_cannot_be_scoped(environment):
    s = stack(environment)
    for name, resource in s.resources.items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        for statement in s.role(name).wildcard_statements():
            where = f"{name}: {statement.source} allows {statement.actions} on every resource"
            assert statement.managed, where
            assert statement.source in WILDCARD_ALLOWED, where


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_consumers_receive_and_delete_only_on_their_own_queue(environment):
    s = stack(environment)
    queues = [
        s.get_att(name, "Arn") for name, r in s.resources.items() if r["Type"] == "AWS::SQS::Queue"
    ]
    for name, resource in s.resources.items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        role = s.role(name)
        function = next((f for f in CALLS if s.function_role(f) == name), None)
        own = {c.resource for c in CALLS.get(function or "", []) if c.action == "sqs:DeleteMessage"}
        for queue in queues:
            if role.allows("sqs:ReceiveMessage", queue) or role.allows("sqs:DeleteMessage", queue):
                assert queue in own, f"{name} may consume {queue}"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_no_role_can_erase_or_shorten_the_audit_trail(environment):
    s = stack(environment)
    dangerous = [
        "s3:DeleteObject",
        "s3:DeleteObjectVersion",
        "s3:PutLifecycleConfiguration",
        "s3:PutBucketObjectLockConfiguration",
        "s3:PutObjectRetention",
        "s3:BypassGovernanceRetention",
        "s3:PutBucketPolicy",
        "s3:DeleteBucketPolicy",
        "s3:PutBucketVersioning",
    ]
    for name, resource in s.resources.items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        role = s.role(name)
        for action in dangerous:
            for target in (AUDIT, f"{AUDIT}/{AUDIT_KEY}"):
                assert not role.allows(action, target), (name, action, target)


def test_the_audit_bucket_is_write_once_for_the_configured_retention_and_tls_only():
    s = stack("prod")
    bucket = s.resolve(s.resources["AuditBucket"]["Properties"])
    assert bucket["ObjectLockEnabled"] is True
    retention = bucket["ObjectLockConfiguration"]["Rule"]["DefaultRetention"]
    assert retention["Mode"] == "COMPLIANCE"
    assert retention["Days"] == s.values["AuditRetentionDays"]
    for logical in ("AuditBucket", "HandArchiveBucket", "NetworkLogsBucket"):
        policies = [
            s.resolve(r["Properties"])
            for r in s.resources.values()
            if r["Type"] == "AWS::S3::BucketPolicy"
            and r["Properties"]["Bucket"] == {"Ref": logical}
        ]
        (policy,) = policies
        assert any(
            st["Effect"] == "Deny" and st["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            for st in policy["PolicyDocument"]["Statement"]
        ), f"{logical} accepts plain-HTTP requests"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_alarms_reach_the_topic_through_a_key_cloudwatch_may_use(environment):
    s = stack(environment)
    topic = s.resources["AlarmTopic"]["Properties"]
    assert topic["KmsMasterKeyId"] == {"Ref": "AlarmTopicKey"}, "alias/aws/sns drops alarms"
    key_policy = s.resolve(s.resources["AlarmTopicKey"]["Properties"]["KeyPolicy"])
    cloudwatch = [
        st
        for st in key_policy["Statement"]
        if st.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
    ]
    (grant,) = cloudwatch
    assert {"kms:Decrypt", "kms:GenerateDataKey*"} <= set(grant["Action"])
    subscriptions = [
        s.resolve(r["Properties"])
        for r in s.resources.values()
        if r["Type"] == "AWS::SNS::Subscription"
    ]
    emails = [sub["Endpoint"] for sub in subscriptions if sub["Protocol"] == "email"]
    assert emails == ([OPERATOR_VALUES["AlarmEmail"]] if environment == "prod" else [])


def refused(parameters: dict[str, str]) -> list[str]:
    """What the template's Rules say against these values, as CloudFormation checks them
    before it makes a change set."""
    s = Stack(stack("prod").template, parameters)
    return [
        assertion["AssertDescription"]
        for rule in s.template["Rules"].values()
        if s._condition(rule["RuleCondition"])
        for assertion in rule["Assertions"]
        if not s._condition(assertion["Assert"])
    ]


def test_a_complete_prod_profile_passes_the_rules():
    assert refused(profile("prod")) == []


@pytest.mark.parametrize(
    ("parameter", "value"),
    [
        ("CertificateArn", ""),
        ("ApiDomainName", ""),
        ("ApiCertificateArn", ""),
        ("AlarmEmail", ""),
        ("NotificationSender", "no-reply@holdem.example"),
    ],
)
def test_prod_refuses_to_deploy_without_tls_callbacks_alarms_or_a_real_sender(parameter, value):
    problems = refused({**profile("prod"), parameter: value})
    assert any(parameter in problem for problem in problems), problems


def test_dev_may_deploy_without_a_domain_or_alarm_e_mail():
    dev = profile("dev")
    assert "ApiDomainName" not in dev
    assert refused(dev) == []


def test_the_prod_profile_names_every_value_an_operator_must_provide():
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    overrides = config["prod"]["deploy"]["parameters"]["parameter_overrides"]
    named = {item.split("=", 1)[0] for item in overrides}
    assert set(OPERATOR_VALUES) - {"TableServerImage", "WebhookSourceCidrs"} <= named


def test_payment_callbacks_go_to_the_api_domain_in_prod_and_nowhere_without_one():
    prod, dev = stack("prod"), stack("dev")
    domain = OPERATOR_VALUES["ApiDomainName"]
    assert function_environment(prod, "ApiFunction")["MONEY__DEPOSIT_CALLBACK_URL"] == (
        f"https://{domain}/api/v1/wallet/webhook/deposit"
    )
    assert function_environment(prod, "PayoutWorkerFunction")["MONEY__PAYOUT_CALLBACK_URL"] == (
        f"https://{domain}/api/v1/wallet/webhook/payout"
    )
    # dev has no domain: no placeholder host is sent to the gateway.
    assert function_environment(dev, "ApiFunction")["MONEY__DEPOSIT_CALLBACK_URL"] == ""
    assert function_environment(dev, "PayoutWorkerFunction")["MONEY__PAYOUT_CALLBACK_URL"] == ""


@pytest.mark.parametrize(("environment", "disabled"), [("prod", True), ("dev", False)])
def test_with_a_custom_domain_the_execute_api_endpoint_is_off(environment, disabled):
    s = stack(environment)
    body = s.resolve(s.resources["HttpApi"]["Properties"]["Body"])
    (server,) = body["servers"]
    endpoint = server["x-amazon-apigateway-endpoint-configuration"]
    assert endpoint["disableExecuteApiEndpoint"] is disabled
    assert ("ApiDomainMapping" in s.resources) is disabled


def test_in_prod_the_websocket_tier_answers_only_over_tls():
    s = stack("prod")
    listeners = {
        s.resolve(r["Properties"])["Port"]: s.resolve(r["Properties"])
        for r in s.resources.values()
        if r["Type"] == "AWS::ElasticLoadBalancingV2::Listener"
    }
    assert listeners[443]["Protocol"] == "HTTPS"
    (plain,) = listeners[80]["DefaultActions"]
    assert plain["Type"] == "redirect", "port 80 must not forward plaintext WebSockets"
    assert plain["RedirectConfig"]["Protocol"] == "HTTPS"


# boto3 operations → the IAM action they need. A new call in the code fails the test below
# until a function's CALLS list it (and so its role is checked for it).
BOTO3_ACTIONS = {
    "send_message": "sqs:SendMessage",
    "send_message_batch": "sqs:SendMessage",
    "receive_message": "sqs:ReceiveMessage",
    "delete_message": "sqs:DeleteMessage",
    "put_object": "s3:PutObject",
    "get_object": "s3:GetObject",
    "head_object": "s3:GetObject",
    "copy_object": "s3:PutObject",
    "delete_object": "s3:DeleteObject",
    "delete_objects": "s3:DeleteObject",
    "list_objects_v2": "s3:ListBucket",
    "send_email": "ses:SendEmail",
    "send_raw_email": "ses:SendRawEmail",
    "put_metric_data": "cloudwatch:PutMetricData",
    "put_events": "events:PutEvents",
}
# Calls made only by operator tools, with the operator's own credentials (never a role here).
OPERATOR_ONLY = {
    ("shared/src/holdem/adapters/audit_relay.py", "get_object"): "s3_copies: `./dev audit verify`",
    ("shared/src/holdem/adapters/audit_relay.py", "get_paginator"): "s3_copies, as above",
}


def test_every_aws_call_in_the_code_is_listed_for_some_process():
    listed = {call.action for calls in CALLS.values() for call in calls}
    listed |= {call.action for call in TABLE_SERVER_CALLS}
    operation = re.compile(rf"\.({'|'.join(BOTO3_ACTIONS)}|get_paginator)\b")
    unlisted = []
    for folder in ("shared/src/holdem", "functions", "edge"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            relative = str(path.relative_to(ROOT))
            for found in operation.finditer(path.read_text()):
                name = found.group(1)
                if (relative, name) in OPERATOR_ONLY:
                    continue
                if BOTO3_ACTIONS.get(name) not in listed:
                    unlisted.append(f"{relative}: {name}")
    assert unlisted == []
