"""The owner's shortcut (docs/ARCHITECTURE.md, "The hot path"): an ``act`` sent to the server
that runs the table goes straight to the table's mailbox, not through its Redis stream, and
what the table produces reaches that server's own connections without the pub/sub round
trip. Neither may lose an action, apply one twice or deliver a message twice."""

from __future__ import annotations

import msgpack
import pytest

from tests.edge.conftest import fast_settings, url_of
from tests.edge.test_edge_failover import seen, wait_until
from tests.edge.test_edge_resend import choice, heads_up_on, owned_by


@pytest.fixture
def edge_settings(settings):
    # A clock long enough that only the test decides when a player acts.
    return fast_settings(settings, game={"action_clock_s": 60.0, "time_bank_s": 0.0})


async def inbox_commands(redis, table_id: int) -> list[dict]:
    entries = await redis.xrange(f"ws:table:{table_id}:inbox")
    return [msgpack.unpackb(fields[b"c"], raw=False) for _id, fields in entries]


async def play_one_hand(table_id: int, seated) -> tuple[int, list[str]]:
    """Check or call every turn of the next hand through its player's client; returns the
    hand number and the ids of the acts sent."""
    watcher = seated[0]
    turn = await seen(watcher, lambda m: m.get("event") == "turn", 30)
    hand, sent, mark = turn["hand"], [], 0
    while True:
        mark = watcher.received.index(turn) + 1
        sent.append(
            await seated[turn["seat"]].send_command(
                {
                    "type": "act",
                    "table_id": table_id,
                    "hand": hand,
                    "decision": turn["decision"],
                    "seq": len(sent) + 1,
                    "action": choice(turn),
                }
            )
        )
        turn = await seen(
            watcher,
            lambda m: (
                (m.get("event") == "turn" and m["hand"] == hand)
                or (m.get("type") == "hand_result" and m["hand"] == hand)
            ),
            30,
            after=mark,
        )
        if turn.get("type") == "hand_result":
            return hand, sent


async def test_acts_on_the_owners_own_sockets_skip_the_stream_and_every_message_comes_once(
    start_edge, make_players, fund, make_table, clients, container
):
    server = await start_edge()
    table_id, seated = await heads_up_on(
        [url_of(server)] * 2, make_players, fund, make_table, clients
    )

    hand, sent = await play_one_hand(table_id, seated)

    # Only the joins and sits went through the stream.
    kinds = [command["kind"] for command in await inbox_commands(container.redis, table_id)]
    assert "act" not in kinds
    assert kinds.count("sit") == 2
    for client in seated:
        results = [m["id"] for m in client.received if m.get("type") == "result"]
        assert len(results) == len(set(results))  # each answer once
        actions = [
            m for m in client.received if m.get("event") == "action" and m.get("hand") == hand
        ]
        # Every act's action event once (not again when pub/sub brings the copy back).
        assert len([m for m in actions if m["kind"] in ("check", "call")]) == len(sent)
        hand_results = [m for m in client.received if m.get("type") == "hand_result"]
        assert [m["hand"] for m in hand_results].count(hand) == 1


async def test_a_local_act_applied_by_an_owner_that_lost_its_table_is_applied_once_by_the_next(
    start_edge, make_players, fund, make_table, clients, container
):
    server = await start_edge()
    table_id, seated = await heads_up_on(
        [url_of(server)] * 2, make_players, fund, make_table, clients
    )
    turn = await seen(seated[0], lambda m: m.get("event") == "turn", 30)
    redis = container.redis
    assert await owned_by(redis, table_id, server.worker_id)
    # Another worker holds the lease for 1.5 s: the owner's next checkpoint is refused, so
    # the act it takes now is applied in memory only and must reach the stream.
    await redis.set(f"ws:table:{table_id}:lease", "thief:999999999", px=1_500)
    player = seated[turn["seat"]]
    sent = await player.send_command(
        {
            "type": "act",
            "table_id": table_id,
            "hand": turn["hand"],
            "decision": turn["decision"],
            "seq": 1,
            "action": choice(turn),
        }
    )

    async def in_the_stream() -> bool:
        return any(c.get("rid") == sent for c in await inbox_commands(redis, table_id))

    await wait_until(in_the_stream, 10)
    # The borrowed lease expires; the server takes the table again from its checkpoint and
    # applies the act from the stream: one answer, one action event.
    result = await seen(player, lambda m: m.get("id") == sent, 30)
    assert result["type"] == "result"
    assert result["action"] == choice(turn)
    await wait_until(lambda: owned_by(redis, table_id, server.worker_id), 10)
    actions = [
        m
        for m in player.received
        if m.get("event") == "action"
        and m.get("hand") == turn["hand"]
        and m.get("seat") == turn["seat"]
        and m["kind"] == choice(turn)
    ]
    assert len(actions) == 1
    assert [m.get("id") for m in player.received].count(sent) == 1
