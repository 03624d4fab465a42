"""The payment use cases' ports (`ports`): what deposits, withdrawals and KYC need from the
database, the payment gateway, the rate sources and the identity-verification provider.

The use cases themselves are `holdem.services.deposits`, `holdem.services.withdrawals` and
`holdem.services.kyc`; the implementations are in `holdem.adapters` (`repositories.payments`,
`gateway`, `rates`, `kyc`).
"""
