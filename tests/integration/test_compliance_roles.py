"""The compliance writes run under the component roles (migration 0009's grants): the
payments component files AML flags when it credits a deposit; the API requests a held
withdrawal, records a KYC event and sets a status."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx
from pydantic import SecretStr

from holdem.adapters.rates import RateService, UpbitProvider
from holdem.adapters.repositories.transaction import SqlTransaction
from holdem.bootstrap import bootstrap
from holdem.config import AmlSettings, Settings
from holdem.payments import signatures
from holdem.services import aml, kyc
from holdem.services import withdrawals as wd
from tests.integration import test_component_roles as roles
from tests.payments_support import Market, utc_now

admin = roles.admin  # the fixtures of the roles' own tests: a superuser, a LOGIN member
login_as = roles.login_as
BTC_ADDRESS = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"


def _user(admin, tag: str, kyc_status: str = "none") -> int:
    return admin.execute(
        "insert into users (email, nickname, password_hash, kyc_status) "
        "values (%s, %s, 'x', %s) returning id",
        (f"{tag}@example.test", tag, kyc_status),
    ).fetchone()[0]


async def _credit(container, user_id: int, amount: int, tag: str):
    service = container.ledger
    return await service.credit_deposit(
        key=f"deposit:BTC:{tag}:0",
        user_id=user_id,
        amount=amount,
        coin="BTC",
        crypto_amount=Decimal(amount) / Decimal(100_000_000),
        rate_krw=Decimal(100_000_000),
        tx_hash=tag,
        address="bc1qroles",
    )


async def test_the_payments_component_files_deposit_flags(admin, login_as, redis_url):
    user_id = _user(admin, "amlpay")
    container = bootstrap(Settings(database_url=login_as("holdem_payments"), redis_url=redis_url))
    try:
        posted = await _credit(container, user_id, 10_000_000, "amlpay")
        async with container.sessions() as session, session.begin():
            await aml.on_deposit_credited(
                SqlTransaction(session),
                AmlSettings(),
                user_id=user_id,
                amount_krw=10_000_000,
                ledger_transaction_id=posted.transaction_id,
                now=utc_now(),
            )
    finally:
        await container.aclose()
    rows = admin.execute("select rule from aml_flags where user_id = %s", (user_id,)).fetchall()
    assert rows == [("large_deposit",)]


async def test_the_api_holds_withdrawals_and_records_kyc(admin, login_as, redis_url):
    first, second = _user(admin, "amlapi1"), _user(admin, "amlapi2")
    operator = _user(admin, "amlop")
    settings = Settings(database_url=login_as("holdem_api"), redis_url=redis_url)
    container = bootstrap(settings)
    provider = UpbitProvider("http://upbit", transport=httpx.MockTransport(Market()))
    container.rates = RateService(container.redis, [provider], cache_ttl_s=60, max_age_s=300)
    try:
        for n, user in enumerate((first, second)):
            await _credit(container, user, 200_000, f"amlapi{n}")
        deps = container.withdrawals()
        deps.money = deps.money.model_copy(update={"kyc_required_above_krw": 10_000})
        deps.aml = deps.aml.model_copy(update={"hold_rules": ("shared_address",)})
        views = [
            await wd.request_withdrawal(
                deps, user, amount_krw=50_000, coin="BTC", address=BTC_ADDRESS, idempotency_key="k"
            )
            for user in (first, second)
        ]
        assert [(v.status, v.kyc_required) for v in views] == [
            ("pending", True),
            ("held", True),
        ]
        kdeps = container.kyc()
        kdeps.kyc = kdeps.kyc.model_copy(update={"webhook_secret": SecretStr("s")})
        body = json.dumps(
            {
                "event_id": "roles-1",
                "reference": kyc.reference_of(first),
                "status": "verified",
                "occurred_at": utc_now().isoformat(),
            }
        ).encode()
        result = await kyc.record_event(kdeps, body, signatures.sign(body, "s"))
        assert result.outcome is kyc.EventOutcome.APPLIED
        await kyc.set_status(kdeps, operator, second, kyc.KycStatus.VERIFIED, "checked")
        [flag] = await _flags(container)
        async with container.sessions() as session:
            await aml.review(SqlTransaction(session), flag.id, operator, utc_now())
    finally:
        await container.aclose()
    held = admin.execute("select count(*) from withdrawals where kyc_hold").fetchone()
    assert held == (0,)


async def _flags(container):
    async with container.sessions() as session:
        return await aml.list_flags(SqlTransaction(session))
