"""`holdem.adapters.statement_pool.json_loads`: a JSON column's value exactly as the standard
library's parser gives it, whichever parser read it."""

from __future__ import annotations

import json

import pytest

from holdem.adapters.statement_pool import json_loads

DOCUMENTS = [
    # Numbers orjson would read as floats: beyond 2**64 - 1, below -2**63 (19 digits).
    '{"a": 18446744073709551616}',
    '{"a": -9999999999999999999}',
    '{"a": -9223372036854775809, "b": 1}',
    "[1,\n 123456789012345678901234567890]",
    "123456789012345678901234567890",
    "  -12345678901234567890",
    '{"a":[18446744073709551616]}',
    # Numbers within 64 bits, floats, and digit runs inside strings (orjson reads them).
    '{"a": 18446744073709551615, "b": -9223372036854775808, "c": 9223372036854775807}',
    '{"tx_hash": "0000000400000000000000000000000000000000000000000000000000000007"}',
    '{"rate": "1 BTC = 123456789012345678901234 KRW", "at": "x:12345678901234567890"}',
    '{"f": 1.5e-7, "g": 1e400, "h": -0.0, "i": 12345678901234567890.5, "n": null}',
    '{"text": "Seoul \\"서울\\"\\n\\u0001", "nested": [{"a": true}, [], {}]}',
    # Deep nesting, a float or a long number at its bottom (the value is walked, not recursed).
    "[" * 500 + "1" + "]" * 500,
    '{"a": ' * 500 + "1.5" + "}" * 500,
    "[" * 500 + "-99999999999999999999" + "]" * 500,
]


@pytest.mark.parametrize("document", DOCUMENTS)
def test_a_json_column_reads_as_the_standard_library_reads_it(document):
    for given in (document, document.encode()):
        value = json_loads(given)
        assert value == json.loads(document)
        assert repr(value) == repr(json.loads(document))  # int, not float; the same floats
