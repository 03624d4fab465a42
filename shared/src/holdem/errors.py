# ruff: noqa: N818  (error names read as conditions: NotFound, RateLimited, ...)
"""The application's exception tree. Every error has a stable machine ``code``.

The services raise these (through their alias `holdem.services.errors`), the adapters build on
them when they translate a provider's failure (``raise KycProviderError(...) from exc``), and
the table protocol shares the codes both transports know. The module imports nothing of ours,
so every layer may use it without depending on another.

Transports map these to wire outcomes in one table each (the REST API in
``functions.api.errors``; the table servers answer with the code, and close the connection for
the codes in ``holdem.protocol.errors.CLOSE_CODES``) and never branch on message text. One
concept has one class: a seat taken is the engine's ``SeatTakenError`` (also raised for a
seat PostgreSQL has open), and the table servers raise `InvalidAccessToken`, `RateLimited` and
`SelfExcluded` from here. The tree::

    ServiceError                     service_error
    ├── InvalidInput                 invalid_input
    │   └── CoinNotAccepted          unsupported_coin
    ├── NotFound                     not_found
    ├── Conflict                     conflict
    │   ├── EmailTaken               email_taken
    │   ├── NicknameTaken            nickname_taken
    │   └── TableNotOpen             table_not_open
    ├── AuthenticationError          unauthenticated
    │   ├── InvalidCredentials       invalid_credentials
    │   ├── InvalidAccessToken       invalid_token
    │   ├── InvalidRefreshToken      invalid_refresh_token
    │   └── RefreshTokenReused       refresh_token_reused
    ├── Forbidden                    forbidden
    │   ├── AccountLocked            account_locked
    │   ├── SelfExcluded             self_excluded
    │   ├── LossLimitReached         loss_limit_reached
    │   └── SharedIdentity           shared_identity
    ├── RateLimited                  rate_limited
    └── Unavailable                  service_unavailable
"""

from __future__ import annotations

from typing import Any, ClassVar


class ServiceError(Exception):
    """Base of every error a use case raises on purpose."""

    code: ClassVar[str] = "service_error"

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}


class InvalidInput(ServiceError):
    """The request is well-formed but its values break a rule."""

    code = "invalid_input"


class CoinNotAccepted(InvalidInput):
    """The coin is not one the card room takes (a deposit address or a withdrawal)."""

    code = "unsupported_coin"


class NotFound(ServiceError):
    """The thing asked for does not exist (or the caller may not know it exists)."""

    code = "not_found"


class Conflict(ServiceError):
    """The request clashes with the current state."""

    code = "conflict"


class EmailTaken(Conflict):
    code = "email_taken"


class NicknameTaken(Conflict):
    code = "nickname_taken"


class TableNotOpen(Conflict):
    """The table does not exist or is not open (closing or closed)."""

    code = "table_not_open"


class AuthenticationError(ServiceError):
    """Who the caller is could not be established."""

    code = "unauthenticated"


class InvalidCredentials(AuthenticationError):
    """Unknown email or wrong password (deliberately not told apart)."""

    code = "invalid_credentials"


class InvalidAccessToken(AuthenticationError):
    """The access token is missing, malformed, forged, expired or revoked."""

    code = "invalid_token"


class InvalidRefreshToken(AuthenticationError):
    """The refresh token is unknown, expired or revoked."""

    code = "invalid_refresh_token"


class RefreshTokenReused(AuthenticationError):
    """A refresh token was used twice: its whole family has been revoked."""

    code = "refresh_token_reused"


class Forbidden(ServiceError):
    """The caller is known but may not do this."""

    code = "forbidden"


class AccountLocked(Forbidden):
    code = "account_locked"


class SelfExcluded(Forbidden):
    """The player is on a break or self-excluded: no play until it ends."""

    code = "self_excluded"


class LossLimitReached(Forbidden):
    """Bringing these chips to a table could pass one of the player's loss limits."""

    code = "loss_limit_reached"


class SharedIdentity(Forbidden):
    """A player seated at the table logged in from the newcomer's IP address or device, and
    the operator blocks that at ``sit`` (docs/integrity.md)."""

    code = "shared_identity"


class RatholeMinimum(InvalidInput):
    """A player who left these stakes a short while ago must bring back at least the stack
    they left with (the rathole rule); details: ``minimum``, ``until``."""

    code = "rathole_minimum"


class RateLimited(ServiceError):
    """Too many requests (API) or messages (a table server connection) in the current window.

    Args:
        retry_after_s: when to try again (the API's ``Retry-After``).
    """

    code = "rate_limited"

    def __init__(self, message: str, retry_after_s: int, details: dict[str, Any] | None = None):
        super().__init__(message, {"retry_after_s": retry_after_s, **(details or {})})
        self.retry_after_s = retry_after_s


class Unavailable(ServiceError):
    """A provider we depend on (e.g. the payment gateway) cannot be reached: retry later."""

    code = "service_unavailable"
