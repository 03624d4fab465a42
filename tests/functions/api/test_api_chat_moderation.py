"""The operators' chat moderation routes: a timed mute (audited, in force at every table
server through Redis), lifting it, and the chat kept with a hand — read by operators, never
in a player's hand view or export (docs/protocol.md, "Table chat")."""

from __future__ import annotations

from datetime import UTC, datetime

import msgpack
from sqlalchemy import select

from holdem.adapters.chat_store import ChatStore
from holdem.adapters.orm.admin import AdminAction
from holdem.adapters.repositories.transaction import SqlTransaction
from holdem.services.archive import (
    _COMPRESSORS,
    ARCHIVE_FORMAT,
    FORMAT_VERSION,
    _to_wire,
    decode_batch,
    encode_batch,
    load_hot_hands,
)
from tests.economy_hands import make_table, make_users, play_random, store_hand

LINES = [
    {"user_id": 0, "seat": 0, "text": "nice ****", "at": 1.5, "original": "nice darn"},
    {"user_id": 0, "seat": None, "text": "<script>x</script>", "at": 2.0},
]


async def test_an_operator_mutes_a_players_chat_for_a_time_and_lifts_it_both_audited(
    client, users, container
):
    operator, player = await users.operator(), await users.player()
    url = f"/api/v1/admin/users/{player.user_id}/chat-mute"
    before = datetime.now(UTC).timestamp()

    r = await client.post(url, json={"minutes": 60, "reason": "abuse"}, headers=operator.headers)

    assert r.status_code == 200, r.text
    until = datetime.fromisoformat(r.json()["muted_until"])
    assert before + 3600 - 1 <= until.timestamp() <= datetime.now(UTC).timestamp() + 3600
    store = ChatStore(container.redis)
    assert await store.silenced_until(player.user_id) == until.timestamp()
    r = await client.post(
        f"/api/v1/admin/users/{player.user_id}/chat-unmute",
        json={"reason": "appeal granted"},
        headers=operator.headers,
    )
    assert r.json() == {"user_id": player.user_id, "muted_until": None}
    assert await store.silenced_until(player.user_id) is None
    async with container.sessions() as db:
        actions = (
            await db.scalars(
                select(AdminAction)
                .where(AdminAction.target_user_id == player.user_id)
                .order_by(AdminAction.id)
            )
        ).all()
    assert [(a.actor_id, a.action, a.details["reason"]) for a in actions] == [
        (operator.user_id, "chat_mute", "abuse"),
        (operator.user_id, "chat_unmute", "appeal granted"),
    ]
    assert actions[0].details["until"] == until.isoformat()


async def test_a_mute_is_refused_for_a_player_an_unknown_user_or_a_bad_duration(
    client, users, container
):
    operator, player = await users.operator(), await users.player()
    url = f"/api/v1/admin/users/{player.user_id}/chat-mute"
    body = {"minutes": 10, "reason": "spam"}
    assert (await client.post(url, json=body, headers=player.headers)).status_code == 403
    missing = await client.post(
        "/api/v1/admin/users/999999999/chat-mute", json=body, headers=operator.headers
    )
    assert missing.status_code == 404
    for bad in ({"minutes": 0, "reason": "spam"}, {"minutes": 10, "reason": "x"}, {"minutes": 5}):
        assert (await client.post(url, json=bad, headers=operator.headers)).status_code == 422
    assert await ChatStore(container.redis).silenced_until(player.user_id) is None
    async with container.sessions() as db:
        assert await db.scalar(select(AdminAction).where(AdminAction.action == "chat_mute")) is None


async def test_the_chat_kept_with_a_hand_is_for_operators_and_never_in_the_players_views(
    client, users, container, aws
):
    operator, me = await users.operator(), await users.player()
    lines = [{**line, "user_id": me.user_id} for line in LINES]
    async with container.sessions() as session, session.begin():
        seated = [me.user_id, *await make_users(session, 5)]
        table = await make_table(session)
        hand_id = await store_hand(
            session, table, seated, play_random(3), datetime.now(UTC), chat=lines
        )

    r = await client.get(f"/api/v1/admin/hands/{hand_id}/chat", headers=operator.headers)
    assert r.status_code == 200, r.text
    assert r.json()["lines"] == [{"original": None, **line} for line in lines]
    assert r.json()["archived"] is False
    assert (
        await client.get(f"/api/v1/admin/hands/{hand_id}/chat", headers=me.headers)
    ).status_code == 403
    missing = await client.get("/api/v1/admin/hands/999999999/chat", headers=operator.headers)
    assert missing.status_code == 404

    views = [f"/api/v1/hands/{hand_id}"] + [
        f"/api/v1/hand-exports/{hand_id}?format={fmt}" for fmt in ("pokerstars", "ohh")
    ]
    for url in views:
        r = await client.get(url, headers=me.headers)
        assert r.status_code == 200, (url, r.text)
        assert "darn" not in r.text
        assert "****" not in r.text
        assert "script" not in r.text


async def test_an_archived_hand_keeps_its_chat_and_an_older_archive_reads_without_one(container):
    async with container.sessions() as session, session.begin():
        seated = await make_users(session, 6)
        table = await make_table(session)
        hand_id = await store_hand(
            session, table, seated, play_random(5), datetime.now(UTC), chat=LINES
        )
    async with container.sessions() as session:
        [hot] = await load_hot_hands(SqlTransaction(session), [hand_id])
    assert hot.chat == tuple(LINES)
    [archived] = decode_batch(encode_batch([hot]))
    assert archived.chat == tuple(LINES)
    assert archived.archived
    # An object written before chat was kept: 16 items per hand.
    compress, _ = _COMPRESSORS[ARCHIVE_FORMAT]
    old = compress(msgpack.packb({"v": FORMAT_VERSION, "hands": [_to_wire(hot)[:16]]}))
    [before] = decode_batch(old)
    assert before.chat == ()
    assert before.players == hot.players
