"""Accounts and sessions: register, login, refresh, logout, access-token checks, lock/unlock.

Access tokens are stateless JWTs (``holdem.auth.tokens``) that the table servers verify too.
They are revoked through three Redis keys, checked on every authenticated request:

* ``auth:deny:{jti}`` — one token revoked by logout; TTL = the token's remaining life.
* ``auth:family:{family_id}`` — every token of one login (the ``sid`` claim, its refresh-token
  family) is void: logout, or a rotated refresh token presented again (a stolen token: the
  thief's and the victim's access tokens die with the family); TTL = the access-token
  lifetime + 60 s (no token of the login outlives it).
* ``auth:cutoff:{user_id}`` — epoch second before which the user's tokens are void
  (logout everywhere, account locked); TTL = the access-token lifetime + 60 s.

Tokens issued after a cutoff are stamped after it, so a fresh login is never caught by it.
The REST API checks them as the precondition of the request's rate-limit count
(`authenticate_and_count`): one Redis round trip for both, and a revoked token is refused
without being counted against its user's budget.

Each revocation is also published on the user's channel ``ws:user:{user_id}`` (in the same
Redis round trip) as ``{"type": "_revoked", "token_id": ...}`` (with ``"family_id"`` when the
login is revoked too) or ``{"type": "_revoked", "cutoff": ...}``: the table servers close the
live connections it voids (`Accounts.voids`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from redis.asyncio import Redis

from holdem.auth import refresh as refresh_tokens
from holdem.auth.passwords import PasswordService
from holdem.auth.refresh import RefreshToken, Rotation
from holdem.auth.tokens import AccessClaims, InvalidTokenError, decode_access_token
from holdem.auth.tokens import issue_access_token as _issue
from holdem.config import AuthSettings
from holdem.ports import Decision, Limit, Precondition, RateLimits, user_client
from holdem.ports.accounts import UserRow
from holdem.ports.transaction import Transactions
from holdem.protocol.pubsub import pack, user_channel
from holdem.services.admin import record_action
from holdem.services.errors import (
    AccountLocked,
    EmailTaken,
    InvalidAccessToken,
    InvalidCredentials,
    NicknameTaken,
    NotFound,
    RefreshTokenReused,
)

Clock = Callable[[], float]


@dataclass(frozen=True)
class TokenPair:
    """What a client gets from login and refresh."""

    access_token: str
    access_expires_at: int
    refresh_token: str
    refresh_expires_at: datetime
    user_id: int
    role: str


def normalise_email(email: str) -> str:
    """Emails compare case-insensitively and without surrounding blanks."""
    return email.strip().lower()


class Accounts:
    """The account use cases of one process (each call: its own transactions)."""

    def __init__(
        self,
        transactions: Transactions,
        redis: Redis,
        settings: AuthSettings,
        passwords: PasswordService,
        clock: Clock = time.time,
        rotation: Rotation | None = None,
    ) -> None:
        """``rotation``: the common refresh in one statement (`holdem.auth.refresh.Rotation`;
        without it every refresh takes the general path)."""
        self._transactions = transactions
        self._redis = redis
        self._settings = settings
        self._passwords = passwords
        self._clock = clock
        self._rotation = rotation

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    async def register(
        self,
        email: str,
        nickname: str,
        password: str,
        *,
        date_of_birth: date | None = None,
        country: str | None = None,
    ) -> UserRow:
        """Create a player account. The API checks the age and country first
        (`holdem.services.jurisdiction`) and passes what it checked, to be kept.

        Raises:
            EmailTaken, NicknameTaken: the email or nickname is already in use.
        """
        email = normalise_email(email)
        nickname = nickname.strip()
        password_hash = await self._passwords.hash(password)
        async with self._transactions() as tx:
            holder = await tx.users.holder_of(email, nickname)
            if holder is not None:
                raise _taken_error(email, holder)
            # Raises EmailTaken or NicknameTaken when a concurrent registration won the race.
            user = await tx.users.add(email, nickname, password_hash, date_of_birth, country)
            await tx.session.commit()
            return user

    async def login(self, email: str, password: str, user_agent: str | None) -> TokenPair:
        """Check the password and start a session.

        Raises:
            InvalidCredentials: unknown email or wrong password (indistinguishable).
            AccountLocked: the password is right but the account is locked.
        """
        # No database connection is held while the (slow, rationed) hash is checked.
        async with self._transactions() as tx:
            user = await tx.users.by_email(normalise_email(email))
        if user is None:
            await self._passwords.verify_nothing(password)
            raise InvalidCredentials("wrong email or password")
        if not await self._passwords.verify(user.password_hash, password):
            raise InvalidCredentials("wrong email or password")
        if user.is_locked:
            raise AccountLocked("this account is locked; contact support")
        new_hash = None
        if self._passwords.needs_rehash(user.password_hash):
            new_hash = await self._passwords.hash(password)
        async with self._transactions() as tx:
            if new_hash is not None:
                await tx.users.set_password_hash(user.id, new_hash)
            token = await refresh_tokens.start_family(
                tx.refresh_tokens,
                user.id,
                self._now(),
                self._settings.refresh_token_ttl_s,
                user_agent,
            )
            await tx.session.commit()
        return await self._pair(token, user.role)

    async def refresh(self, token: str, user_agent: str | None) -> TokenPair:
        """Rotate a refresh token into a new pair.

        Raises:
            InvalidRefreshToken, RefreshTokenReused: see `holdem.auth.refresh.rotate` (a reuse
                revokes the login's access tokens too, as logout does).
            AccountLocked: the account was locked since login.
        """
        if self._rotation is not None:
            # An unlocked account's claimable token, in one statement (most refreshes); any
            # other token changed nothing there and is told apart below.
            fast = await refresh_tokens.rotate_unlocked(
                self._rotation, token, self._now(), user_agent
            )
            if fast is not None:
                return await self._pair(*fast)
        async with self._transactions() as tx:
            try:
                rotated = await refresh_tokens.rotate(
                    tx.refresh_tokens, token, self._now(), user_agent, self._revoke_family
                )
            except RefreshTokenReused:
                await tx.session.commit()  # the family's revocation
                raise
            user = await tx.users.get(rotated.user_id)
            assert user is not None  # sessions cascade with their user
            if user.is_locked:
                await tx.session.rollback()
                raise AccountLocked("this account is locked; contact support")
            await tx.session.commit()
        return await self._pair(rotated, user.role)

    async def logout(self, refresh_token: str | None, claims: AccessClaims) -> None:
        """End one login: revoke its refresh-token family, the access token presented and
        every other access token of its login."""
        if refresh_token:
            async with self._transactions() as tx:
                stored = await refresh_tokens.owner_of(tx.refresh_tokens, refresh_token)
                if stored is not None and stored.user_id == claims.user_id:
                    await tx.refresh_tokens.revoke_family(stored.family_id, self._now())
                    await tx.session.commit()
        await self._deny(claims)

    async def logout_all(self, user_id: int) -> None:
        """End every login of a user, including access tokens already issued."""
        async with self._transactions() as tx:
            await tx.refresh_tokens.revoke_user(user_id, self._now())
            await tx.session.commit()
        await self._cut_off(user_id)

    async def set_locked(self, user_id: int, locked: bool, actor_id: int) -> UserRow:
        """Lock (and sign out everywhere) or unlock a user; the operator's action is audited.

        Raises:
            NotFound: no such user.
        """
        async with self._transactions() as tx:
            user = await tx.users.get(user_id, lock=True)
            if user is None:
                raise NotFound("no such user", {"user_id": user_id})
            user.is_locked = locked
            await record_action(
                tx, actor_id, "lock_user" if locked else "unlock_user", target_user_id=user_id
            )
            if locked:
                await tx.refresh_tokens.revoke_user(user_id, self._now())
            await tx.session.commit()
        if locked:
            await self._cut_off(user_id)
        return user

    async def make_operator(self, email: str, nickname: str, password: str) -> tuple[UserRow, bool]:
        """Give an account the operator role, creating it first when the email is unknown.

        The bootstrap of a new room (the first operator cannot be made over the API, which
        only operators may use). Idempotent: an operator stays one, and a run cut short
        after the account was created promotes it when run again. The promotion is recorded
        in the operators' audit log as ``grant_operator``, acted by the account itself.
        An existing account keeps its password; its current tokens keep the player role
        until it logs in again.

        Returns:
            The account and whether it was created now.

        Raises:
            NicknameTaken: the email is new and another account has the nickname.
            NotFound: the account was deleted while this ran.
        """
        created = False
        async with self._transactions() as tx:
            existing = await tx.users.id_by_email(normalise_email(email))
        if existing is None:
            existing = (await self.register(email, nickname, password)).id
            created = True
        async with self._transactions() as tx:
            user = await tx.users.get(existing, lock=True)
            if user is None:
                raise NotFound("the account was deleted meanwhile", {"email": email})
            if user.role != "operator":
                user.role = "operator"
                await record_action(
                    tx, user.id, "grant_operator", target_user_id=user.id, details={"via": "cli"}
                )
                await tx.session.commit()
            return user, created

    async def authenticate(self, token: str) -> AccessClaims:
        """Verify an access token and that it was not revoked since.

        Raises:
            InvalidAccessToken: with ``details.reason`` one of invalid, expired, revoked.
        """
        claims = self._decode(token)
        cutoff, *denied = await self._redis.mget(_cutoff_key(claims.user_id), *_deny_keys(claims))
        if self._revoked(claims, any(d is not None for d in denied), _int_or_none(cutoff)):
            raise InvalidAccessToken("the access token was revoked", {"reason": "revoked"})
        return claims

    async def authenticate_and_count(
        self, token: str, limiter: RateLimits, limit: Limit
    ) -> tuple[AccessClaims, Decision]:
        """`authenticate`, and count the request against the caller's ``limit`` in the same
        Redis round trip (the revocation check is the count's precondition).

        Returns:
            The claims, and the rate limit's decision (the caller refuses when not allowed).

        Raises:
            InvalidAccessToken: with ``details.reason`` one of invalid, expired, revoked.
        """
        claims = self._decode(token)
        # Revoked unless the deny key is absent and the cutoff is at most the issue time.
        not_revoked = Precondition(
            absent=_deny_keys(claims),
            at_most=((_cutoff_key(claims.user_id), _issued_at(claims, self)),),
        )
        decision = await limiter.hit(limit, user_client(claims.user_id), not_revoked)
        if decision.precondition_failed:
            raise InvalidAccessToken("the access token was revoked", {"reason": "revoked"})
        return claims, decision

    def _decode(self, token: str) -> AccessClaims:
        try:
            return decode_access_token(token, self._settings, now=self._clock())
        except InvalidTokenError as exc:
            raise InvalidAccessToken(
                "the access token is not valid", {"reason": exc.reason}
            ) from exc

    def voids(self, claims: AccessClaims, notice: dict[str, Any]) -> bool:
        """Whether a revocation notice (published on the user's channel) voids this token."""
        cutoff = notice.get("cutoff")
        family = notice.get("family_id")
        return self._revoked(
            claims,
            notice.get("token_id") == claims.token_id
            or (family is not None and family == claims.family_id),
            cutoff if isinstance(cutoff, int) else None,
        )

    def _revoked(self, claims: AccessClaims, denied: bool, cutoff: int | None) -> bool:
        return denied or (cutoff is not None and _issued_at(claims, self) < cutoff)

    async def issue_access_token(
        self, user_id: int, role: str, family_id: uuid.UUID | None = None
    ) -> tuple[str, AccessClaims]:
        """An access token stamped after any cutoff of the user (of the login ``family_id``)."""
        cutoff = await self._redis.get(_cutoff_key(user_id))
        now = self._clock()
        if cutoff is not None:
            now = max(now, float(int(cutoff)))
        family = None if family_id is None else str(family_id)
        return _issue(user_id, role, self._settings, now=now, family_id=family)

    @property
    def access_ttl_s(self) -> int:
        return self._settings.access_token_ttl_s

    async def _pair(self, token: RefreshToken, role: str) -> TokenPair:
        access, claims = await self.issue_access_token(token.user_id, role, token.family_id)
        return TokenPair(
            access_token=access,
            access_expires_at=claims.expires_at,
            refresh_token=token.token,
            refresh_expires_at=token.expires_at,
            user_id=token.user_id,
            role=role,
        )

    async def _deny(self, claims: AccessClaims) -> None:
        ttl = max(1, int(claims.expires_at - self._clock()) + 1)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.set(_deny_key(claims), b"1", ex=ttl)
            notice = {"type": "_revoked", "token_id": claims.token_id}
            if claims.family_id is not None:
                pipe.set(_family_key(claims.family_id), b"1", ex=self._family_ttl_s)
                notice["family_id"] = claims.family_id
            pipe.publish(user_channel(claims.user_id), pack(notice))
            await pipe.execute()

    async def _revoke_family(self, user_id: int, family_id: uuid.UUID) -> None:
        """Void every access token of one login, and close its live connections."""
        family = str(family_id)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.set(_family_key(family), b"1", ex=self._family_ttl_s)
            notice = {"type": "_revoked", "family_id": family}
            pipe.publish(user_channel(user_id), pack(notice))
            await pipe.execute()

    @property
    def _family_ttl_s(self) -> int:
        # Every token of the login was issued before now, so it expires within one lifetime.
        return self._settings.access_token_ttl_s + 60

    async def _cut_off(self, user_id: int) -> None:
        # Tokens issued at or before this second are void; new ones are stamped at it or after.
        cutoff = int(self._clock()) + 1
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.set(_cutoff_key(user_id), cutoff, ex=self._settings.access_token_ttl_s + 60)
            pipe.publish(user_channel(user_id), pack({"type": "_revoked", "cutoff": cutoff}))
            await pipe.execute()


def _deny_key(claims: AccessClaims) -> str:
    return f"auth:deny:{claims.token_id}"


def _family_key(family_id: str) -> str:
    return f"auth:family:{family_id}"


def _deny_keys(claims: AccessClaims) -> tuple[str, ...]:
    """The keys whose presence voids this token (its own, and its login's)."""
    if claims.family_id is None:
        return (_deny_key(claims),)
    return _deny_key(claims), _family_key(claims.family_id)


def _int_or_none(value: bytes | str | None) -> int | None:
    return None if value is None else int(value)


def _cutoff_key(user_id: int) -> str:
    return f"auth:cutoff:{user_id}"


def _issued_at(claims: AccessClaims, accounts: Accounts) -> int:
    return claims.expires_at - accounts.access_ttl_s


def _taken_error(email: str, existing_email: str) -> EmailTaken | NicknameTaken:
    if existing_email == email:
        return EmailTaken("this email is already registered", {"field": "email"})
    return NicknameTaken("this nickname is taken", {"field": "nickname"})
