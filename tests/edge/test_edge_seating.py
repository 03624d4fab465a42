"""Seating over the protocol (POKER_RULES.md, "Entering a game"): a newcomer waits for the big
blind or posts one to be dealt in at once; a player back from sitting out posts the blinds
they missed (big blind live, small blind dead) or waits for the big blind."""

from __future__ import annotations

import pytest

from holdem.client import ClientError, TableClient
from holdem.services.table_runtime import TableMoney
from tests.edge.conftest import fast_settings, url_of

BUY_IN = 200_000
BIG_BLIND = 2_000


async def seated_table(container, start_edge, make_players, fund, make_table, clients, settings):
    """Five players already seated at seats 0-4 of a 9-seat table (through the ledger, so the
    first hand deals all five from button 0: small blind 1, big blind 2), a newcomer
    connected, and the table's first hand running with a 30 s clock (nothing times out)."""
    server = await start_edge(settings)
    players = await make_players(6)
    await fund([p.user_id for p in players], 1_000_000)
    table_id = await make_table(seats=9)
    money = TableMoney(container.transactions, container.settlements)
    for seat, player in enumerate(players[:5]):
        await money.sit(table_id, seat, player.user_id, BUY_IN, key=f"seat-{table_id}-{seat}")
    by_seat: dict[int, TableClient] = {}
    for seat, player in enumerate(players):
        client = clients(url_of(server), player.token, record=True)
        await client.connect()
        await client.join(table_id)
        by_seat[seat if seat < 5 else 7] = client
    # Seat 0 joined first (its join started the table's owner): it saw the first hand start.
    first = await by_seat[0].wait_for(lambda m: m.get("event") == "hand_started")
    assert (first["button"], first["small_blind_seat"], first["big_blind_seat"]) == (0, 1, 2)
    return table_id, by_seat, first["hand_number"]


async def fold_to_the_end(table_id: int, by_seat: dict[int, TableClient], hand: int) -> None:
    """Everyone to act folds until hand `hand` is over (the snapshot says whose turn it is)."""
    watcher = by_seat[7]
    while True:
        snapshot = await watcher.join(table_id)
        if snapshot["hand_number"] != hand or not snapshot["running"]:
            return
        await by_seat[snapshot["to_act"]].act(table_id, hand, "fold")


async def next_hand(client: TableClient, after: int) -> tuple[dict, list[dict]]:
    """The next `hand_started` after hand `after`, and the blinds posted before its first turn."""
    started = await client.wait_for(
        lambda m: m.get("event") == "hand_started" and m["hand_number"] > after
    )
    blinds = []
    while True:
        message = await client.next_message()
        if message.get("hand") != started["hand_number"]:
            continue
        if message.get("event") == "turn":
            return started, blinds
        if message.get("event") == "blind_posted":
            blinds.append(message)


@pytest.mark.parametrize("post", [True, False], ids=["posts", "waits"])
async def test_a_newcomer_who_posts_plays_the_next_hand_and_one_who_waits_does_not(
    post, container, start_edge, make_players, fund, make_table, clients, edge_settings
):
    slow = fast_settings(edge_settings, game={"action_clock_s": 30.0, "between_hands_s": 0.05})
    table_id, by_seat, hand = await seated_table(
        container, start_edge, make_players, fund, make_table, clients, slow
    )
    newcomer = by_seat[7]
    # Seat 7 is neither between the next button (1) and small blind (2) nor the next big
    # blind (3) or the one after it (4): posting lets them play hand 2 at once.
    answer = await newcomer.sit(table_id, 7, BUY_IN, post=post)
    assert answer["status"] == ("posting" if post else "waiting")
    snapshot = await newcomer.join(table_id)
    assert snapshot["seats"][7]["status"] == answer["status"]
    await fold_to_the_end(table_id, by_seat, hand)
    started, blinds = await next_hand(newcomer, hand)
    assert started["big_blind_seat"] == 3
    if post:
        assert 7 in started["seats"]
        posted = [(b["seat"], b["blind"], b["amount"]) for b in blinds if b["seat"] == 7]
        assert posted == [(7, "posted_big_blind", BIG_BLIND)]
        assert (await newcomer.join(table_id))["seats"][7]["status"] == "active"
    else:
        assert 7 not in started["seats"]
        assert (await newcomer.join(table_id))["seats"][7]["status"] == "waiting"


async def test_a_player_back_from_sitting_out_posts_the_missed_blinds_or_waits(
    container, start_edge, make_players, fund, make_table, clients, edge_settings
):
    slow = fast_settings(edge_settings, game={"action_clock_s": 30.0, "between_hands_s": 0.05})
    table_id, by_seat, hand = await seated_table(
        container, start_edge, make_players, fund, make_table, clients, slow
    )
    away = by_seat[3]
    await away.sit_out(table_id)
    # Hand 2: the big blind passes seat 3 (sitting out), who now owes both blinds.
    await fold_to_the_end(table_id, by_seat, hand)
    started, _ = await next_hand(away, hand)
    assert 3 not in started["seats"]
    assert started["big_blind_seat"] == 4
    # Coming back without posting: still waiting for the big blind.
    back = await away.sit_in(table_id)
    assert back["status"] == "waiting"
    # Changing one's mind: post the missed blinds to play before the big blind comes round.
    back = await away.sit_in(table_id, post=True)
    assert back["status"] == "posting"
    # Hand 3 (button 2, small blind 4, big blind 0): seat 3 sits between the button and the
    # small blind, so it waits for the button to pass.
    await fold_to_the_end(table_id, by_seat, started["hand_number"])
    started, _ = await next_hand(away, started["hand_number"])
    assert (started["button"], started["small_blind_seat"], started["big_blind_seat"]) == (2, 4, 0)
    assert 3 not in started["seats"]
    # Hand 4 (big blind 1): seat 3 is dealt in, two hands before the big blind would reach it.
    await fold_to_the_end(table_id, by_seat, started["hand_number"])
    started, blinds = await next_hand(away, started["hand_number"])
    assert started["big_blind_seat"] == 1
    assert 3 in started["seats"]
    posted = sorted((b["blind"], b["amount"]) for b in blinds if b["seat"] == 3)
    assert posted == [("dead_small_blind", 1_000), ("posted_big_blind", BIG_BLIND)]


async def test_post_must_be_a_boolean(
    start_edge, make_players, fund, make_table, clients, edge_settings
):
    server = await start_edge()
    [player] = await make_players(1)
    await fund([player.user_id], 1_000_000)
    table_id = await make_table()
    client = clients(url_of(server), player.token)
    await client.connect()
    await client.join(table_id)
    for bad in ("yes", 1, None):
        with pytest.raises(ClientError) as raised:
            await client.request(
                {"type": "sit", "table_id": table_id, "seat": 0, "buy_in": BUY_IN, "post": bad}
            )
        assert raised.value.code == "invalid_message"
    snapshot = await client.join(table_id)
    assert snapshot["seats"][0]["player_id"] is None
