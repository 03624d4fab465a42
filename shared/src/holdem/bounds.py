"""The bounds of the numbers the database stores, which every layer checks input against."""

from __future__ import annotations

__all__ = ["MAX_BIGINT"]

MAX_BIGINT = 2**63 - 1
"""The largest value of a bigint column (every id): a client's number above it names nothing,
and must be refused before it reaches PostgreSQL (which would fail the statement)."""
