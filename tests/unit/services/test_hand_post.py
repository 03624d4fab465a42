"""A hand's post before the hand has an id (`ledger.hand_post`): once the id is filled in, the
same ``ledger_post`` arguments as `ledger.settle_hand` sends for that hand."""

from __future__ import annotations

import asyncio
import doctest
import hashlib
from collections.abc import Sequence
from typing import Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession

from holdem.ledger import audit
from holdem.ledger.amounts import LedgerRuleError
from holdem.ledger.audit import around
from holdem.services import ledger
from holdem.services.ledger.posting import Standalone
from holdem.services.ledger_errors import InvalidLedgerRequest


class Capture:
    """Stands in for the statement pool: keeps ``ledger_post``'s arguments, answers ok."""

    params: Sequence[Any] = ()

    async def run_idempotent(self, query: str, params: Sequence[Any]) -> tuple[Any, ...]:
        self.params = params
        answer = {"status": "ok", "id": 1, "kind": "hand_settlement", "metadata": {}}
        created = {"created_at": "2026-03-01T12:00:00+00:00", "entries": []}
        return ({**answer, **created, "lane": 0, "seq": 1, "hash": "0" * 64},)


def test_the_audit_texts_doctests_pass():
    assert doctest.testmod(audit).failed == 0


@settings(max_examples=80, deadline=None)
@given(
    table_id=st.integers(1, 10**12),
    hand_id=st.integers(1, 2**63 - 1),
    fence=st.integers(1, 10**15),
    nets=st.dictionaries(
        st.integers(1, 10**12), st.integers(-(10**12), 10**12), min_size=2, max_size=9
    ),
    rake=st.integers(0, 10**6),
    shared=st.booleans(),
)
def test_a_hand_post_filled_with_the_hands_id_is_what_settle_hand_posts(
    table_id, hand_id, fence, nets, rake, shared
):
    first = next(iter(nets))
    nets[first] -= sum(nets.values()) + rake  # a balanced hand
    shares = {first: rake} if shared else None
    if not any(nets.values()) and rake == 0:
        return
    capture = Capture()
    asyncio.run(
        ledger.settle_hand(
            cast(AsyncSession, Standalone(capture)),
            table_id=table_id,
            hand_id=hand_id,
            fencing_token=fence,
            nets=nets,
            rake=rake,
            rake_shares=shares,
        )
    )
    post = ledger.hand_post(
        table_id=table_id, fencing_token=fence, nets=nets, rake=rake, rake_shares=shares
    )
    request_hash = hashlib.sha256(post.request.fill(hand_id).encode()).hexdigest()
    assert tuple(capture.params) == (
        "hand_settlement",
        post.key.fill(hand_id),
        request_hash,
        post.metadata,
        None,
        table_id,
        hand_id,
        None,
        table_id,
        fence,
        post.legs,
    )


def test_a_hand_post_refuses_what_settle_hand_refuses_before_sending_anything():
    with pytest.raises(InvalidLedgerRequest):  # the hand does not balance
        ledger.hand_post(table_id=1, fencing_token=1, nets={7: 10, 8: -5}, rake=0)
    with pytest.raises(InvalidLedgerRequest):  # the rake's shares do not add up
        ledger.hand_post(
            table_id=1, fencing_token=1, nets={7: 5, 8: -10}, rake=5, rake_shares={7: 4}
        )


@pytest.mark.parametrize(
    "make", [lambda n: f"{n}:{n}", lambda n: "no number", lambda n: f"{n * 10}"]
)
def test_a_text_around_a_number_writes_it_exactly_once(make):
    with pytest.raises(LedgerRuleError):
        around(make)
