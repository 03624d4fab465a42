"""The table servers' part in the integrity signals (docs/integrity.md): each connection's
address and device id recorded at ``auth`` (as the table servers' own database login), a
``sit`` refused with ``shared_identity`` when the operator blocks it and a seated player
shares the newcomer's device, and every decision of a hand stored with its time."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from holdem.adapters.orm.hands import Hand, HandEvent
from holdem.adapters.orm.integrity import PlayerLogin
from holdem.client import ClientError
from tests.edge.conftest import assert_every_won_kept, fast_settings, url_of

BUY_IN = 200_000
FUNDS = 1_000_000


async def _logins(container, user_ids):
    async with container.sessions() as session:
        stmt = select(PlayerLogin.user_id, PlayerLogin.ip, PlayerLogin.device_id).where(
            PlayerLogin.user_id.in_(user_ids)
        )
        return sorted((await session.execute(stmt)).all())


async def test_a_shared_device_is_refused_a_seat_when_the_operator_blocks_it_and_moves_nothing(
    container, start_edge, make_players, fund, make_table, clients, edge_settings
):
    settings = fast_settings(
        edge_settings,
        integrity={"block_shared_identity_at_sit": True},
        game={"action_clock_s": 30.0, "time_bank_s": 0.0, "between_hands_s": 0.05},
    )
    server = await start_edge(settings)
    first, twin, other = await make_players(3)
    ids = [first.user_id, twin.user_id, other.user_id]
    await fund(ids, FUNDS)
    table_id = await make_table(seats=6)
    connected = {}
    for player, device in ((first, "phone-1"), (twin, "phone-1"), (other, "tablet-9")):
        client = clients(url_of(server), player.token, device_id=device)
        await client.connect()
        await client.join(table_id)
        connected[player.user_id] = client
    # In-process servers see the test's loopback address; no proxy is trusted by default.
    assert await _logins(container, ids) == [
        (first.user_id, "127.0.0.1", "phone-1"),
        (twin.user_id, "127.0.0.1", "phone-1"),
        (other.user_id, "127.0.0.1", "tablet-9"),
    ]
    await connected[first.user_id].sit(table_id, 0, BUY_IN)
    with pytest.raises(ClientError) as refused:
        await connected[twin.user_id].sit(table_id, 1, BUY_IN)
    assert refused.value.code == "shared_identity"
    assert "phone" not in refused.value.message["message"]  # names no device, no player
    # All three share 127.0.0.1 here, so the address alone would refuse the third too: the
    # operator's block is by address or device, and this test's clients share an address.
    with pytest.raises(ClientError) as by_address:
        await connected[other.user_id].sit(table_id, 1, BUY_IN)
    assert by_address.value.code == "shared_identity"
    await assert_every_won_kept(container, ids, FUNDS)


async def test_every_decision_of_a_hand_is_stored_with_its_time_and_logins_without_a_device(
    container, start_edge, make_players, fund, make_table, clients, edge_settings
):
    server = await start_edge(
        fast_settings(
            edge_settings,
            game={"action_clock_s": 30.0, "time_bank_s": 0.0, "between_hands_s": 0.05},
        )
    )
    players = await make_players(2)
    ids = [p.user_id for p in players]
    await fund(ids, FUNDS)
    table_id = await make_table(seats=6)
    by_user = {}
    for seat, player in enumerate(players):
        client = clients(url_of(server), player.token, record=True)
        await client.connect()
        await client.join(table_id)
        await client.sit(table_id, seat, BUY_IN)
        by_user[player.user_id] = client
    watcher = by_user[ids[0]]
    turn = await watcher.wait_for(lambda m: m.get("event") == "turn")
    hand = turn["hand"]
    seat_user = {0: ids[0], 1: ids[1]}
    await by_user[seat_user[turn["seat"]]].act(table_id, hand, "fold")
    await watcher.wait_for(lambda m: m.get("type") == "hand_result" and m["hand"] == hand)
    assert await _logins(container, ids) == [(u, "127.0.0.1", None) for u in sorted(ids)]

    async def stored_actions():
        async with container.sessions() as session:
            stmt = (
                select(HandEvent.payload)
                .join(Hand, Hand.id == HandEvent.hand_id)
                .where(Hand.table_id == table_id, Hand.hand_no == hand, HandEvent.type == "action")
            )
            return list((await session.execute(stmt)).scalars())

    # Written behind the hand: the owner deals the next one only once its outbox is settled.
    await watcher.wait_for(lambda m: m.get("event") == "hand_started" and m["hand_number"] > hand)
    [fold] = await stored_actions()
    assert fold["kind"] == "fold"
    assert isinstance(fold["think_ms"], int)
    assert 0 <= fold["think_ms"] < 30_000
