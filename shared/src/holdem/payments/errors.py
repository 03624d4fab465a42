# ruff: noqa: N818  (error names follow the domain: InvalidAddress, RateUnavailable...)
"""The payment rules' exception tree. Every error has a stable machine ``code``::

    PaymentRuleError                 payment_rule
    ├── UnsupportedCoin              unsupported_coin
    ├── InvalidAddress               invalid_address
    ├── InvalidAmount                invalid_amount
    ├── IllegalTransition            illegal_withdrawal_transition
    └── InvalidSignature             invalid_signature
        └── StaleDelivery            stale_delivery

The services translate these into `holdem.errors` (and the transports map those);
nothing branches on message text.
"""

from __future__ import annotations

from typing import Any, ClassVar


class PaymentRuleError(Exception):
    """Base of every error the pure payment rules raise."""

    code: ClassVar[str] = "payment_rule"

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}


class UnsupportedCoin(PaymentRuleError):
    """The coin is not one this card room accepts."""

    code = "unsupported_coin"


class InvalidAddress(PaymentRuleError):
    """The address is not a valid address of the coin's chain and network."""

    code = "invalid_address"


class InvalidAmount(PaymentRuleError):
    """An amount is not positive, not exact, or below a minimum."""

    code = "invalid_amount"


class IllegalTransition(PaymentRuleError):
    """The withdrawal cannot take this step from its current status."""

    code = "illegal_withdrawal_transition"


class InvalidSignature(PaymentRuleError):
    """A webhook's signature is missing or does not match its body."""

    code = "invalid_signature"


class StaleDelivery(InvalidSignature):
    """A correctly signed webhook whose timestamp is outside the replay window."""

    code = "stale_delivery"
