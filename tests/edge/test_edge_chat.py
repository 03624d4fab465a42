"""Table chat over the protocol, with real clients on two table servers (docs/protocol.md,
"Table chat"): a line reaches everyone at the table on either server, a spectator only
reads, a player's mute list hides lines on all their connections, an operator's mute is
refused with ``chat_muted`` and audited, and the lines are kept with the hand (for the
operator), never in the player's export."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from holdem.adapters.chat_store import ChatStore
from holdem.adapters.orm.admin import AdminAction
from holdem.adapters.orm.hands import Hand
from holdem.adapters.repositories.transaction import SqlTransaction
from holdem.client import ClientError, TableClient
from holdem.services import chat_moderation, hand_export
from holdem.services.table_runtime import TableMoney
from tests.edge.conftest import fast_settings, url_of

BUY_IN = 200_000


class HotHandsOnly:
    """The archive store of a test whose hands are all hot (never read)."""

    async def get(self, key: str) -> bytes:
        raise AssertionError(f"a hot hand read the archive ({key})")

    async def put(self, key: str, body: bytes) -> None:
        raise AssertionError("nothing is archived here")


@dataclass
class ChatTable:
    table_id: int
    users: list[int]
    """Seat 0's user (on server A), seat 1's (on server B), the spectator (on B)."""
    seat0: TableClient
    seat1: TableClient
    spectator: TableClient
    url_a: str
    tokens: list[str]


@pytest.fixture
async def chat_table(container, start_edge, make_players, fund, make_table, clients, edge_settings):
    """Two players seated (through the ledger) and a spectator, on two servers; a 30 s clock,
    so nothing times out while the test talks."""
    slow = fast_settings(edge_settings, game={"action_clock_s": 30.0, "between_hands_s": 0.05})
    server_a, server_b = await start_edge(slow), await start_edge(slow)
    players = await make_players(3)
    await fund([p.user_id for p in players[:2]], 1_000_000)
    table_id = await make_table(seats=6)
    money = TableMoney(container.transactions, container.settlements)
    for seat, player in enumerate(players[:2]):
        await money.sit(table_id, seat, player.user_id, BUY_IN, key=f"chat-{table_id}-{seat}")
    seat0 = clients(url_of(server_a), players[0].token)
    seat1 = clients(url_of(server_b), players[1].token)
    spectator = clients(url_of(server_b), players[2].token)
    for client, role in ((seat0, "player"), (seat1, "player"), (spectator, "spectator")):
        await client.connect()
        await client.join(table_id, as_=role)
    return ChatTable(
        table_id,
        [p.user_id for p in players],
        seat0,
        seat1,
        spectator,
        url_of(server_a),
        [p.token for p in players],
    )


async def lines_until(client: TableClient, last: str) -> list[tuple[int, str]]:
    """The chat lines `client` receives up to the one whose text is `last`."""
    lines = []
    while True:
        message = await client.wait_for(lambda m: m["type"] == "chat")
        lines.append((message["user_id"], message["text"]))
        if message["text"] == last:
            return lines


async def test_a_line_reaches_everyone_at_the_table_on_both_servers_and_a_spectator_only_reads(
    chat_table,
):
    t = chat_table
    answer = await t.seat0.chat(t.table_id, "  gl <b>hf</b>\u202e\n")
    assert answer["text"] == "gl <b>hf</b>"  # cleaned, never interpreted
    for client in (t.seat1, t.spectator, t.seat0):
        line = await client.wait_for(lambda m: m["type"] == "chat")
        assert line == {
            "type": "chat",
            "table_id": t.table_id,
            "user_id": t.users[0],
            "seat": 0,
            "text": "gl <b>hf</b>",
            "at": line["at"],
        }

    with pytest.raises(ClientError) as refused:
        await t.spectator.chat(t.table_id, "can I talk?")
    assert refused.value.code == "chat_not_allowed"
    await t.seat1.chat(t.table_id, "after")
    assert await lines_until(t.seat0, "after") == [(t.users[1], "after")]


async def test_a_players_mute_hides_the_muted_players_lines_on_every_connection_of_theirs(
    chat_table, clients
):
    t = chat_table
    assert await t.seat1.mute(t.users[0]) == [t.users[0]]
    # Another connection of the muting player, on the other server: the list follows them.
    other = clients(t.url_a, t.tokens[1])
    await other.connect()
    await other.join(t.table_id)

    await t.seat0.chat(t.table_id, "hidden")
    await t.seat1.chat(t.table_id, "visible")
    assert await lines_until(t.seat1, "visible") == [(t.users[1], "visible")]
    assert await lines_until(other, "visible") == [(t.users[1], "visible")]
    # Only the muter stops hearing them: the others, the muted player included, do not.
    expected = [(t.users[0], "hidden"), (t.users[1], "visible")]
    assert await lines_until(t.spectator, "visible") == expected
    assert await lines_until(t.seat0, "visible") == expected

    assert await t.seat1.unmute(t.users[0]) == []
    await t.seat0.chat(t.table_id, "back")
    assert await lines_until(t.seat1, "back") == [(t.users[0], "back")]
    with pytest.raises(ClientError) as refused:
        await t.seat1.mute(t.users[1])
    assert refused.value.code == "invalid_message"


async def test_an_operators_mute_is_audited_and_refuses_the_players_lines_until_lifted(
    chat_table, container
):
    t = chat_table
    store, operator = ChatStore(container.redis), t.users[2]
    async with container.sessions() as db:
        until = await chat_moderation.mute_player(
            SqlTransaction(db),
            store,
            actor_id=operator,
            user_id=t.users[0],
            minutes=30,
            reason="abuse at table",
            now=datetime.now(UTC),
        )

    with pytest.raises(ClientError) as refused:
        await t.seat0.chat(t.table_id, "let me speak")
    assert refused.value.code == "chat_muted"
    assert (
        str(refused.value) == f"chat_muted: an operator muted your chat until {until.isoformat()}"
    )
    async with container.sessions() as db:
        [action] = (
            await db.scalars(select(AdminAction).where(AdminAction.target_user_id == t.users[0]))
        ).all()
    assert (action.actor_id, action.action) == (operator, "chat_mute")
    assert action.details == {
        "minutes": 30,
        "until": until.isoformat(),
        "reason": "abuse at table",
    }

    async with container.sessions() as db:
        await chat_moderation.unmute_player(
            SqlTransaction(db), store, actor_id=operator, user_id=t.users[0], reason="appeal"
        )
    assert (await t.seat0.chat(t.table_id, "thanks"))["text"] == "thanks"


async def test_the_lines_are_kept_with_the_hand_for_the_operator_and_not_in_the_export(
    chat_table, container
):
    t = chat_table
    started = await t.seat0.wait_for(lambda m: m.get("event") == "hand_started")
    hand = started["hand_number"]
    await t.seat0.chat(t.table_id, "i have aces")
    turn = await t.seat0.wait_for(lambda m: m.get("event") == "turn" and m["hand"] == hand)
    to_act = t.seat0 if turn["seat"] == 0 else t.seat1
    await to_act.act(t.table_id, hand, "fold", decision=turn["decision"])
    # The next hand is dealt only once this one is settled in PostgreSQL.
    await t.seat0.wait_for(lambda m: m.get("event") == "hand_started" and m["hand"] > hand)

    async with container.sessions() as db:
        row = await db.scalar(select(Hand).where(Hand.table_id == t.table_id, Hand.hand_no == hand))
        assert row is not None
        assert [(line["user_id"], line["seat"], line["text"]) for line in row.chat] == [
            (t.users[0], 0, "i have aces")
        ]
        record = await chat_moderation.hand_chat(SqlTransaction(db), HotHandsOnly(), None, row.id)
        assert [line["text"] for line in record.chat] == ["i have aces"]
        for fmt in hand_export.ExportFormat:
            exported = await hand_export.export_hand(
                SqlTransaction(db), HotHandsOnly(), None, t.users[0], row.id, fmt
            )
            assert exported.hands == 1
            assert "aces" not in exported.body
