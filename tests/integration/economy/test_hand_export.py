"""Hand-history export: PokerStars text parses back to the hand's money; others' cards hidden.

The parser below follows the conventions of the PokerStars format that tracking tools read
(header, seats, blinds, actions with raise-to amounts, uncalled bets, "collected ... from
pot", summary). It recomputes every player's net from the text alone; the test then
checks it against the ledger-facing ``hand_players.net`` the table server stored.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from holdem.adapters.archive_store import S3ArchiveStore
from holdem.adapters.orm.tables import PokerTable
from holdem.adapters.repositories.transaction import SqlTransaction
from holdem.services.archive import archive_due_hands, load_hand
from holdem.services.errors import InvalidInput, NotFound
from holdem.services.hand_export import ExportFormat, export_hand, export_range
from tests.economy_hands import (
    PREFLOP_FOLD,
    SHOWDOWN,
    SIDE_POT,
    make_table,
    make_users,
    play,
    store_hand,
)
from tests.economy_pokerstars import parse_pokerstars

AT = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(aws):
    client = boto3.client("s3", region_name="ap-northeast-2")
    client.create_bucket(
        Bucket="export-test", CreateBucketConfiguration={"LocationConstraint": "ap-northeast-2"}
    )
    return S3ArchiveStore(client, "export-test")


async def _two_hands(container):
    async with container.sessions() as session, session.begin():
        users = await make_users(session, 3)
        table = await make_table(session)
        showdown = await store_hand(session, table, users, play("abc", SHOWDOWN), AT)
        folded = await store_hand(
            session, table, users, play("abc", PREFLOP_FOLD), AT + timedelta(minutes=1)
        )
    return users, showdown, folded


async def test_a_side_pot_hand_parses_back_too(container, store):
    async with container.sessions() as session, session.begin():
        users = await make_users(session, 3)
        table = await make_table(session)
        played = play("abc", SIDE_POT, stacks={0: 80_000})
        hand_id = await store_hand(session, table, users, played, AT)
    assert len(played.result.pots) == 2
    async with container.sessions() as session:
        hand = await load_hand(SqlTransaction(session), store, None, hand_id)
        exported = await export_hand(
            SqlTransaction(session), store, None, users[0], hand_id, ExportFormat.POKERSTARS
        )
        ohh = await export_hand(
            SqlTransaction(session), store, None, users[0], hand_id, ExportFormat.OHH
        )
    assert "and is all-in" in exported.body
    assert "side pot-1" in exported.body
    facts = parse_pokerstars(exported.body)[0]
    name_of = {seat - 1: name for name, (seat, _) in facts["seats"].items()}
    assert {p.seat_no: facts["net"][name_of[p.seat_no]] for p in hand.players} == {
        p.seat_no: p.net for p in hand.players
    }
    assert facts["pot"] - facts["rake"] == facts["collected"]
    assert facts["rake"] == hand.rake
    assert ohh.media_type == "application/json"
    assert len(json.loads(ohh.body)["ohh"]["pots"]) == 2


async def test_pokerstars_export_parses_back_to_each_players_net_and_the_rake(container, store):
    users, showdown, folded = await _two_hands(container)
    async with container.sessions() as session:
        exported = await export_range(
            SqlTransaction(session),
            store,
            None,
            users[1],
            AT,
            AT + timedelta(hours=1),
            ExportFormat.POKERSTARS,
        )
        originals = {
            h: await load_hand(SqlTransaction(session), store, None, h) for h in (showdown, folded)
        }
    assert exported.hands == 2
    assert exported.filename.endswith(".txt")
    parsed = parse_pokerstars(exported.body)
    assert [p["id"] for p in parsed] == [showdown, folded]
    for facts in parsed:
        hand = originals[facts["id"]]
        name_of = {seat - 1: name for name, (seat, _) in facts["seats"].items()}
        assert {p.seat_no: facts["net"][name_of[p.seat_no]] for p in hand.players} == {
            p.seat_no: p.net for p in hand.players
        }
        assert facts["blinds"] == (1_000, 2_000)
        assert facts["button"] == hand.button_seat + 1
        assert facts["rake"] == hand.rake
        assert facts["pot"] - facts["rake"] == facts["collected"]
        assert sum(facts["net"].values()) == -hand.rake
        assert "".join(facts["board"]) == hand.board.replace(" ", "")
        assert facts["summary_board"] == facts["board"]


async def test_exports_show_only_the_viewers_cards_and_those_shown(container, store):
    _, showdown, _ = await _two_hands(container)
    async with container.sessions() as session:
        hand = await load_hand(SqlTransaction(session), store, None, showdown)
        mucker = next(p for p in hand.players if not p.shown)  # seat 0's aces were mucked
        viewer = next(p for p in hand.players if p.shown)
        text = (
            await export_hand(
                SqlTransaction(session),
                store,
                None,
                viewer.user_id,
                showdown,
                ExportFormat.POKERSTARS,
            )
        ).body
        ohh = (
            await export_hand(
                SqlTransaction(session), store, None, viewer.user_id, showdown, ExportFormat.OHH
            )
        ).body
        own = (
            await export_hand(
                SqlTransaction(session),
                store,
                None,
                mucker.user_id,
                showdown,
                ExportFormat.POKERSTARS,
            )
        ).body
    hidden = [mucker.hole_cards[:2], mucker.hole_cards[2:]]
    assert not any(re.search(rf"\b{card}\b", text) for card in hidden)  # not "Aces" for "Ac"
    assert not any(f'"{card}"' in ohh for card in hidden)
    facts = parse_pokerstars(text)[0]
    assert set(facts["dealt"]) == {
        name for name in facts["seats"] if facts["seats"][name][0] - 1 == viewer.seat_no
    }
    assert len(facts["shown"]) == 2
    assert f"[{hidden[0]} {hidden[1]}]" in own  # the mucker still sees their own cards


async def test_ohh_export_is_a_complete_document_in_krw(container, store):
    users, showdown, _ = await _two_hands(container)
    async with container.sessions() as session:
        exported = await export_hand(
            SqlTransaction(session), store, None, users[2], showdown, ExportFormat.OHH
        )
    ohh = json.loads(exported.body)["ohh"]
    assert ohh["currency"] == "KRW"
    assert ohh["game_number"] == str(showdown)
    assert [r["street"] for r in ohh["rounds"]] == ["Preflop", "Flop", "Turn", "River", "Showdown"]
    put = sum(
        a.get("amount", 0)
        for r in ohh["rounds"]
        for a in r["actions"]
        if a["action"] in {"Post SB", "Post BB", "Call", "Bet", "Raise"}
    )
    assert put == sum(p["amount"] for p in ohh["pots"])
    (pot,) = ohh["pots"]
    assert pot["amount"] - pot["rake"] == sum(w["win_amount"] for w in pot["player_wins"])
    dealt = [a for r in ohh["rounds"] for a in r["actions"] if a["action"] == "Dealt Cards"]
    assert [a["player_id"] for a in dealt] == [ohh["hero_player_id"]]


async def test_archived_hands_export_like_hot_ones(container, store):
    users, showdown, _ = await _two_hands(container)
    async with container.sessions() as session:
        before = await export_hand(
            SqlTransaction(session), store, None, users[0], showdown, ExportFormat.POKERSTARS
        )
    await archive_due_hands(container.transactions, store, AT + timedelta(days=9))
    async with container.sessions() as session:
        after = await export_hand(
            SqlTransaction(session),
            store,
            container.redis,
            users[0],
            showdown,
            ExportFormat.POKERSTARS,
        )
    assert after.body == before.body


async def test_someone_elses_hand_or_a_bad_range_is_refused(container, store):
    users, showdown, _ = await _two_hands(container)
    async with container.sessions() as session, session.begin():
        (stranger,) = await make_users(session, 1)
    async with container.sessions() as session:
        with pytest.raises(NotFound):
            await export_hand(
                SqlTransaction(session), store, None, stranger, showdown, ExportFormat.OHH
            )
        with pytest.raises(NotFound):
            await export_hand(
                SqlTransaction(session), store, None, users[0], 10**12, ExportFormat.OHH
            )
        with pytest.raises(InvalidInput):
            await export_range(
                SqlTransaction(session), store, None, users[0], AT, AT, ExportFormat.OHH
            )
        with pytest.raises(InvalidInput):
            await export_range(
                SqlTransaction(session),
                store,
                None,
                users[0],
                AT.replace(tzinfo=None),
                AT,
                ExportFormat.OHH,
            )


async def test_many_hands_in_ohh_follow_the_storage_format_with_the_tables_name(container, store):
    users, showdown, folded = await _two_hands(container)
    async with container.sessions() as session:
        exported = await export_range(
            SqlTransaction(session),
            store,
            None,
            users[0],
            AT,
            AT + timedelta(hours=1),
            ExportFormat.OHH,
        )
        table_id = (await load_hand(SqlTransaction(session), store, None, showdown)).table_id
        table_name = (await session.get(PokerTable, table_id)).name
    assert exported.filename.endswith(".ohh")
    assert exported.media_type.startswith("text/plain")
    # One {"ohh": ...} document per hand, a blank line between (OHH "Storage Format").
    chunks = exported.body.rstrip("\n").split("\n\n")
    documents = [json.loads(chunk) for chunk in chunks]
    assert [d["ohh"]["game_number"] for d in documents] == [str(showdown), str(folded)]
    assert all("\n" not in chunk for chunk in chunks)
    assert {(d["ohh"]["table_handle"], d["ohh"]["table_name"]) for d in documents} == {
        (str(table_id), table_name)
    }
