"""The gateway's payout callbacks: checked like a deposit notice, applied only to the attempt
being paid now (`record_payout_notice`)."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from pydantic import AwareDatetime, ConfigDict, Field, StrictInt, StrictStr

from holdem.payments.gateway import PayoutInfo, PayoutState, payout_state
from holdem.payments.withdrawals import WithdrawalStatus
from holdem.services.gateway_callbacks import SignedCallback, verify_callback
from holdem.services.ledger_errors import WithdrawalNotFound
from holdem.services.notifications import Notice
from holdem.services.withdrawals.model import PayoutNotFound, WithdrawalDeps, locked
from holdem.services.withdrawals.payout import PayoutOutcome, apply_payout, finished_notices

log = logging.getLogger(__name__)

_PAYOUT_KEY = re.compile(r"withdrawal-([1-9][0-9]{0,17})-([0-9]{1,4})")


class PayoutNotice(SignedCallback):
    """The gateway's callback when a payout changes status (NOWPayments' field names).

    ``unique_external_id`` is our key of the attempt (`payout_key`); ``updated_at`` is when
    the gateway changed the status (an ISO time with its offset, or epoch milliseconds).
    """

    model_config = ConfigDict(extra="allow", frozen=True)
    what = "payout notice"

    id: StrictInt | StrictStr
    status: str = Field(min_length=1, max_length=32)
    unique_external_id: str = Field(min_length=1, max_length=128)
    hash: str | None = Field(default=None, max_length=128, pattern=r"^[0-9A-Za-z]+$")
    updated_at: AwareDatetime

    def stamped_at_ms(self) -> int:
        return int(self.updated_at.timestamp() * 1000)

    def info(self) -> PayoutInfo:
        return PayoutInfo(str(self.id), payout_state(self.status), self.hash)


@dataclass(frozen=True)
class PayoutNoticeResult:
    outcome: PayoutOutcome
    withdrawal_id: int
    status: str
    notices: tuple[Notice, ...] = ()
    """What the player should hear (sent after the commit, off the answer path)."""


async def record_payout_notice(
    deps: WithdrawalDeps, body: bytes, signature: str | None
) -> PayoutNoticeResult:
    """Apply one payout callback; its notices are left to the caller to send.

    Checked exactly like a deposit notice (`verify_callback`). The withdrawal is locked and
    the callback counts only if it is about the attempt being paid now, while the withdrawal
    is ``processing``: then it takes the same path as a lookup's answer (`apply_payout`):
    sent → paid (ledger completed); failed → a failed attempt (retried, the last one returns
    the funds); rejected → failed at once, funds returned. Anything else — a duplicate, an
    older status arriving late, a previous attempt, a withdrawal already finished — changes
    nothing (``skipped``): a status only moves forward, and each ledger effect has its key.
    """
    notice = verify_callback(body, signature, deps.money, deps.clock(), PayoutNotice)
    matched = _PAYOUT_KEY.fullmatch(notice.unique_external_id)
    if matched is None:
        raise PayoutNotFound("no payout of ours has this key", {"key": notice.unique_external_id})
    withdrawal_id, attempt = int(matched[1]), int(matched[2])
    info = notice.info()
    async with deps.uow() as uow:
        try:
            row = await locked(uow.withdrawals, withdrawal_id)
        except WithdrawalNotFound as exc:
            raise PayoutNotFound(
                "no payout of ours has this key", {"key": notice.unique_external_id}
            ) from exc
        current = row.status == WithdrawalStatus.PROCESSING.value and attempt == row.attempts
        if not current:
            if info.state is PayoutState.SENT and attempt != row.attempts:
                log.error(
                    "payout %s reported sent, but withdrawal %s is on attempt %s (%s): "
                    "check it at the gateway",
                    notice.unique_external_id,
                    row.id,
                    row.attempts,
                    row.status,
                )
            return PayoutNoticeResult(PayoutOutcome.SKIPPED, row.id, row.status)
        if info.state is PayoutState.PENDING:
            return PayoutNoticeResult(PayoutOutcome.WAITING, row.id, row.status)
        outcome = await apply_payout(deps, uow, row, info)
        result = PayoutNoticeResult(
            outcome, row.id, row.status, tuple(finished_notices(row, outcome))
        )
    return result
