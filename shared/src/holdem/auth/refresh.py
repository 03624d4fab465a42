"""Refresh tokens: random, stored only as a SHA-256 hash, rotated on every use.

Each login starts a *family* (rows of ``sessions`` sharing ``family_id``). Using a refresh
token marks its row used and issues the next token of the family, which keeps the family's
expiry (a login lasts ``refresh_token_ttl_s`` however often it is refreshed). Presenting a
token that was already used is the sign of a stolen token: the whole family is revoked, so
both the thief and the victim must log in again (OAuth 2.0 Security BCP, refresh token
rotation); the caller's ``revoke_access`` voids the family's access tokens too, before the
revocation is committed. The claim of a token is one conditional UPDATE, so two concurrent
uses of the same token cannot both succeed.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from holdem.adapters.orm.users import Session
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


def hash_token(token: str) -> str:
    """The stored form of a refresh token (hex SHA-256; the token has 256 random bits)."""
    return hashlib.sha256(token.encode()).hexdigest()


def _new_row(
    user_id: int, family_id: uuid.UUID, expires_at: datetime, user_agent: str | None
) -> tuple[str, Session]:
    token = secrets.token_urlsafe(_TOKEN_BYTES)
    row = Session(
        id=uuid.uuid4(),
        user_id=user_id,
        family_id=family_id,
        token_hash=hash_token(token),
        expires_at=expires_at,
        user_agent=(user_agent or None) and user_agent[:255],
    )
    return token, row


async def start_family(
    db: AsyncSession, user_id: int, now: datetime, ttl_s: int, user_agent: str | None
) -> RefreshToken:
    """Issue the first refresh token of a new login (flushed, not committed)."""
    family_id = uuid.uuid4()
    token, row = _new_row(user_id, family_id, now + timedelta(seconds=ttl_s), user_agent)
    db.add(row)
    await db.flush()
    return RefreshToken(token, row.id, family_id, user_id, row.expires_at)


async def rotate(
    db: AsyncSession,
    token: str,
    now: datetime,
    user_agent: str | None,
    revoke_access: RevokeAccess,
) -> RefreshToken:
    """Use a refresh token once and issue its successor.

    Raises:
        InvalidRefreshToken: unknown, expired or revoked token.
        RefreshTokenReused: the token was already used; the family is now revoked (committed),
            and its access tokens through ``revoke_access`` (called first: should the commit
            fail, the login's access tokens are void and its refresh tokens still usable,
            never the other way round).
    """
    if not token or len(token) > _MAX_TOKEN_CHARS:
        raise InvalidRefreshToken("the refresh token is not valid")
    token_hash = hash_token(token)
    claimed = (
        await db.execute(
            update(Session)
            .where(
                Session.token_hash == token_hash,
                Session.used_at.is_(None),
                Session.revoked_at.is_(None),
                Session.expires_at > now,
            )
            .values(used_at=now)
            .returning(Session.user_id, Session.family_id, Session.expires_at)
        )
    ).one_or_none()
    if claimed is not None:
        user_id, family_id, expires_at = claimed
        new_token, row = _new_row(user_id, family_id, expires_at, user_agent)
        db.add(row)
        await db.flush()
        return RefreshToken(new_token, row.id, family_id, user_id, expires_at)
    known = (
        await db.execute(select(Session).where(Session.token_hash == token_hash))
    ).scalar_one_or_none()
    if known is not None and known.used_at is not None and known.revoked_at is None:
        await revoke_family(db, known.family_id, now)
        await revoke_access(known.user_id, known.family_id)
        await db.commit()
        raise RefreshTokenReused(
            "this refresh token was already used; every session of this login is revoked"
        )
    raise InvalidRefreshToken("the refresh token is not valid")


async def revoke_family(db: AsyncSession, family_id: uuid.UUID, now: datetime) -> None:
    """Revoke every token of one login."""
    await db.execute(
        update(Session)
        .where(Session.family_id == family_id, Session.revoked_at.is_(None))
        .values(revoked_at=now)
    )


async def revoke_by_token(db: AsyncSession, token: str, now: datetime) -> int | None:
    """Revoke the family of a refresh token (logout). Returns its user, None if unknown."""
    if not token or len(token) > _MAX_TOKEN_CHARS:
        return None
    row = (
        await db.execute(select(Session).where(Session.token_hash == hash_token(token)))
    ).scalar_one_or_none()
    if row is None:
        return None
    await revoke_family(db, row.family_id, now)
    return row.user_id


async def revoke_user(db: AsyncSession, user_id: int, now: datetime) -> None:
    """Revoke every refresh token of a user (logout everywhere, account locked)."""
    await db.execute(
        update(Session)
        .where(Session.user_id == user_id, Session.revoked_at.is_(None))
        .values(revoked_at=now)
    )
