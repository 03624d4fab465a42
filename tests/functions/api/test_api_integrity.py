"""The operators' integrity routes through the ASGI app: run the signals now, list the runs,
find their flags in the AML queue; operators only, every call audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from holdem.adapters.orm.admin import AdminAction
from tests.economy_hands import make_table
from tests.integrity_play import metronome, play_session, store


async def _actions(container, name: str) -> list[AdminAction]:
    async with container.sessions() as session:
        stmt = select(AdminAction).where(AdminAction.action == name).order_by(AdminAction.id)
        return list((await session.execute(stmt)).scalars())


async def test_an_operator_runs_the_signals_and_finds_the_flags_in_the_queue_all_audited(
    client, users, container
):
    players = [await users.player() for _ in range(6)]
    operator = await users.operator()
    ids = [p.user_id for p in players]
    async with container.sessions() as session, session.begin():
        table_id = await make_table(session)
        played = play_session(ids, 150, seed=3, think={ids[4]: metronome})
        await store(session, table_id, played, datetime.now(UTC) - timedelta(hours=5))

    url = "/api/v1/admin/integrity/runs"
    refused = await client.post(url, json={}, headers=players[0].headers)
    assert refused.status_code == 403
    assert (await client.get(url, headers=players[0].headers)).status_code == 403
    for bad in ({"window_days": 8}, {"window_days": 0}, {"days": 1}):
        answer = await client.post(url, json=bad, headers=operator.headers)
        assert answer.status_code == 422, bad

    ran = await client.post(url, json={"window_days": 1}, headers=operator.headers)
    assert ran.status_code == 201, ran.text
    run = ran.json()
    assert (run["trigger"], run["operator_id"], run["hands"]) == ("operator", operator.user_id, 150)
    assert run["counts"] == {
        "shared_identity": 0,
        "chip_dumping": 0,
        "soft_play": 0,
        "bot_timing": 1,
    }
    flags = await client.get(
        "/api/v1/admin/aml/flags", params={"rule": "bot_timing"}, headers=operator.headers
    )
    [flag] = flags.json()
    assert (flag["id"], flag["user_id"], flag["status"]) == (run["flag_ids"][0], ids[4], "open")
    assert flag["details"]["cv_pct"] <= 10
    assert len(flag["details"]["hand_ids"]) == 20
    other_rule = await client.get(
        "/api/v1/admin/aml/flags", params={"rule": "soft_play"}, headers=operator.headers
    )
    assert other_rule.json() == []
    unknown = await client.get(
        "/api/v1/admin/aml/flags", params={"rule": "nonsense"}, headers=operator.headers
    )
    assert unknown.status_code == 422

    listed = await client.get(url, headers=operator.headers)
    assert [r["id"] for r in listed.json()] == [run["id"]]
    [audit] = await _actions(container, "integrity_run")
    assert audit.actor_id == operator.user_id
    assert audit.details["run_id"] == run["id"]
    assert await _actions(container, "integrity_runs_list")
