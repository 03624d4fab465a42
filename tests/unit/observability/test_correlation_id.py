"""A new correlation id is a random version 4 UUID written as ``uuid.uuid4().hex`` writes it."""

from __future__ import annotations

import re
import uuid

from functions.api.observability import new_correlation_id


def test_a_new_correlation_id_is_a_uuid4_hex():
    ids = {new_correlation_id() for _ in range(1_000)}
    assert len(ids) == 1_000
    for value in ids:
        assert re.fullmatch(r"[0-9a-f]{32}", value)
        parsed = uuid.UUID(hex=value)
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)
        assert parsed.hex == value
