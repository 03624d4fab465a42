"""A small template of our own for the local-stack runtime tests (queues, a schedule)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from devstack.paths import ROOT

HERE = Path(__file__).parent


def run_python(*args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
    """`python ARGS` in a fresh process at the repository root, with the repository's
    packages importable and `env` added to this process's environment."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'tools'}", **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


SMALL_TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.12
    Timeout: 30
    CodeUri: {code_uri}
    Environment:
      Variables:
        RECORD_TO: {record_to}
        JOBS_QUEUE_URL: !Ref JobsQueue
Resources:
  JobsDeadLetterQueue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub ${{AWS::StackName}}-jobs-dlq
  JobsQueue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub ${{AWS::StackName}}-jobs
      VisibilityTimeout: 30
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt JobsDeadLetterQueue.Arn
        maxReceiveCount: 2
  JobsFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: template_handlers.jobs
      Events:
        Jobs:
          Type: SQS
          Properties:
            Queue: !GetAtt JobsQueue.Arn
            BatchSize: 10
            FunctionResponseTypes: [ReportBatchItemFailures]
            ScalingConfig:
              MaximumConcurrency: 2
  WeeklyFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: template_handlers.weekly
      Events:
        Weekly:
          Type: ScheduleV2
          Properties:
            Name: !Sub ${{AWS::StackName}}-weekly
            ScheduleExpression: cron(0 4 ? * MON *)
            ScheduleExpressionTimezone: Asia/Seoul
            Input: '{{"week_of": "<aws.scheduler.scheduled-time>", "kind": "weekly"}}'
"""


@pytest.fixture
def record_file(tmp_path: Path) -> Path:
    return tmp_path / "calls.jsonl"


@pytest.fixture
def small_template(tmp_path: Path, record_file: Path) -> Path:
    path = tmp_path / "template.yaml"
    path.write_text(SMALL_TEMPLATE.format(code_uri=HERE, record_to=record_file))
    return path
