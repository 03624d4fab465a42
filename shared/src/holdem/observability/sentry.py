"""Optional error tracking with Sentry: on only when ``SENTRY_DSN`` is set, and never PII.

`holdem.bootstrap.bootstrap()` calls `init_sentry()` once per process, as it builds the
process's adapters (a Lambda's cold start, the API, the table server's main)::

    container = bootstrap(component="edge")   # component tag; a Lambda's defaults to its name

It turns on the FastAPI/Starlette, SQLAlchemy and Redis integrations (and the Lambda one when
``RUNTIME=lambda``), sends no personal data (the ``data_collection`` equivalent of
``send_default_pii=False``, which sentry-sdk 2.75 deprecates; and no request bodies,
cookies, authorization headers, user fields or IP addresses), and reports errors raised by the
money code (ledger, payments, withdrawals, deposits, rakeback) at the highest level, ``fatal``,
so an operator can alert on them alone.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from holdem.config import Settings

# Exceptions raised from these packages are about money: reported as `fatal`.
MONEY_MODULES: tuple[str, ...] = (
    "holdem.ledger",
    "holdem.payments",
    "holdem.services.ledger",
    "holdem.services.deposits",
    "holdem.services.withdrawals",
    "holdem.services.rakeback",
)
_SENSITIVE_HEADERS = frozenset(
    {"authorization", "cookie", "set-cookie", "x-api-key", "x-nowpayments-sig", "x-forwarded-for"}
)


def is_money_error(exc: BaseException) -> bool:
    """Whether `exc` comes from the money code (by the module that defines its class)."""
    module = type(exc).__module__
    return any(module == root or module.startswith(root + ".") for root in MONEY_MODULES)


def scrub_event(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any]:
    """`before_send`: drop personal data, raise money errors to `fatal`."""
    event.pop("user", None)
    request = event.get("request")
    if isinstance(request, dict):
        for key in ("data", "cookies", "env"):
            request.pop(key, None)
        headers = request.get("headers")
        if isinstance(headers, dict):
            request["headers"] = {
                name: value
                for name, value in headers.items()
                if name.lower() not in _SENSITIVE_HEADERS
            }
    exc_info = hint.get("exc_info")
    if exc_info and isinstance(exc_info[1], BaseException) and is_money_error(exc_info[1]):
        event["level"] = "fatal"
        event.setdefault("tags", {})["money"] = "true"
    return event


def init_sentry(
    settings: Settings,
    *,
    component: str,
    traces_sample_rate: float = 0.0,
    transport: Any = None,
    extra_integrations: Sequence[Any] = (),
) -> bool:
    """Initialise Sentry when a DSN is configured; return whether it is on.

    Args:
        settings: the process's settings (``sentry_dsn``, ``environment``, ``runtime``).
        component: ``api``, ``edge``, a function's name: sent as the ``component`` tag.
        traces_sample_rate: performance tracing share (off by default).
        transport: for tests only (a custom transport instead of the network).
        extra_integrations: more Sentry integrations for this process.
    """
    dsn = settings.sentry_dsn.get_secret_value() if settings.sentry_dsn else ""
    if not dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.fastapi import FastApiIntegration
    from sentry_sdk.integrations.redis import RedisIntegration
    from sentry_sdk.integrations.sqlalchemy import SqlalchemyIntegration
    from sentry_sdk.integrations.starlette import StarletteIntegration

    integrations: list[Any] = [
        StarletteIntegration(),
        FastApiIntegration(),
        SqlalchemyIntegration(),
        RedisIntegration(),
        *extra_integrations,
    ]
    if settings.runtime == "lambda":
        from sentry_sdk.integrations.aws_lambda import AwsLambdaIntegration

        integrations.append(AwsLambdaIntegration())
    options: dict[str, Any] = {}
    if transport is not None:
        options["transport"] = transport
    sentry_sdk.init(
        dsn=dsn,
        environment=settings.environment,
        release=os.environ.get("RELEASE") or None,
        # sentry-sdk 2.75 replaced `send_default_pii=False` by this (and warns on the old
        # option): no user, no bodies, no query data, no local variables.
        data_collection={
            "user_info": False,
            "http_bodies": [],
            "database_query_data": False,
            "stack_frame_variables": False,
        },
        traces_sample_rate=traces_sample_rate,
        integrations=integrations,
        before_send=scrub_event,  # type: ignore[arg-type]  # a plain dict is an Event
        **options,
    )
    sentry_sdk.set_tag("component", component)
    return True
