"""Secrets Manager references in the environment, resolved once at process start (moto)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import boto3
import pytest

from devstack.paths import ROOT
from holdem.adapters.secret_refs import SecretReferenceError, resolve_secret_references


@pytest.fixture
def secrets(aws):
    client = boto3.client("secretsmanager", region_name="ap-northeast-2")
    db = client.create_secret(
        Name="db", SecretString=json.dumps({"username": "holdem", "password": "pw1"})
    )
    plain = client.create_secret(Name="plain", SecretString="just-a-value")
    yield {"db": db["ARN"], "plain": plain["ARN"]}
    client.close()


def test_references_inside_values_are_replaced_and_others_left_alone(secrets):
    env = {
        "DATABASE_URL": f"postgresql://{{{{secret:{secrets['db']}#username}}}}:"
        f"{{{{secret:{secrets['db']}#password}}}}@proxy:5432/holdem",
        "AUTH__JWT_SECRET": f"{{{{secret:{secrets['plain']}}}}}",
        "PLAIN": "no reference here",
    }
    assert resolve_secret_references(env) == 3
    assert env == {
        "DATABASE_URL": "postgresql://holdem:pw1@proxy:5432/holdem",
        "AUTH__JWT_SECRET": "just-a-value",
        "PLAIN": "no reference here",
    }


def test_each_secret_is_fetched_once():
    calls = []

    def fetch(arn: str) -> str:
        calls.append(arn)
        return json.dumps({"a": "1", "b": "2"})

    env = {"X": "{{secret:arn:s#a}}-{{secret:arn:s#b}}", "Y": "{{secret:arn:s#a}}"}
    resolve_secret_references(env, fetch)
    assert env == {"X": "1-2", "Y": "1"}
    assert calls == ["arn:s"]


def test_a_missing_key_is_a_clear_error():
    env = {"X": "{{secret:arn:s#nope}}"}
    with pytest.raises(SecretReferenceError, match="nope"):
        resolve_secret_references(env, lambda arn: json.dumps({"key": "v"}))


def test_nothing_to_resolve_creates_no_client():
    env = {"A": "b"}
    assert resolve_secret_references(env, lambda arn: pytest.fail("fetched")) == 0


def test_the_entrypoint_resolves_then_execs_the_command(moto_server):
    client = boto3.client(
        "secretsmanager", endpoint_url=moto_server.endpoint_url, region_name="ap-northeast-2"
    )
    arn = client.create_secret(Name="entrypoint-jwt", SecretString='{"key": "s3cr3t"}')["ARN"]
    client.close()
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": moto_server.endpoint_url,
        "AUTH__JWT_SECRET": f"{{{{secret:{arn}#key}}}}",
        "PYTHONPATH": str(ROOT / "shared" / "src"),
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "holdem.adapters.secret_refs",
            "--",
            sys.executable,
            "-c",
            "import os; print(os.environ['AUTH__JWT_SECRET'])",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "s3cr3t"
