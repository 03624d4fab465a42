"""`functions.api.fast.page_json` (orjson) writes a page's values with the bytes of pydantic's
writer as the routes' models use it (`plain_json`: a non-finite float as ``null``), for every
kind of value a statement or hand list page holds, and falls back to pydantic's for what orjson
refuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from functions.api.fast import page_json, plain_json
from functions.api.schemas import HandPage

EXAMPLES = settings(max_examples=3_000, suppress_health_check=list(HealthCheck), deadline=None)

# PostgreSQL's timestamps of entries and hands written by the server: UTC or any zone's offset
# since 1972 (whole minutes in every zone since then; before, some were not, e.g. Lagos's
# +00:13:35 in 1914, which orjson rounds to +00:14 and pydantic cuts to +00:13).
TIMESTAMPS = st.datetimes(
    min_value=datetime(1973, 1, 1), timezones=st.just(UTC) | st.timezones()
) | st.builds(
    lambda at, minutes: at.replace(tzinfo=timezone(timedelta(minutes=minutes))),
    st.datetimes(),
    st.integers(-(23 * 60 + 59), 23 * 60 + 59),
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()  # beyond 64 bits: orjson refuses, pydantic writes
    | st.floats()  # NaN and infinities included
    | st.text()  # lone surrogates included: neither writes them
    | TIMESTAMPS
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def _same(value: Any) -> None:
    try:
        expected = plain_json(value)
    except ValueError:  # pydantic refuses it (a lone surrogate): so does the fallback
        try:
            page_json({"items": [value]})
        except ValueError:
            return
        raise AssertionError(f"{value!r}: written by page_json, refused by pydantic") from None
    assert page_json({"items": [value]}) == b'{"items":[' + expected + b"]}", value


@EXAMPLES
@given(st.floats())
def test_floats(value):
    _same(value)


@EXAMPLES
@given(st.integers(min_value=-(2**70), max_value=2**70))
def test_integers(value):
    _same(value)


@EXAMPLES
@given(st.text())
def test_text_as_values_and_keys(value):
    _same(value)
    _same({value: value})


@EXAMPLES
@given(TIMESTAMPS)
def test_timestamps(value):
    _same(value)


@EXAMPLES
@given(VALUES)
def test_nested_values(value):
    _same(value)


def test_a_hand_list_page_is_written_as_its_model_writes_it():
    at = datetime(2026, 12, 7, 8, 30, 1, 250_000, tzinfo=UTC)
    summary = {
        "hand_id": 2**63 - 1,
        "table_id": 3,
        "hand_no": 17,
        "started_at": at,
        "ended_at": at.replace(microsecond=0),
        "small_blind": 500,
        "big_blind": 1_000,
        "board": "AhKh2c7d9s",
        "total_pot": 20_000,
        "rake": 1_000,
        "seat_no": 0,
        "hole_cards": "AsAd",
        "net": -2_000,
    }
    page = {"items": [summary, {**summary, "hand_id": 1}], "next_cursor": None}
    adapter = TypeAdapter(HandPage)
    assert page_json(page) == adapter.dump_json(adapter.validate_python(page))
