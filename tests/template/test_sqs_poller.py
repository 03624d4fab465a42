"""Queue → handler → dead-letter queue, through the local stack's SQS poller, against moto."""

from __future__ import annotations

import json
import uuid

import boto3
import pytest

from devstack.aws import create_template_resources
from devstack.lambda_runtime import InProcessInvoker, load_functions
from devstack.sqs_poller import SqsPoller, sqs_event_sources
from devstack.template import Resolver, load_template

REGION = "ap-northeast-2"


@pytest.fixture
def jobs(small_template, moto_server, record_file):
    stack = f"t{uuid.uuid4().hex[:10]}"
    resources = create_template_resources(small_template, moto_server.endpoint_url, REGION, stack)
    resolver = Resolver(load_template(small_template), stack, REGION, resources.refs())
    specs = load_functions(resolver, small_template)
    (source,) = sqs_event_sources(specs, resolver)
    sqs = boto3.client("sqs", endpoint_url=moto_server.endpoint_url, region_name=REGION)
    poller = SqsPoller(
        source,
        resources.queue_urls["JobsQueue"],
        InProcessInvoker(specs, {}),
        endpoint_url=moto_server.endpoint_url,
        region=REGION,
        wait_time_s=0,
        failure_visibility_s=0,  # retry at once instead of after the 30 s visibility timeout
    )
    try:
        yield poller, sqs, resources
    finally:
        poller.close()
        sqs.close()


def _bodies(sqs, url):
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return sorted(m["Body"] for m in messages)


def _calls(record_file):
    if not record_file.exists():
        return []
    return [json.loads(line) for line in record_file.read_text().splitlines()]


def test_event_source_is_read_from_the_template(jobs):
    poller, _, _ = jobs
    assert poller.source.function_id == "JobsFunction"
    assert poller.source.report_batch_item_failures is True
    assert poller.source.maximum_concurrency == 2
    assert poller.source.queue_arn.endswith("-jobs")


def test_handler_gets_a_real_sqs_event_and_its_messages_are_deleted(jobs, record_file):
    poller, sqs, resources = jobs
    sqs.send_message(
        QueueUrl=resources.queue_urls["JobsQueue"],
        MessageBody="hello",
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "greeting"}},
    )
    result = poller.poll_once()
    assert (result.received, result.deleted, result.failed) == (1, 1, 0)
    (call,) = _calls(record_file)
    (record,) = call["event"]["Records"]
    assert record["body"] == "hello"
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == poller.source.queue_arn
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert record["messageAttributes"]["kind"]["stringValue"] == "greeting"
    assert {"messageId", "receiptHandle", "md5OfBody", "awsRegion"} <= set(record)
    assert poller.poll_once().received == 0


def test_a_reported_failure_is_retried_then_redriven_to_the_dead_letter_queue(jobs, record_file):
    poller, sqs, resources = jobs
    url = resources.queue_urls["JobsQueue"]
    for body in ("ok-1", "poison", "ok-2"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    first = poller.poll_once()
    assert (first.received, first.deleted, first.failed) == (3, 2, 1)
    second = poller.poll_once()  # the poison message's 2nd receipt (maxReceiveCount 2)
    assert (second.received, second.failed) == (1, 1)
    # The 3rd receive finds the queue empty: SQS's redrive moved the message to the DLQ.
    assert poller.poll_once().received == 0
    assert _bodies(sqs, resources.queue_urls["JobsDeadLetterQueue"]) == ["poison"]
    handled = [r["body"] for c in _calls(record_file) for r in c["event"]["Records"]]
    assert sorted(handled) == ["ok-1", "ok-2", "poison", "poison"]


def test_a_handler_that_raises_fails_the_whole_batch(jobs):
    poller, sqs, resources = jobs
    url = resources.queue_urls["JobsQueue"]
    sqs.send_message(QueueUrl=url, MessageBody="crash")
    result = poller.poll_once()
    assert (result.received, result.deleted, result.failed) == (1, 0, 1)
    assert poller.poll_once().failed == 1
    assert poller.poll_once().received == 0
    assert _bodies(sqs, resources.queue_urls["JobsDeadLetterQueue"]) == ["crash"]


def test_an_unknown_item_identifier_fails_the_whole_batch_as_on_lambda(jobs):
    poller, sqs, resources = jobs
    url = resources.queue_urls["JobsQueue"]
    sqs.send_message(QueueUrl=url, MessageBody="fine")
    sqs.send_message(QueueUrl=url, MessageBody="bad-report")
    result = poller.poll_once()
    assert (result.deleted, result.failed) == (0, 2)
