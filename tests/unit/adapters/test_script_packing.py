"""The rate-limit script's command is packed by hiredis: the bytes redis-py's asyncio
connection would send for it."""

from __future__ import annotations

from redis.asyncio.connection import Connection

from holdem.adapters.rate_limit import _SCRIPT, _packed, _sha1


def test_the_script_call_is_packed_as_redis_py_packs_it():
    keys = ["rl:general:user:42", "revoked:token:é", "revoked:cutoff:42"]
    args = [60_000, 2, 1_733_600_000, -1, 2**63 - 1]
    for command in (
        ("EVALSHA", _sha1(_SCRIPT), len(keys), *keys, *args),
        ("EVAL", _SCRIPT, len(keys), *keys, *args),
    ):
        assert _packed(*command) == b"".join(Connection().pack_command(*command))
