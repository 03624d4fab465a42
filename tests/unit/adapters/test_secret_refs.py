"""Secrets Manager references in the environment: resolved at process start, and read again
at most once per interval when a value is refused (moto)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest

from devstack.paths import ROOT
from holdem.adapters.secret_refs import (
    REFERENCES_VARIABLE,
    SecretReferenceError,
    SecretValue,
    resolve_secret_references,
)


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
    references = {k: v for k, v in env.items() if k != "PLAIN"}
    assert resolve_secret_references(env) == 3
    assert env == {
        "DATABASE_URL": "postgresql://holdem:pw1@proxy:5432/holdem",
        "AUTH__JWT_SECRET": "just-a-value",
        "PLAIN": "no reference here",
        REFERENCES_VARIABLE: json.dumps(references, sort_keys=True),
    }
    assert resolve_secret_references(env) == 0  # the record itself is never resolved


def test_the_record_of_references_has_no_secret_and_keeps_earlier_entries():
    env = {REFERENCES_VARIABLE: json.dumps({"A": "{{secret:arn:a}}"}), "B": "{{secret:arn:b#k}}"}
    resolve_secret_references(env, lambda arn: json.dumps({"k": "s3cr3t"}))
    assert env["B"] == "s3cr3t"
    assert "s3cr3t" not in env[REFERENCES_VARIABLE]
    assert json.loads(env[REFERENCES_VARIABLE]) == {
        "A": "{{secret:arn:a}}",
        "B": "{{secret:arn:b#k}}",
    }


def test_each_secret_is_fetched_once():
    calls = []

    def fetch(arn: str) -> str:
        calls.append(arn)
        return json.dumps({"a": "1", "b": "2"})

    env = {"X": "{{secret:arn:s#a}}-{{secret:arn:s#b}}", "Y": "{{secret:arn:s#a}}"}
    resolve_secret_references(env, fetch)
    assert (env["X"], env["Y"]) == ("1-2", "1")
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
            "import os; print(os.environ['AUTH__JWT_SECRET'], os.environ['SECRET_REFERENCES'])",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    value, references = result.stdout.strip().split(" ", 1)
    assert value == "s3cr3t"
    assert json.loads(references) == {"AUTH__JWT_SECRET": f"{{{{secret:{arn}#key}}}}"}


class _Secrets:
    """A secret store that counts reads, and a clock the test moves."""

    def __init__(self, password: str) -> None:
        self.password = password
        self.reads = 0
        self.now = 100.0

    def fetch(self, arn: str) -> str:
        self.reads += 1
        return json.dumps({"password": self.password})

    def value(self, min_interval_s: float = 10) -> SecretValue:
        return SecretValue(
            "db://u:{{secret:arn:db#password}}@h",
            f"db://u:{self.password}@h",
            min_interval_s=min_interval_s,
            fetch=self.fetch,
            clock=lambda: self.now,
        )


def test_a_refused_value_is_read_again_and_replaced():
    store = _Secrets("old")
    value = store.value()
    store.password = "new"  # rotated
    assert value.replacement_for("db://u:old@h") == "db://u:new@h"
    assert value.value == "db://u:new@h"
    assert store.reads == 1


def test_refusals_after_a_replacement_get_it_without_another_read():
    store = _Secrets("old")
    value = store.value()
    store.password = "new"
    fresh = [value.replacement_for("db://u:old@h") for _ in range(20)]  # a pool refilling
    assert fresh == ["db://u:new@h"] * 20
    assert store.reads == 1


def test_a_value_wrong_in_both_places_is_read_at_most_once_per_interval():
    store = _Secrets("old")
    value = store.value(min_interval_s=10)
    for _ in range(50):
        assert value.replacement_for("db://u:old@h") is None
    assert store.reads == 1
    store.now += 9.9
    assert value.replacement_for("db://u:old@h") is None
    assert store.reads == 1
    store.now += 0.1
    store.password = "new"
    assert value.replacement_for("db://u:old@h") == "db://u:new@h"
    assert store.reads == 2


def test_concurrent_refusals_read_the_secret_once():
    store = _Secrets("old")
    value = store.value()
    store.password = "new"
    with ThreadPoolExecutor(8) as pool:
        fresh = list(pool.map(lambda _: value.replacement_for("db://u:old@h"), range(64)))
    assert set(fresh) == {"db://u:new@h"}
    assert store.reads == 1
