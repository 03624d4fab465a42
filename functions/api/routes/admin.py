"""Operator endpoints: user lookup, lock/unlock, wallet adjustments, withdrawals by status,
verification of a hand's deal. Every action that changes something is written to the audit
log."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Path, Query

from functions.api.deps import AccountsDep, ContainerDep, DbDep, OperatorDep, ReadDbDep
from functions.api.schemas import (
    AdjustmentOut,
    AdjustmentRequest,
    ChatLineOut,
    ChatMuteOut,
    ChatMuteRequest,
    ChatUnmuteRequest,
    Email,
    HandChatOut,
    HandVerificationOut,
    UserOut,
    WithdrawalOut,
    WithdrawalPage,
    errors,
)
from holdem.adapters.repositories.transaction import SqlTransaction
from holdem.bounds import MAX_BIGINT
from holdem.ledger.accounts import AccountKind
from holdem.services import admin, chat_moderation, hand_audit

router = APIRouter(prefix="/api/v1/admin", tags=["admin"], responses=errors(401, 403, 422, 429))

UserId = Annotated[int, Path(ge=1, le=MAX_BIGINT)]
WithdrawalStatus = Literal[
    "pending", "held", "approved", "processing", "paid", "failed", "rejected", "cancelled"
]


@router.get("/users", responses=errors(404))
async def find_user(
    claims: OperatorDep, db: ReadDbDep, email: Annotated[Email, Query()]
) -> UserOut:
    """Look a user up by email."""
    user = await admin.find_user(SqlTransaction(db), user_id=None, email=email)
    return UserOut.model_validate(user, from_attributes=True)


@router.get("/users/{user_id}", responses=errors(404))
async def get_user(user_id: UserId, claims: OperatorDep, db: ReadDbDep) -> UserOut:
    """Look a user up by id."""
    user = await admin.find_user(SqlTransaction(db), user_id=user_id, email=None)
    return UserOut.model_validate(user, from_attributes=True)


@router.post("/users/{user_id}/lock", responses=errors(404))
async def lock_user(user_id: UserId, claims: OperatorDep, accounts: AccountsDep) -> UserOut:
    """Lock an account and sign it out everywhere (audited)."""
    user = await accounts.set_locked(user_id, True, actor_id=claims.user_id)
    return UserOut.model_validate(user, from_attributes=True)


@router.post("/users/{user_id}/unlock", responses=errors(404))
async def unlock_user(user_id: UserId, claims: OperatorDep, accounts: AccountsDep) -> UserOut:
    """Unlock an account (audited)."""
    user = await accounts.set_locked(user_id, False, actor_id=claims.user_id)
    return UserOut.model_validate(user, from_attributes=True)


@router.post("/users/{user_id}/adjustments", status_code=201, responses=errors(400, 404, 409))
async def adjust_balance(
    user_id: UserId,
    body: AdjustmentRequest,
    claims: OperatorDep,
    db: DbDep,
    idempotency_key: Annotated[str, Header(pattern=r"^[A-Za-z0-9_.:-]{8,100}$")],
) -> AdjustmentOut:
    """Credit or debit a player's wallet with a reason (audited; idempotent by key)."""
    posted = await admin.adjust_wallet(
        SqlTransaction(db),
        actor_id=claims.user_id,
        user_id=user_id,
        amount=body.amount_krw,
        reason=body.reason,
        key=idempotency_key,
    )
    return AdjustmentOut(
        transaction_id=posted.transaction_id,
        user_id=user_id,
        amount_krw=body.amount_krw,
        wallet_after=posted.balance_after(AccountKind.WALLET, user_id),
        replayed=posted.replayed,
        created_at=posted.created_at,
    )


@router.post("/users/{user_id}/chat-mute", responses=errors(404))
async def mute_chat(
    user_id: UserId,
    body: ChatMuteRequest,
    claims: OperatorDep,
    db: DbDep,
    container: ContainerDep,
) -> ChatMuteOut:
    """Mute a player's table chat for a time, at every table (audited)."""
    until = await chat_moderation.mute_player(
        SqlTransaction(db),
        container.chat_store,
        actor_id=claims.user_id,
        user_id=user_id,
        minutes=body.minutes,
        reason=body.reason,
        now=datetime.now(UTC),
    )
    return ChatMuteOut(user_id=user_id, muted_until=until)


@router.post("/users/{user_id}/chat-unmute", responses=errors(404))
async def unmute_chat(
    user_id: UserId,
    body: ChatUnmuteRequest,
    claims: OperatorDep,
    db: DbDep,
    container: ContainerDep,
) -> ChatMuteOut:
    """Lift a player's chat mute early (audited)."""
    await chat_moderation.unmute_player(
        SqlTransaction(db),
        container.chat_store,
        actor_id=claims.user_id,
        user_id=user_id,
        reason=body.reason,
    )
    return ChatMuteOut(user_id=user_id, muted_until=None)


@router.get("/hands/{hand_id}/chat", responses=errors(404))
async def hand_chat(
    hand_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    claims: OperatorDep,
    db: ReadDbDep,
    container: ContainerDep,
) -> HandChatOut:
    """The table chat kept with a hand, for settling a dispute (hot or archived hands)."""
    record = await chat_moderation.hand_chat(
        SqlTransaction(db), container.archive_store, container.redis, hand_id
    )
    return HandChatOut(
        hand_id=record.id,
        table_id=record.table_id,
        hand_no=record.hand_no,
        archived=record.archived,
        lines=[ChatLineOut.model_validate(line) for line in record.chat],
    )


@router.get("/hands/{hand_id}/verification", responses=errors(404))
async def verify_hand(
    hand_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    claims: OperatorDep,
    db: ReadDbDep,
    container: ContainerDep,
) -> HandVerificationOut:
    """Recompute a hand's deal from its stored seed; check it against the commitment and
    every recorded card and opening (hot or archived hands)."""
    verdict = await hand_audit.verify_hand(
        SqlTransaction(db), container.archive_store, container.redis, hand_id
    )
    return HandVerificationOut(
        hand_id=verdict.hand_id,
        table_id=verdict.table_id,
        hand_no=verdict.hand_no,
        archived=verdict.archived,
        ok=verdict.ok,
        scheme=verdict.scheme,
        cards_checked=verdict.cards_checked,
        openings_checked=verdict.openings_checked,
        problems=list(verdict.problems),
    )


@router.get("/withdrawals", responses=errors(400))
async def list_withdrawals(
    claims: OperatorDep,
    db: ReadDbDep,
    withdrawal_status: Annotated[WithdrawalStatus, Query(alias="status")] = "pending",
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> WithdrawalPage:
    """Withdrawals in one status, oldest due first (cursor pages)."""
    page = await admin.list_withdrawals(SqlTransaction(db), withdrawal_status, cursor, limit)
    return WithdrawalPage(
        items=[
            WithdrawalOut(
                id=w.id,
                user_id=w.user_id,
                amount_krw=w.amount_krw,
                coin=w.coin,
                address=w.address,
                crypto_amount=None if w.crypto_amount is None else str(w.crypto_amount),
                status=w.status,
                due_at=w.due_at,
                created_at=w.created_at,
            )
            for w in page.items
        ],
        next_cursor=page.next_cursor,
    )
