"""The local backend: PostgreSQL, Redis, moto and the processes of the product, on loopback."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from devstack import migrate
from devstack.aws import FAKE_CREDENTIALS, LocalResources, MotoServer, create_template_resources
from devstack.paths import STATE, TEMPLATE
from devstack.services import PostgresServer, RedisServer
from devstack.template import Resolver, load_template

REGION = "ap-northeast-2"
STACK_NAME = "holdem-local"


@dataclass
class Stack:
    """URLs and environment of a running local stack."""

    database_url: str
    redis_url: str
    aws_endpoint_url: str
    resources: LocalResources
    env: dict[str, str] = field(default_factory=dict)
    state_dir: Path = STATE

    def resolver(self) -> Resolver:
        """Resolves the template against this stack (a queue's `!Ref` is its moto URL)."""
        return Resolver(load_template(TEMPLATE), STACK_NAME, REGION, self.resources.refs())


def _dev_secrets(state: Path) -> dict[str, str]:
    """Secrets for the local stack, generated once and kept under .devstate (git-ignored)."""
    path = state / "secrets.json"
    if path.exists():
        stored: dict[str, str] = json.loads(path.read_text())
        return stored
    generated = {
        "AUTH__JWT_SECRET": secrets.token_urlsafe(48),
        "MONEY__WEBHOOK_SECRET": secrets.token_urlsafe(48),
    }
    state.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(generated))
    path.chmod(0o600)
    return generated


def start_stores(
    stop: contextlib.ExitStack,
    state: Path,
    *,
    database: str = "holdem",
    durable: bool = True,
    keep_data: bool = True,
) -> tuple[str, str]:
    """PostgreSQL (migrated) and Redis for a run: DATABASE_URL / REDIS_URL when set, else
    private servers under `state`, stopped by `stop` (and their data removed unless kept)."""
    database_url = os.environ.get("DATABASE_URL")
    if not database_url:
        postgres = PostgresServer(state, durable=durable)
        postgres.start()
        stop.callback(postgres.stop if keep_data else postgres.remove)
        database_url = postgres.create_database(database)
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        redis = RedisServer(state, persistent=keep_data)
        redis.start()
        stop.callback(redis.stop)
        redis_url = redis.url()
    migrate.upgrade(database_url)
    return database_url, redis_url


@contextlib.contextmanager
def local_stack(name: str = "up") -> Iterator[Stack]:
    """Start (or reuse, from DATABASE_URL / REDIS_URL) the stateful services, migrated."""
    state = STATE / name
    with contextlib.ExitStack() as stop:
        database_url, redis_url = start_stores(stop, state)
        os.environ.update(FAKE_CREDENTIALS)
        moto = MotoServer()
        moto.start()
        stop.callback(moto.stop)
        dev_secrets = _dev_secrets(state)
        resources = create_template_resources(
            TEMPLATE,
            moto.endpoint_url,
            REGION,
            STACK_NAME,
            secret_values={
                "JwtSecret": json.dumps({"key": dev_secrets["AUTH__JWT_SECRET"]}),
                "WebhookSecret": json.dumps({"key": dev_secrets["MONEY__WEBHOOK_SECRET"]}),
            },
        )
        from gateway_sim import local as gateway_sim

        simulator = gateway_sim.start(dev_secrets["MONEY__WEBHOOK_SECRET"])
        stop.callback(simulator.stop)
        env = {
            **FAKE_CREDENTIALS,
            **dev_secrets,
            **simulator.env(),
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "AWS_ENDPOINT_URL": moto.endpoint_url,
            "AWS_DEFAULT_REGION": REGION,
            "AWS__REGION": REGION,
            "AWS__ENDPOINT_URL": moto.endpoint_url,
            "AWS__ARCHIVE_BUCKET": resources.buckets.get("HandArchiveBucket", ""),
            "AWS__AUDIT_BUCKET": resources.buckets.get("AuditBucket", ""),
            "AWS__PAYOUT_QUEUE_URL": resources.queue_urls.get("PayoutQueue", ""),
            "AWS__RAKEBACK_QUEUE_URL": resources.queue_urls.get("RakebackQueue", ""),
            "AWS__NOTIFICATION_QUEUE_URL": resources.queue_urls.get("NotificationQueue", ""),
        }
        yield Stack(database_url, redis_url, moto.endpoint_url, resources, env, state)
