"""KYC gating: withdrawals past the cumulative threshold wait for verified KYC; the status
is set by an operator (audited) or the provider's signed webhook (signature, replay window,
strict body, idempotent by event id); the provider faked at the transport."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from holdem.adapters.kyc import HttpKycProvider
from holdem.adapters.orm.admin import AdminAction
from holdem.adapters.orm.compliance import KycEvent
from holdem.adapters.orm.payments import Withdrawal
from holdem.adapters.orm.users import User
from holdem.payments import signatures
from holdem.ports.payments import KycProviderError
from holdem.services import gateway_callbacks, kyc
from holdem.services import withdrawals as wd
from holdem.services.notifications import Notifier
from holdem.services.withdrawals import OperatorAction
from tests.payments_support import balances, conservation_ok, fund, make_user, utc_now

BTC_ADDRESS = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
KYC_SECRET = "test-only-kyc-secret"


class Clock:
    def __init__(self) -> None:
        self.now = utc_now()

    def __call__(self):
        return self.now


class Mailbox:
    """The notifier's e-mail queue, kept in a list."""

    def __init__(self) -> None:
        self.sent: list[dict] = []

    async def __call__(self, body: str) -> None:
        self.sent.append(json.loads(body))

    def kinds(self, user_id: int) -> list[str]:
        return [n["kind"] for n in self.sent if n["user_id"] == user_id]


@pytest.fixture
def mailbox(payments) -> Mailbox:
    box = Mailbox()
    payments.container.notifier = Notifier(None, box)
    return box


@pytest.fixture
def clock(payments) -> Clock:
    return Clock()


def _wd_deps(payments, clock, threshold=100_000):
    deps = payments.withdrawals
    deps.money = deps.money.model_copy(update={"kyc_required_above_krw": threshold})
    deps.clock = clock
    return deps


def _kyc_deps(payments, clock, provider=None):
    deps = payments.container.kyc()
    deps.kyc = deps.kyc.model_copy(update={"webhook_secret": SecretStr(KYC_SECRET)})
    deps.clock = clock
    if provider is not None:
        deps.provider = provider
    return deps


async def _request(deps, user, amount, key):
    return await wd.request_withdrawal(
        deps, user, amount_krw=amount, coin="BTC", address=BTC_ADDRESS, idempotency_key=key
    )


def _event(user_id, status, at, event_id="ev-1", **extra):
    body = {
        "event_id": event_id,
        "reference": kyc.reference_of(user_id),
        "status": status,
        "occurred_at": at.isoformat(),
        **extra,
    }
    raw = json.dumps(body).encode()
    return raw, signatures.sign(raw, KYC_SECRET)


# --- the gate -----------------------------------------------------------------------------------


async def test_withdrawals_past_the_cumulative_threshold_wait_for_kyc_then_proceed(
    payments, container, clock, mailbox
):
    deps = _wd_deps(payments, clock)
    user = await make_user(container)
    operator = await make_user(container, role="operator")
    await fund(container, user, 500_000)
    first = await _request(deps, user, 60_000, "a")
    assert (first.status, first.kyc_required) == ("pending", False)
    second = await _request(deps, user, 60_000, "b")  # ₩120,000 in all: over ₩100,000
    assert (second.status, second.kyc_required) == ("pending", True)
    assert (await balances(container, user)).pending_withdrawal == 120_000  # reserved anyway
    assert mailbox.kinds(user).count("withdrawal_kyc_required") == 1
    clock.now += timedelta(hours=25)
    report = await wd.schedule_payouts(deps)
    assert report.auto_approved == [first.id]  # the waiting one is left alone
    with pytest.raises(wd.KycRequired):  # nor can an operator approve it
        await wd.decide(deps, second.id, operator, OperatorAction.APPROVE)

    view = await kyc.set_status(
        _kyc_deps(payments, clock), operator, user, kyc.KycStatus.VERIFIED, "passport seen"
    )
    assert view.released_withdrawals == (second.id,)
    report = await wd.schedule_payouts(deps)
    assert report.auto_approved == [second.id]  # on through the ordinary path
    assert second.id in report.enqueued
    async with container.sessions() as session:
        audit = (
            await session.execute(select(AdminAction).where(AdminAction.action == "kyc_status_set"))
        ).scalar_one()
    assert (audit.actor_id, audit.target_user_id) == (operator, user)
    assert audit.details == {
        "from": "none",
        "to": "verified",
        "note": "passport seen",
        "released_withdrawals": [second.id],
    }
    assert "kyc_status_changed" in mailbox.kinds(user)
    await conservation_ok(container)


async def test_a_verified_player_never_waits_and_returned_withdrawals_do_not_count(
    payments, container, clock, mailbox
):
    deps = _wd_deps(payments, clock)
    verified = await make_user(container, kyc="verified")
    await fund(container, verified, 500_000)
    assert not (await _request(deps, verified, 300_000, "v")).kyc_required
    user = await make_user(container)
    operator = await make_user(container, role="operator")
    await fund(container, user, 500_000)
    rejected = await _request(deps, user, 90_000, "r1")
    await wd.decide(deps, rejected.id, operator, OperatorAction.REJECT, "wrong address")
    assert not (await _request(deps, user, 90_000, "r2")).kyc_required


async def test_parallel_withdrawals_see_each_other_in_the_kyc_total(
    payments, container, clock, mailbox
):
    deps = _wd_deps(payments, clock)
    user = await make_user(container)
    await fund(container, user, 500_000)
    views = await asyncio.gather(*(_request(deps, user, 60_000, f"p{i}") for i in range(2)))
    assert sorted(v.kyc_required for v in views) == [False, True]


async def test_a_rejected_or_pending_status_keeps_the_withdrawal_waiting(
    payments, container, clock, mailbox
):
    deps = _wd_deps(payments, clock)
    user = await make_user(container, kyc="rejected")
    await fund(container, user, 500_000)
    waiting = await _request(deps, user, 200_000, "x")
    operator = await make_user(container, role="operator")
    kdeps = _kyc_deps(payments, clock)
    view = await kyc.set_status(kdeps, operator, user, kyc.KycStatus.PENDING, "resubmitted")
    assert view.released_withdrawals == ()
    async with container.sessions() as session:
        assert (await session.get(Withdrawal, waiting.id)).kyc_hold is True


# --- the provider's webhook ---------------------------------------------------------------------


async def test_a_signed_verified_event_releases_waiting_withdrawals_once(
    payments, container, clock, mailbox
):
    deps = _wd_deps(payments, clock)
    user = await make_user(container)
    await fund(container, user, 500_000)
    waiting = await _request(deps, user, 200_000, "w")
    kdeps = _kyc_deps(payments, clock)
    body, sig = _event(user, "verified", clock.now)
    result = await kyc.record_event(kdeps, body, sig)
    assert (result.outcome, result.kyc_status) == (kyc.EventOutcome.APPLIED, "verified")
    assert result.notices[0].data["released_withdrawals"] == [waiting.id]
    again = await kyc.record_event(kdeps, body, sig)  # redelivered
    assert again.outcome is kyc.EventOutcome.DUPLICATE
    async with container.sessions() as session:
        assert (await session.get(User, user)).kyc_status == "verified"
        assert (await session.get(Withdrawal, waiting.id)).kyc_hold is False
        events = (await session.execute(select(KycEvent))).scalars().all()
    assert [(e.event_id, e.applied) for e in events] == [("ev-1", True)]


async def test_an_event_older_than_the_last_change_is_recorded_but_not_applied(
    payments, container, clock
):
    user = await make_user(container)
    kdeps = _kyc_deps(payments, clock)
    newer = _event(user, "verified", clock.now, event_id="ev-new")
    older = _event(user, "rejected", clock.now - timedelta(seconds=60), event_id="ev-old")
    assert (await kyc.record_event(kdeps, *newer)).outcome is kyc.EventOutcome.APPLIED
    late = await kyc.record_event(kdeps, *older)
    assert (late.outcome, late.kyc_status) == (kyc.EventOutcome.SUPERSEDED, "verified")


@pytest.mark.parametrize(
    ("tamper", "error"),
    [
        ("signature", gateway_callbacks.WebhookSignatureInvalid),
        ("missing_signature", gateway_callbacks.WebhookSignatureInvalid),
        ("stale", gateway_callbacks.WebhookStale),
        ("future", gateway_callbacks.WebhookStale),
        ("not_json", gateway_callbacks.WebhookMalformed),
        ("unknown_field", gateway_callbacks.WebhookPayloadInvalid),
        ("unknown_status", gateway_callbacks.WebhookPayloadInvalid),
        ("bad_reference", gateway_callbacks.WebhookPayloadInvalid),
        ("naive_time", gateway_callbacks.WebhookPayloadInvalid),
        ("array", gateway_callbacks.WebhookPayloadInvalid),
        ("unknown_user", kyc.KycUnknownUser),
    ],
)
async def test_a_bad_webhook_delivery_is_refused_and_changes_nothing(
    payments, container, clock, tamper, error
):
    user = await make_user(container)
    kdeps = _kyc_deps(payments, clock)
    now = clock.now
    body, sig = _event(user, "verified", now)
    if tamper == "signature":
        sig = signatures.sign(body, "another-secret")
    elif tamper == "missing_signature":
        sig = None
    elif tamper == "stale":
        body, sig = _event(user, "verified", now - timedelta(seconds=301))
    elif tamper == "future":
        body, sig = _event(user, "verified", now + timedelta(seconds=301))
    elif tamper == "not_json":
        body, sig = b"status=verified", "00"
    elif tamper == "unknown_field":
        body, sig = _event(user, "verified", now, level="basic")
    elif tamper == "unknown_status":
        body, sig = _event(user, "approved", now)
    elif tamper == "bad_reference":
        raw = json.loads(body)
        raw["reference"] = f"{user}"
        body = json.dumps(raw).encode()
        sig = signatures.sign(body, KYC_SECRET)
    elif tamper == "naive_time":
        raw = json.loads(body)
        raw["occurred_at"] = now.replace(tzinfo=None).isoformat()
        body = json.dumps(raw).encode()
        sig = signatures.sign(body, KYC_SECRET)
    elif tamper == "array":
        body = b"[]"
        sig = signatures.sign(body, KYC_SECRET)
    elif tamper == "unknown_user":
        body, sig = _event(user + 1000, "verified", now)
    with pytest.raises(error):
        await kyc.record_event(kdeps, body, sig)
    async with container.sessions() as session:
        assert (await session.get(User, user)).kyc_status == "none"
        assert (await session.execute(select(KycEvent))).first() is None


async def test_no_webhook_secret_refuses_every_delivery(payments, container, clock):
    user = await make_user(container)
    kdeps = payments.container.kyc()  # KYC__WEBHOOK_SECRET unset
    body, sig = _event(user, "verified", kdeps.clock())
    with pytest.raises(gateway_callbacks.WebhookSignatureInvalid):
        await kyc.record_event(kdeps, body, sig)


# --- the provider -------------------------------------------------------------------------------


def _provider(handler) -> HttpKycProvider:
    return HttpKycProvider(
        "https://kyc.test",
        "kyc-key",
        callback_url="https://api.test/api/v1/kyc/webhook",
        transport=httpx.MockTransport(handler),
    )


async def test_starting_verification_returns_the_provider_url_and_marks_pending(
    payments, container, clock
):
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": "sess-1", "url": "https://kyc.test/s/sess-1"})

    user = await make_user(container)
    provider = _provider(handler)
    try:
        started = await kyc.start_verification(_kyc_deps(payments, clock, provider), user)
    finally:
        await provider.aclose()
    assert (started.status, started.url) == ("pending", "https://kyc.test/s/sess-1")
    assert seen[0].url.path == "/v1/sessions"
    assert seen[0].headers["x-api-key"] == "kyc-key"
    assert json.loads(seen[0].content) == {
        "reference": f"user-{user}",  # no personal data leaves for the provider
        "callback_url": "https://api.test/api/v1/kyc/webhook",
    }


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(503),
        httpx.Response(200, content=b"<html>"),
        httpx.Response(200, json={"id": "s", "url": "http://plain.test/"}),
        httpx.Response(200, json=["https://kyc.test/"]),
    ],
)
async def test_a_failing_provider_is_unavailable_and_changes_nothing(
    payments, container, clock, answer
):
    user = await make_user(container)
    provider = _provider(lambda request: answer)
    try:
        with pytest.raises(KycProviderError):
            await kyc.start_verification(_kyc_deps(payments, clock, provider), user)
    finally:
        await provider.aclose()
    async with container.sessions() as session:
        assert (await session.get(User, user)).kyc_status == "none"


async def test_a_verified_player_cannot_start_again(payments, container, clock):
    user = await make_user(container, kyc="verified")
    provider = _provider(lambda request: httpx.Response(500))
    try:
        with pytest.raises(kyc.KycAlreadyVerified):
            await kyc.start_verification(_kyc_deps(payments, clock, provider), user)
    finally:
        await provider.aclose()
