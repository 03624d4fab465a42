"""The stored hands' use cases against in-memory fakes of their ports (`hand_fakes`): the
archive, the export, the rakeback settlement and VIP level, the daily figures and the sit check
need only the repository Protocols, never SQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from holdem.config import IntegritySettings
from holdem.ledger.rakeback import KST, SPEC_VIP_TIERS, kst_day_bounds, week_starting
from holdem.ports.hands import TableFacts
from holdem.services import archive, hand_export, hand_history, integrity, rakeback, stats, vip
from holdem.services.errors import NotFound, SharedIdentity
from tests.economy_hands import SHOWDOWN, play, record_of
from tests.unit.services.hand_fakes import FakeHands, FakeTransaction, MemoryStore, transactions

USERS = [101, 102, 103]
WEEK = week_starting(date(2026, 11, 16))
AT = WEEK.starts_at + timedelta(days=1, hours=3)


def _hands(db: FakeHands, *at: tuple[int, datetime]) -> list[int]:
    """Store one showdown per (table, start) hot; their ids."""
    played = play("abc", SHOWDOWN)
    ids = []
    for hand_id, (table_id, started_at) in enumerate(at, start=1):
        db.hot[hand_id] = record_of(played, USERS, started_at, hand_id, table_id)
        ids.append(hand_id)
    return ids


async def test_archived_hands_move_by_table_hour_and_load_by_id_as_they_were_hot():
    db = FakeHands()
    ids = _hands(db, (1, AT), (1, AT + timedelta(minutes=5)), (2, AT), (1, AT + timedelta(days=9)))
    originals = {i: db.hot[i] for i in ids}
    store = MemoryStore()

    report = await archive.archive_due_hands(transactions(db), store, AT + timedelta(days=8))

    assert (report.batches, report.hands) == (2, 3)
    assert sorted(db.hot) == [4]  # the recent one stays hot
    assert len(store.objects) == 2  # one object per table-hour
    tx = FakeTransaction(db)
    for i in ids:
        loaded = await archive.load_hand(tx, store, None, i)
        assert loaded == originals[i]
        assert loaded.archived is (i != 4)
    assert [h.id for h in await archive.load_hands(tx, store, None, [4, 2, 99, 1])] == [4, 2, 1]
    assert await archive.load_hand(tx, store, None, 99) is None


async def test_an_export_names_players_and_table_read_through_the_port():
    db = FakeHands(nicknames={101: "alice", 102: "bob", 103: "carol"})
    db.tables[7] = TableFacts("Seoul 1", 6)
    [hand_id] = _hands(db, (7, AT))
    tx = FakeTransaction(db)

    exported = await hand_export.export_hand(
        tx, MemoryStore(), None, 102, hand_id, hand_export.ExportFormat.POKERSTARS
    )

    expected = hand_export.to_pokerstars(db.hot[hand_id], db.nicknames, 102, db.tables[7])
    assert exported.body == expected
    assert "Table 'Seoul 1' 6-max" in exported.body
    assert "bob" in exported.body
    with pytest.raises(NotFound):
        await hand_export.export_hand(
            tx, MemoryStore(), None, 999, hand_id, hand_export.ExportFormat.OHH
        )


class CountingLedger:
    def __init__(self) -> None:
        self.keys: list[str] = []

    async def credit_rakeback(self, tx, *, key, **_):
        self.keys.append(key)
        return len(self.keys)


async def test_a_week_is_paid_once_at_the_level_the_player_is_shown():
    db = FakeHands()
    _hands(db, (1, AT), (1, AT + timedelta(hours=2)))
    tx = FakeTransaction(db)
    ledger = CountingLedger()

    first = await rakeback.settle_user(tx, ledger, 101, WEEK)
    again = await rakeback.settle_user(tx, ledger, 101, WEEK)

    assert (first.outcome, again.outcome) == (
        rakeback.SettleOutcome.PAID,
        rakeback.SettleOutcome.ALREADY_SETTLED,
    )
    assert ledger.keys == [rakeback.idempotency_key(101, WEEK)]
    assert await rakeback.plan_week(tx, WEEK) == [[102, 103]]
    shown, _ = await vip.status(tx, 101, WEEK.ends_at, 30, SPEC_VIP_TIERS)
    assert first.statement is not None
    assert shown.level is first.statement.level
    assert [s.ledger_transaction_id for s in await rakeback.statements_for_user(tx, 101)] == [1]


async def test_daily_figures_are_computed_from_the_port_and_read_back():
    day = AT.astimezone(KST).date()
    db = FakeHands()
    _hands(db, (1, AT), (2, AT + timedelta(hours=1)))
    tx = FakeTransaction(db)
    _, end = kst_day_bounds(day)

    figures = await stats.compute_daily_stats(tx, day, end + timedelta(hours=3))

    assert [(f.stakes, f.hands, f.active_players) for f in figures] == [
        ("1000/2000", 2, 3),
        (stats.ALL_STAKES, 2, 3),
    ]
    assert figures[0].rake == 2 * db.hot[1].rake
    assert await stats.read_daily_stats(tx, day, day) == figures


async def test_the_sit_check_refuses_a_device_shared_with_a_seated_player():
    db = FakeHands(now=datetime(2026, 11, 30, tzinfo=UTC))
    db.seated[5] = [101]
    tx = FakeTransaction(db)
    await integrity.record_login(tx, 101, "203.0.113.9", "device-a")
    await integrity.record_login(tx, 102, "198.51.100.7", "device-a")
    await integrity.record_login(tx, 103, "198.51.100.8", "device-c")
    settings = IntegritySettings(block_shared_identity_at_sit=True)
    now = db.now + timedelta(minutes=1)

    with pytest.raises(SharedIdentity):
        await integrity.check_sit(tx, settings, 5, 102, now)
    await integrity.check_sit(tx, settings, 5, 103, now)  # nothing shared: allowed
    await integrity.check_sit(tx, IntegritySettings(), 5, 102, now)  # not blocked by default


class ArchivedOnlyHistory:
    """`HandHistoryReads` with no hot hand: every hand is read through the archive."""

    def __init__(self, names: dict[int, str]) -> None:
        self.names = names

    async def summaries(self, user_id, after, limit):
        return []

    async def hot_hand(self, hand_id):
        return None

    async def nicknames(self, user_ids):
        return {u: self.names[u] for u in user_ids if u in self.names}


async def test_an_archived_hand_shows_its_player_only_their_own_and_the_shown_cards():
    db = FakeHands()
    [hand_id] = _hands(db, (1, AT))
    record = db.hot[hand_id]
    reads = ArchivedOnlyHistory({101: "alice", 102: "bob", 103: "carol"})

    async def archived(wanted: int):
        return record if wanted == hand_id else None

    detail = await hand_history.get_hand(reads, 103, hand_id, archived)

    shown = {p.seat_no for p in record.players if p.shown}
    assert [p.nickname for p in detail.players] == ["alice", "bob", "carol"]
    assert detail.players[0].hole_cards is None  # seat 0 did not show its cards
    for player in detail.players:
        visible = player.user_id == 103 or player.seat_no in shown
        assert (player.hole_cards is not None) is visible
    assert all(e.type != "hole_cards" or e.seat_no in shown | {2} for e in detail.events)
    assert (await hand_history.list_hands(reads, 103, None, 20)).items == []
    with pytest.raises(NotFound):
        await hand_history.get_hand(reads, 999, hand_id, archived)
