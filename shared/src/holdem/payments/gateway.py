# ruff: noqa: N818  (error names follow the domain: GatewayUnavailable, GatewayRejected...)
"""What a payment gateway answers, and the errors its adapter translates failures into.

Pure values shared by the gateway port (`holdem.ports.payments.PaymentGateway`), its
adapters (`holdem.adapters.gateway`) and the payout use cases.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar


class GatewayError(Exception):
    """Base of the gateway errors. `code` is stable."""

    code: ClassVar[str] = "gateway_error"

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}


class GatewayUnavailable(GatewayError):
    """The gateway could not be reached or answered 5xx/429: try again later."""

    code = "gateway_unavailable"


class GatewayRejected(GatewayError):
    """The gateway refused the request (4xx): repeating it will not help."""

    code = "gateway_rejected"


class PayoutState(StrEnum):
    """Where a payout is at the gateway."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # this attempt failed; another one may succeed
    REJECTED = "rejected"  # the gateway refuses this payout: repeating it will not help


@dataclass(frozen=True)
class DepositAddressInfo:
    address: str
    gateway_ref: str


@dataclass(frozen=True)
class PayoutInfo:
    payout_id: str
    state: PayoutState
    tx_hash: str | None = None


# NOWPayments' status words (its payout lookups and its payout callbacks use the same).
_SENT = {"finished", "sent", "completed"}
_FAILED = {"failed", "expired"}
_REJECTED = {"rejected"}


def payout_state(status: str) -> PayoutState:
    """Map a gateway's (NOWPayments') payout status word to ours."""
    lowered = status.lower()
    if lowered in _SENT:
        return PayoutState.SENT
    if lowered in _FAILED:
        return PayoutState.FAILED
    if lowered in _REJECTED:
        return PayoutState.REJECTED
    return PayoutState.PENDING
