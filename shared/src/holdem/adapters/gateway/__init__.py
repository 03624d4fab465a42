"""The NOWPayments implementation of the payment gateway port
(`holdem.ports.payments.PaymentGateway`; its values and errors are
`holdem.payments.gateway`'s)."""

from holdem.adapters.gateway.nowpayments import NowPaymentsGateway

__all__ = ["NowPaymentsGateway"]
