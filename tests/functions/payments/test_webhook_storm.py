"""The webhook storm (issue 7): every deposit credited exactly once, every bad delivery
refused with the right status, the ledger's conservation check clean."""

from __future__ import annotations

from collections import Counter

import httpx
from gateway_sim.storm import build_storm, send_storm
from sqlalchemy import func, select

from functions.deposit_webhook.handler import create_asgi_app
from holdem.adapters.orm.ledger import LedgerTransaction
from holdem.adapters.orm.payments import Deposit
from holdem.services import deposits
from tests.payments_support import PRICES, SECRET, balances, conservation_ok, make_user

EXPECTED_STATUS = {
    "forged": {(401, "invalid_signature")},
    "unsigned": {(401, "invalid_signature")},
    "stale": {(400, "stale_delivery")},
    "malformed": {(400, "malformed_body")},
    "invalid": {(422, "invalid_payload")},
    "unknown": {(202, "unmatched"), (200, "duplicate")},
    "good": {(202, "pending"), (200, "credited"), (200, "duplicate")},
}


async def test_a_storm_of_deliveries_credits_every_deposit_exactly_once(payments, container):
    addresses = {}
    for _ in range(25):
        user = await make_user(container)
        addresses[user] = {
            coin: (await deposits.deposit_address(payments.deposits, user, coin)).address
            for coin in ("BTC", "ETH", "USDT", "USDC")
        }
    prices = {coin: PRICES[f"KRW-{coin}"] for coin in ("BTC", "ETH", "USDT", "USDC")}
    storm = build_storm(SECRET, addresses, prices, outputs=100, unknown=8)
    assert len(storm.deliveries) > 1500

    app = create_asgi_app(lambda: payments.container)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://webhook") as client:
        result = await send_storm(client, storm, concurrency=25)

    assert result.delivered == len(storm.deliveries)
    for (kind, status, code), _count in result.by_kind_status.items():
        assert (status, code) in EXPECTED_STATUS[kind], (kind, status, code)
    credited = Counter({k: v for k, v in result.by_kind_status.items() if k[2] == "credited"})
    assert sum(credited.values()) == storm.known_outputs
    unmatched = sum(v for k, v in result.by_kind_status.items() if k[2] == "unmatched")
    assert unmatched == storm.unknown_outputs

    async with container.sessions() as session:
        rows = await session.execute(select(Deposit.status, func.count()).group_by(Deposit.status))
        by_status = dict(rows.all())
        ledger_credits = await session.scalar(
            select(func.count())
            .select_from(LedgerTransaction)
            .where(LedgerTransaction.kind == "crypto_deposit")
        )
    assert by_status == {"credited": storm.known_outputs, "unmatched": storm.unknown_outputs}
    assert ledger_credits == storm.known_outputs
    for user, won in storm.expected_krw.items():
        assert (await balances(container, user)).wallet == won
    await conservation_ok(container)
