"""MessagePack's compact form: field names as their number, hex fields as raw bytes."""

from __future__ import annotations

from typing import Any

import msgpack
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from holdem.protocol.codec import BINARY_HEX, JSON, KEYS, MSGPACK


def compact_by_definition(value: Any, key: Any = None) -> Any:
    """The compact form as the codec's docstring defines it, one value at a time."""
    if isinstance(value, dict):
        return {
            (KEYS.index(k) if k in KEYS else k): compact_by_definition(v, k)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [compact_by_definition(v, key) for v in value]
    if key in BINARY_HEX and isinstance(value, str):
        return bytes.fromhex(value)
    return value


hex_text = st.binary(max_size=40).map(bytes.hex)
scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=8)
names = st.sampled_from(KEYS[:20]) | st.sampled_from(["custom", "note", "grace_s"])


def messages(depth: int = 3) -> st.SearchStrategy[Any]:
    values = scalars
    if depth:
        inner = messages(depth - 1)
        values = scalars | st.lists(inner, max_size=3) | st.tuples(inner, inner)
    fields = st.dictionaries(names, values, max_size=6)
    hex_fields = st.fixed_dictionaries(
        {}, optional={"nonce": hex_text, "proof": st.lists(hex_text, max_size=3)}
    )
    return st.builds(lambda a, b: {**a, **b}, fields, hex_fields)


# No deadline: on a loaded machine one example can take longer than hypothesis' 200 ms.
@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages())
def test_the_compact_encoding_is_the_definition_s_bytes_and_decodes_as_json_does(message):
    encoded = MSGPACK.encode(message)

    assert encoded == msgpack.packb(compact_by_definition(message), use_bin_type=True)
    assert MSGPACK.decode(encoded) == JSON.decode(JSON.encode(message))
