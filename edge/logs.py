"""Structured JSON logs with correlation ids (connection, table, hand, action).

The ids live in context variables: a connection's handler sets ``conn``; the table task
sets ``table`` and ``hand``; each command carries the ``action`` id it was given when it
entered the fleet. Every log line is one JSON object on stderr.
"""

from __future__ import annotations

import logging
import sys
import time
from contextvars import ContextVar
from typing import Any

import orjson

conn_id: ContextVar[str | None] = ContextVar("conn_id", default=None)
table_id: ContextVar[int | None] = ContextVar("table_id", default=None)
hand_no: ContextVar[int | None] = ContextVar("hand_no", default=None)
action_id: ContextVar[str | None] = ContextVar("action_id", default=None)

_CONTEXT = (("conn", conn_id), ("table", table_id), ("hand", hand_no), ("action", action_id))
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message"}


class JsonFormatter(logging.Formatter):
    def __init__(self, worker_id: str) -> None:
        super().__init__()
        self._worker = worker_id

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": round(time.time(), 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "worker": self._worker,
        }
        for name, var in _CONTEXT:
            value = var.get()
            if value is not None:
                entry[name] = value
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        # Non-string keys (a hand's net by user id) are written as strings, as JSON needs.
        return orjson.dumps(entry, default=str, option=orjson.OPT_NON_STR_KEYS).decode()


def configure(worker_id: str, level: str) -> None:
    """Send every log record of the process to stderr as JSON."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(worker_id))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # websockets logs every failed handshake at INFO; keep its errors only.
    logging.getLogger("websockets").setLevel(logging.WARNING)
