"""SQLAlchemy models of every table. Importing this package registers them all on `Base`."""

from holdem.adapters.orm import (
    admin,
    compliance,
    economy,
    hands,
    idempotency,
    integrity,
    ledger,
    payments,
    protection,
    rakeback,
    tables,
    users,
)
from holdem.adapters.orm.base import Base

__all__ = [
    "Base",
    "admin",
    "compliance",
    "economy",
    "hands",
    "idempotency",
    "integrity",
    "ledger",
    "payments",
    "protection",
    "rakeback",
    "tables",
    "users",
]
