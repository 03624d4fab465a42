"""Accounts and sessions: register, login, refresh, logout, logout everywhere."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, status

from functions.api.deps import (
    AccountsDep,
    AuthedDep,
    ContainerDep,
    CountryDep,
    general_limit,
    login_limit,
    register_limit,
)
from functions.api.schemas import (
    LoginRequest,
    LogoutRequest,
    RefreshRequest,
    RegisterRequest,
    TokenResponse,
    UserOut,
    errors,
)
from holdem.services import jurisdiction
from holdem.services.accounts import TokenPair

router = APIRouter(
    prefix="/api/v1/auth",
    tags=["auth"],
    dependencies=[Depends(general_limit)],
    responses=errors(422, 429),
)

UserAgent = Annotated[str | None, Header(include_in_schema=False)]


def _tokens(pair: TokenPair, accounts_ttl: int) -> TokenResponse:
    return TokenResponse(
        access_token=pair.access_token,
        expires_in=accounts_ttl,
        refresh_token=pair.refresh_token,
        refresh_expires_at=pair.refresh_expires_at,
        user_id=pair.user_id,
        role=pair.role,
    )


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    dependencies=[Depends(register_limit)],
    responses=errors(400, 403, 409),
)
async def register(
    body: RegisterRequest, accounts: AccountsDep, country: CountryDep, container: ContainerDep
) -> UserOut:
    """Create a player account (not from a blocked country; at least the minimum age)."""
    today = datetime.now(UTC).date()
    jurisdiction.check_age(body.date_of_birth, today, container.settings.jurisdiction)
    user = await accounts.register(
        body.email, body.nickname, body.password, date_of_birth=body.date_of_birth, country=country
    )
    return UserOut.model_validate(user, from_attributes=True)


@router.post("/login", dependencies=[Depends(login_limit)], responses=errors(401, 403))
async def login(
    body: LoginRequest, accounts: AccountsDep, country: CountryDep, user_agent: UserAgent = None
) -> TokenResponse:
    """Exchange email and password for an access token and a refresh token (not from a
    blocked country)."""
    pair = await accounts.login(body.email, body.password, user_agent)
    return _tokens(pair, accounts.access_ttl_s)


@router.post("/refresh", responses=errors(401, 403))
async def refresh(
    body: RefreshRequest, accounts: AccountsDep, country: CountryDep, user_agent: UserAgent = None
) -> TokenResponse:
    """Rotate a refresh token: the old one is spent, a reused one revokes the login (not from
    a blocked country)."""
    pair = await accounts.refresh(body.refresh_token, user_agent)
    return _tokens(pair, accounts.access_ttl_s)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, responses=errors(401))
async def logout(
    claims: AuthedDep, accounts: AccountsDep, body: LogoutRequest | None = None
) -> None:
    """End this login: revoke its refresh token family and this access token."""
    await accounts.logout(body.refresh_token if body else None, claims)


@router.post("/logout-all", status_code=status.HTTP_204_NO_CONTENT, responses=errors(401))
async def logout_all(claims: AuthedDep, accounts: AccountsDep, request: Request) -> None:
    """End every login of the caller, on every device."""
    await accounts.logout_all(claims.user_id)
