"""JWT access tokens: issued by the REST API, accepted by the API and the table servers.

Tokens are HS256 with a key from the environment / Secrets Manager. Decoding pins the
algorithm (no `none`, no algorithm confusion) and requires expiry, issuer, audience and type.

A token issued by a login or a refresh names its login (``sid``: the refresh-token family), so
revoking the login — logout, or the reuse of a rotated refresh token — voids every access
token the login was given, not only the one presented.
"""

from __future__ import annotations

import functools
import re
import time
import uuid
from dataclasses import dataclass

import jwt

from holdem.bounds import MAX_BIGINT
from holdem.config import AuthSettings

ISSUER = "holdem"
AUDIENCE = "holdem-clients"
_REQUIRED_CLAIMS = ["exp", "iat", "sub", "iss", "aud", "typ", "jti"]
_CLOCK_SKEW_S = 30
_DIGITS = re.compile(r"[1-9][0-9]{0,18}")


class InvalidTokenError(Exception):
    """The token is missing, malformed, forged, expired or of the wrong kind."""

    code = "invalid_token"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class AccessClaims:
    """Who the bearer is."""

    user_id: int
    role: str
    token_id: str
    expires_at: int
    family_id: str | None = None
    """The login (refresh-token family) the token was issued to; None when issued outside a
    login (tools, tests)."""


def _signing_key(settings: AuthSettings) -> str:
    key = settings.jwt_secret.get_secret_value()
    if len(key) < 32:
        raise RuntimeError("AUTH__JWT_SECRET must be set to at least 32 characters")
    return key


def issue_access_token(
    user_id: int,
    role: str,
    settings: AuthSettings,
    now: float | None = None,
    family_id: str | None = None,
) -> tuple[str, AccessClaims]:
    """Sign a short-lived access token (SPEC: 15 minutes by default), for the login
    ``family_id`` when it is given."""
    issued = int(time.time() if now is None else now)
    claims = AccessClaims(
        user_id=user_id,
        role=role,
        token_id=uuid.uuid4().hex,
        expires_at=issued + settings.access_token_ttl_s,
        family_id=family_id,
    )
    payload: dict[str, object] = {
        "sub": str(user_id),
        "role": role,
        "typ": "access",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": issued,
        "exp": claims.expires_at,
        "jti": claims.token_id,
    }
    if family_id is not None:
        payload["sid"] = family_id
    token = jwt.encode(payload, _signing_key(settings), algorithm=settings.jwt_algorithm)
    return token, claims


def decode_access_token(
    token: str, settings: AuthSettings, now: float | None = None
) -> AccessClaims:
    """Verify signature, algorithm, expiry, issuer, audience and type; return the claims."""
    claims, issued_at = _verified(token, _signing_key(settings), settings.jwt_algorithm)
    # Time claims are checked here against `now`, so tests and replays use one clock.
    current = time.time() if now is None else now
    if claims.expires_at <= current:
        raise InvalidTokenError("expired")
    if issued_at > current + _CLOCK_SKEW_S:
        raise InvalidTokenError("invalid")
    return claims


@functools.lru_cache(maxsize=8192)
def _verified(token: str, key: str, algorithm: str) -> tuple[AccessClaims, int]:
    """The claims of a token whose signature and time-independent claims are valid, with its
    issue time. Cached by the exact token string: a client presents the same token on every
    request for its 15 minutes, and verifying it again would give the same answer (PyJWT
    also re-parses the key on each decode). Refusals are not cached: they raise."""
    options = {"require": _REQUIRED_CLAIMS, "verify_exp": False, "verify_iat": False}
    try:
        payload = jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            audience=AUDIENCE,
            issuer=ISSUER,
            options=options,  # type: ignore[arg-type]
            leeway=0,
        )
    except jwt.PyJWTError as exc:
        raise InvalidTokenError("invalid") from exc
    if not isinstance(payload["exp"], int) or not isinstance(payload["iat"], int):
        raise InvalidTokenError("invalid")
    subject, family = payload["sub"], payload.get("sid")
    if payload["typ"] != "access" or not isinstance(subject, str) or not _DIGITS.fullmatch(subject):
        raise InvalidTokenError("invalid")
    # User ids are bigints: a subject above the range names nobody (and would fail a query).
    if int(subject) > MAX_BIGINT or not (family is None or isinstance(family, str)):
        raise InvalidTokenError("invalid")
    claims = AccessClaims(
        user_id=int(subject),
        role=str(payload.get("role", "player")),
        token_id=str(payload["jti"]),
        expires_at=int(payload["exp"]),
        family_id=family,
    )
    return claims, payload["iat"]
