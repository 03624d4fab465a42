"""Fixtures of the ledger tests: a migrated database with users and tables to move money for."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from decimal import Decimal

import pytest
from sqlalchemy import text

from holdem.bootstrap import Container
from holdem.services import ledger
from holdem.services.ledger import LedgerService, Posted

_ids = itertools.count(1)


@dataclass
class LedgerWorld:
    """The service plus helpers to create owners and fund wallets."""

    container: Container
    service: LedgerService

    async def user(self) -> int:
        n = next(_ids)
        async with self.container.sessions.begin() as session:
            found = await session.execute(
                text(
                    "insert into users (email, nickname, password_hash) "
                    "values (:e, :n, 'x') returning id"
                ),
                {"e": f"p{n}@example.test", "n": f"player{n}"},
            )
            return int(found.scalar_one())

    async def table(self) -> int:
        async with self.container.sessions.begin() as session:
            found = await session.execute(
                text(
                    "insert into poker_tables (name, small_blind, big_blind, max_seats, "
                    "min_buy_in, max_buy_in, rake_rate_bps, rake_cap) "
                    "values ('t', 1000, 2000, 6, 80000, 200000, 500, 6000) returning id"
                )
            )
            return int(found.scalar_one())

    async def deposit(self, user_id: int, amount: int, key: str | None = None) -> Posted:
        key = key or f"deposit:BTC:{user_id}:{next(_ids)}"
        return await self.service.credit_deposit(
            key=key,
            user_id=user_id,
            amount=amount,
            coin="BTC",
            crypto_amount=Decimal(amount) / Decimal(100_000_000),
            rate_krw=Decimal(100_000_000),
            tx_hash=f"tx-{key}",
            address="bc1qexampleaddress",
        )

    async def assert_sound(self) -> None:
        report = await self.service.conservation_report()
        assert report.violations == []
        chain = await self.service.verify_audit_chain()
        assert chain.problems == []


@pytest.fixture
async def world(container: Container) -> LedgerWorld:
    return LedgerWorld(container, container.ledger)


__all__ = ["LedgerWorld", "ledger"]
