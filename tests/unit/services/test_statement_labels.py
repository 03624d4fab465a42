"""A statement line's kinds and label, looked up by the stored values, are the enums' and
`entry_label`'s for every transaction kind, account kind and sign."""

from __future__ import annotations

import pytest

from holdem.ledger.accounts import AccountKind
from holdem.ledger.transactions import TransactionKind, entry_label
from holdem.services.ledger.statements import _LINE_KINDS


@pytest.mark.parametrize("amount", [-5, 0, 5])
def test_each_line_kind_is_the_enums_and_entry_labels(amount):
    for tkind in TransactionKind:
        for akind in AccountKind:
            found = _LINE_KINDS[str(tkind), str(akind), amount > 0]
            assert found == (tkind, akind, entry_label(tkind, akind, amount))
            assert found[0] is TransactionKind(str(tkind))
            assert found[1] is AccountKind(str(akind))


def test_an_unknown_stored_kind_fails_the_read():
    with pytest.raises(KeyError):
        _LINE_KINDS["bogus", str(AccountKind.WALLET), True]
