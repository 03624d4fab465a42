"""The identity-verification (KYC) provider's HTTP client (the port:
`holdem.services.payments.ports.KycProvider`)."""

from holdem.adapters.kyc.provider import HttpKycProvider

__all__ = ["HttpKycProvider"]
