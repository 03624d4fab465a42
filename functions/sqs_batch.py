"""What the SQS-fed Lambdas share: Powertools' batch processing of their records.

`BatchProcessor` reports the failed records only (``ReportBatchItemFailures``): a record fails
when its handler raises, and SQS redelivers it (then its DLQ keeps it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def batch_handler(
    logger: Logger,
    record_handler: Callable[[SQSRecord], Any],
    *,
    on_context: Callable[[Any], None] | None = None,
) -> Handler:
    """The Lambda entry point that runs `record_handler` on each record of an SQS batch.

    Args:
        on_context: told each invocation's Lambda context first (Powertools idempotency
            registers it to know the time left).
    """
    processor = BatchProcessor(event_type=EventType.SQS)

    @logger.inject_lambda_context(log_event=False)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        """SQS batch entry point."""
        if on_context is not None:
            on_context(context)
        response: dict[str, Any] = dict(
            process_partial_response(
                event=event, record_handler=record_handler, processor=processor, context=context
            )
        )
        return response

    return handler
