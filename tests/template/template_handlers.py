"""Handlers of the small templates the local-stack tests write (not shipped code).

They record what they were called with in the file named by RECORD_TO, one JSON line each.
"""

from __future__ import annotations

import json
import os
from typing import Any


def _record(kind: str, event: Any, context: Any) -> None:
    with open(os.environ["RECORD_TO"], "a") as out:
        out.write(json.dumps({"kind": kind, "event": event, "fn": context.function_name}) + "\n")


def jobs(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """SQS handler: a body "poison" fails (reported per item), "crash" fails the batch."""
    _record("sqs", event, context)
    bodies = [record["body"] for record in event["Records"]]
    if "crash" in bodies:
        raise RuntimeError("the whole batch fails")
    if "bad-report" in bodies:
        return {"batchItemFailures": [{"itemIdentifier": "not-a-message-id"}]}
    failures = [
        {"itemIdentifier": record["messageId"]}
        for record in event["Records"]
        if record["body"] == "poison"
    ]
    return {"batchItemFailures": failures}


def weekly(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Scheduled handler: records its input."""
    _record("schedule", event, context)
    return {"ok": True, "received": event}


def echo(event: Any, context: Any) -> Any:
    """Invoke API handler: answers its event; an event {"raise": message} raises."""
    if isinstance(event, dict) and "raise" in event:
        raise ValueError(event["raise"])
    return {"echo": event, "fn": context.function_name}


def not_json(event: Any, context: Any) -> Any:
    """Invoke API handler: returns a value that JSON cannot carry."""
    return {"when": object()}
