"""Refresh tokens: random, stored only as a SHA-256 hash, rotated on every use.

Each login starts a *family* (rows of ``sessions`` sharing ``family_id``). Using a refresh
token marks its row used and issues the next token of the family, which keeps the family's
expiry (a login lasts ``refresh_token_ttl_s`` however often it is refreshed). Presenting a
token that was already used is the sign of a stolen token: the whole family is revoked, so
both the thief and the victim must log in again (OAuth 2.0 Security BCP, refresh token
rotation); the caller's ``revoke_access`` voids the family's access tokens too, before the
revocation is committed. The claim of a token is one conditional UPDATE, so two concurrent
uses of the same token cannot both succeed. The tokens are kept by a `RefreshTokenStore` (the
port; its SQL is in `holdem.adapters.repositories.accounts`).

The common case — a claimable token of an unlocked account — may be rotated in one statement
by a `Rotation` (`rotate_unlocked`); whatever it does not rotate goes through `rotate`, which
tells an unknown, expired, revoked, reused token or a locked account apart.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from holdem.errors import InvalidRefreshToken, RefreshTokenReused

_TOKEN_BYTES = 32
_MAX_TOKEN_CHARS = 128

RevokeAccess = Callable[[int, uuid.UUID], Awaitable[None]]
"""Void the access tokens of a user's login (family), wherever they are checked."""


@dataclass(frozen=True)
class RefreshToken:
    """A refresh token as handed to the client (the only time the plain value exists)."""

    token: str
    session_id: uuid.UUID
    family_id: uuid.UUID
    user_id: int
    expires_at: datetime


@dataclass(frozen=True)
class StoredToken:
    """What is stored of a refresh token (never the token itself)."""

    user_id: int
    family_id: uuid.UUID
    expires_at: datetime
    used_at: datetime | None = None
    revoked_at: datetime | None = None


class RefreshTokenStore(Protocol):
    """The stored refresh tokens (the ``sessions`` table), in the caller's transaction
    (`holdem.adapters.repositories.accounts.SqlRefreshTokens`)."""

    async def add(
        self,
        session_id: uuid.UUID,
        stored: StoredToken,
        token_hash: str,
        user_agent: str | None,
    ) -> None:
        """Store a new, unused token (flushed)."""
        ...

    async def claim(self, token_hash: str, now: datetime) -> StoredToken | None:
        """Mark the token used at `now` if it is unused, unrevoked and unexpired (one
        conditional update); what it was, or None when it was not claimable."""
        ...

    async def find(self, token_hash: str) -> StoredToken | None:
        """The stored token, whatever its state, or None."""
        ...

    async def revoke_family(self, family_id: uuid.UUID, now: datetime) -> None:
        """Revoke every unrevoked token of one login."""
        ...

    async def revoke_user(self, user_id: int, now: datetime) -> None:
        """Revoke every unrevoked token of a user."""
        ...


class Rotation(Protocol):
    """The common rotation in one atomic step
    (`holdem.adapters.repositories.accounts.RawRefreshRotation`)."""

    async def __call__(
        self,
        token_hash: str,
        now: datetime,
        successor: tuple[uuid.UUID, str, str | None],
    ) -> tuple[StoredToken, str] | None:
        """Claim the token (as `RefreshTokenStore.claim`) only if its account is not locked,
        and store its successor (session id, token hash, user agent) in the claimed token's
        family with its expiry, committed together; the claimed token and the account's role,
        or None when nothing was claimed (and nothing changed)."""
        ...


def hash_token(token: str) -> str:
    """The stored form of a refresh token (hex SHA-256; the token has 256 random bits)."""
    return hashlib.sha256(token.encode()).hexdigest()


def _kept_user_agent(user_agent: str | None) -> str | None:
    return (user_agent or None) and user_agent[:255]


async def _issue(
    store: RefreshTokenStore,
    user_id: int,
    family_id: uuid.UUID,
    expires_at: datetime,
    user_agent: str | None,
) -> RefreshToken:
    token = secrets.token_urlsafe(_TOKEN_BYTES)
    session_id = uuid.uuid4()
    await store.add(
        session_id,
        StoredToken(user_id, family_id, expires_at),
        hash_token(token),
        _kept_user_agent(user_agent),
    )
    return RefreshToken(token, session_id, family_id, user_id, expires_at)


async def start_family(
    store: RefreshTokenStore, user_id: int, now: datetime, ttl_s: int, user_agent: str | None
) -> RefreshToken:
    """Issue the first refresh token of a new login (flushed, not committed)."""
    return await _issue(store, user_id, uuid.uuid4(), now + timedelta(seconds=ttl_s), user_agent)


async def rotate(
    store: RefreshTokenStore,
    token: str,
    now: datetime,
    user_agent: str | None,
    revoke_access: RevokeAccess,
) -> RefreshToken:
    """Use a refresh token once and issue its successor.

    Raises:
        InvalidRefreshToken: unknown, expired or revoked token.
        RefreshTokenReused: the token was already used; the family is now revoked (the
            caller commits that before passing the error on), and its access tokens through
            ``revoke_access`` (called first: should the commit fail, the login's access
            tokens are void and its refresh tokens still usable, never the other way round).
    """
    if not token or len(token) > _MAX_TOKEN_CHARS:
        raise InvalidRefreshToken("the refresh token is not valid")
    token_hash = hash_token(token)
    claimed = await store.claim(token_hash, now)
    if claimed is not None:
        return await _issue(
            store, claimed.user_id, claimed.family_id, claimed.expires_at, user_agent
        )
    known = await store.find(token_hash)
    if known is not None and known.used_at is not None and known.revoked_at is None:
        await store.revoke_family(known.family_id, now)
        await revoke_access(known.user_id, known.family_id)
        raise RefreshTokenReused(
            "this refresh token was already used; every session of this login is revoked"
        )
    raise InvalidRefreshToken("the refresh token is not valid")


async def rotate_unlocked(
    rotation: Rotation, token: str, now: datetime, user_agent: str | None
) -> tuple[RefreshToken, str] | None:
    """Use a refresh token of an unlocked account once and issue its successor, in one step;
    the successor and the account's role, or None when the token was not rotated (malformed,
    unknown, expired, revoked, already used, or the account is locked): nothing changed, and
    `rotate` says which, as for any token."""
    if not token or len(token) > _MAX_TOKEN_CHARS:
        return None
    successor, session_id = secrets.token_urlsafe(_TOKEN_BYTES), uuid.uuid4()
    rotated = await rotation(
        hash_token(token), now, (session_id, hash_token(successor), _kept_user_agent(user_agent))
    )
    if rotated is None:
        return None
    claimed, role = rotated
    issued = RefreshToken(
        successor, session_id, claimed.family_id, claimed.user_id, claimed.expires_at
    )
    return issued, role


async def owner_of(store: RefreshTokenStore, token: str) -> StoredToken | None:
    """The stored token of a refresh token presented at logout (None: unknown)."""
    if not token or len(token) > _MAX_TOKEN_CHARS:
        return None
    return await store.find(hash_token(token))
