"""Every function of template.yaml imports, has an events/ sample, and runs with each sample in
its local execution environment (a real `devstack.lambda_runtime` process, as `./dev up` runs it).
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import boto3
import pytest

from devstack.aws import SENDER_VARIABLE, create_template_resources
from devstack.cli import events_folder
from devstack.functions_host import function_environment
from devstack.lambda_runtime import HttpInvoker, load_functions
from devstack.paths import ROOT
from devstack.services import free_port, port_listens
from devstack.stack import REGION, Stack
from devstack.supervisor import Supervisor
from devstack.template import Resolver, database_login, load_template, table_server_login
from tests.template.conftest import run_python

TEMPLATE_PATH = ROOT / "template.yaml"
SPECS = load_functions(template_path=TEMPLATE_PATH)
SAMPLES = [
    (logical, sample)
    for logical, spec in SPECS.items()
    for sample in sorted(events_folder(spec.handler).glob("*.json"))
]


def test_the_template_declares_the_rest_api():
    assert "ApiFunction" in SPECS


@pytest.mark.parametrize("logical", sorted(SPECS))
def test_every_function_has_an_events_sample(logical):
    folder = events_folder(SPECS[logical].handler)
    assert sorted(folder.glob("*.json")), f"{logical}: add a sample event in {folder}"


_IMPORT_ALL = """
import json, sys
from devstack.lambda_runtime import import_handler, load_functions
report = {}
for logical, spec in load_functions().items():
    try:
        report[logical] = None if callable(import_handler(spec)) else "not callable"
    except Exception as exc:
        report[logical] = f"{type(exc).__name__}: {exc}"
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def import_report():
    """Every handler imported once in a fresh process, as a cold start would (and so this
    test process keeps no handler state, loops or clients of its own)."""
    result = run_python("-c", _IMPORT_ALL)
    assert result.returncode == 0, result.stderr
    report: dict[str, str | None] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


@pytest.mark.parametrize("logical", sorted(SPECS))
def test_every_function_handler_imports(import_report, logical):
    assert import_report[logical] is None, import_report[logical]


@pytest.mark.parametrize("logical", sorted(SPECS))
def test_every_function_is_committed_code_not_a_path_only_this_machine_has(logical):
    module = SPECS[logical].handler.rpartition(".")[0]
    path = ROOT / (module.replace(".", "/") + ".py")
    tracked = subprocess.run(
        ["git", "ls-files", "--error-unmatch", str(path)],
        cwd=ROOT,
        capture_output=True,
        check=False,
    )
    if (ROOT / ".git").exists():
        assert tracked.returncode == 0, f"{path} is not committed: a clean clone would not have it"


def test_dev_up_gives_each_function_only_the_secrets_and_queues_its_template_entry_names(
    tmp_path,
):
    """A function that needs a secret or a queue its template entry lacks fails locally too."""
    from devstack.aws import LocalResources

    local = {
        "DATABASE_URL": "postgresql+psycopg://owner@local/holdem",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:5000",
        "AUTH__JWT_SECRET": "local-jwt",
        "MONEY__WEBHOOK_SECRET": "local-webhook",
        "AWS__PAYOUT_QUEUE_URL": "http://127.0.0.1:5000/payouts",
        "MONEY__PAYOUT_CALLBACK_URL": "http://127.0.0.1:8000/api/v1/wallet/webhook/payout",
    }
    stack = Stack("", "", "http://127.0.0.1:5000", LocalResources(), local, tmp_path)
    env = {logical: function_environment(spec, stack) for logical, spec in SPECS.items()}
    assert env["ApiFunction"]["AUTH__JWT_SECRET"] == "local-jwt"
    assert "MONEY__WEBHOOK_SECRET" not in env["ApiFunction"]
    assert env["DepositWebhookFunction"]["MONEY__WEBHOOK_SECRET"] == "local-webhook"
    assert "AUTH__JWT_SECRET" not in env["DepositWebhookFunction"]
    assert "AWS__PAYOUT_QUEUE_URL" not in env["NotifierFunction"]
    assert env["WithdrawalSchedulerFunction"]["AWS__PAYOUT_QUEUE_URL"].endswith("/payouts")
    assert env["PayoutWorkerFunction"]["MONEY__PAYOUT_CALLBACK_URL"].startswith("http://127.")
    assert "MONEY__PAYOUT_CALLBACK_URL" not in env["ApiFunction"]
    # The connections the cloud provides reach every function; the database as its own login.
    for logical, e in env.items():
        assert e["DATABASE_URL"] == f"postgresql+psycopg://{COMPONENT_LOGIN[logical]}@local/holdem"
    assert all(e["AWS_ENDPOINT_URL"] == local["AWS_ENDPOINT_URL"] for e in env.values())


@pytest.fixture(scope="module")
def module_database(postgres, migrated_template):
    """One migrated database for the module's function processes (started once)."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    with postgres.admin() as conn:
        conn.execute(f'create database "{name}" template "{migrated_template}"')
    try:
        yield postgres.url_for(name)
    finally:
        with postgres.admin() as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')


# The PostgreSQL login (migration 0010, a member of its component's role from 0007) each
# function's DATABASE_URL names through its secret's username.
COMPONENT_LOGIN = {
    "ApiFunction": "holdem_api_login",
    "DepositWebhookFunction": "holdem_payments_login",
    "PayoutWebhookFunction": "holdem_payments_login",
    "WithdrawalSchedulerFunction": "holdem_payments_login",
    "PayoutWorkerFunction": "holdem_payments_login",
    "NotifierFunction": "holdem_payments_login",
    "RakebackPlannerFunction": "holdem_economy_login",
    "RakebackWorkerFunction": "holdem_economy_login",
    "DailyStatsFunction": "holdem_economy_login",
    "IntegrityFunction": "holdem_economy_login",
    "ArchiverFunction": "holdem_economy_login",
    "AuditRelayFunction": "holdem_audit_relay_login",
}


def test_every_function_logs_in_to_the_database_as_its_component_and_only_the_task_as_master():
    template = load_template(TEMPLATE_PATH)
    resources = template["Resources"]
    logins = {
        logical: database_login(
            template, resources[logical]["Properties"]["Environment"]["Variables"]["DATABASE_URL"]
        )
        for logical in SPECS
    }
    assert logins == COMPONENT_LOGIN
    assert "DATABASE_URL" not in template["Globals"]["Function"]["Environment"]["Variables"]
    assert table_server_login(template) == "holdem_table_server_login"
    # The master secret is in no process's URL but the deploy's database task's.
    master = [
        name
        for name, resource in resources.items()
        if "${DatabaseSecret}" in str(resource.get("Properties", {}).get("Environment"))
        or "${DatabaseSecret}" in str(resource.get("Properties", {}).get("ContainerDefinitions"))
    ]
    assert master == ["DatabaseTaskDefinition"]


@pytest.fixture(scope="module")
def local_functions(module_database, redis_server, moto_server, tmp_path_factory):
    """Each function of template.yaml in its own execution-environment process, connected to
    PostgreSQL as its component's login, as `./dev up` runs it (so a missing grant fails its
    samples)."""
    database_url = module_database
    redis_url = os.environ.get("REDIS_URL") or redis_server.url(db=3)
    tmp_path = tmp_path_factory.mktemp("stack")
    stack_name = f"t{uuid.uuid4().hex[:10]}"
    resources = create_template_resources(
        TEMPLATE_PATH, moto_server.endpoint_url, REGION, stack_name
    )
    env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "AWS_ENDPOINT_URL": moto_server.endpoint_url,
        "AWS__ENDPOINT_URL": moto_server.endpoint_url,
        "AWS_DEFAULT_REGION": REGION,
        "AUTH__JWT_SECRET": "test-only-signing-key-0123456789abcdef",
        "MONEY__WEBHOOK_SECRET": "test-only-webhook-secret",
    }
    stack = Stack(database_url, redis_url, moto_server.endpoint_url, resources, env, tmp_path)
    resolver = Resolver(load_template(TEMPLATE_PATH), stack_name, REGION, resources.refs())
    specs = load_functions(resolver, TEMPLATE_PATH)
    supervisor = Supervisor()
    ports = {logical: free_port() for logical in specs}
    envs = {logical: function_environment(spec, stack) for logical, spec in specs.items()}
    child_env = {
        **env,
        "PYTHONPATH": f"{ROOT}:{ROOT / 'tools'}",
        "DEVSTACK_ENVS": json.dumps(envs),
    }
    try:
        serve = [f"--serve={logical}={port}" for logical, port in ports.items()]
        argv = [sys.executable, "-m", "devstack.lambda_runtime", *serve]
        supervisor.spawn("functions", argv, child_env)
        for port in ports.values():
            supervisor.wait_for(functools.partial(port_listens, port), f"port {port}")
        invoker = HttpInvoker(ports)
        try:
            yield invoker
        finally:
            invoker.close()
    finally:
        supervisor.stop_all()


@pytest.mark.parametrize(("logical", "sample"), SAMPLES, ids=lambda v: getattr(v, "name", v))
def test_every_sample_event_runs_in_the_local_stack(local_functions, logical, sample: Path):
    event = json.loads(sample.read_text())
    # A function error (the handler raised) fails here as InvocationError. A reported partial
    # batch failure or a 4xx is a valid outcome: some samples are bad input on purpose.
    result = local_functions.invoke(logical, event)
    if isinstance(result, dict) and "statusCode" in result:
        assert result["statusCode"] < 500, result


def test_dev_invoke_runs_a_function_with_its_sample(database_url, redis_url):
    result = run_python(
        "-m",
        "devstack",
        "invoke",
        "ApiFunction",
        str(ROOT / "events/api/health-ready.json"),
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
    )
    assert result.returncode == 0, result.stderr
    response = json.loads(result.stdout)
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["checks"]["postgres"]["ok"] is True


def test_dev_invoke_refuses_an_unknown_function():
    result = run_python("-m", "devstack", "invoke", "NoSuchFunction", timeout=60)
    assert result.returncode == 2
    assert "ApiFunction" in result.stderr


def test_the_local_stack_verifies_the_notification_sender_so_e_mails_go_out(moto_server):
    create_template_resources(TEMPLATE_PATH, moto_server.endpoint_url, REGION, "ses-check")
    resolver = Resolver(load_template(TEMPLATE_PATH), "ses-check", REGION)
    notifier = resolver.resources_of_type("AWS::Serverless::Function")["NotifierFunction"]
    sender = resolver.resolve(notifier["Properties"]["Environment"]["Variables"][SENDER_VARIABLE])
    ses = boto3.client("ses", endpoint_url=moto_server.endpoint_url, region_name=REGION)
    assert sender in ses.list_identities(IdentityType="EmailAddress")["Identities"]
    before = sum(p["DeliveryAttempts"] for p in ses.get_send_statistics()["SendDataPoints"])
    ses.send_email(
        Source=sender,
        Destination={"ToAddresses": ["player@example.test"]},
        Message={"Subject": {"Data": "Deposit credited"}, "Body": {"Text": {"Data": "₩10,000"}}},
    )
    after = sum(p["DeliveryAttempts"] for p in ses.get_send_statistics()["SendDataPoints"])
    assert after == before + 1
