"""The AWS stand-in of the local stack: moto, with the template's queues and buckets created."""

from __future__ import annotations

import json
import logging
import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from devstack.services import free_port
from devstack.template import Resolver, load_template

SENDER_VARIABLE = "MONEY__NOTIFICATION_SENDER"
"""The environment variable of a function's e-mail sender (template.yaml)."""

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
    secret_arns: dict[str, str] = field(default_factory=dict)

    def refs(self) -> dict[str, str]:
        """What `!Ref` returns for these resources: a queue's URL, a secret's ARN, a bucket."""
        return {**self.queue_urls, **self.secret_arns, **self.buckets}


def _generated_secret(spec: Mapping[str, Any]) -> str:
    """A value shaped like Secrets Manager's GenerateSecretString would make it."""
    alphabet = string.ascii_letters + string.digits
    value = "".join(secrets.choice(alphabet) for _ in range(int(spec.get("PasswordLength", 32))))
    key = spec.get("GenerateStringKey")
    if not key:
        return value
    document = json.loads(spec.get("SecretStringTemplate") or "{}")
    document[key] = value
    return json.dumps(document)


def create_template_resources(
    template_path: Path,
    endpoint_url: str,
    region: str,
    stack_name: str = "holdem-local",
    secret_values: Mapping[str, str] | None = None,
) -> LocalResources:
    """Create every SQS queue (with its redrive policy), S3 bucket and secret of the template.

    A secret gets its value from `secret_values` (by logical id) when given, else a generated
    one shaped by its `GenerateSecretString`.
    """
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
    secretsmanager = boto3.client("secretsmanager", endpoint_url=endpoint_url, region_name=region)
    for logical, resource in resolver.resources_of_type("AWS::SecretsManager::Secret").items():
        props = resolver.resolve(resource.get("Properties", {}))
        value = (secret_values or {}).get(logical) or _generated_secret(
            props.get("GenerateSecretString", {})
        )
        name = resolver.physical_name(logical)
        arn = secretsmanager.create_secret(Name=name, SecretString=value)["ARN"]
        created.secret_arns[logical] = arn
    _verify_senders(resolver, boto3.client("ses", endpoint_url=endpoint_url, region_name=region))
    return created


def _verify_senders(resolver: Resolver, ses: Any) -> None:
    """Verify in SES every sender address a function sends from, as an operator does in AWS.

    moto refuses mail from an unverified address (``MessageRejected``), as SES does.
    """
    for function in resolver.resources_of_type("AWS::Serverless::Function").values():
        variables = function.get("Properties", {}).get("Environment", {}).get("Variables", {})
        if SENDER_VARIABLE in variables:
            ses.verify_email_identity(
                EmailAddress=str(resolver.resolve(variables[SENDER_VARIABLE]))
            )


class MotoServer:
    """moto's threaded server on a free loopback port."""

    def __init__(self) -> None:
        self.port = free_port()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        # werkzeug logs every request (the SQS pollers' long polls, once a second): keep errors.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server.start()

    def stop(self) -> None:
        self._server.stop()
