"""Pure payment rules: coins, KRW conversion, webhook signatures, the withdrawal machine."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from holdem.payments import signatures
from holdem.payments.coins import CoinRegistry
from holdem.payments.conversion import crypto_for_krw, krw_for_crypto, parse_crypto_amount
from holdem.payments.errors import (
    IllegalTransition,
    InvalidAmount,
    InvalidSignature,
    StaleDelivery,
    UnsupportedCoin,
)
from holdem.payments.withdrawals import (
    RETURNS_FUNDS,
    TERMINAL,
    TRANSITIONS,
    AutoApprovalPolicy,
    RetryPolicy,
    WithdrawalEvent,
    WithdrawalStatus,
    can,
    transition,
)

DEFAULT_CONFIRMATIONS = {"BTC": 3, "ETH": 12, "USDT": 12, "USDC": 12}


# --- coins ------------------------------------------------------------------------------


def test_the_default_registry_has_the_four_coins_with_spec_confirmations():
    registry = CoinRegistry.build(("BTC", "ETH", "USDT", "USDC"), DEFAULT_CONFIRMATIONS)
    assert {c.symbol: c.min_confirmations for c in registry} == DEFAULT_CONFIRMATIONS
    assert registry.get("usdc").spec.token_network == "ERC20"
    assert registry.get("USDT").spec.chain == "ethereum"
    assert registry.by_gateway_code("USDTERC20").symbol == "USDT"


def test_a_coin_outside_the_configured_set_is_unsupported():
    registry = CoinRegistry.build(("BTC",), DEFAULT_CONFIRMATIONS)
    with pytest.raises(UnsupportedCoin) as caught:
        registry.get("ETH")
    assert caught.value.details["accepted"] == ["BTC"]
    with pytest.raises(UnsupportedCoin):
        registry.by_gateway_code("doge")


def test_configuring_an_unknown_coin_or_no_confirmation_count_is_refused():
    with pytest.raises(UnsupportedCoin):
        CoinRegistry.build(("DOGE",), {"DOGE": 6})
    with pytest.raises(UnsupportedCoin):
        CoinRegistry.build(("BTC",), {})


def test_stablecoins_take_ethereum_addresses_only():
    usdt = CoinRegistry.build(("USDT",), DEFAULT_CONFIRMATIONS).get("USDT")
    assert usdt.validate_address("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed").startswith("0x5aAe")
    with pytest.raises(Exception, match="Ethereum address"):
        usdt.validate_address("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2")


# --- conversion ---------------------------------------------------------------------------


def test_deposits_convert_to_whole_won_rounded_down():
    assert krw_for_crypto(Decimal("0.01"), Decimal("95000000")) == 950_000
    assert krw_for_crypto(Decimal("0.00000001"), Decimal("95000000")) == 0
    assert krw_for_crypto(Decimal("1.999999"), Decimal("1399.99")) == 2799


def test_withdrawals_convert_to_coin_precision_rounded_down():
    assert crypto_for_krw(10_000, Decimal("1400"), 6) == Decimal("7.142857")
    assert crypto_for_krw(1_000_000, Decimal("3"), 8) == Decimal("333333.33333333")


@settings(max_examples=200, deadline=None)
@given(
    krw=st.integers(min_value=1, max_value=10**12),
    rate=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("10") ** 9, places=2),
    decimals=st.sampled_from([6, 8, 18]),
)
def test_a_withdrawal_never_pays_out_more_than_the_won_reserved(krw, rate, decimals):
    coins = crypto_for_krw(krw, rate, decimals)
    assert krw_for_crypto(coins, rate) <= krw
    # and rounding loses less than one smallest coin unit
    assert Decimal(krw) - coins * rate < rate * Decimal(1).scaleb(-decimals) + 1


@pytest.mark.parametrize("bad", ["-1", "0", "abc", "NaN", "Infinity", "0.000000001"])
def test_bad_crypto_amounts_are_refused(bad):
    with pytest.raises(InvalidAmount):
        parse_crypto_amount(bad, 8)


def test_floats_are_refused_as_crypto_amounts():
    with pytest.raises(InvalidAmount, match="never floats"):
        parse_crypto_amount(0.1, 8)  # type: ignore[arg-type]


@pytest.mark.parametrize("rate", [Decimal(0), Decimal(-1), Decimal("NaN")])
def test_bad_rates_are_refused(rate):
    with pytest.raises(InvalidAmount):
        krw_for_crypto(Decimal(1), rate)
    with pytest.raises(InvalidAmount):
        crypto_for_krw(10_000, rate, 8)


# --- signatures ---------------------------------------------------------------------------


def _nowpayments_reference_signature(body: dict, secret: str) -> str:
    """How NOWPayments' docs sign: key-sorted, compact JSON, HMAC-SHA512 hex."""
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hmac.new(secret.encode(), text.encode(), hashlib.sha512).hexdigest()


def test_our_signature_matches_the_documented_recipe_whatever_the_key_order():
    body = {"payment_status": "finished", "payment_id": 5077125051, "actually_paid": 0.01}
    raw = json.dumps(body).encode()
    assert signatures.sign(raw, "s3cret") == _nowpayments_reference_signature(body, "s3cret")
    reordered = json.dumps(dict(reversed(body.items())), indent=2).encode()
    assert signatures.verify(reordered, signatures.sign(raw, "s3cret"), "s3cret")


def test_numbers_are_signed_exactly_as_written():
    parsed = signatures.verify(
        b'{"amount":0.10000000}', signatures.sign(b'{"amount":0.10000000}', "k"), "k"
    )
    assert parsed["amount"] == Decimal("0.10000000")


@pytest.mark.parametrize(
    ("body", "sig", "secret"),
    [
        (b'{"a":1}', None, "k"),
        (b'{"a":1}', "", "k"),
        (b'{"a":1}', "00" * 64, "k"),
        (b'{"a":1}', signatures.sign(b'{"a":2}', "k"), "k"),
        (b'{"a":1}', signatures.sign(b'{"a":1}', "other"), "k"),
        (b'{"a":1}', signatures.sign(b'{"a":1}', "k"), ""),
        (b"not json", "00", "k"),
    ],
)
def test_missing_wrong_or_unverifiable_signatures_are_refused(body, sig, secret):
    with pytest.raises(InvalidSignature):
        signatures.verify(body, sig, secret)


def test_deliveries_outside_the_replay_window_are_stale():
    now = 1_800_000_000_000
    signatures.check_fresh(now - 299_000, now, 300)
    signatures.check_fresh(now + 10_000, now, 300)
    with pytest.raises(StaleDelivery):
        signatures.check_fresh(now - 301_000, now, 300)
    with pytest.raises(StaleDelivery):
        signatures.check_fresh(now + 301_000, now, 300)


# --- withdrawal state machine -------------------------------------------------------------

S, E = WithdrawalStatus, WithdrawalEvent


@pytest.mark.parametrize(("start", "event"), sorted(TRANSITIONS))
def test_every_listed_transition_is_legal(start, event):
    assert can(start, event)
    assert transition(start, event) is TRANSITIONS[(start, event)]


@pytest.mark.parametrize("status", sorted(TERMINAL))
@pytest.mark.parametrize("event", list(E))
def test_terminal_withdrawals_never_move(status, event):
    assert not can(status, event)
    with pytest.raises(IllegalTransition) as caught:
        transition(status, event)
    assert caught.value.details == {"status": status.value, "event": event.value}


def test_the_happy_path_and_the_paths_that_return_funds():
    status = S.PENDING
    for event in (E.AUTO_APPROVE, E.START_PAYOUT, E.RETRY, E.START_PAYOUT, E.PAID):
        status = transition(status, event)
    assert status is S.PAID
    assert transition(S.PROCESSING, E.FAIL) in RETURNS_FUNDS
    assert transition(S.HELD, E.REJECT) in RETURNS_FUNDS
    assert transition(S.PENDING, E.CANCEL) in RETURNS_FUNDS
    assert S.PAID not in RETURNS_FUNDS


def test_a_withdrawal_being_paid_out_cannot_be_rejected_or_cancelled():
    for event in (E.REJECT, E.CANCEL, E.HOLD, E.APPROVE):
        assert not can(S.PROCESSING, event)


def test_auto_approval_needs_the_wait_and_a_small_enough_amount():
    policy = AutoApprovalPolicy(auto_approve_limit_krw=1_000_000)
    now = datetime(2026, 11, 26, tzinfo=UTC)
    assert policy.auto_approves(1_000_000, now, now)
    assert not policy.auto_approves(1_000_001, now, now)
    assert not policy.auto_approves(10_000, now + timedelta(seconds=1), now)


def test_payout_retries_back_off_exponentially_and_give_up():
    policy = RetryPolicy(max_attempts=4, base_delay_s=60, max_delay_s=300)
    assert [policy.delay_s(n) for n in (1, 2, 3, 4)] == [60, 120, 240, 300]
    assert not policy.gives_up(3)
    assert policy.gives_up(4)
