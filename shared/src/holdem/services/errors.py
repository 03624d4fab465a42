"""The services' names for the application's exception tree, which lives in `holdem.errors`.

The tree is defined one layer down so that adapters and the table protocol can raise and
share its codes without importing the services; use cases keep importing it from here.
"""

from holdem.errors import (
    AccountLocked,
    AuthenticationError,
    CoinNotAccepted,
    Conflict,
    EmailTaken,
    Forbidden,
    InvalidAccessToken,
    InvalidCredentials,
    InvalidInput,
    InvalidRefreshToken,
    LossLimitReached,
    NicknameTaken,
    NotFound,
    RateLimited,
    RatholeMinimum,
    RefreshTokenReused,
    SelfExcluded,
    ServiceError,
    SharedIdentity,
    TableNotOpen,
    Unavailable,
)

__all__ = [
    "AccountLocked",
    "AuthenticationError",
    "CoinNotAccepted",
    "Conflict",
    "EmailTaken",
    "Forbidden",
    "InvalidAccessToken",
    "InvalidCredentials",
    "InvalidInput",
    "InvalidRefreshToken",
    "LossLimitReached",
    "NicknameTaken",
    "NotFound",
    "RateLimited",
    "RatholeMinimum",
    "RefreshTokenReused",
    "SelfExcluded",
    "ServiceError",
    "SharedIdentity",
    "TableNotOpen",
    "Unavailable",
]
