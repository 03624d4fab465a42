"""FastAPI dependencies: the process's container (`holdem.bootstrap.process_container`, built
once per cold start), the caller's identity and the rate limits.

Every dependency is ``async def``: FastAPI runs plain ``def`` dependencies in a worker thread,
and a thread hop per dependency per request costs more than the request's own work.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from holdem.adapters.rate_limit import (
    Decision,
    Limit,
    address_client,
    user_client,
)
from holdem.adapters.repositories.accounts import role_of
from holdem.adapters.statement_pool import RowReader
from holdem.auth.tokens import AccessClaims
from holdem.bootstrap import Container, process_container
from holdem.services import jurisdiction
from holdem.services.accounts import Accounts
from holdem.services.errors import Forbidden, InvalidAccessToken, RateLimited


async def get_container() -> Container:
    """The process's container, as a dependency (tests override it with their own)."""
    return process_container(component="api")


ContainerDep = Annotated[Container, Depends(get_container)]


def _now() -> datetime:
    return datetime.now(UTC)


async def get_clock() -> Callable[[], datetime]:
    """The time rules are read at (player protection); tests override it to move time."""
    return _now


ClockDep = Annotated[Callable[[], datetime], Depends(get_clock)]


async def get_accounts(container: ContainerDep) -> Accounts:
    """The account use cases, sharing the process's password-hashing limiter."""
    return container.accounts


AccountsDep = Annotated[Accounts, Depends(get_accounts)]


async def get_db(container: ContainerDep) -> AsyncIterator[AsyncSession]:
    """A database session for the request, closed after it."""
    async with container.sessions() as session:
        yield session


DbDep = Annotated[AsyncSession, Depends(get_db)]


def read_connection(container: Container) -> AsyncConnection:
    """A bare connection for reads that select columns (rows, never ORM objects): autocommit,
    one round trip per query, and none of a session's unit-of-work bookkeeping. Opened by the
    route around its query (``async with``), so it goes back to the pool before the answer is
    serialised and sent."""
    return container.read_engine.connect()


def read_rows(container: Container) -> AbstractAsyncContextManager[RowReader]:
    """A `RowReader` for the hot column reads of a read-only route (opened around its
    queries, as `read_connection`): the same rows without SQLAlchemy's per-query work."""
    return container.reads.reader()


def read_session(container: Container) -> AsyncSession:
    """A session for reads: autocommit, so each query is one round trip (no BEGIN/ROLLBACK
    around it). Writes use `get_db` (one transaction) or their service's."""
    return AsyncSession(container.read_engine, expire_on_commit=False)


async def get_read_db(container: ContainerDep) -> AsyncIterator[AsyncSession]:
    """A `read_session` for the request of a read-only route, closed after it."""
    async with read_session(container) as db:
        yield db


ReadDbDep = Annotated[AsyncSession, Depends(get_read_db)]

_bearer = HTTPBearer(auto_error=False, description="An access token from /api/v1/auth/login")


def client_ip(request: Request) -> str:
    """The caller's address (API Gateway's sourceIp on Lambda, the peer under uvicorn)."""
    return request.client.host if request.client and request.client.host else "unknown"


def _refuse_over(limit: Limit, decision: Decision) -> None:
    if not decision.allowed:
        raise RateLimited(
            f"too many requests: at most {limit.limit} per {limit.window_s} s",
            decision.reset_after_s,
            {"scope": limit.scope, "limit": limit.limit, "window_s": limit.window_s},
        )


class RateLimit:
    """A dependency that counts the request against one limit and refuses it with 429."""

    def __init__(self, scope: str, *, per_user: bool) -> None:
        self.scope = scope
        self.per_user = per_user

    def limit(self, container: Container) -> Limit:
        """This scope's limit under the container's settings."""
        limits = container.settings.rate_limits
        if self.scope == "login":
            return Limit("login", limits.login_per_minute, 60)
        if self.scope == "register":
            return Limit("register", limits.register_per_minute, 60)
        if self.scope == "withdraw":
            return Limit("withdraw", limits.withdraw_per_hour, 3600)
        return Limit(self.scope, limits.default_per_minute, 60)

    async def __call__(self, request: Request, container: ContainerDep) -> None:
        client = address_client(client_ip(request))
        if self.per_user:
            claims = getattr(request.state, "claims", None)
            if isinstance(claims, AccessClaims):
                client = user_client(claims.user_id)
        await self.count(container, client)

    async def count(self, container: Container, client: str) -> None:
        """Count one request of ``client``; `RateLimited` (429) when over the limit."""
        limit = self.limit(container)
        _refuse_over(limit, await container.limiter.hit(limit, client))


general_limit = RateLimit("general", per_user=True)
login_limit = RateLimit("login", per_user=False)
register_limit = RateLimit("register", per_user=False)
withdraw_limit = RateLimit("withdraw", per_user=True)


async def authenticated_general_limit(
    request: Request,
    container: ContainerDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> AccessClaims:
    """The verified, unrevoked claims of the caller's access token; the request is counted
    against the caller's general budget (one Redis round trip for both)."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise InvalidAccessToken("an access token is required", {"reason": "missing"})
    claims = await authenticate(container, credentials.credentials)
    request.state.claims = claims  # per-user limits of the route (e.g. withdraw) use it
    return claims


async def authenticate(container: Container, token: str) -> AccessClaims:
    """The verified, unrevoked claims of an access token, the request counted against the
    caller's general budget (one Redis round trip for both); refused with 401 or 429."""
    limit = general_limit.limit(container)
    # The container's accounts, not a dependency: one fewer to solve per request.
    claims, decision = await container.accounts.authenticate_and_count(
        token, container.limiter, limit
    )
    _refuse_over(limit, decision)
    return claims


AuthedDep = Annotated[AccessClaims, Depends(authenticated_general_limit)]


async def operator(claims: AuthedDep, container: ContainerDep) -> AccessClaims:
    """The caller, who must be an operator by the token and, now, by the account: an operator
    demoted since the token was issued is refused (403), one deleted is unauthenticated (401)
    — their actions would name an actor who is not there."""
    if claims.role != "operator":
        raise Forbidden("operators only")
    async with read_connection(container) as db:
        role = await role_of(db, claims.user_id)
    if role is None:
        raise InvalidAccessToken(
            "the access token's account no longer exists", {"reason": "revoked"}
        )
    if role != "operator":
        raise Forbidden("operators only")
    return claims


OperatorDep = Annotated[AccessClaims, Depends(operator)]


async def allowed_country(request: Request, container: ContainerDep) -> str | None:
    """The caller's country (`holdem.services.jurisdiction.country_of`), refused with 403
    ``country_blocked`` when the card room does not serve it."""
    settings = container.settings.jurisdiction
    country = jurisdiction.country_of(request.headers.get(jurisdiction.COUNTRY_HEADER), settings)
    jurisdiction.check_country(country, settings)
    return country


CountryDep = Annotated[str | None, Depends(allowed_country)]
