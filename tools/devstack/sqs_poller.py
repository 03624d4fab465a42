"""The SQS event source mapping of Lambda, for the local stack.

For each `Type: SQS` event of a template function, a poller receives batches from the queue
(in moto), invokes the function with a real SQS-shaped event and then:

- deletes the whole batch when the handler returns normally;
- with `FunctionResponseTypes: [ReportBatchItemFailures]`, deletes all but the messages named
  in the response's `batchItemFailures` (an unknown id fails the whole batch, as on Lambda);
- when the handler raises, deletes nothing.

Messages that were not deleted come back after the queue's visibility timeout, and the queue's
own redrive policy (moto implements `maxReceiveCount`) moves them to the dead-letter queue: the
poller never moves a message itself. `failure_visibility_s` can shorten the wait (tests).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import boto3

from devstack.lambda_runtime import FunctionSpec, InvocationError, Invoker
from devstack.template import Resolver, Tag

REPORT_FAILURES = "ReportBatchItemFailures"


@dataclass(frozen=True)
class SqsEventSource:
    """One SQS event of one function."""

    function_id: str
    event_name: str
    queue_logical_id: str
    queue_arn: str
    batch_size: int
    report_batch_item_failures: bool
    maximum_concurrency: int | None


@dataclass(frozen=True)
class PollResult:
    received: int
    deleted: int
    failed: int


def _queue_logical_id(queue: Any) -> str:
    """The queue's logical id from `!GetAtt Queue.Arn` (or `Fn::GetAtt: [Queue, Arn]`)."""
    if isinstance(queue, Tag) and queue.name == "GetAtt":
        value = queue.value
        return str(value.split(".", 1)[0] if isinstance(value, str) else value[0])
    if isinstance(queue, dict) and "Fn::GetAtt" in queue:
        value = queue["Fn::GetAtt"]
        return str(value.split(".", 1)[0] if isinstance(value, str) else value[0])
    raise ValueError(f"an SQS event's Queue must be !GetAtt <Queue>.Arn, not {queue!r}")


def sqs_event_sources(
    specs: Mapping[str, FunctionSpec], resolver: Resolver
) -> list[SqsEventSource]:
    """Every SQS event source of the template's functions."""
    sources: list[SqsEventSource] = []
    for spec in specs.values():
        for name, props in spec.events_of_type("SQS").items():
            logical = _queue_logical_id(props["Queue"])
            scaling = props.get("ScalingConfig") or {}
            sources.append(
                SqsEventSource(
                    function_id=spec.logical_id,
                    event_name=name,
                    queue_logical_id=logical,
                    queue_arn=resolver.attribute(logical, "Arn"),
                    batch_size=min(int(props.get("BatchSize", 10)), 10),
                    report_batch_item_failures=REPORT_FAILURES
                    in (props.get("FunctionResponseTypes") or []),
                    maximum_concurrency=scaling.get("MaximumConcurrency"),
                )
            )
    return sources


def sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda passes for a batch of received messages."""
    records = []
    for message in messages:
        attributes = message.get("MessageAttributes") or {}
        records.append(
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": message.get("Attributes", {}),
                "messageAttributes": {
                    key: {
                        "stringValue": value.get("StringValue"),
                        "binaryValue": value.get("BinaryValue"),
                        "stringListValues": [],
                        "binaryListValues": [],
                        "dataType": value["DataType"],
                    }
                    for key, value in attributes.items()
                },
                "md5OfBody": message["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
        )
    return {"Records": records}


class SqsPoller:
    """Polls one event source's queue and invokes its function."""

    def __init__(
        self,
        source: SqsEventSource,
        queue_url: str,
        invoker: Invoker,
        *,
        endpoint_url: str | None,
        region: str,
        wait_time_s: int = 1,
        failure_visibility_s: int | None = None,
    ) -> None:
        self.source = source
        self.queue_url = queue_url
        self._invoker = invoker
        self._region = region
        self._wait_time_s = wait_time_s
        self._failure_visibility_s = failure_visibility_s
        self._sqs = boto3.client("sqs", endpoint_url=endpoint_url, region_name=region)

    def poll_once(self) -> PollResult:
        """Receive one batch (long polling up to `wait_time_s`), invoke, settle the messages."""
        received = self._sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.source.batch_size,
            WaitTimeSeconds=self._wait_time_s,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages: list[dict[str, Any]] = [dict(m) for m in received.get("Messages", [])]
        if not messages:
            return PollResult(0, 0, 0)
        event = sqs_event(messages, self.source.queue_arn, self._region)
        try:
            response = self._invoker.invoke(self.source.function_id, event)
        except InvocationError as error:
            print(
                f"dev: {self.source.function_id} failed a batch of {len(messages)}: {error}",
                file=sys.stderr,
                flush=True,
            )
            self._release(messages)
            return PollResult(len(messages), 0, len(messages))
        failed_ids = self._failed_ids(response, messages)
        keep = [m for m in messages if m["MessageId"] in failed_ids]
        done = [m for m in messages if m["MessageId"] not in failed_ids]
        if done:
            self._sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)
                ],
            )
        self._release(keep)
        return PollResult(len(messages), len(done), len(keep))

    def _failed_ids(self, response: Any, messages: list[dict[str, Any]]) -> set[str]:
        if not self.source.report_batch_item_failures:
            return set()
        all_ids = {m["MessageId"] for m in messages}
        if not isinstance(response, dict) or not response.get("batchItemFailures"):
            return set()
        failures = response["batchItemFailures"]
        named = {str(f.get("itemIdentifier", "")) for f in failures if isinstance(f, dict)}
        if not named <= all_ids or len(named) != len(failures):
            # Lambda treats a malformed or unknown identifier as a failure of the whole batch.
            return all_ids
        return named

    def _release(self, messages: list[dict[str, Any]]) -> None:
        if self._failure_visibility_s is None or not messages:
            return
        self._sqs.change_message_visibility_batch(
            QueueUrl=self.queue_url,
            Entries=[
                {
                    "Id": str(i),
                    "ReceiptHandle": m["ReceiptHandle"],
                    "VisibilityTimeout": self._failure_visibility_s,
                }
                for i, m in enumerate(messages)
            ],
        )

    def run(self, stop: threading.Event) -> None:
        """Poll until `stop` is set; an error of the poller itself is reported, not fatal."""
        while not stop.is_set():
            try:
                self.poll_once()
            except Exception as exc:
                print(f"dev: poller of {self.source.function_id}: {exc!r}", file=sys.stderr)
                stop.wait(1)

    def close(self) -> None:
        self._sqs.close()
