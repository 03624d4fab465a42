"""AML flags: the rules of `holdem.ledger.aml` evaluated where money moves, and the
operators' queue (docs/compliance.md, "AML flags").

* `on_deposit_credited` runs in the deposit's credit transaction (``large_deposit``,
  ``structuring``); `on_withdrawal_requested` in the withdrawal's reservation transaction
  (``large_withdrawal``, ``little_play``, ``shared_address``). A flag is inserted once per
  rule and subject (``uq_aml_flags_rule_subject``), so a redelivered deposit or a replayed
  request adds nothing, and a rolled-back movement leaves no flag.
* While a player has an open (or reviewing) flag of a rule in ``AML__HOLD_RULES``, each new
  withdrawal is held for an operator (`should_hold`); the player hears only that it is held
  for review — never which rule fired.
* Operators list the queue, take a flag into review and resolve it with a note; each step is
  written to the operators' audit log in the same transaction (`review`, `resolve`). The
  held withdrawal itself is decided through the withdrawal routes (approve / reject).

Errors::

    AmlFlagNotFound      aml_flag_not_found     (NotFound)
    AmlFlagTransition    aml_flag_transition    (Conflict)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from holdem.config import AmlSettings
from holdem.ledger.aml import AmlRule, is_large, is_little_play, is_structuring
from holdem.ports.aml import AmlFlagRow
from holdem.ports.payments import WithdrawalRow
from holdem.ports.transaction import Transaction
from holdem.services import errors, rakeback
from holdem.services.admin import record_action

OPEN_STATUSES = ("open", "reviewing")


class AmlFlagNotFound(errors.NotFound):
    code = "aml_flag_not_found"


class AmlFlagTransition(errors.Conflict):
    """A resolved flag cannot be reviewed or resolved again."""

    code = "aml_flag_transition"


@dataclass(frozen=True)
class FlagView:
    """An AML flag as operators see it."""

    id: int
    user_id: int
    rule: str
    subject: str
    status: str
    details: dict[str, Any]
    withdrawal_id: int | None
    reviewed_by: int | None
    reviewed_at: datetime | None
    resolved_by: int | None
    resolved_at: datetime | None
    resolution_note: str | None
    created_at: datetime

    @classmethod
    def of(cls, row: AmlFlagRow) -> FlagView:
        return cls(
            row.id,
            row.user_id,
            row.rule,
            row.subject,
            row.status,
            dict(row.details),
            row.withdrawal_id,
            row.reviewed_by,
            row.reviewed_at,
            row.resolved_by,
            row.resolved_at,
            row.resolution_note,
            row.created_at,
        )


async def on_deposit_credited(
    tx: Transaction,
    settings: AmlSettings,
    *,
    user_id: int,
    amount_krw: int,
    ledger_transaction_id: int,
    now: datetime,
) -> None:
    """The deposit rules, in the credit's transaction (after the ledger posted it)."""
    subject = f"deposit-tx:{ledger_transaction_id}"
    threshold = settings.large_amount_krw
    details: dict[str, Any]
    if is_large(amount_krw, threshold):
        details = {"amount_krw": amount_krw, "threshold_krw": threshold}
        await tx.aml.file(user_id, AmlRule.LARGE_DEPOSIT.value, subject, details)
    since = now - timedelta(seconds=settings.structuring_window_s)
    recent = await tx.aml.credited_deposits_since(user_id, since)
    if is_structuring(
        recent,
        threshold,
        band_pct=settings.structuring_band_pct,
        count=settings.structuring_count,
    ):
        details = {
            "amount_krw": amount_krw,
            "threshold_krw": threshold,
            "window_s": settings.structuring_window_s,
            "deposits_krw": recent,
        }
        await tx.aml.file(user_id, AmlRule.STRUCTURING.value, subject, details)


async def on_withdrawal_requested(
    tx: Transaction, settings: AmlSettings, withdrawal: WithdrawalRow, now: datetime
) -> bool:
    """The withdrawal rules, in the reservation's transaction. Returns whether the
    withdrawal must be held for review (an open flag of a holding rule, new or older)."""
    user_id = withdrawal.user_id
    subject = f"withdrawal:{withdrawal.id}"
    details: dict[str, Any]
    if is_large(withdrawal.amount_krw, settings.large_amount_krw):
        details = {"amount_krw": withdrawal.amount_krw, "threshold_krw": settings.large_amount_krw}
        await tx.aml.file(user_id, AmlRule.LARGE_WITHDRAWAL.value, subject, details)
    if withdrawal.amount_krw >= settings.little_play_min_withdrawal_krw:
        since = now - timedelta(seconds=settings.little_play_lookback_s)
        deposited = sum(await tx.aml.credited_deposits_since(user_id, since))
        rake = await rakeback.rake_paid(tx, user_id, since, now)
        if is_little_play(
            deposits_krw=deposited, rake_krw=rake, rake_pct=settings.little_play_rake_pct
        ):
            details = {
                "amount_krw": withdrawal.amount_krw,
                "deposits_krw": deposited,
                "rake_krw": rake,
                "rake_pct": str(settings.little_play_rake_pct),
                "lookback_s": settings.little_play_lookback_s,
            }
            await tx.aml.file(user_id, AmlRule.LITTLE_PLAY.value, subject, details)
    others = await tx.aml.other_owners(user_id, withdrawal.coin, withdrawal.address)
    if others:
        details = {"coin": withdrawal.coin, "address": withdrawal.address, "other_users": others}
        await tx.aml.file(user_id, AmlRule.SHARED_ADDRESS.value, subject, details)
    return await should_hold(tx, settings, user_id)


async def should_hold(tx: Transaction, settings: AmlSettings, user_id: int) -> bool:
    """Whether the user has an open flag of a rule that holds withdrawals."""
    if not settings.hold_rules:
        return False
    return await tx.aml.has_open(user_id, settings.hold_rules, OPEN_STATUSES)


async def mark_held(tx: Transaction, settings: AmlSettings, withdrawal: WithdrawalRow) -> None:
    """Link the user's open holding flags without a withdrawal to the one they held."""
    for flag in await tx.aml.unlinked(withdrawal.user_id, settings.hold_rules, OPEN_STATUSES):
        flag.withdrawal_id = withdrawal.id


# --- the operators' queue -------------------------------------------------------------------


async def list_flags(
    tx: Transaction,
    *,
    status: str | None = None,
    user_id: int | None = None,
    rule: str | None = None,
    limit: int = 100,
    before_id: int | None = None,
) -> list[FlagView]:
    """Flags newest first, by status, user and/or rule (cursor: the last id seen)."""
    rows = await tx.aml.listing(status, user_id, rule, limit, before_id)
    return [FlagView.of(r) for r in rows]


async def _locked(tx: Transaction, flag_id: int) -> AmlFlagRow:
    row = await tx.aml.lock(flag_id)
    if row is None:
        raise AmlFlagNotFound("no such AML flag", {"flag_id": flag_id})
    return row


async def review(tx: Transaction, flag_id: int, operator_id: int, now: datetime) -> FlagView:
    """An operator takes an open flag into review (audited). Begins and commits the
    transaction (`tx` holds none yet)."""
    async with tx.session.begin():
        row = await _locked(tx, flag_id)
        if row.status != "open":
            raise AmlFlagTransition(
                f"a {row.status} flag cannot be taken into review", {"status": row.status}
            )
        row.status, row.reviewed_by, row.reviewed_at = "reviewing", operator_id, now
        await record_action(
            tx,
            operator_id,
            "aml_flag_review",
            target_user_id=row.user_id,
            details={"flag_id": row.id, "rule": row.rule},
        )
        return FlagView.of(row)


async def resolve(
    tx: Transaction, flag_id: int, operator_id: int, note: str, now: datetime
) -> FlagView:
    """An operator closes a flag with a note (audited). Begins and commits the transaction
    (`tx` holds none yet).

    Resolving lifts the flag's hold on future withdrawals; a withdrawal it already held stays
    held until an operator approves, releases or rejects it.
    """
    async with tx.session.begin():
        row = await _locked(tx, flag_id)
        if row.status == "resolved":
            raise AmlFlagTransition("the flag is already resolved", {"status": row.status})
        if row.reviewed_by is None:
            row.reviewed_by, row.reviewed_at = operator_id, now
        row.status, row.resolved_by, row.resolved_at = "resolved", operator_id, now
        row.resolution_note = note
        await record_action(
            tx,
            operator_id,
            "aml_flag_resolve",
            target_user_id=row.user_id,
            details={"flag_id": row.id, "rule": row.rule, "note": note},
        )
        return FlagView.of(row)
