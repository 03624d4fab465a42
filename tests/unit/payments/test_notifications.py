"""The notifier never holds up the money path: every path of every notice runs at once, each
cut at the timeout, and a failure is swallowed."""

from __future__ import annotations

import asyncio
import json

from holdem.services.notifications import Notice, NoticeKind, Notifier


async def test_a_hung_queue_is_cut_at_the_timeout_and_the_other_notices_still_go():
    sent: list[str] = []
    never = asyncio.Event()

    async def send(body: str) -> None:
        if json.loads(body)["user_id"] == 1:
            await never.wait()  # a queue that never answers
        sent.append(body)

    notifier = Notifier(None, send, timeout_s=0.05)
    notices = [
        Notice(1, NoticeKind.DEPOSIT_CREDITED, {"amount_krw": 1}),
        Notice(2, NoticeKind.WITHDRAWAL_PAID, {"amount_krw": 2}),
        Notice(3, NoticeKind.DEPOSIT_PENDING, {}),  # live only: never e-mailed
    ]
    await notifier.notify_all(notices)  # returns: the hung send was cancelled
    assert [json.loads(b)["user_id"] for b in sent] == [2]


async def test_a_failing_queue_never_raises():
    async def send(body: str) -> None:
        raise ConnectionError("queue down")

    await Notifier(None, send).notify(Notice(1, NoticeKind.DEPOSIT_CREDITED, {}))
