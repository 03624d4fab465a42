"""KRW ↔ crypto conversion with `Decimal`, always in the house's favour by less than one unit.

A rate is "1 coin = X KRW". Deposits credit whole won rounded down; withdrawals pay the coin
amount rounded down to the coin's precision.

>>> krw_for_crypto(Decimal("0.01"), Decimal("95123456.78"))
951234
>>> crypto_for_krw(1_000_000, Decimal("95123456.78"), 8)
Decimal('0.01051265')
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal, InvalidOperation, localcontext

from holdem.payments.errors import InvalidAmount

_PRECISION = 60


def parse_crypto_amount(value: str | Decimal | int, decimals: int) -> Decimal:
    """A positive, finite crypto amount with at most `decimals` places (no floats)."""
    if isinstance(value, float | bool):
        raise InvalidAmount("crypto amounts are decimal strings, never floats")
    try:
        amount = Decimal(value)
    except (InvalidOperation, ValueError) as exc:
        raise InvalidAmount(f"{value!r} is not a decimal amount") from exc
    if not amount.is_finite() or amount <= 0:
        raise InvalidAmount("the amount must be a positive number")
    exponent = amount.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > decimals:
        raise InvalidAmount(f"at most {decimals} decimal places", {"decimals": decimals})
    return amount


def _check_rate(rate: Decimal) -> None:
    if not rate.is_finite() or rate <= 0:
        raise InvalidAmount("an exchange rate must be a positive number")


def krw_for_crypto(amount: Decimal, rate_krw: Decimal) -> int:
    """Whole won for `amount` coins at `rate_krw` won per coin, rounded down."""
    _check_rate(rate_krw)
    if not amount.is_finite() or amount < 0:
        raise InvalidAmount("the crypto amount must not be negative")
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        return int((amount * rate_krw).to_integral_value(rounding=ROUND_DOWN))


def crypto_for_krw(amount_krw: int, rate_krw: Decimal, decimals: int) -> Decimal:
    """Coins worth `amount_krw` at `rate_krw`, rounded down to `decimals` places."""
    _check_rate(rate_krw)
    if isinstance(amount_krw, bool) or not isinstance(amount_krw, int) or amount_krw <= 0:
        raise InvalidAmount("the KRW amount must be a positive whole number of won")
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        quantum = Decimal(1).scaleb(-decimals)
        return (Decimal(amount_krw) / rate_krw).quantize(quantum, rounding=ROUND_DOWN)
