"""The payment gateway port and its NOWPayments implementation."""

from holdem.adapters.gateway.base import (
    DepositAddressInfo,
    GatewayError,
    GatewayRejected,
    GatewayUnavailable,
    PaymentGateway,
    PayoutInfo,
    PayoutState,
)
from holdem.adapters.gateway.nowpayments import NowPaymentsGateway

__all__ = [
    "DepositAddressInfo",
    "GatewayError",
    "GatewayRejected",
    "GatewayUnavailable",
    "NowPaymentsGateway",
    "PaymentGateway",
    "PayoutInfo",
    "PayoutState",
]
