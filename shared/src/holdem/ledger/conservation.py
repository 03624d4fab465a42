"""The conservation rules of SPEC §3, checked over totals read from one database snapshot.

At every instant:

* the balances of all accounts sum to zero (double entry);
* every cached balance equals the sum of its account's entries, and every entry's
  ``balance_after`` equals the running sum of its account up to it;
* every transaction's entries sum to zero, and no player account is negative;
* wallet + seat + pending = credited deposits − paid withdrawals − rake + rakeback
  + adjustments, each term summed from the transactions of its kind, and each house account
  mirrors its term (clearing = paid − deposited, rake = rake, rakeback = −rakeback,
  adjustments = −adjustments).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule, with a stable code and the numbers that show it."""

    code: str
    message: str


@dataclass(frozen=True)
class LedgerTotals:
    """Sums read from one snapshot. Amounts are won; flows are positive as named."""

    sum_of_balances: int
    player_balances: int
    player_balances_by_kind: dict[str, int]
    house_balances_by_kind: dict[str, int]
    credited_deposits: int
    paid_withdrawals: int
    rake: int
    rakeback: int
    adjustments: int
    balance_mismatches: list[tuple[int, int, int]] = field(default_factory=list)
    """(account id, cached balance, sum of entries) for every account that disagrees."""
    running_balance_mismatches: list[int] = field(default_factory=list)
    """Entry ids whose balance_after is not the running sum of their account."""
    unbalanced_transactions: list[tuple[int, int]] = field(default_factory=list)
    """(transaction id, sum of its entries) for every transaction that does not sum to 0."""
    negative_player_accounts: list[tuple[int, int]] = field(default_factory=list)


def violations(t: LedgerTotals) -> list[Violation]:
    """Every rule `t` breaks (empty when the ledger is sound)."""
    found: list[Violation] = []
    if t.sum_of_balances != 0:
        found.append(Violation("sum_not_zero", f"all accounts sum to {t.sum_of_balances}, not 0"))
    for account_id, cached, summed in t.balance_mismatches:
        found.append(
            Violation(
                "cached_balance_mismatch",
                f"account {account_id}: cached balance {cached} but its entries sum to {summed}",
            )
        )
    for entry_id in t.running_balance_mismatches:
        found.append(
            Violation(
                "balance_after_mismatch",
                f"entry {entry_id}: balance_after is not the running sum of its account",
            )
        )
    for tx_id, total in t.unbalanced_transactions:
        found.append(
            Violation("unbalanced_transaction", f"transaction {tx_id}: entries sum to {total}")
        )
    for account_id, balance in t.negative_player_accounts:
        found.append(
            Violation("negative_player_balance", f"account {account_id}: balance {balance}")
        )
    expected = t.credited_deposits - t.paid_withdrawals - t.rake + t.rakeback + t.adjustments
    if t.player_balances != expected:
        found.append(
            Violation(
                "player_funds_mismatch",
                f"wallet + seat + pending = {t.player_balances}, but deposits "
                f"{t.credited_deposits} - withdrawals {t.paid_withdrawals} - rake {t.rake} "
                f"+ rakeback {t.rakeback} + adjustments {t.adjustments} = {expected}",
            )
        )
    mirrors = {
        "gateway_clearing": t.paid_withdrawals - t.credited_deposits,
        "house_rake": t.rake,
        "house_rakeback": -t.rakeback,
        "house_adjustment": -t.adjustments,
    }
    for kind, want in mirrors.items():
        have = t.house_balances_by_kind.get(kind, 0)
        if have != want:
            found.append(
                Violation("house_account_mismatch", f"{kind} accounts hold {have}, expected {want}")
            )
    return found
