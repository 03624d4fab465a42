# ruff: noqa: N818  (error names follow the domain: InvalidAddress, RateUnavailable...)
"""The port every payment gateway implements, and the errors it translates failures into.

Services depend on `PaymentGateway` only; tests use the real `NowPaymentsGateway` against the
repository's gateway simulator or an `httpx.MockTransport`.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar

from holdem.payments.coins import Coin


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


class PaymentGateway(abc.ABC):
    """Deposit addresses and payouts at a crypto payment gateway."""

    @abc.abstractmethod
    async def create_deposit_address(self, coin: Coin, user_ref: str) -> DepositAddressInfo:
        """A new standing deposit address of `coin` for the user known as `user_ref`."""

    @abc.abstractmethod
    async def create_payout(
        self, coin: Coin, address: str, amount: Decimal, idempotency_key: str
    ) -> PayoutInfo:
        """Send `amount` of `coin` to `address`. The gateway dedupes on `idempotency_key`."""

    @abc.abstractmethod
    async def find_payout(self, idempotency_key: str) -> PayoutInfo | None:
        """The payout made with `idempotency_key`, if the gateway knows one."""

    async def aclose(self) -> None:  # noqa: B027 (optional hook: most gateways hold nothing)
        """Release connections."""
