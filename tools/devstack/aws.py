"""The AWS stand-in of the local stack: moto, with the template's queues and buckets created."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from devstack.services import free_port
from devstack.template import Resolver, load_template

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


@dataclass
class LocalResources:
    """Physical names of the template's resources in the local stack, by logical id."""

    queue_urls: dict[str, str] = field(default_factory=dict)
    buckets: dict[str, str] = field(default_factory=dict)


def create_template_resources(
    template_path: Path, endpoint_url: str, region: str, stack_name: str = "holdem-local"
) -> LocalResources:
    """Create every SQS queue (with its redrive policy) and S3 bucket the template declares."""
    resolver = Resolver(load_template(template_path), stack_name=stack_name, region=region)
    sqs = boto3.client("sqs", endpoint_url=endpoint_url, region_name=region)
    s3 = boto3.client("s3", endpoint_url=endpoint_url, region_name=region)
    created = LocalResources()
    queues = resolver.resources_of_type("AWS::SQS::Queue")
    # Dead-letter queues first: a redrive policy names its target's ARN.
    ordered = sorted(queues, key=lambda logical: "RedrivePolicy" in queues[logical]["Properties"])
    for logical in ordered:
        props = resolver.resolve(queues[logical].get("Properties", {}))
        attributes: dict[Any, str] = {
            key: str(props[key])
            for key in ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds")
            if key in props
        }
        if "RedrivePolicy" in props:
            attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
        url = sqs.create_queue(QueueName=resolver.physical_name(logical), Attributes=attributes)
        created.queue_urls[logical] = url["QueueUrl"]
    for logical in resolver.resources_of_type("AWS::S3::Bucket"):
        name = resolver.physical_name(logical)
        location: Any = {"LocationConstraint": region}
        s3.create_bucket(Bucket=name, CreateBucketConfiguration=location)
        created.buckets[logical] = name
    return created


class MotoServer:
    """moto's threaded server on a free loopback port."""

    def __init__(self) -> None:
        self.port = free_port()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self._server.stop()
