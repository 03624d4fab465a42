"""The identity-verification (KYC) provider: its port and its HTTP client."""

from holdem.adapters.kyc.provider import (
    HttpKycProvider,
    KycProvider,
    KycProviderError,
    KycSession,
)

__all__ = ["HttpKycProvider", "KycProvider", "KycProviderError", "KycSession"]
