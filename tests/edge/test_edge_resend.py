"""A server fault never costs a player a decision (SPEC §11): an action that reached a table's
inbox when its owner stopped is applied once by the next owner; an action lost with the
server that died is resent by the client after it reconnects; the new owner gives the turn
back with at least `GAME__TAKEOVER_MIN_CLOCK_S` left. Servers are real subprocesses
(`python -m edge`): SIGSTOP freezes an owner (it holds the command unread, as a dying server
would), SIGKILL kills it."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import pytest

from holdem.client import ClientError
from tests.edge.conftest import fast_settings
from tests.edge.test_edge_failover import seen, wait_until

BUY_IN = 200_000
MIN_CLOCK_S = 5.0


@pytest.fixture
def edge_settings(settings):
    # A clock long enough that only a fault could run it out.
    return fast_settings(
        settings,
        game={"action_clock_s": 60.0, "time_bank_s": 0.0, "takeover_min_clock_s": MIN_CLOCK_S},
    )


async def frozen(process) -> None:
    """SIGSTOP `process` and wait until the kernel shows it stopped."""
    process.proc.send_signal(signal.SIGSTOP)
    stat = Path(f"/proc/{process.proc.pid}/stat")

    async def stopped() -> bool:
        text = await asyncio.to_thread(stat.read_text)
        return text.rsplit(")", 1)[1].split()[0] == "T"

    await wait_until(stopped, 5, every=0.01)


async def owned_by(redis, table_id: int, worker: str) -> bool:
    value = await redis.get(f"ws:table:{table_id}:lease")
    return value is not None and value.decode().startswith(f"{worker}:")


async def heads_up_on(urls, make_players, fund, make_table, clients):
    """Two players seated; player i connected to ``urls[i]``. Returns the table and clients."""
    players = await make_players(2)
    await fund([p.user_id for p in players], 1_000_000)
    table_id = await make_table(seats=2)
    seated = []
    for seat, player in enumerate(players):
        client = clients(urls[seat], player.token, record=True)
        await client.connect()
        await client.join(table_id)
        await client.sit(table_id, seat, BUY_IN)
        seated.append(client)
    return table_id, seated


def choice(turn) -> str:
    return "check" if turn["legal"]["can_check"] else "call"


def actions_of(client, hand: int, seat: int) -> list[str]:
    return [
        m["kind"]
        for m in client.received
        if m.get("event") == "action" and m.get("hand") == hand and m.get("seat") == seat
    ]


async def test_an_act_in_the_inbox_of_a_stopped_owner_is_applied_once_by_the_next_owner(
    edge_processes, make_players, fund, make_table, clients, container
):
    a, b = edge_processes("a"), edge_processes("b")
    await a.wait_ready()
    await b.wait_ready()
    # Seat 0 joins through A first, so A owns the table; seat 1 plays through B.
    table_id, (on_a, on_b) = await heads_up_on(
        [a.url, b.url], make_players, fund, make_table, clients
    )
    assert await owned_by(container.redis, table_id, "a")
    turn = await seen(on_b, lambda m: m.get("event") == "turn", 30)
    if turn["seat"] == 0:  # seat 0 plays first (through A); then it is seat 1's turn
        await on_a.act(table_id, turn["hand"], choice(turn))
        turn = await seen(on_b, lambda m: m.get("event") == "turn" and m["seat"] == 1, 10)
    hand, action = turn["hand"], choice(turn)
    await frozen(a)
    mark = len(on_b.received)
    sent = await on_b.send_command(
        {"type": "act", "table_id": table_id, "hand": hand, "seq": 1, "action": action}
    )
    # B takes the table over and applies the action waiting in the inbox: once.
    result = await seen(on_b, lambda m: m.get("id") == sent, 30, after=mark)
    a.kill()
    assert result["type"] == "result"
    assert result["action"] == action
    assert await owned_by(container.redis, table_id, "b")
    assert actions_of(on_b, hand, 1) == [action]
    assert on_b.unanswered(table_id) == []


async def test_an_act_lost_with_its_server_is_resent_and_the_turn_is_given_back(
    edge_processes, make_players, fund, make_table, clients, container
):
    a, b = edge_processes("a"), edge_processes("b")
    await a.wait_ready()
    await b.wait_ready()
    table_id, players = await heads_up_on([a.url, a.url], make_players, fund, make_table, clients)
    turn = await seen(players[0], lambda m: m.get("event") == "turn", 30)
    hand, seat = turn["hand"], turn["seat"]
    actor, other = players[seat], players[1 - seat]
    # The click reaches a server that will never read it: frozen, then killed.
    await frozen(a)
    sent = await actor.send_command(
        {"type": "act", "table_id": table_id, "hand": hand, "seq": 1, "action": "call"}
    )
    a.kill()
    killed_at = time.time()
    await actor.wait_closed()
    mark = len(actor.received)
    await other.reconnect(b.url)
    await other.join(table_id)
    await actor.reconnect(b.url)
    snapshot = await actor.join(table_id)  # resends the unanswered act
    # The new owner re-announced the turn with fresh time, and the snapshot says whose it is.
    again = await seen(
        other, lambda m: m.get("event") == "turn" and m["hand"] == hand and m["seat"] == seat, 30
    )
    assert again["deadline"] >= killed_at + MIN_CLOCK_S
    assert snapshot["to_act"] == seat
    assert snapshot["legal_actions"]
    assert snapshot["clock"]["deadline"] >= killed_at + MIN_CLOCK_S
    result = await seen(actor, lambda m: m.get("id") == sent, 30, after=mark)
    assert result["type"] == "result"
    assert result["action"] == "call"
    await seen(other, lambda m: m.get("event") == "action" and m["hand"] == hand, 10)
    assert actions_of(other, hand, seat) == ["call"]
    assert actor.unanswered(table_id) == []
    # A resend of the same command after it was applied gets the original answer.
    mark = len(actor.received)
    await actor.reconnect(b.url)
    await actor.join(table_id)
    repeat = await actor.request(
        {"type": "act", "table_id": table_id, "hand": hand, "seq": 1, "action": "call"}
    )
    assert {**repeat, "id": None} == {**result, "id": None}
    assert actions_of(other, hand, seat) == ["call"]


async def test_a_click_on_the_turn_given_back_cannot_answer_its_decision_twice(
    edge_processes, make_players, fund, make_table, clients, container
):
    a, b = edge_processes("a"), edge_processes("b")
    await a.wait_ready()
    await b.wait_ready()
    table_id, (on_a, on_b) = await heads_up_on(
        [a.url, b.url], make_players, fund, make_table, clients
    )
    turn = await seen(on_b, lambda m: m.get("event") == "turn", 30)
    if turn["seat"] == 0:
        await on_a.act(table_id, turn["hand"], choice(turn), decision=turn["decision"])
        turn = await seen(on_b, lambda m: m.get("event") == "turn" and m["seat"] == 1, 10)
    hand, decision, action = turn["hand"], turn["decision"], choice(turn)
    await frozen(a)
    mark = len(on_b.received)
    first = await on_b.send_command(
        {
            "type": "act",
            "table_id": table_id,
            "hand": hand,
            "seq": 1,
            "decision": decision,
            "action": action,
        }
    )
    # B takes over and gives the turn back — the same decision — then applies the inbox.
    again = await seen(on_b, lambda m: m.get("event") == "turn" and m["seat"] == 1, 30, after=mark)
    assert again["decision"] == decision
    answered = await seen(on_b, lambda m: m.get("id") == first, 30, after=mark)
    a.kill()
    assert answered["type"] == "result"
    # A second click on the given-back turn (a new seq) is refused: the decision was made.
    with pytest.raises(ClientError) as refused:
        await on_b.act(table_id, hand, "fold", seq=2, decision=decision)
    assert refused.value.code == "stale_action"
    assert actions_of(on_b, hand, 1) == [action]
