"""Helpers of the economy Lambda tests: sample events and a Lambda context."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

EVENTS = Path(__file__).resolve().parents[3] / "events"
REGION = "ap-northeast-2"


def event(path: str) -> dict:
    return json.loads((EVENTS / path).read_text())


@dataclass
class LambdaContext:
    function_name: str = "economy-test"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:ap-northeast-2:123456789012:function:economy"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000
