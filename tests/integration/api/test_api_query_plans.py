"""EXPLAIN of the API's hot queries on a database seeded with realistic volumes: each one is
served by its index, never by a sequential scan of a big table.

The queries are the ones the services really send (captured from the engine), explained with
their real parameters after ANALYZE; the planner is left free (no enable_seqscan=off).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import psycopg
import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import make_url

from holdem.adapters.repositories.hands import SqlHandHistory
from holdem.adapters.repositories.ledger import SqlLedgerReads
from holdem.adapters.repositories.transaction import SqlTransaction
from holdem.bootstrap import bootstrap
from holdem.services import hand_history, ledger, lobby

USERS = 20_000
TABLES = 2_000
HANDS = 30_000
PLAYERS_PER_HAND = 6
LEDGER_TRANSACTIONS = 60_000

SEED = [
    f"""insert into users (email, nickname, password_hash)
        select 'u' || n || '@example.com', 'u' || n, 'x' from generate_series(1, {USERS}) n""",
    f"""insert into poker_tables (name, small_blind, big_blind, max_seats, min_buy_in,
            max_buy_in, rake_rate_bps, rake_cap, status, created_at)
        select 't' || n, sb, sb * 2, 6, sb * 80, sb * 200, 500, sb * 6,
               case when n % 10 = 0 then 'open' else 'closed' end,
               now() - make_interval(mins => n)
        from generate_series(1, {TABLES}) n,
             lateral (select (array[1000, 5000, 25000])[1 + n % 3] as sb) s""",
    """insert into seats (table_id, seat_no, user_id)
        select t.id, s, 1 + (t.id * 6 + s) % 20000
        from poker_tables t, generate_series(0, 2) s where t.status = 'open'""",
    f"""insert into hands (table_id, hand_no, started_at, ended_at, small_blind, big_blind,
            button_seat, board, total_pot, rake, deck_commitment, deck_seed, result)
        select 1 + n % {TABLES}, n, now() - make_interval(secs => n * 20),
               now() - make_interval(secs => n * 20 - 15), 1000, 2000, 0, 'AhKh2c7d9s',
               20000, 1000, repeat('c', 64), repeat('s', 64), '{{}}'::jsonb
        from generate_series(1, {HANDS}) n""",
    f"""insert into hand_players (hand_id, seat_no, user_id, started_at, hole_cards, shown,
            net, rake_share)
        select h.id, s, 1 + (h.id * 7 + s * 131) % {USERS}, h.started_at, 'AsAd', false, 0, 10
        from hands h, generate_series(0, {PLAYERS_PER_HAND - 1}) s""",
    """insert into hand_events (hand_id, seq_no, type, seat_no, payload)
        select h.id, e, 'bet', e % 6, '{"amount": 2000}'::jsonb
        from hands h, generate_series(1, 12) e""",
    """insert into ledger_accounts (key, kind, user_id, balance)
        select 'wallet:' || id, 'wallet', id, 0 from users""",
    """insert into ledger_accounts (key, kind, coin, lane, balance)
        values ('gateway_clearing:BTC', 'gateway_clearing', 'BTC', 0, 0)""",
    f"""insert into ledger_transactions (kind, idempotency_key, request_hash, user_id, lane,
            metadata, created_at)
        select 'crypto_deposit', 'seed:' || n, repeat('0', 64), 1 + n % {USERS}, 0,
               '{{"coin": "BTC"}}'::jsonb, now() - make_interval(secs => n)
        from generate_series(1, {LEDGER_TRANSACTIONS}) n""",
    """insert into ledger_entries (transaction_id, account_id, user_id, amount, balance_after)
        select t.id, a.id, t.user_id, 1000, 1000
        from ledger_transactions t join ledger_accounts a on a.key = 'wallet:' || t.user_id
        union all
        select t.id, c.id, null, -1000, 0
        from ledger_transactions t, ledger_accounts c where c.key = 'gateway_clearing:BTC'""",
]


@pytest.fixture(scope="module")
def seeded_url(postgres, migrated_template):
    """One seeded database for the module (seeding takes seconds; the tests only read)."""
    name = f"plans_{uuid.uuid4().hex[:12]}"
    with postgres.admin() as admin:
        admin.execute(f'create database "{name}" template "{migrated_template}"')
    url = postgres.url_for(name)
    plain = make_url(url).set(drivername="postgresql").render_as_string(False)
    try:
        with psycopg.connect(plain, autocommit=True) as conn:
            for statement in SEED:
                conn.execute(statement)
            conn.execute("analyze")
        yield url
    finally:
        with postgres.admin() as admin:
            admin.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture
async def seeded(seeded_url, settings):
    container = bootstrap(settings.model_copy(update={"database_url": seeded_url}))
    try:
        yield container
    finally:
        await container.aclose()


async def _plans_of(container, run) -> list[dict[str, Any]]:
    """Run a service call, capture every SELECT it sends, and EXPLAIN each one."""
    captured: list[tuple[str, Any]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().lower().startswith("select"):
            captured.append((statement, parameters))

    event.listen(container.engine.sync_engine, "before_cursor_execute", capture)
    try:
        async with container.sessions() as db:
            await run(db)
    finally:
        event.remove(container.engine.sync_engine, "before_cursor_execute", capture)
    plans = []
    async with container.engine.connect() as conn:
        for statement, parameters in captured:
            result = await conn.exec_driver_sql("explain (format json) " + statement, parameters)
            plans.append(json.loads(json.dumps(result.scalar_one()))[0]["Plan"])
    return plans


def _nodes(plan: dict[str, Any]):
    yield plan
    for child in plan.get("Plans", ()):
        yield from _nodes(child)


def _scans(plans) -> tuple[set[str], set[str]]:
    indexes, seq_scanned = set(), set()
    for plan in plans:
        for node in _nodes(plan):
            if "Index Name" in node:
                indexes.add(node["Index Name"])
            if node["Node Type"] == "Seq Scan":
                seq_scanned.add(node["Relation Name"])
    return indexes, seq_scanned


BIG = {
    "poker_tables",
    "seats",
    "hands",
    "hand_players",
    "hand_events",
    "ledger_entries",
    "ledger_transactions",
    "users",
}


async def test_lobby_listing_uses_the_status_created_at_index(seeded):
    plans = await _plans_of(
        seeded,
        lambda db: lobby.list_tables(
            SqlTransaction(db), lobby.TableFilter(status="open"), None, 50
        ),
    )
    indexes, seq = _scans(plans)
    assert "ix_poker_tables_status_created_at" in indexes
    assert not seq & BIG, seq


async def test_lobby_listing_by_stakes_still_walks_the_index(seeded):
    where = lobby.TableFilter(status="open", big_blind=2_000, min_free_seats=1)
    indexes, seq = _scans(
        await _plans_of(seeded, lambda db: lobby.list_tables(SqlTransaction(db), where, None, 50))
    )
    assert "ix_poker_tables_status_created_at" in indexes
    assert not seq & BIG, seq


async def test_my_hands_use_the_user_started_at_index(seeded):
    plans = await _plans_of(
        seeded, lambda db: hand_history.list_hands(SqlHandHistory(db), 42, None, 20)
    )
    indexes, seq = _scans(plans)
    assert "ix_hand_players_user_id_started_at" in indexes
    assert not seq & BIG, seq


async def test_one_hand_uses_primary_keys(seeded):
    async with seeded.sessions() as db:
        hand_id = (
            await db.execute(text("select hand_id from hand_players where user_id = 42 limit 1"))
        ).scalar_one()
    plans = await _plans_of(
        seeded, lambda db: hand_history.get_hand(SqlHandHistory(db), 42, hand_id)
    )
    indexes, seq = _scans(plans)
    assert {"pk_hand_players", "pk_hand_events"} <= indexes
    assert not seq & BIG, seq


async def test_wallet_statement_uses_the_user_entry_index(seeded):
    plans = await _plans_of(
        seeded, lambda db: ledger.transactions(SqlLedgerReads(db), 42, limit=50)
    )
    indexes, seq = _scans(plans)
    assert "ix_ledger_entries_user_id_id" in indexes
    assert not seq & BIG, seq
