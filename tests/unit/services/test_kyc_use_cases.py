"""The KYC use cases against in-memory fakes of their ports (no database): the provider's
events apply once and in order, a verification releases the withdrawals waiting for it, and
the gate counts what the player has withdrawn. The same rules run against PostgreSQL in
``tests/integration/payments/test_kyc.py``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from pydantic import SecretStr

from holdem.config import KycSettings, MoneySettings
from holdem.payments import signatures
from holdem.ports.payments import KycSession
from holdem.services import errors, kyc
from holdem.services.notifications import Notifier
from tests.unit.services.payment_fakes import FakeDatabase, FakeWithdrawal, fake_unit_of_work

SECRET = "test-only-kyc-secret"
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


class Provider:
    """A `KycProvider` that opens sessions at a fixed URL and remembers who asked."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def start_session(self, user_ref: str) -> KycSession:
        self.asked.append(user_ref)
        return KycSession("s-1", "https://kyc.example/s-1")

    async def aclose(self) -> None:
        return None


def _deps(db: FakeDatabase, provider: Provider | None = None) -> kyc.KycDeps:
    return kyc.KycDeps(
        fake_unit_of_work(db),
        MoneySettings(),
        KycSettings(webhook_secret=SecretStr(SECRET)),
        Notifier(None),
        provider,
        clock=lambda: NOW,
    )


def _event(user_id: int, status: str, at: datetime, event_id: str = "ev-1") -> tuple[bytes, str]:
    body = {
        "event_id": event_id,
        "reference": kyc.reference_of(user_id),
        "status": status,
        "occurred_at": at.isoformat(),
    }
    raw = json.dumps(body).encode()
    return raw, signatures.sign(raw, SECRET)


def _waiting(db: FakeDatabase, user_id: int, amount_krw: int) -> FakeWithdrawal:
    row = FakeWithdrawal(
        id=len(db.withdrawals) + 1,
        user_id=user_id,
        idempotency_key=f"{user_id}:k{len(db.withdrawals)}",
        amount_krw=amount_krw,
        coin="BTC",
        address="bc1q-test",
        crypto_amount=Decimal("0.01"),
        rate_krw=Decimal("100000000"),
        created_at=NOW,
        status="pending",
        due_at=NOW,
        updated_at=NOW,
        kyc_hold=True,
    )
    db.withdrawals.append(row)
    return row


async def test_a_verified_event_applies_once_and_releases_the_waiting_withdrawals():
    db = FakeDatabase()
    db.add_user(7, kyc_status="pending")
    held = _waiting(db, 7, 6_000_000)
    deps = _deps(db)

    first = await kyc.record_event(deps, *_event(7, "verified", NOW - timedelta(seconds=5)))
    again = await kyc.record_event(deps, *_event(7, "verified", NOW - timedelta(seconds=5)))

    assert (first.outcome, first.kyc_status) == (kyc.EventOutcome.APPLIED, "verified")
    assert first.notices[0].data["released_withdrawals"] == [held.id]
    assert again.outcome is kyc.EventOutcome.DUPLICATE
    assert again.notices == ()
    assert held.kyc_hold is False
    assert db.users[7].kyc_updated_at == NOW - timedelta(seconds=5)


async def test_an_event_older_than_the_last_change_is_kept_but_not_applied():
    db = FakeDatabase()
    db.add_user(7)
    deps = _deps(db)
    await kyc.record_event(deps, *_event(7, "verified", NOW - timedelta(seconds=10), "ev-new"))

    old = _event(7, "rejected", NOW - timedelta(seconds=60), "ev-old")
    late = await kyc.record_event(deps, *old)

    assert (late.outcome, late.kyc_status) == (kyc.EventOutcome.SUPERSEDED, "verified")
    assert db.kyc_events["ev-old"].applied is False
    assert db.users[7].kyc_status == "verified"


async def test_an_event_for_no_user_of_ours_is_refused_and_changes_nothing():
    db = FakeDatabase()
    with pytest.raises(kyc.KycUnknownUser):
        await kyc.record_event(_deps(db), *_event(404, "verified", NOW))
    assert db.kyc_events == {}
    assert db.rollbacks == 1


async def test_starting_a_verification_makes_a_new_player_pending_at_the_provider():
    db = FakeDatabase()
    db.add_user(7)
    provider = Provider()

    started = await kyc.start_verification(_deps(db, provider), 7)

    assert (started.status, started.url) == ("pending", "https://kyc.example/s-1")
    assert provider.asked == ["user-7"]
    assert (await kyc.status_of(_deps(db), 7)).status == "pending"


async def test_a_verified_player_cannot_start_again_and_the_provider_is_not_asked():
    db = FakeDatabase()
    db.add_user(7, kyc_status="verified")
    provider = Provider()
    with pytest.raises(kyc.KycAlreadyVerified):
        await kyc.start_verification(_deps(db, provider), 7)
    assert provider.asked == []


async def test_the_status_of_a_deleted_account_is_not_found():
    with pytest.raises(errors.NotFound):
        await kyc.status_of(_deps(FakeDatabase()), 7)


@pytest.mark.parametrize(
    ("status", "earlier", "amount", "waits"),
    [
        ("verified", ("pending", 10_000_000), 1, False),  # verified players never wait
        ("none", None, 5_000_000, False),  # at the threshold: not over it
        ("none", None, 5_000_001, True),
        ("pending", ("paid", 4_000_000), 1_000_001, True),  # earlier withdrawals count
        ("none", ("rejected", 4_000_000), 1_000_001, False),  # ... unless their funds came back
    ],
)
async def test_the_gate_counts_the_players_withdrawals_that_kept_their_funds(
    status, earlier, amount, waits
):
    db = FakeDatabase()
    db.add_user(7, kyc_status=status)
    if earlier is not None:
        _waiting(db, 7, earlier[1]).status = earlier[0]
    async with fake_unit_of_work(db)() as uow:
        decided = await kyc.needs_verification(
            uow.withdrawals, 7, status, amount, MoneySettings().kyc_required_above_krw
        )
    assert decided is waits
