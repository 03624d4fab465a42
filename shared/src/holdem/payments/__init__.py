"""Pure payment rules: coins, chain address checks, KRW conversion, webhook signatures and
the withdrawal state machine, and the values a gateway or a rate source answers with
(`gateway`, `rates`). Standard library only — no I/O, no clock, no settings object.

The adapters (`holdem.adapters.gateway`, `holdem.adapters.rates`) and the use cases
(`holdem.services.deposits`, `holdem.services.withdrawals`) and their ports
(`holdem.ports.payments`) build on these.
"""
