"""The economy Lambdas run as on AWS: settings from the environment, moto for S3 and SQS."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

import boto3
import pytest

from functions import event_loop
from holdem.bootstrap import bootstrap, reset_process_container
from holdem.config import Settings, get_settings
from tests.functions.economy.economy_lambda import REGION, LambdaContext


@dataclass
class Lambda:
    s3: object
    sqs: object
    bucket: str
    audit_bucket: str
    queue_url: str
    notice_url: str
    settings: Settings
    context: LambdaContext

    def seed(self, make):
        """Run ``await make(container)`` on a container of the test's own."""

        async def go():
            built = bootstrap(self.settings)
            try:
                return await make(built)
            finally:
                await built.aclose()

        return asyncio.run(go())

    def received(self, queue_url: str | None = None) -> list[dict]:
        queue_url = queue_url or self.queue_url
        out = []
        while True:
            got = self.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
            if not got.get("Messages"):
                return out
            out += [json.loads(m["Body"]) for m in got["Messages"]]
            for m in got["Messages"]:
                self.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])


@pytest.fixture
def lam(aws, database_url, redis_url, monkeypatch):
    s3 = boto3.client("s3", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    bucket = "fn-hand-archive"
    audit_bucket = "fn-audit"
    for name in (bucket, audit_bucket):
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    queue_url = sqs.create_queue(QueueName="fn-rakeback")["QueueUrl"]
    notice_url = sqs.create_queue(QueueName="fn-notifications")["QueueUrl"]
    env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "RUNTIME": "lambda",
        "AWS__REGION": REGION,
        "AWS__ARCHIVE_BUCKET": bucket,
        "AWS__AUDIT_BUCKET": audit_bucket,
        "AWS__RAKEBACK_QUEUE_URL": queue_url,
        "AWS__NOTIFICATION_QUEUE_URL": notice_url,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    event_loop.run(reset_process_container())
    try:
        yield Lambda(
            s3, sqs, bucket, audit_bucket, queue_url, notice_url, get_settings(), LambdaContext()
        )
    finally:
        event_loop.run(reset_process_container())
        get_settings.cache_clear()
