"""The rakeback settlement queue (SQS through boto3, in a worker thread)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from holdem.adapters.sqs import SQS_BATCH
from holdem.errors import ServiceError

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


class QueueError(ServiceError):
    """SQS refused or failed a send (translated from botocore)."""

    code = "queue_error"


class SqsRakebackQueue:
    """Sends JSON messages to one queue, ten per request."""

    def __init__(self, client: SQSClient, queue_url: str | None) -> None:
        self._client = client
        self.queue_url = queue_url

    async def send(self, messages: Sequence[dict[str, Any]]) -> None:
        """Send every message; raises :class:`QueueError` unless all were accepted."""
        if not messages:
            return
        if not self.queue_url:
            raise QueueError("AWS__RAKEBACK_QUEUE_URL is not set")
        for start in range(0, len(messages), SQS_BATCH):
            chunk = messages[start : start + SQS_BATCH]
            entries: Any = [
                {"Id": str(i), "MessageBody": json.dumps(m, separators=(",", ":"))}
                for i, m in enumerate(chunk)
            ]
            try:
                response = await asyncio.to_thread(
                    self._client.send_message_batch, QueueUrl=self.queue_url, Entries=entries
                )
            except (ClientError, BotoCoreError) as exc:
                raise QueueError(f"SQS send failed: {exc}") from exc
            if response.get("Failed"):
                raise QueueError(f"SQS refused {len(response['Failed'])} messages")
