"""The identity-verification (KYC) provider's HTTP client (the port:
`holdem.ports.payments.KycProvider`)."""

from holdem.adapters.kyc.provider import HttpKycProvider

__all__ = ["HttpKycProvider"]
