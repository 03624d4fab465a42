"""Lua script calls are packed by hiredis (`holdem.adapters.lua_scripts`): the bytes redis-py's
asyncio connection would send for them, for the rate-limit script and the checkpoint save."""

from __future__ import annotations

import hashlib

from redis.asyncio.connection import Connection

from holdem.adapters.checkpoints import _SAVE
from holdem.adapters.rate_limit import _SCRIPT


def test_the_rate_limit_call_is_packed_as_redis_py_packs_it():
    keys = ["rl:general:user:42", "revoked:token:é", "revoked:cutoff:42"]
    args = [60_000, 2, 1_733_600_000, -1, 2**63 - 1]
    redis_py = Connection()
    assert _SCRIPT.call(keys, args) == b"".join(
        redis_py.pack_command("EVALSHA", _SCRIPT.sha, len(keys), *keys, *args)
    )
    assert _SCRIPT.loading_call(keys, args) == b"".join(
        redis_py.pack_command("EVAL", _SCRIPT.source, len(keys), *keys, *args)
    )


def test_the_checkpoint_save_is_packed_as_redis_py_packs_it():
    keys = ["ws:lease:7", "ws:table:7:state", "ws:table:7:hand_log", "ws:lobby:live"]
    args: list[str | bytes | int] = ["w1:abc", b"\x81\xa1n\x01", 3, 1, b"\x91\x00", "7", b"{}"]
    args += ["ws:table:7:events", b"\x00\xff caf\xc3\xa9"]
    redis_py = Connection()
    assert _SAVE.call(keys, args) == b"".join(
        redis_py.pack_command("EVALSHA", _SAVE.sha, len(keys), *keys, *args)
    )
    # The id is the SHA-1 of the script's text, as the server computes it.
    assert _SAVE.sha == hashlib.sha1(_SAVE.source).hexdigest()
