"""Sending to SQS queues from async code: boto3's blocking calls run in worker threads.

The client is the process's (built once by `holdem.bootstrap.Container.sqs`); these functions
only bind a queue to it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

SQS_BATCH = 10
"""The most entries one ``send_message_batch`` takes."""


def message_sender(client: SQSClient, queue_url: str) -> Callable[[str], Awaitable[None]]:
    """Sends one message per call, its body as given (the notification queue)."""

    async def send(body: str) -> None:
        await asyncio.to_thread(client.send_message, QueueUrl=queue_url, MessageBody=body)

    return send


def withdrawal_enqueuer(
    client: SQSClient, queue_url: str
) -> Callable[[list[int]], Awaitable[None]]:
    """Sends one ``{"withdrawal_id": n}`` message per id, ten per request (the payout queue)."""

    async def enqueue(ids: list[int]) -> None:
        for start in range(0, len(ids), SQS_BATCH):
            entries: Any = [
                {"Id": str(i), "MessageBody": json.dumps({"withdrawal_id": i})}
                for i in ids[start : start + SQS_BATCH]
            ]
            await asyncio.to_thread(client.send_message_batch, QueueUrl=queue_url, Entries=entries)

    return enqueue
