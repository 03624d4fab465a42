"""Payment notices to players: live on their WebSocket user channel and by e-mail.

A notice is published after the money has been committed, on two paths, each best-effort
and bounded in time (all of a call's paths run at once, within one timeout) so it never
blocks or fails the money path:

- Redis pub/sub, the user's channel (`holdem.protocol.pubsub`: its name and envelope), so an
  open client sees ``{"type": "wallet_notice", "kind": ..., ...}`` at once;
- the SQS notifications queue, consumed by the notifier Lambda, which sends the e-mail (SES).

A lost notice is a lost courtesy, never lost money: the ledger and the deposit/withdrawal
rows remain the truth, and the client can always read them.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from redis.asyncio import Redis

from holdem.protocol.pubsub import pack, user_channel

log = logging.getLogger(__name__)


class NoticeKind(StrEnum):
    DEPOSIT_PENDING = "deposit_pending"
    DEPOSIT_CREDITED = "deposit_credited"
    DEPOSIT_LOCKED = "deposit_locked"
    """Part (``locked_krw``) of a credited deposit is locked: over a deposit limit, or
    during a break or self-exclusion. Withdrawable, not playable."""
    WITHDRAWAL_REQUESTED = "withdrawal_requested"
    WITHDRAWAL_APPROVED = "withdrawal_approved"
    WITHDRAWAL_HELD = "withdrawal_held"
    WITHDRAWAL_REJECTED = "withdrawal_rejected"
    WITHDRAWAL_CANCELLED = "withdrawal_cancelled"
    WITHDRAWAL_PAID = "withdrawal_paid"
    WITHDRAWAL_FAILED = "withdrawal_failed"
    WITHDRAWAL_KYC_REQUIRED = "withdrawal_kyc_required"
    KYC_STATUS_CHANGED = "kyc_status_changed"
    RAKEBACK_PAID = "rakeback_paid"


EMAILED = frozenset(
    {
        NoticeKind.DEPOSIT_CREDITED,
        NoticeKind.DEPOSIT_LOCKED,
        NoticeKind.WITHDRAWAL_APPROVED,
        NoticeKind.WITHDRAWAL_PAID,
        NoticeKind.WITHDRAWAL_FAILED,
        NoticeKind.WITHDRAWAL_REJECTED,
        NoticeKind.WITHDRAWAL_KYC_REQUIRED,
        NoticeKind.KYC_STATUS_CHANGED,
        NoticeKind.RAKEBACK_PAID,
    }
)
"""Notices that also go out by e-mail (the others are live only)."""


@dataclass(frozen=True)
class Notice:
    """One thing a player should hear about. `data` is plain JSON (amounts as int/str)."""

    user_id: int
    kind: NoticeKind
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "kind": self.kind.value, "data": self.data}

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Notice:
        return cls(int(value["user_id"]), NoticeKind(value["kind"]), dict(value.get("data", {})))


SendToQueue = Callable[[str], Awaitable[None]]


class Notifier:
    """Publishes notices; every failure is logged and swallowed, every step time-bounded."""

    def __init__(
        self,
        redis: Redis | None,
        send_to_queue: SendToQueue | None = None,
        *,
        timeout_s: float = 1.0,
    ) -> None:
        self._redis = redis
        self._send_to_queue = send_to_queue
        self._timeout_s = timeout_s

    async def notify(self, notice: Notice) -> None:
        """Publish live and enqueue the e-mail. Never raises."""
        await self.notify_all([notice])

    async def notify_all(self, notices: list[Notice]) -> None:
        """Every path of every notice at once: the whole call takes at most `timeout_s`."""
        steps: list[Awaitable[Any]] = []
        for notice in notices:
            if self._redis is not None:
                message = {"type": "wallet_notice", "kind": notice.kind.value, **notice.data}
                publish = self._redis.publish(user_channel(notice.user_id), pack(message))
                steps.append(self._bounded(publish, "live"))
            if self._send_to_queue is not None and notice.kind in EMAILED:
                body = json.dumps(notice.to_json())
                steps.append(self._bounded(self._send_to_queue(body), "queue"))
        await asyncio.gather(*steps)

    async def _bounded(self, step: Awaitable[Any], what: str) -> None:
        try:
            async with asyncio.timeout(self._timeout_s):
                await step
        except Exception:  # a notice must never break the money path
            log.warning("payment notice (%s) not delivered", what, exc_info=True)


SUBJECTS: dict[NoticeKind, str] = {
    NoticeKind.DEPOSIT_CREDITED: "Your deposit has been credited",
    NoticeKind.DEPOSIT_LOCKED: "Part of your deposit is locked by your limits — withdrawable",
    NoticeKind.WITHDRAWAL_APPROVED: "Your withdrawal has been approved",
    NoticeKind.WITHDRAWAL_PAID: "Your withdrawal has been paid",
    NoticeKind.WITHDRAWAL_FAILED: "Your withdrawal could not be paid — funds returned",
    NoticeKind.WITHDRAWAL_REJECTED: "Your withdrawal was rejected — funds returned",
    NoticeKind.WITHDRAWAL_KYC_REQUIRED: "Your withdrawal waits for identity verification",
    NoticeKind.KYC_STATUS_CHANGED: "Your identity verification status has changed",
    NoticeKind.RAKEBACK_PAID: "Your weekly rakeback has been paid",
}


def render_email(notice: Notice) -> tuple[str, str]:
    """Subject and plain-text body of a notice's e-mail."""
    subject = SUBJECTS.get(notice.kind, "Account notice")
    lines = [subject + ".", ""]
    for key in sorted(notice.data):
        value = notice.data[key]
        if key == "amount_krw":
            lines.append(f"Amount: ₩{int(value):,}")
        else:
            lines.append(f"{key.replace('_', ' ').capitalize()}: {value}")
    lines += ["", "This is an automatic message; amounts are in KRW."]
    return subject, "\n".join(lines)
