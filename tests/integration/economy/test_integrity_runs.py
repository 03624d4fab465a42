"""The integrity run over hands stored as the table servers store them, in real PostgreSQL,
run as the scheduled function's component (``holdem_economy``, migration 0012's grants):
each crafted history is flagged once in the operators' queue citing its hands, ordinary bot
play is not, and every run is recorded (docs/integrity.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from holdem.adapters.orm.compliance import AmlFlag
from holdem.adapters.orm.hands import Hand
from holdem.adapters.orm.integrity import PlayerLogin
from holdem.adapters.orm.tables import Seat
from holdem.adapters.repositories.transaction import SqlTransaction
from holdem.bootstrap import bootstrap
from holdem.client.bot import BotStrategy
from holdem.config import IntegritySettings, Settings
from holdem.services import integrity
from holdem.services.errors import SharedIdentity
from tests.economy_hands import make_table, make_users
from tests.integration import test_component_roles as roles
from tests.integrity_play import (
    dumper,
    metronome,
    ordinary,
    play_session,
    receiver,
    soft,
    store,
)

admin = roles.admin
login_as = roles.login_as
NOW = datetime.now(UTC)


async def _session_at_new_table(session, played_users, hands, **kwargs):
    table_id = await make_table(session)
    played = play_session(played_users, hands, **kwargs)
    return await store(session, table_id, played, NOW - timedelta(days=1))


async def test_a_run_flags_each_crafted_history_once_and_ordinary_play_not_at_all(
    container, admin, login_as, redis_url
):
    async with container.sessions() as session, session.begin():
        plain = await make_users(session, 6)
        await _session_at_new_table(session, plain, 100, seed=0)
        pair = await make_users(session, 6)
        dumping = {
            pair[0]: dumper(pair[1], ordinary(BotStrategy(seed=1))),
            pair[1]: receiver(pair[0], ordinary(BotStrategy(seed=2))),
        }
        await _session_at_new_table(session, pair, 300, seed=2, policies=dumping)
        quiet = await make_users(session, 6)
        softly = {
            quiet[2]: soft(quiet[3], ordinary(BotStrategy(raise_rate=0.35, seed=3))),
            quiet[3]: soft(quiet[2], ordinary(BotStrategy(raise_rate=0.35, seed=4))),
        }
        await _session_at_new_table(session, quiet, 300, seed=1, policies=softly)
        timed = await make_users(session, 6)
        await _session_at_new_table(session, timed, 150, seed=3, think={timed[4]: metronome})
        # Two of the ordinary players logged in from one device (different addresses).
        for user, ip, device in (
            (plain[0], "203.0.113.10", "device-shared"),
            (plain[1], "198.51.100.20", "device-shared"),
            (plain[2], "198.51.100.30", None),
        ):
            session.add(PlayerLogin(user_id=user, ip=ip, device_id=device))
        # A hand older than the window is not read.
        await _session_at_new_table(session, plain, 1, seed=9)
        await session.execute(
            Hand.__table__.update()
            .where(Hand.id == (await session.scalar(select(Hand.id).order_by(Hand.id.desc()))))
            .values(ended_at=NOW - timedelta(days=8))
        )

    now = datetime.now(UTC)  # after the logins were recorded
    economy = bootstrap(Settings(database_url=login_as("holdem_economy"), redis_url=redis_url))
    try:
        async with economy.sessions() as session, session.begin():
            first = await integrity.run(SqlTransaction(session), IntegritySettings(), now=now)
        async with economy.sessions() as session, session.begin():
            again = await integrity.run(SqlTransaction(session), IntegritySettings(), now=now)
        async with economy.sessions() as session, session.begin():
            next_day = await integrity.run(
                SqlTransaction(session), IntegritySettings(), now=now + timedelta(days=1)
            )
    finally:
        await economy.aclose()

    print(f"integrity run over {first.hands} stored hands: {first.counts}")
    assert first.hands == 100 + 300 + 300 + 150
    assert first.counts == {
        "shared_identity": 2,
        "chip_dumping": 2,
        "soft_play": 2,
        "bot_timing": 1,
    }
    # Not filed twice: the same day by the flag's subject, later while the flags are open.
    assert again.counts == next_day.counts == dict.fromkeys(first.counts, 0)
    assert next_day.hands == first.hands
    async with container.sessions() as session:
        flags = (
            (await session.execute(select(AmlFlag).where(AmlFlag.id.in_(first.flag_ids))))
            .scalars()
            .all()
        )
        stored_ids = set((await session.execute(select(Hand.id))).scalars())
        runs = await integrity.list_runs(SqlTransaction(session))
    flagged = {(f.rule, f.user_id, f.details["other_user_id"]) for f in flags}
    assert flagged == {
        ("shared_identity", plain[0], plain[1]),
        ("shared_identity", plain[1], plain[0]),
        ("chip_dumping", pair[0], pair[1]),
        ("chip_dumping", pair[1], pair[0]),
        ("soft_play", quiet[2], quiet[3]),
        ("soft_play", quiet[3], quiet[2]),
        ("bot_timing", timed[4], None),
    }
    for flag in flags:
        assert flag.status == "open"
        assert flag.details["hand_ids"]
        assert set(flag.details["hand_ids"]) <= stored_ids
    assert [r.id for r in runs] == [next_day.id, again.id, first.id]
    assert runs[2].trigger == "schedule"
    assert runs[2].flag_ids == first.flag_ids
    assert runs[2].thresholds["dump_min_transfer_bb"] == "150"


async def _seat(session, table_id: int, seat_no: int, user_id: int) -> None:
    session.add(Seat(table_id=table_id, seat_no=seat_no, user_id=user_id))


@pytest.mark.parametrize(
    ("block", "other_device", "other_ip", "refused"),
    [
        (True, "device-1", "198.51.100.9", True),
        (True, None, "203.0.113.5", True),
        (True, "device-2", "198.51.100.9", False),
        (False, "device-1", "203.0.113.5", False),
    ],
)
async def test_the_sit_check_refuses_a_shared_identity_only_when_the_operator_blocks_it(
    container, block, other_device, other_ip, refused
):
    settings = IntegritySettings(block_shared_identity_at_sit=block)
    async with container.sessions() as session, session.begin():
        seated, newcomer = await make_users(session, 2)
        table_id = await make_table(session)
        await _seat(session, table_id, 0, seated)
        session.add(PlayerLogin(user_id=seated, ip=other_ip, device_id=other_device))
        session.add(PlayerLogin(user_id=newcomer, ip="203.0.113.5", device_id="device-1"))
    now = datetime.now(UTC)
    async with container.sessions() as session:
        if refused:
            with pytest.raises(SharedIdentity) as caught:
                await integrity.check_sit(
                    SqlTransaction(session), settings, table_id, newcomer, now
                )
            assert caught.value.code == "shared_identity"
            assert caught.value.details == {"table_id": table_id}  # names nobody
        else:
            await integrity.check_sit(SqlTransaction(session), settings, table_id, newcomer, now)
