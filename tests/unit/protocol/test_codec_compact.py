"""MessagePack's compact form (field names as their `KEYS` number, `BINARY_HEX` fields as raw
bytes) is exactly the plain recursive definition, whatever the message's shape: the codec's
faster walk changes no byte on the wire."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from holdem.protocol.codec import BINARY_HEX, JSON, KEYS, MSGPACK, compacted, packb


def reference_compact(value: Any, key: Any = None) -> Any:
    """The definition: every dict's keys numbered, hex text under a binary field as bytes."""
    if isinstance(value, dict):
        return {
            (KEYS.index(k) if k in KEYS else k): reference_compact(v, k) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [reference_compact(v, key) for v in value]
    if key in BINARY_HEX and isinstance(value, str):
        return bytes.fromhex(value)
    return value


class Kind(StrEnum):
    EVENT = "event"


HEX = st.binary(max_size=8).map(bytes.hex)
INTS = st.integers(-(2**63), 2**64 - 1)  # what MessagePack can hold
PLAIN_NAMES = st.sampled_from([*KEYS[:12], "not_a_key", "think_ms"])
SCALARS = st.one_of(
    INTS, st.booleans(), st.none(), st.text(max_size=4), st.floats(), st.just(Kind.EVENT)
)
# Under a binary field, text is hex (anything else would be refused by both).
BINARY = st.dictionaries(
    st.sampled_from(sorted(BINARY_HEX)),
    st.recursive(HEX | INTS | st.none(), lambda inner: st.lists(inner, max_size=3)),
    max_size=2,
)


def objects(values: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Dicts of plain fields with binary ones among them (as an opening has)."""
    plain = st.dictionaries(PLAIN_NAMES, values, max_size=3)
    return st.builds(lambda fields, binary: {**fields, **binary}, plain, BINARY)


VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.tuples(inner, inner) | objects(inner),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(objects(VALUES))
def test_msgpack_frames_are_the_plain_definitions_bytes(message: dict[str, Any]):
    expected = msgpack.packb(reference_compact(message), use_bin_type=True)
    assert MSGPACK.encode(message) == expected


def compacting(value: Any) -> Any:
    """`value` with every dict in it a `Compacted` (its compact form built beforehand)."""
    if isinstance(value, dict):
        return compacted({k: compacting(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return [compacting(v) for v in value]
    return value


@settings(max_examples=200, deadline=None)
@given(objects(VALUES))
def test_parts_compacted_beforehand_encode_to_the_same_bytes(message: dict[str, Any]):
    parts = {k: compacting(v) for k, v in message.items()}
    expected = msgpack.packb(reference_compact(message), use_bin_type=True)
    assert MSGPACK.encode(parts) == expected
    assert JSON.encode(parts) == JSON.encode(message)


def test_the_kept_packer_packs_as_packb_and_a_failed_call_leaves_nothing_behind():
    with pytest.raises(TypeError):
        packb({"type": "event", "cards": [1, object()]})
    value = {"type": "event", "cards": [1, b"\x00", "As"], "seq": 2**40}
    assert packb(value) == msgpack.packb(value, use_bin_type=True)
