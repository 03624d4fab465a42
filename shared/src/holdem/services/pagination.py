"""Opaque keyset cursors: the sort key of the last row a page ended with.

A cursor is URL-safe base64 of a small JSON list. It is stable under inserts: a page always
continues strictly after the row the previous page ended with, whatever was added since.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from holdem.bounds import MAX_BIGINT
from holdem.services.errors import InvalidInput

MAX_CURSOR_CHARS = 512
T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing and the cursor of the next (None on the last page)."""

    items: list[T]
    next_cursor: str | None


def encode_cursor(*values: datetime | int | str) -> str:
    """A cursor for the key ``values`` (datetimes as ISO 8601)."""
    raw = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps(raw, separators=(",", ":")).encode()).decode()


def decode_cursor(cursor: str, *kinds: type[Any]) -> tuple[Any, ...]:
    """The key of a cursor, checked against the expected ``kinds`` (datetime, int or str).

    Raises:
        InvalidInput: the cursor was not made by `encode_cursor` for this listing.
    """
    try:
        if len(cursor) > MAX_CURSOR_CHARS:
            raise ValueError("too long")
        raw = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if not isinstance(raw, list) or len(raw) != len(kinds):
            raise ValueError("shape")
        values: list[Any] = []
        for kind, value in zip(kinds, raw, strict=True):
            if kind is datetime:
                parsed = datetime.fromisoformat(value)
                if parsed.tzinfo is None:
                    raise ValueError("naive datetime")
                values.append(parsed)
            elif (kind is int and type(value) is int and abs(value) <= MAX_BIGINT) or (
                kind is str and isinstance(value, str)
            ):
                values.append(value)
            else:
                raise ValueError("type")
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidInput("the cursor is not valid", {"field": "cursor"}) from exc
    return tuple(values)
