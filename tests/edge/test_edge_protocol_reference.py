"""The protocol reference against a played game: what the table servers build themselves
(authenticated, snapshots with their clock, results, errors, turns, the lobby, pong) uses
every documented field; a command's result comes before the events it caused; bet and raise
are strict; the error codes name the problem. (Every message any edge test receives is
checked against the reference by the `clients` fixture; the engine's events are covered
field by field in tests/unit/protocol/test_protocol_reference.py.)"""

from __future__ import annotations

import pytest

from holdem.client import ClientError
from holdem.protocol.outgoing import (
    Authenticated,
    ChatLine,
    Clock,
    ErrorMessage,
    LegalActionsView,
    Lobby,
    LobbyTable,
    Pong,
    Result,
    Snapshot,
)
from holdem.protocol.outgoing import Turn as TurnModel
from tests.edge.conftest import fast_settings, url_of
from tests.edge.test_edge_failover import seen
from tests.protocol_models import Coverage, problems

BUY_IN = 200_000


async def test_a_played_game_sends_every_documented_field_results_first_and_strict_bets(
    start_edge, make_players, fund, make_table, clients, edge_settings
):
    slow = fast_settings(edge_settings, game={"action_clock_s": 30.0, "between_hands_s": 0.05})
    server = await start_edge(slow)
    players = await make_players(2)
    [watcher] = await make_players(1)
    await fund([p.user_id for p in players], 1_000_000)
    table_id = await make_table(seats=2)
    coverage = Coverage()

    def observe(message: dict) -> None:
        problems(message, coverage)

    a, b = (
        clients(url_of(server), p.token, record=True, encoding=e, on_message=observe)
        for p, e in zip(players, ("json", "msgpack"), strict=True)
    )
    await a.connect()
    await b.connect()
    await a.request({"type": "ping"})
    await a.subscribe_lobby()
    assert (await a.unsubscribe_lobby())["channel"] == "lobby"

    async def refused(client, code, message):
        with pytest.raises(ClientError) as raised:
            await client.request(message)
        assert raised.value.code == code, raised.value

    # A command for a table that is not open names it; for one not joined, says so.
    await refused(a, "table_not_found", {"type": "sit", "table_id": 10**9, "seat": 0, "buy_in": 1})
    await refused(a, "not_joined", {"type": "sit", "table_id": table_id, "seat": 0, "buy_in": 1})
    for seat, client in enumerate((a, b)):
        await client.join(table_id)
        assert (await client.sit(table_id, seat, BUY_IN))["seat"] == seat
    by_seat = {0: a, 1: b}

    async def turn(after: dict[int, int]) -> tuple[dict, object]:
        message = await seen(a, lambda m: m.get("event") == "turn", after=after[0])
        after[0] = a.received.index(message) + 1
        return message, by_seat[message["seat"]]

    cursor = {0: 0}
    first, actor = await turn(cursor)
    hand = first["hand"]
    assert first["legal"]["can_raise"]
    assert not first["legal"]["can_bet"]
    # Pre-flop the blinds are the bet: a bet is refused, not taken as a raise.
    await refused(
        actor,
        "cannot_bet",
        {
            "type": "act",
            "table_id": table_id,
            "hand": hand,
            "seq": 1,
            "action": "bet",
            "amount": 6_000,
        },
    )
    await refused(a, "not_between_hands", {"type": "top_up", "table_id": table_id, "amount": 1_000})
    # A reconnecting view mid-hand: the clock.
    assert (await b.join(table_id))["clock"]["seat"] == first["seat"]
    done = await actor.act(table_id, hand, "raise", 6_000)
    await seen(actor, lambda m: m.get("event") == "action" and m["amount"] == 6_000)
    # The result is read before the action it caused.
    order = [
        m.get("type") if m.get("type") == "result" else m.get("event")
        for m in actor.received
        if m.get("id") == done["id"] or (m.get("event") == "action" and m.get("amount") == 6_000)
    ]
    assert order == ["result", "action"]
    _, caller = await turn(cursor)
    await caller.act(table_id, hand, "call")
    flop, actor = await turn(cursor)
    assert flop["legal"]["can_bet"]
    assert not flop["legal"]["can_raise"]
    await refused(
        actor,
        "nothing_to_raise",
        {
            "type": "act",
            "table_id": table_id,
            "hand": hand,
            "seq": 99,
            "action": "raise",
            "amount": 2_000,
        },
    )
    await actor.act(table_id, hand, "bet", 2_000)
    _, caller = await turn(cursor)
    await caller.act(table_id, hand, "call")
    for _ in range(4):  # turn and river: check, check
        _, actor = await turn(cursor)
        await actor.act(table_id, hand, "check")
    street = await seen(a, lambda m: m.get("event") == "street_dealt")
    assert street["street"] == "flop"
    ended = await seen(a, lambda m: m.get("type") == "hand_result" and m["hand"] == hand)
    assert all({"amount", "eligible", "rake", "winners"} <= set(pot) for pot in ended["pots"])
    # Seating commands between and during hands.
    nxt, _ = await turn(cursor)
    assert nxt["hand"] == hand + 1
    await b.sit_out(table_id)
    await b.sit_in(table_id)
    assert (await b.reality_check_ack(table_id))["acknowledged"] is False  # none was due
    # A spectator waits for a seat at the full table, then gives up (docs/protocol.md,
    # "Wait lists"; seat_offered is checked in test_edge_wait_list.py).
    c = clients(url_of(server), watcher.token, on_message=observe)
    await c.connect()
    await c.join(table_id, as_="spectator")
    assert (await c.wait_list_join(table_id))["position"] == 1
    assert (await c.wait_list_leave(table_id))["removed"] is True
    left = await b.leave(table_id)
    assert left["left"] is False
    assert left["after_hand"] is True

    # Chat, and the mute list.
    assert (await a.chat(table_id, "gg"))["text"] == "gg"
    await seen(a, lambda m: m.get("type") == "chat")
    assert await a.mute(players[1].user_id) == [players[1].user_id]
    assert await a.unmute(players[1].user_id) == []

    for model in (Authenticated, Snapshot, Pong, Lobby, LobbyTable, TurnModel, Clock, ChatLine):
        assert coverage.missing(model) == set(), model.__name__
    assert coverage.missing(LegalActionsView) == set()
    assert coverage.missing(Result) == set()
    assert coverage.missing(ErrorMessage) == set()
