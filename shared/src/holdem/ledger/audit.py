"""The audit chain's canonical serialisation and hash.

Every ledger transaction has one audit record. The records form `LANES` interleaved SHA-256
hash chains ("lanes"): a record's hash covers the previous record of its lane and the
canonical content of its transaction and entries::

    hash = sha256(prev_hash + "\\n" + content)      (hex digests, UTF-8)

The first record of a lane follows `GENESIS`. Lanes let concurrent writers commit in
parallel (each holds a different lane's head) while every lane stays a strict chain.

The database builds the same content when it posts a transaction (the ``ledger_post``
function, migrations 0003 and 0005); `audit verify` rebuilds it from the stored rows with
`canonical_content`, so an edit to an entry, a transaction or an audit row breaks the chain.

Content, one field per ``|``, one line per item, entries in account-id order::

    v1
    tx|<id>|<kind>|<key>|<request hash>|<created_at, UTC µs>|<user>|<table>|<hand>|<related>
    meta|<canonical JSON metadata>
    e|<account id>|<amount>|<balance after>
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from holdem.ledger.amounts import LedgerRuleError

GENESIS = "0" * 64
"""The previous hash of the first record of every lane."""

CONTENT_VERSION = "v1"

MetadataValue = str | int | bool | None


def canonical_metadata(metadata: Mapping[str, Any]) -> str:
    """Compact JSON with sorted keys. Values: str, int, bool, None, or Decimal (as a string).

    >>> canonical_metadata({"coin": "BTC", "crypto_amount": Decimal("0.5"), "a": 1})
    '{"a":1,"coin":"BTC","crypto_amount":"0.5"}'
    """
    clean: dict[str, MetadataValue] = {}
    for name, value in metadata.items():
        if not isinstance(name, str):
            raise LedgerRuleError("metadata keys are strings")
        if isinstance(value, Decimal):
            if not value.is_finite():
                raise LedgerRuleError(f"metadata {name} is not a finite decimal")
            clean[name] = format(value, "f")
        elif isinstance(value, float):
            raise LedgerRuleError(f"metadata {name} is a float: money is never a float")
        elif value is None or isinstance(value, str | int | bool):
            clean[name] = value
        else:
            raise LedgerRuleError(f"metadata {name} has unsupported type {type(value).__name__}")
    return json.dumps(clean, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_request(operation: str, params: Mapping[str, Any]) -> str:
    """The SHA-256 of an operation's parameters: what "the same request" means for a key."""
    return hashlib.sha256(request_body(operation, params).encode()).hexdigest()


def request_body(operation: str, params: Mapping[str, Any]) -> str:
    """The text `canonical_request` hashes (UTF-8): the parameters' canonical JSON."""
    return canonical_metadata({"op": operation, **params})


@dataclass(frozen=True, slots=True)
class Around:
    """A text around one integer not known yet (a hand's id, numbered by the statement that
    writes the hand): the text is ``before + str(number) + after``.

    >>> around(lambda hand_id: f"hand:3:{hand_id}").fill(41)
    'hand:3:41'
    """

    before: str
    after: str

    def fill(self, number: int) -> str:
        """The text with `number` in its place."""
        return f"{self.before}{number}{self.after}"


def around(make: Callable[[int], str]) -> Around:
    """The text `make` writes around its integer argument.

    Made with 0 and with 1, the two texts differ only where the integer is written (JSON and
    f-strings write an integer as ``str`` does); a text that writes it twice, or not at all,
    is refused here rather than filled wrongly later.

    >>> around(lambda n: '{"hand_id":' + str(n) + ',"rake":5}')
    Around(before='{"hand_id":', after=',"rake":5}')
    """
    zero, one = make(0), make(1)
    at = next((i for i, (a, b) in enumerate(zip(zero, one, strict=False)) if a != b), None)
    if at is None or zero[at] != "0" or zero[at + 1 :] != one[at + 1 :]:
        raise LedgerRuleError("the text does not write its integer once")
    return Around(zero[:at], zero[at + 1 :])


def format_time(moment: datetime) -> str:
    """UTC with microseconds, as the database renders it."""
    if moment.tzinfo is None:
        raise LedgerRuleError("audit times must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True, slots=True)
class AuditedEntry:
    account_id: int
    amount: int
    balance_after: int


@dataclass(frozen=True, slots=True)
class AuditedTransaction:
    """What the audit hash covers of a transaction."""

    id: int
    kind: str
    idempotency_key: str
    request_hash: str
    created_at: datetime
    user_id: int | None
    table_id: int | None
    hand_id: int | None
    related_id: int | None
    metadata: Mapping[str, Any]


def _opt(value: int | None) -> str:
    return "" if value is None else str(value)


def canonical_content(tx: AuditedTransaction, entries: Iterable[AuditedEntry]) -> str:
    """The canonical text of a transaction and its entries."""
    lines = [
        CONTENT_VERSION,
        "|".join(
            [
                "tx",
                str(tx.id),
                tx.kind,
                tx.idempotency_key,
                tx.request_hash,
                format_time(tx.created_at),
                _opt(tx.user_id),
                _opt(tx.table_id),
                _opt(tx.hand_id),
                _opt(tx.related_id),
            ]
        ),
        f"meta|{canonical_metadata(tx.metadata)}",
    ]
    for entry in sorted(entries, key=lambda e: e.account_id):
        lines.append(f"e|{entry.account_id}|{entry.amount}|{entry.balance_after}")
    return "\n".join(lines)


def chain_hash(prev_hash: str, content: str) -> str:
    """The hash of a record that follows `prev_hash`.

    >>> chain_hash(GENESIS, "v1")[:16]
    '6765020fa7f70b44'
    """
    return hashlib.sha256(f"{prev_hash}\n{content}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """An audit record as stored (or as copied to Redis / S3)."""

    lane: int
    seq: int
    transaction_id: int
    prev_hash: str
    hash: str
    content: str


@dataclass
class LaneVerifier:
    """Walks one lane's records in sequence order and reports every break in the chain.

    Feed it records with `check`, each with the content rebuilt from the ledger rows (None
    when its transaction is missing), then `finish` with the lane head.
    """

    lane: int
    problems: list[str] = field(default_factory=list)
    last_seq: int = 0
    last_hash: str = GENESIS

    def check(self, record: StoredRecord, rebuilt: str | None) -> None:
        where = f"lane {self.lane} seq {record.seq} (transaction {record.transaction_id})"
        if record.seq != self.last_seq + 1:
            self.problems.append(f"{where}: sequence jumps from {self.last_seq} (records missing)")
        if record.prev_hash != self.last_hash:
            self.problems.append(f"{where}: prev_hash does not match the previous record")
        if rebuilt is None:
            self.problems.append(f"{where}: its ledger transaction is missing")
        elif rebuilt != record.content:
            self.problems.append(
                f"{where}: the transaction or its entries differ from what was audited"
            )
        expected = chain_hash(record.prev_hash, rebuilt if rebuilt is not None else "")
        if record.hash != expected:
            self.problems.append(f"{where}: hash does not match its content")
        self.last_seq = record.seq
        self.last_hash = record.hash

    def finish(self, head_seq: int, head_hash: str) -> list[str]:
        if (head_seq, head_hash) != (self.last_seq, self.last_hash):
            self.problems.append(
                f"lane {self.lane}: head is at seq {head_seq} but the records end at "
                f"{self.last_seq} (or its hash differs)"
            )
        return self.problems
