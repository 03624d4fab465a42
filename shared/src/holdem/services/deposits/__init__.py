"""Crypto deposits: standing addresses, signed gateway notices, crediting exactly once.

The gateway notifies us (IPN, `receive_notice`) each time it sees a chain output paid to one
of our addresses, with the number of confirmations so far. For each output, keyed by
coin + transaction hash + output index:

- the notice's signature is checked in constant time and its timestamp against the replay
  window; the payload is validated (`DepositNotice`);
- the output is recorded once (``deposits``), its confirmation count only ever grows;
- an output paid to an address we never issued is recorded ``unmatched`` for an operator
  and credits nobody;
- once the coin's minimum confirmations are reached the amount is converted at the live
  rate (rounded down to the won) and credited through the ledger, exactly once: the
  deposit row is locked, and the ledger's idempotency key is ``deposit:{coin}:{tx}:{n}``;
- if no fresh rate exists the deposit waits (the gateway's retry or the scheduler's sweep,
  `credit_waiting_deposits`, credits it later);
- an output worth more than one ledger movement may carry (`MAX_WON`, ₩10^15) at the rate of
  its credit is recorded ``over_limit`` for an operator instead, credits nobody, and every
  delivery of it is refused (`DepositOverLimit`): it is not the gateway's to retry.

Deliveries may be duplicated, reordered or concurrent: each ends in one of `Outcome`.
"""

from holdem.services.deposits.addresses import deposit_address
from holdem.services.deposits.crediting import (
    credit_waiting_deposits,
    receive_notice,
    record_notice,
)
from holdem.services.deposits.notices import (
    DepositDeps,
    DepositNotice,
    DepositOverLimit,
    DepositResult,
    GatewayUnavailableError,
    Outcome,
    coin_registry,
    parse_notice,
)
from holdem.services.deposits.reading import list_deposits, over_limit_deposits, unmatched_deposits
from holdem.services.errors import CoinNotAccepted
from holdem.services.gateway_callbacks import (
    WebhookMalformed,
    WebhookPayloadInvalid,
    WebhookSignatureInvalid,
    WebhookStale,
)

__all__ = [
    "CoinNotAccepted",
    "DepositDeps",
    "DepositNotice",
    "DepositOverLimit",
    "DepositResult",
    "GatewayUnavailableError",
    "Outcome",
    "WebhookMalformed",
    "WebhookPayloadInvalid",
    "WebhookSignatureInvalid",
    "WebhookStale",
    "coin_registry",
    "credit_waiting_deposits",
    "deposit_address",
    "list_deposits",
    "over_limit_deposits",
    "parse_notice",
    "receive_notice",
    "record_notice",
    "unmatched_deposits",
]
