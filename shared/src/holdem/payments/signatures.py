"""Webhook signatures as NOWPayments makes them (IPN callbacks).

The gateway sorts the body's keys, serialises it compactly and sends
``HMAC-SHA512(secret, that string)`` in hex in the ``x-nowpayments-sig`` header. We
re-serialise the parsed body the same way (numbers are kept exactly as they were written, so
``0.01`` is never turned into a float), compare in constant time, then check the body's
timestamp against a replay window.

>>> body = b'{"payment_status":"finished","actually_paid":0.01}'
>>> sig = sign(body, "secret")
>>> verify(body, sig, "secret")["payment_status"]
'finished'
"""

from __future__ import annotations

import hashlib
import hmac
import json
from decimal import Decimal
from typing import Any

from holdem.payments.errors import InvalidSignature, StaleDelivery

SIGNATURE_HEADER = "x-nowpayments-sig"


def parse_body(body: bytes) -> Any:
    """The JSON body with every non-integer number kept as an exact `Decimal`."""
    try:
        return json.loads(body, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidSignature("the body is not JSON, so it cannot carry a signature") from exc


def canonical(value: Any) -> str:
    """Key-sorted compact JSON, numbers written as received (what the gateway signs)."""
    if isinstance(value, dict):
        items = (
            f"{json.dumps(str(k), ensure_ascii=False)}:{canonical(value[k])}" for k in sorted(value)
        )
        return "{" + ",".join(items) + "}"
    if isinstance(value, list):
        return "[" + ",".join(canonical(v) for v in value) + "]"
    if isinstance(value, Decimal):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def signature_of(value: Any, secret: str) -> str:
    """Hex HMAC-SHA512 of the canonical form of a parsed body."""
    return hmac.new(secret.encode(), canonical(value).encode(), hashlib.sha512).hexdigest()


def sign(body: bytes, secret: str) -> str:
    """The signature a gateway would send with `body`."""
    return signature_of(parse_body(body), secret)


def verify(body: bytes, signature: str | None, secret: str, header: str = SIGNATURE_HEADER) -> Any:
    """Parse `body` and check its signature in constant time; returns the parsed body.

    `header` names where the signature came from, for the error message only.
    """
    if not secret:
        raise InvalidSignature("no webhook secret is configured: every delivery is refused")
    if not signature:
        raise InvalidSignature(f"the {header} header is missing")
    parsed = parse_body(body)
    expected = signature_of(parsed, secret)
    if not hmac.compare_digest(expected.encode(), signature.strip().lower().encode()):
        raise InvalidSignature("the signature does not match the body")
    return parsed


def check_fresh(timestamp_ms: int, now_ms: int, window_s: int) -> None:
    """Refuse a delivery stamped more than `window_s` away from now (a replay or stale)."""
    if abs(now_ms - timestamp_ms) > window_s * 1000:
        raise StaleDelivery(
            "the delivery is outside the replay window",
            {"age_s": (now_ms - timestamp_ms) // 1000, "window_s": window_s},
        )
