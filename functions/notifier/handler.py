"""Notifier Lambda: SQS payment notices → e-mail through SES.

Off the money path: a notice reaches the queue after the money was committed, and a failure
here only delays an e-mail (SQS retries the record, then the DLQ keeps it).
"""

from __future__ import annotations

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from functions.event_loop import run
from functions.sqs_batch import batch_handler
from holdem.adapters.orm.users import User
from holdem.bootstrap import process_container
from holdem.services.notifications import Notice, render_email

logger = Logger(service="notifier")


async def _email_of(user_id: int) -> str | None:
    async with process_container().sessions() as session:
        user = await session.get(User, user_id)
        return None if user is None else user.email


def record_handler(record: SQSRecord) -> str:
    notice = Notice.from_json(record.json_body)
    email = run(_email_of(notice.user_id))
    if email is None:
        logger.warning("notice for an unknown user dropped", extra={"user_id": notice.user_id})
        return "dropped"
    subject, text = render_email(notice)
    built = process_container()
    built.ses.send_email(
        Source=built.settings.money.notification_sender,
        Destination={"ToAddresses": [email]},
        Message={"Subject": {"Data": subject}, "Body": {"Text": {"Data": text}}},
    )
    return "sent"


handler = batch_handler(logger, record_handler)
