"""Signed gateway callbacks (IPNs): the one check every callback passes before it is used.

The payment gateway calls us back about deposits (`holdem.services.deposits.receive_notice`)
and about payouts (`holdem.services.withdrawals.receive_payout_notice`). Both are checked the
same way, here: the HMAC-SHA512 signature in constant time (`holdem.payments.signatures`),
the body a JSON object that validates as the callback's model, and the callback's own
timestamp inside the replay window (``MONEY__WEBHOOK_REPLAY_WINDOW_S`` either way). Before
any of that, `check_source` refuses a delivery from outside the gateway's addresses when
``MONEY__WEBHOOK_SOURCE_CIDRS`` lists them.

Errors (mapped to HTTP statuses by the callback functions, in one table)::

    WebhookSourceNotAllowed   source_not_allowed  (Forbidden)
    WebhookSignatureInvalid   invalid_signature   (AuthenticationError)
    WebhookStale              stale_delivery      (InvalidInput)
    WebhookMalformed          malformed_body      (InvalidInput)
    WebhookPayloadInvalid     invalid_payload     (InvalidInput)
"""

from __future__ import annotations

import ipaddress
from datetime import datetime
from typing import ClassVar, TypeVar

from pydantic import BaseModel, ValidationError

from holdem.config import MoneySettings
from holdem.payments import signatures
from holdem.payments.errors import InvalidSignature, StaleDelivery
from holdem.services import errors


class WebhookSourceNotAllowed(errors.Forbidden):
    """The delivery came from an address outside ``MONEY__WEBHOOK_SOURCE_CIDRS``."""

    code = "source_not_allowed"


def check_source(address: str | None, money: MoneySettings) -> None:
    """Refuse a delivery whose source address is not the gateway's (when a list is set).

    `address` is the connection's peer as the transport saw it (API Gateway's
    ``requestContext.http.sourceIp``), never a header a caller can write.
    """
    if not money.webhook_source_cidrs:
        return
    try:
        source = ipaddress.ip_address(address or "")
    except ValueError as exc:
        raise WebhookSourceNotAllowed("the delivery has no valid source address") from exc
    if not any(
        source in ipaddress.ip_network(cidr, strict=False) for cidr in money.webhook_source_cidrs
    ):
        raise WebhookSourceNotAllowed(f"{source} is not an address of the payment gateway")


class WebhookSignatureInvalid(errors.AuthenticationError):
    """The callback's signature is missing or wrong."""

    code = "invalid_signature"


class WebhookStale(errors.InvalidInput):
    """The callback is outside the replay window (a replay, or delayed too long)."""

    code = "stale_delivery"


class WebhookMalformed(errors.InvalidInput):
    """The body is not JSON."""

    code = "malformed_body"


class WebhookPayloadInvalid(errors.InvalidInput):
    """The body is JSON but not a valid callback of its kind."""

    code = "invalid_payload"


class SignedCallback(BaseModel):
    """Base of the callback bodies: each says what it is and when the gateway made it."""

    what: ClassVar[str] = "callback"

    def stamped_at_ms(self) -> int:
        """When the gateway made this callback, in milliseconds since the epoch."""
        raise NotImplementedError


M = TypeVar("M", bound=SignedCallback)


def verify_callback(
    body: bytes, signature: str | None, money: MoneySettings, now: datetime, model: type[M]
) -> M:
    """Verify and validate one gateway delivery as `model`, or raise the error that says why."""
    return verify_signed(
        body,
        signature,
        model,
        secret=money.webhook_secret.get_secret_value(),
        window_s=money.webhook_replay_window_s,
        now=now,
    )


def verify_signed(
    body: bytes,
    signature: str | None,
    model: type[M],
    *,
    secret: str,
    window_s: int,
    now: datetime,
    header: str = signatures.SIGNATURE_HEADER,
) -> M:
    """Verify and validate one signed delivery of any provider that signs as the gateway
    does (the KYC provider too): HMAC-SHA512 of the canonical body with `secret`, a JSON
    object valid as `model`, stamped within `window_s` of `now`."""
    try:
        parsed = signatures.verify(body, signature, secret, header)
    except InvalidSignature as exc:
        if isinstance(exc.__cause__, ValueError | UnicodeDecodeError):
            raise WebhookMalformed("the body is not JSON") from exc
        raise WebhookSignatureInvalid(exc.message) from exc
    if not isinstance(parsed, dict):
        raise WebhookPayloadInvalid("the body must be a JSON object")
    try:
        callback = model.model_validate(parsed)
    except ValidationError as exc:
        problems = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
            for e in exc.errors(include_url=False, include_input=False)
        ]
        raise WebhookPayloadInvalid(f"the {model.what} is invalid", {"problems": problems}) from exc
    try:
        signatures.check_fresh(callback.stamped_at_ms(), int(now.timestamp() * 1000), window_s)
    except StaleDelivery as exc:
        raise WebhookStale(exc.message, exc.details) from exc
    return callback


__all__ = [
    "SignedCallback",
    "WebhookMalformed",
    "WebhookPayloadInvalid",
    "WebhookSignatureInvalid",
    "WebhookSourceNotAllowed",
    "WebhookStale",
    "check_source",
    "verify_callback",
    "verify_signed",
]
