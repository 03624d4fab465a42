"""KYC gating (SPEC §10; docs/compliance.md, "KYC").

Every user has a ``kyc_status``: ``none`` → ``pending`` (a verification session started) →
``verified`` or ``rejected``. It changes in two ways only:

* an operator sets it (`set_status`; written to the operators' audit log in the same
  transaction);
* the provider's signed status callback (`record_event`): checked exactly as the payment
  gateway's callbacks are (`holdem.services.gateway_callbacks.verify_signed`: HMAC-SHA512
  over the canonical body in ``x-kyc-signature``, a strict body, its ``occurred_at`` inside
  ``KYC__WEBHOOK_REPLAY_WINDOW_S``); each ``event_id`` is stored once (``kyc_events``), so a
  redelivery changes nothing, and an event older than the user's last change is stored but
  not applied.

Withdrawals wait for ``verified`` once the player's withdrawals add up to more than
``MONEY__KYC_REQUIRED_ABOVE_KRW`` (`needs_verification`, called by
`holdem.services.withdrawals.request_withdrawal` under the user's row lock): the withdrawal
is reserved as usual but stays ``pending`` with ``kyc_hold`` set, and the player is told why.
When the user becomes verified, those withdrawals lose the hold in the same transaction and
go on through the scheduler's ordinary path (auto-approval or an operator, then the payout).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, ConfigDict, Field
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from holdem.adapters.kyc import KycProvider
from holdem.adapters.orm.compliance import KycEvent
from holdem.adapters.orm.payments import Withdrawal
from holdem.adapters.orm.users import User
from holdem.config import KycSettings, MoneySettings
from holdem.payments.withdrawals import RETURNS_FUNDS
from holdem.services import errors
from holdem.services.admin import record_action
from holdem.services.gateway_callbacks import SignedCallback, verify_signed
from holdem.services.notifications import Notice, NoticeKind, Notifier

SIGNATURE_HEADER = "x-kyc-signature"
Clock = Callable[[], datetime]
_REFERENCE = re.compile(r"user-([1-9][0-9]{0,17})")


class KycStatus(StrEnum):
    NONE = "none"
    PENDING = "pending"
    VERIFIED = "verified"
    REJECTED = "rejected"


class KycAlreadyVerified(errors.Conflict):
    code = "kyc_already_verified"


class KycProviderNotConfigured(errors.Conflict):
    """No provider is configured (``KYC__PROVIDER_API_KEY`` unset): operators verify players
    themselves (`set_status`), and players cannot start a verification online."""

    code = "kyc_provider_not_configured"


class KycUnknownUser(errors.NotFound):
    """A provider event names a reference that is no user of ours."""

    code = "kyc_unknown_user"


@dataclass
class KycDeps:
    sessions: async_sessionmaker[AsyncSession]
    money: MoneySettings
    kyc: KycSettings
    notifier: Notifier
    provider: KycProvider | None = None
    clock: Clock = field(default=lambda: datetime.now(UTC))


@dataclass(frozen=True)
class KycView:
    user_id: int
    status: str
    updated_at: datetime | None
    released_withdrawals: tuple[int, ...] = ()
    """Withdrawals that stopped waiting because this change verified the user."""


def reference_of(user_id: int) -> str:
    """How the provider knows a user (never the e-mail or any personal data)."""
    return f"user-{user_id}"


async def needs_verification(
    session: AsyncSession, user_id: int, kyc_status: str, amount_krw: int, threshold_krw: int
) -> bool:
    """Whether a new withdrawal of `amount_krw` must wait for verified KYC: the user is not
    verified and their withdrawals (all but rejected, cancelled or failed ones, and this
    one) add up to more than the threshold. The caller holds the user's row lock, so two
    requests racing each see the other."""
    if kyc_status == KycStatus.VERIFIED:
        return False
    returned = [s.value for s in RETURNS_FUNDS]
    stmt = select(func.coalesce(func.sum(Withdrawal.amount_krw), 0)).where(
        Withdrawal.user_id == user_id, Withdrawal.status.not_in(returned)
    )
    earlier = int((await session.execute(stmt)).scalar_one())
    return earlier + amount_krw > threshold_krw


async def _apply(
    session: AsyncSession, user: User, status: KycStatus, at: datetime
) -> tuple[int, ...]:
    """Set the status; a verification releases the user's withdrawals waiting for it."""
    user.kyc_status = status.value
    user.kyc_updated_at = at
    if status is not KycStatus.VERIFIED:
        return ()
    released = await session.execute(
        update(Withdrawal)
        .where(
            Withdrawal.user_id == user.id,
            Withdrawal.kyc_hold.is_(True),
        )
        .values(kyc_hold=False, updated_at=at)
        .returning(Withdrawal.id)
    )
    return tuple(sorted(int(i) for i in released.scalars()))


def _notice(view: KycView) -> Notice:
    data = {"kyc_status": view.status, "released_withdrawals": list(view.released_withdrawals)}
    return Notice(view.user_id, NoticeKind.KYC_STATUS_CHANGED, data)


async def _locked_user(session: AsyncSession, user_id: int) -> User:
    stmt = select(User).where(User.id == user_id).with_for_update()
    user = (await session.execute(stmt)).scalar_one_or_none()
    if user is None:
        raise errors.NotFound("no such user", {"user_id": user_id})
    return user


async def status_of(deps: KycDeps, user_id: int) -> KycView:
    """The user's KYC status."""
    async with deps.sessions() as session:
        user = await session.get(User, user_id)
        if user is None:
            raise errors.NotFound("no such user", {"user_id": user_id})
        return KycView(user.id, user.kyc_status, user.kyc_updated_at)


async def set_status(
    deps: KycDeps, operator_id: int, user_id: int, status: KycStatus, note: str
) -> KycView:
    """An operator sets a user's KYC status, with a note, audited in the same transaction."""
    now = deps.clock()
    async with deps.sessions() as session, session.begin():
        user = await _locked_user(session, user_id)
        before = user.kyc_status
        released = await _apply(session, user, status, now)
        await record_action(
            session,
            operator_id,
            "kyc_status_set",
            target_user_id=user_id,
            details={
                "from": before,
                "to": status.value,
                "note": note,
                "released_withdrawals": list(released),
            },
        )
        view = KycView(user_id, status.value, now, released)
    await deps.notifier.notify(_notice(view))
    return view


@dataclass(frozen=True)
class KycStart:
    status: str
    url: str


async def start_verification(deps: KycDeps, user_id: int) -> KycStart:
    """Open a verification session at the provider; the user's status becomes ``pending``."""
    if deps.provider is None:
        raise KycProviderNotConfigured(
            "online identity verification is not offered here; contact support"
        )
    current = await status_of(deps, user_id)
    if current.status == KycStatus.VERIFIED:
        raise KycAlreadyVerified("this account is already verified")
    started = await deps.provider.start_session(reference_of(user_id))
    now = deps.clock()
    async with deps.sessions() as session, session.begin():
        user = await _locked_user(session, user_id)
        if user.kyc_status in (KycStatus.NONE, KycStatus.REJECTED):
            await _apply(session, user, KycStatus.PENDING, now)
        status = user.kyc_status
    return KycStart(status, started.url)


# --- the provider's callbacks ---------------------------------------------------------------


class KycEventNotice(SignedCallback):
    """The provider's status callback. Strict: an unknown field or value is refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    what = "KYC event"

    event_id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")
    reference: str = Field(pattern=_REFERENCE.pattern)
    status: Literal["pending", "verified", "rejected"]
    occurred_at: AwareDatetime

    def stamped_at_ms(self) -> int:
        return int(self.occurred_at.timestamp() * 1000)

    @property
    def user_id(self) -> int:
        matched = _REFERENCE.fullmatch(self.reference)
        assert matched is not None  # the field's pattern
        return int(matched[1])


class EventOutcome(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"  # this event id was recorded before
    SUPERSEDED = "superseded"  # recorded, but a later change already set the status


@dataclass(frozen=True)
class EventResult:
    outcome: EventOutcome
    user_id: int
    kyc_status: str
    notices: tuple[Notice, ...] = ()


async def record_event(deps: KycDeps, body: bytes, signature: str | None) -> EventResult:
    """Apply one provider callback (module docstring); notices are left to the caller."""
    event = verify_signed(
        body,
        signature,
        KycEventNotice,
        secret=deps.kyc.webhook_secret.get_secret_value(),
        window_s=deps.kyc.webhook_replay_window_s,
        now=deps.clock(),
        header=SIGNATURE_HEADER,
    )
    async with deps.sessions() as session, session.begin():
        user = (
            await session.execute(select(User).where(User.id == event.user_id).with_for_update())
        ).scalar_one_or_none()
        if user is None:
            raise KycUnknownUser("no user has this reference", {"reference": event.reference})
        applies = user.kyc_updated_at is None or event.occurred_at >= user.kyc_updated_at
        inserted = await session.execute(
            insert(KycEvent)
            .values(
                event_id=event.event_id,
                user_id=user.id,
                status=event.status,
                occurred_at=event.occurred_at,
                applied=applies,
            )
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(KycEvent.event_id)
        )
        if inserted.scalar_one_or_none() is None:
            return EventResult(EventOutcome.DUPLICATE, user.id, user.kyc_status)
        if not applies:
            return EventResult(EventOutcome.SUPERSEDED, user.id, user.kyc_status)
        released = await _apply(session, user, KycStatus(event.status), event.occurred_at)
        view = KycView(user.id, event.status, event.occurred_at, released)
    return EventResult(EventOutcome.APPLIED, view.user_id, view.status, (_notice(view),))


__all__ = [
    "SIGNATURE_HEADER",
    "EventOutcome",
    "EventResult",
    "KycAlreadyVerified",
    "KycDeps",
    "KycEventNotice",
    "KycProviderNotConfigured",
    "KycStart",
    "KycStatus",
    "KycUnknownUser",
    "KycView",
    "needs_verification",
    "record_event",
    "reference_of",
    "set_status",
    "start_verification",
    "status_of",
]
