"""Hand history: my hands, newest first; one hand shows only the cards I may see."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from tests.functions.api.api_support import make_hand, make_table


async def test_a_hand_shows_my_cards_and_shown_cards_only(client, users, container):
    me, villain, folder = await users.player(), await users.player(), await users.player()
    async with container.sessions() as db:
        table = await make_table(db)
        hand = await make_hand(
            db,
            table.id,
            1,
            [
                (0, me.user_id, "AsAd", False),
                (1, villain.user_id, "KcKd", True),
                (2, folder.user_id, "7h2s", False),
            ],
        )
        await db.commit()
    r = await client.get(f"/api/v1/hands/{hand.id}", headers=me.headers)
    assert r.status_code == 200
    body = r.json()
    cards = {p["seat_no"]: p["hole_cards"] for p in body["players"]}
    assert cards == {0: "AsAd", 1: "KcKd", 2: None}
    hole_events = [e for e in body["events"] if e["type"] == "hole_cards"]
    assert {e["seat_no"] for e in hole_events} == {0, 1}
    assert "7h2s" not in json.dumps(body)
    assert [e["seq_no"] for e in body["events"]] == sorted(e["seq_no"] for e in body["events"])
    assert body["deck_commitment"] == "c" * 64
    # The seed stays server side (it would open the folder's cards); the openings are those
    # of my cards and of the shown ones.
    assert "deck_seed" not in body
    assert "s" * 64 not in json.dumps(body)
    assert [(o["position"], o["card"]) for o in body["openings"]] == [
        (0, "As"),
        (1, "Ad"),
        (2, "Kc"),
        (3, "Kd"),
    ]
    assert "a2" * 32 not in json.dumps(body)
    # The one shape of a pot (docs/protocol.md, "Pots"), as the table servers send it.
    assert body["pots"] == [
        {
            "amount": 20_000,
            "eligible": [0, 1, 2],
            "rake": 1_000,
            "winners": [{"seat": 0, "amount": 19_000}],
        }
    ]
    assert "must not leak" not in json.dumps(body)

    # The folder sees their own cards and the shown ones, never mine.
    r = await client.get(f"/api/v1/hands/{hand.id}", headers=folder.headers)
    text = json.dumps(r.json())
    assert "7h2s" in text
    assert "KcKd" in text
    assert "AsAd" not in text
    assert "a2" * 32 in text
    assert "a0" * 32 not in text


async def test_someone_elses_hand_is_404(client, users, container):
    a, b, outsider = await users.player(), await users.player(), await users.player()
    async with container.sessions() as db:
        table = await make_table(db)
        hand = await make_hand(
            db, table.id, 1, [(0, a.user_id, "AsAd", False), (1, b.user_id, "KcKd", False)]
        )
        await db.commit()
    r = await client.get(f"/api/v1/hands/{hand.id}", headers=outsider.headers)
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"
    assert (await client.get("/api/v1/hands/999999", headers=a.headers)).status_code == 404


async def test_my_hands_are_listed_newest_first_in_cursor_pages(client, users, container):
    me, other = await users.player(), await users.player()
    base = datetime(2026, 11, 20, tzinfo=UTC)
    async with container.sessions() as db:
        table = await make_table(db)
        for n in range(1, 8):
            await make_hand(
                db,
                table.id,
                n,
                [(0, me.user_id, "AsAd", False), (1, other.user_id, "KcKd", False)],
                started_at=base + timedelta(minutes=n // 2),  # ties on purpose
            )
        await db.commit()
    seen, cursor = [], None
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        r = await client.get("/api/v1/hands", params=params, headers=me.headers)
        assert r.status_code == 200
        page = r.json()
        seen += [h["hand_no"] for h in page["items"]]
        assert all(h["hole_cards"] == "AsAd" for h in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == list(range(1, 8))
    starts = [n // 2 for n in seen]
    assert starts == sorted(starts, reverse=True)


async def test_a_forged_cursor_is_400(client, users):
    me = await users.player()
    r = await client.get("/api/v1/hands", params={"cursor": "bm9wZQ"}, headers=me.headers)
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "invalid_input"


async def test_vip_counts_rake_in_the_trailing_window(client, users, container):
    me, other = await users.player(), await users.player()
    async with container.sessions() as db:
        table = await make_table(db)
        recent = datetime.now(UTC) - timedelta(days=2)
        old = datetime.now(UTC) - timedelta(days=40)
        await make_hand(
            db,
            table.id,
            1,
            [(0, me.user_id, "AsAd", False), (1, other.user_id, "KcKd", False)],
            started_at=recent,
            rake_share=120_000,
        )
        await make_hand(
            db,
            table.id,
            2,
            [(0, me.user_id, "AsAd", False), (1, other.user_id, "KcKd", False)],
            started_at=old,
            rake_share=900_000,
        )
        await db.commit()
    r = await client.get("/api/v1/vip", headers=me.headers)
    assert r.status_code == 200
    assert r.json() | {"window_start": None} == {
        "level": "silver",
        "rakeback_rate_bps": 2_500,
        "rake_paid": 120_000,
        "window_days": 30,
        "window_start": None,
        "next_level": "gold",
        "next_threshold": 500_000,
        "to_next_level": 380_000,
    }
