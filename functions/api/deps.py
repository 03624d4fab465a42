"""FastAPI dependencies: the process's adapters (built once per cold start), the use cases,
the caller's identity and the rate limits.

Every dependency is ``async def``: FastAPI runs plain ``def`` dependencies in a worker thread,
and a thread hop per dependency per request costs more than the request's own work.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import lru_cache
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from holdem.adapters.rate_limit import Limit, RateLimiter
from holdem.auth.passwords import PasswordService
from holdem.auth.tokens import AccessClaims
from holdem.bootstrap import Container, bootstrap
from holdem.config import AuthSettings
from holdem.services.accounts import Accounts
from holdem.services.errors import Forbidden, InvalidAccessToken, RateLimited


@lru_cache(maxsize=1)
def process_container() -> Container:
    """The adapters of this process (one Lambda execution environment or one server)."""
    return bootstrap(component="api")


async def get_container() -> Container:
    """The process's adapters, as a dependency (tests override it with their own)."""
    return process_container()


ContainerDep = Annotated[Container, Depends(get_container)]


@lru_cache(maxsize=4)
def _passwords(
    time_cost: int, memory_kib: int, parallelism: int, concurrency: int
) -> PasswordService:
    return PasswordService(
        AuthSettings(
            argon2_time_cost=time_cost,
            argon2_memory_kib=memory_kib,
            argon2_parallelism=parallelism,
            argon2_max_concurrency=concurrency,
        )
    )


async def get_accounts(container: ContainerDep) -> Accounts:
    """The account use cases, sharing the process's password-hashing limiter."""
    auth = container.settings.auth
    passwords = _passwords(
        auth.argon2_time_cost,
        auth.argon2_memory_kib,
        auth.argon2_parallelism,
        auth.argon2_max_concurrency,
    )
    return Accounts(container.sessions, container.redis, auth, passwords)


AccountsDep = Annotated[Accounts, Depends(get_accounts)]


async def get_db(container: ContainerDep) -> AsyncIterator[AsyncSession]:
    """A database session for the request, closed after it."""
    async with container.sessions() as session:
        yield session


DbDep = Annotated[AsyncSession, Depends(get_db)]

_read_engines: dict[int, tuple[Container, AsyncEngine]] = {}


async def get_read_db(container: ContainerDep) -> AsyncIterator[AsyncSession]:
    """A session for read-only routes: autocommit, so each query is one round trip (no
    BEGIN/ROLLBACK around it). Writes use `get_db` (one transaction) or their service's."""
    found = _read_engines.get(id(container))
    if found is None or found[0] is not container:
        found = (container, container.engine.execution_options(isolation_level="AUTOCOMMIT"))
        _read_engines[id(container)] = found
    async with AsyncSession(found[1], expire_on_commit=False) as session:
        yield session


ReadDbDep = Annotated[AsyncSession, Depends(get_read_db)]

_bearer = HTTPBearer(auto_error=False, description="An access token from /api/v1/auth/login")


async def current_user(
    request: Request,
    accounts: AccountsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> AccessClaims:
    """The verified, unrevoked claims of the caller's access token."""
    cached = getattr(request.state, "claims", None)
    if isinstance(cached, AccessClaims):
        return cached
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise InvalidAccessToken("an access token is required", {"reason": "missing"})
    claims = await accounts.authenticate(credentials.credentials)
    request.state.claims = claims
    return claims


UserDep = Annotated[AccessClaims, Depends(current_user)]


def client_ip(request: Request) -> str:
    """The caller's address (API Gateway's sourceIp on Lambda, the peer under uvicorn)."""
    return request.client.host if request.client and request.client.host else "unknown"


class RateLimit:
    """A dependency that counts the request against one limit and refuses it with 429."""

    def __init__(self, scope: str, *, per_user: bool) -> None:
        self.scope = scope
        self.per_user = per_user

    def _limit(self, container: Container) -> Limit:
        limits = container.settings.rate_limits
        if self.scope == "login":
            return Limit("login", limits.login_per_minute, 60)
        if self.scope == "register":
            return Limit("register", limits.register_per_minute, 60)
        if self.scope == "withdraw":
            return Limit("withdraw", limits.withdraw_per_hour, 3600)
        return Limit(self.scope, limits.default_per_minute, 60)

    async def __call__(self, request: Request, container: ContainerDep) -> None:
        client = f"ip:{client_ip(request)}"
        if self.per_user:
            claims = getattr(request.state, "claims", None)
            if isinstance(claims, AccessClaims):
                client = f"user:{claims.user_id}"
        limit = self._limit(container)
        decision = await RateLimiter(container.redis).hit(limit, client)
        if not decision.allowed:
            raise RateLimited(
                f"too many requests: at most {limit.limit} per {limit.window_s} s",
                decision.reset_after_s,
                {"scope": limit.scope, "limit": limit.limit, "window_s": limit.window_s},
            )


general_limit = RateLimit("general", per_user=True)
login_limit = RateLimit("login", per_user=False)
register_limit = RateLimit("register", per_user=False)
withdraw_limit = RateLimit("withdraw", per_user=True)


async def authenticated_general_limit(
    claims: UserDep, request: Request, container: ContainerDep
) -> AccessClaims:
    """Authenticate, then count the request against the caller's general budget."""
    await general_limit(request, container)
    return claims


AuthedDep = Annotated[AccessClaims, Depends(authenticated_general_limit)]


async def operator(claims: AuthedDep) -> AccessClaims:
    """The caller, who must be an operator."""
    if claims.role != "operator":
        raise Forbidden("operators only")
    return claims


OperatorDep = Annotated[AccessClaims, Depends(operator)]
