"""Password hashing with argon2id (argon2-cffi), off the event loop and bounded in memory.

Hashing is deliberately slow and memory-hard, so at most ``argon2_max_concurrency`` hashes run
at once per process (each in a worker thread); the rest wait their turn instead of exhausting
memory or starving the event loop.
"""

from __future__ import annotations

import anyio
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from holdem.config import AuthSettings

# A hash verified when the email is unknown, so both answers cost the same time.
_DUMMY_PASSWORD = "not-a-real-password"


class PasswordService:
    """argon2id hashing and verification with the cost parameters of `AuthSettings`."""

    def __init__(self, settings: AuthSettings) -> None:
        self._hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
            type=Type.ID,
        )
        self._limiter = anyio.CapacityLimiter(max(1, settings.argon2_max_concurrency))
        self._dummy_hash: str | None = None

    async def hash(self, password: str) -> str:
        """The encoded argon2id hash of a password (salt and parameters included)."""
        return await anyio.to_thread.run_sync(self._hasher.hash, password, limiter=self._limiter)

    async def verify(self, encoded: str, password: str) -> bool:
        """Whether the password matches the hash. Malformed hashes never match."""
        return await anyio.to_thread.run_sync(
            self._verify_blocking, encoded, password, limiter=self._limiter
        )

    async def verify_nothing(self, password: str) -> None:
        """Spend the time of one verification (for unknown users: no user enumeration)."""
        if self._dummy_hash is None:
            self._dummy_hash = await self.hash(_DUMMY_PASSWORD)
        await self.verify(self._dummy_hash, password)

    def needs_rehash(self, encoded: str) -> bool:
        """Whether the hash was made with other parameters than the current ones."""
        try:
            return self._hasher.check_needs_rehash(encoded)
        except InvalidHashError:
            return True

    def _verify_blocking(self, encoded: str, password: str) -> bool:
        try:
            return self._hasher.verify(encoded, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
