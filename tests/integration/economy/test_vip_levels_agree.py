"""The VIP level a player is shown (`/me`, `/vip`) is the level the weekly rakeback pays."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import boto3

from holdem.adapters.archive_store import S3ArchiveStore
from holdem.adapters.repositories.transaction import SqlTransaction
from holdem.ledger.rakeback import KST, SPEC_VIP_TIERS, VipLevel, level_window, week_starting
from holdem.services import vip
from holdem.services.archive import archive_due_hands
from holdem.services.rakeback import weekly_statements
from tests.economy_hands import SHOWDOWN, make_table, make_users, play, store_hand

WEEK = week_starting(date(2026, 11, 16))
SUNDAY_LATE = datetime(2026, 11, 22, 23, 59, 59, tzinfo=KST)
WINDOW_DAYS = 30


async def test_the_level_shown_at_the_end_of_a_week_is_the_level_its_rakeback_pays(container, aws):
    # Each hand rakes 6,000 won from each of three players (a 50,000 big blind). Fifteen
    # hands from the first instant of the 30-day level window and one in the last second of
    # the week make 96,000 won: bronze. One more hand, a second before the window, would
    # make it silver if either reader counted it.
    since, until = level_window(WEEK, WINDOW_DAYS)
    instants = [
        since - timedelta(seconds=1),
        *(since + timedelta(minutes=i) for i in range(15)),
        SUNDAY_LATE,
    ]
    async with container.sessions() as session, session.begin():
        users = await make_users(session, 3)
        table = await make_table(session, 25_000, 50_000)
        for at in instants:
            played = play("abc", SHOWDOWN, small_blind=25_000, big_blind=50_000)
            await store_hand(session, table, users, played, at)
    # The old hands move to S3: both readers count archived and hot hands alike.
    s3 = boto3.client("s3", region_name="ap-northeast-2")
    s3.create_bucket(
        Bucket="vip-test", CreateBucketConfiguration={"LocationConstraint": "ap-northeast-2"}
    )
    await archive_due_hands(container.transactions, S3ArchiveStore(s3, "vip-test"), SUNDAY_LATE)

    async with container.sessions() as session:
        settled = await weekly_statements(SqlTransaction(session), WEEK, window_days=WINDOW_DAYS)
        shown = [
            (await vip.status(SqlTransaction(session), user, until, WINDOW_DAYS, SPEC_VIP_TIERS))[0]
            for user in users
        ]
    assert [s.user_id for s in settled] == users
    assert [(s.level, s.level_rake) for s in settled] == [(v.level, v.rake_paid) for v in shown]
    assert {(v.level, v.rake_paid) for v in shown} == {(VipLevel.BRONZE, 96_000)}
