"""GET /api/v1/admin/hands/{id}/verification: the operator's full check of a deal."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.economy_hands import make_table, make_users, play_random, store_hand


async def test_an_operator_verifies_a_stored_hand_and_a_player_may_not(
    client, users, container, aws
):
    operator, player = await users.operator(), await users.player()
    async with container.sessions() as session, session.begin():
        seated = await make_users(session, 6)
        table = await make_table(session)
        hand_id = await store_hand(session, table, seated, play_random(3), datetime.now(UTC))
    url = f"/api/v1/admin/hands/{hand_id}/verification"
    r = await client.get(url, headers=operator.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ok"] is True
    assert body["scheme"] == "cards"
    assert body["archived"] is False
    assert body["problems"] == []
    assert body["openings_checked"] >= 12
    assert "seed" not in r.text
    assert (await client.get(url, headers=player.headers)).status_code == 403
    missing = await client.get(
        "/api/v1/admin/hands/999999999/verification", headers=operator.headers
    )
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
