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

from holdem.config import KycSettings, MoneySettings
from holdem.payments.withdrawals import RETURNS_FUNDS
from holdem.ports.payments import (
    KycProvider,
    KycRepository,
    KycUserRow,
    PaymentsUnitOfWork,
    UnitOfWork,
    WithdrawalRepository,
)
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
    """What the KYC use cases need (`uow`: `holdem.ports.payments`)."""

    uow: UnitOfWork
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
    withdrawals: WithdrawalRepository,
    user_id: int,
    kyc_status: str,
    amount_krw: int,
    threshold_krw: int,
) -> bool:
    """Whether a new withdrawal of `amount_krw` must wait for verified KYC: the user is not
    verified and their withdrawals (all but rejected, cancelled or failed ones, and this
    one) add up to more than the threshold. The caller holds the user's row lock, so two
    requests racing each see the other."""
    if kyc_status == KycStatus.VERIFIED:
        return False
    earlier = await withdrawals.active_total_krw(user_id, [s.value for s in RETURNS_FUNDS])
    return earlier + amount_krw > threshold_krw


async def _apply(
    uow: PaymentsUnitOfWork, user: KycUserRow, status: KycStatus, at: datetime
) -> tuple[int, ...]:
    """Set the status; a verification releases the user's withdrawals waiting for it."""
    user.kyc_status = status.value
    user.kyc_updated_at = at
    if status is not KycStatus.VERIFIED:
        return ()
    return await uow.withdrawals.release_kyc_holds(user.id, at)


def _notice(view: KycView) -> Notice:
    data = {"kyc_status": view.status, "released_withdrawals": list(view.released_withdrawals)}
    return Notice(view.user_id, NoticeKind.KYC_STATUS_CHANGED, data)


async def _locked_user(users: KycRepository, user_id: int) -> KycUserRow:
    user = await users.user(user_id, lock=True)
    if user is None:
        raise errors.NotFound("no such user", {"user_id": user_id})
    return user


async def status_of(deps: KycDeps, user_id: int) -> KycView:
    """The user's KYC status."""
    async with deps.uow() as uow:
        user = await uow.kyc.user(user_id)
        if user is None:
            raise errors.NotFound("no such user", {"user_id": user_id})
        return KycView(user.id, user.kyc_status, user.kyc_updated_at)


async def set_status(
    deps: KycDeps, operator_id: int, user_id: int, status: KycStatus, note: str
) -> KycView:
    """An operator sets a user's KYC status, with a note, audited in the same transaction."""
    now = deps.clock()
    async with deps.uow() as uow:
        user = await _locked_user(uow.kyc, user_id)
        before = user.kyc_status
        released = await _apply(uow, user, status, now)
        await record_action(
            uow,
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
    async with deps.uow() as uow:
        user = await _locked_user(uow.kyc, user_id)
        if user.kyc_status in (KycStatus.NONE, KycStatus.REJECTED):
            await _apply(uow, user, KycStatus.PENDING, now)
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
    async with deps.uow() as uow:
        user = await uow.kyc.user(event.user_id, lock=True)
        if user is None:
            raise KycUnknownUser("no user has this reference", {"reference": event.reference})
        applies = user.kyc_updated_at is None or event.occurred_at >= user.kyc_updated_at
        inserted = await uow.kyc.add_event(
            event.event_id, user.id, event.status, event.occurred_at, applies
        )
        if not inserted:
            return EventResult(EventOutcome.DUPLICATE, user.id, user.kyc_status)
        if not applies:
            return EventResult(EventOutcome.SUPERSEDED, user.id, user.kyc_status)
        released = await _apply(uow, user, KycStatus(event.status), event.occurred_at)
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
