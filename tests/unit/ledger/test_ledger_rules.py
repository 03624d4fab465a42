"""The pure money rules: legs, amounts, canonical serialisation, the chain and conservation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from holdem.ledger import transactions as legs_of
from holdem.ledger.accounts import LANES, AccountKind, house_key, seat_key, wallet_key
from holdem.ledger.amounts import MAX_WON, LedgerRuleError, require_crypto, require_key, require_won
from holdem.ledger.audit import (
    GENESIS,
    AuditedEntry,
    AuditedTransaction,
    LaneVerifier,
    StoredRecord,
    canonical_content,
    canonical_metadata,
    canonical_request,
    chain_hash,
    format_time,
)
from holdem.ledger.conservation import LedgerTotals, violations
from holdem.ledger.transactions import TransactionKind, entry_label


def test_account_keys_name_each_account_once():
    assert wallet_key(42) == "wallet:42"
    assert seat_key(42, 7) == "seat:42:7"
    assert house_key(AccountKind.HOUSE_RAKE, 3) == "house_rake:3"
    assert house_key(AccountKind.GATEWAY_CLEARING, 0, coin="ETH") == "gateway_clearing:ETH:0"
    with pytest.raises(ValueError, match="lane"):
        house_key(AccountKind.HOUSE_RAKE, LANES)
    with pytest.raises(ValueError, match="coin"):
        house_key(AccountKind.GATEWAY_CLEARING, 0)
    with pytest.raises(ValueError, match="house"):
        house_key(AccountKind.WALLET, 0)


@pytest.mark.parametrize("bad", [1.0, True, "5", None, Decimal(5), MAX_WON + 1, -MAX_WON - 1])
def test_amounts_are_integer_won_only(bad):
    with pytest.raises(LedgerRuleError):
        require_won(bad)


def test_crypto_amounts_are_positive_finite_decimals_and_keys_are_plain():
    assert require_crypto(Decimal("0.00000001")) == Decimal("0.00000001")
    for bad in (0.1, Decimal("0"), Decimal("-1"), Decimal("NaN"), Decimal("Infinity")):
        with pytest.raises(LedgerRuleError):
            require_crypto(bad)
    assert require_key("deposit:BTC:ab12:0") == "deposit:BTC:ab12:0"
    for bad in ("", "a b", "x|y", "k" * 161, ":starts-with-colon", 5):
        with pytest.raises(LedgerRuleError):
            require_key(bad)


@pytest.mark.parametrize(
    "legs",
    [
        legs_of.deposit_legs(1, 500, "BTC"),
        legs_of.reserve_legs(1, 500),
        legs_of.complete_legs(1, 500, "BTC"),
        legs_of.return_legs(1, 500),
        legs_of.buy_in_legs(1, 9, 500),
        legs_of.cash_out_legs(1, 9, 500),
        legs_of.rakeback_legs(1, 500),
        legs_of.adjustment_legs(1, -500, AccountKind.WALLET, None),
        legs_of.adjustment_legs(1, 500, AccountKind.SEAT, 9),
        legs_of.settlement_legs(9, {1: 950, 2: -1000}, 50),
    ],
    ids=lambda legs: "+".join(str(leg.kind) for leg in legs),
)
def test_every_movement_balances_and_names_distinct_accounts(legs):
    assert sum(leg.amount for leg in legs) == 0
    assert len({leg.key for leg in legs}) == len(legs)
    assert all(leg.striped == (not leg.kind.is_player) for leg in legs)


def test_a_settlement_needs_results_and_rake_that_balance():
    with pytest.raises(LedgerRuleError, match="balance"):
        legs_of.settlement_legs(1, {1: 100, 2: -90}, 0)
    with pytest.raises(LedgerRuleError):
        legs_of.settlement_legs(1, {1: 100, 2: -110}, -10)
    with pytest.raises(LedgerRuleError):
        legs_of.settlement_legs(1, {}, 0)
    with pytest.raises(LedgerRuleError):
        legs_of.settlement_legs(1, {1: 0, 2: 0}, 0)
    legs = legs_of.settlement_legs(1, {1: 0, 2: 10, 3: -10}, 0)
    assert [leg.user_id for leg in legs] == [2, 3]


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(st.integers(1, 10**6), st.integers(-(10**9), 10**9), min_size=1, max_size=9),
    st.integers(0, 10**6),
)
def test_any_balanced_hand_becomes_legs_that_sum_to_zero(nets, rake):
    first = next(iter(nets))
    nets[first] -= sum(nets.values()) + rake
    if not any(nets.values()) and rake == 0:
        return
    legs = legs_of.settlement_legs(4, nets, rake)
    assert sum(leg.amount for leg in legs) == 0
    assert all(leg.amount != 0 for leg in legs)


def test_statement_labels_are_specs_kinds():
    settle = TransactionKind.HAND_SETTLEMENT
    assert entry_label(settle, AccountKind.SEAT, 10) == "win"
    assert entry_label(settle, AccountKind.SEAT, -10) == "lose"
    assert entry_label(settle, AccountKind.HOUSE_RAKE, 10) == "rake"
    assert entry_label(TransactionKind.WITHDRAWAL_RETURN, AccountKind.WALLET, 5) == (
        "crypto_withdrawal"
    )
    assert entry_label(TransactionKind.BUY_IN, AccountKind.WALLET, -5) == "buy_in"


def test_metadata_is_canonical_and_never_holds_floats():
    one = canonical_metadata({"b": 1, "a": Decimal("0.10"), "c": None, "d": "한국"})
    two = canonical_metadata({"d": "한국", "c": None, "a": Decimal("0.10"), "b": 1})
    assert one == two == '{"a":"0.10","b":1,"c":null,"d":"한국"}'
    with pytest.raises(LedgerRuleError, match="float"):
        canonical_metadata({"x": 0.1})
    with pytest.raises(LedgerRuleError):
        canonical_metadata({"x": [1]})
    assert canonical_request("buy_in", {"a": 1}) != canonical_request("buy_in", {"a": 2})
    assert canonical_request("buy_in", {"a": 1}) != canonical_request("cash_out", {"a": 1})


def test_times_are_rendered_in_utc_with_microseconds():
    seoul = timezone(timedelta(hours=9))
    moment = datetime(2026, 11, 26, 9, 0, 0, 120, tzinfo=seoul)
    assert format_time(moment) == "2026-11-26T00:00:00.000120Z"
    with pytest.raises(LedgerRuleError):
        format_time(datetime(2026, 1, 1))


def _tx(**changes):
    base = {
        "id": 7,
        "kind": "buy_in",
        "idempotency_key": "bi:1",
        "request_hash": "ab" * 32,
        "created_at": datetime(2026, 11, 26, tzinfo=UTC),
        "user_id": 3,
        "table_id": 9,
        "hand_id": None,
        "related_id": None,
        "metadata": {"amount": 500},
    }
    return AuditedTransaction(**{**base, **changes})


ENTRIES = [AuditedEntry(12, 500, 500), AuditedEntry(11, -500, 1500)]


def test_the_canonical_content_lists_entries_in_account_order():
    content = canonical_content(_tx(), ENTRIES)
    assert content.splitlines() == [
        "v1",
        f"tx|7|buy_in|bi:1|{'ab' * 32}|2026-11-26T00:00:00.000000Z|3|9||",
        'meta|{"amount":500}',
        "e|11|-500|1500",
        "e|12|500|500",
    ]


@pytest.mark.parametrize(
    "change",
    [
        {"kind": "cash_out"},
        {"user_id": 4},
        {"metadata": {"amount": 501}},
        {"created_at": datetime(2026, 11, 26, 0, 0, 1, tzinfo=UTC)},
    ],
)
def test_any_change_to_a_transaction_changes_its_hash(change):
    original = chain_hash(GENESIS, canonical_content(_tx(), ENTRIES))
    assert chain_hash(GENESIS, canonical_content(_tx(**change), ENTRIES)) != original


def _chain(n: int) -> list[tuple[StoredRecord, str]]:
    records, prev = [], GENESIS
    for seq in range(1, n + 1):
        content = canonical_content(_tx(id=seq), ENTRIES)
        digest = chain_hash(prev, content)
        records.append((StoredRecord(0, seq, seq, prev, digest, content), content))
        prev = digest
    return records


def test_an_intact_lane_verifies():
    verifier = LaneVerifier(0)
    chain = _chain(4)
    for record, content in chain:
        verifier.check(record, content)
    assert verifier.finish(4, chain[-1][0].hash) == []


def test_a_lane_reports_edits_gaps_and_a_lost_tail():
    chain = _chain(4)
    verifier = LaneVerifier(0)
    verifier.check(*chain[0])
    verifier.check(chain[1][0], chain[1][1].replace("e|11|-500", "e|11|-400"))  # entry edited
    verifier.check(*chain[3])  # seq 3 deleted
    problems = verifier.finish(5, "f" * 64)  # the head knows of a fifth record
    text = "\n".join(problems)
    assert "differ from what was audited" in text
    assert "hash does not match" in text
    assert "sequence jumps" in text
    assert "prev_hash" in text
    assert "head is at seq 5" in text


def _totals(**changes):
    base = {
        "sum_of_balances": 0,
        "player_balances": 900,
        "player_balances_by_kind": {"wallet": 900},
        "house_balances_by_kind": {
            "gateway_clearing": -1000,
            "house_rake": 150,
            "house_rakeback": -50,
        },
        "credited_deposits": 1000,
        "paid_withdrawals": 0,
        "rake": 150,
        "rakeback": 50,
        "adjustments": 0,
    }
    return LedgerTotals(**{**base, **changes})


def test_a_sound_ledger_has_no_violations():
    assert violations(_totals()) == []


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"sum_of_balances": 1}, "sum_not_zero"),
        ({"player_balances": 901}, "player_funds_mismatch"),
        ({"rake": 149, "player_balances": 901}, "house_account_mismatch"),
        ({"balance_mismatches": [(1, 5, 4)]}, "cached_balance_mismatch"),
        ({"running_balance_mismatches": [8]}, "balance_after_mismatch"),
        ({"unbalanced_transactions": [(3, 7)]}, "unbalanced_transaction"),
        ({"negative_player_accounts": [(2, -1)]}, "negative_player_balance"),
    ],
)
def test_each_broken_rule_is_reported_with_its_code(change, code):
    assert code in {v.code for v in violations(_totals(**change))}
