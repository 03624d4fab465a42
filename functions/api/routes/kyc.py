"""KYC: my verification status, starting a verification at the provider, and the
provider's signed status callback (docs/compliance.md, "KYC")."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from functions.api.deps import AuthedDep, ContainerDep
from functions.api.schemas import errors
from functions.gateway_callbacks import MAX_BODY_BYTES, TOO_LARGE, read_capped
from holdem.services import kyc

router = APIRouter(prefix="/api/v1/kyc", tags=["kyc"], responses=errors(422, 429))


class KycStatusOut(BaseModel):
    kyc_status: Literal["none", "pending", "verified", "rejected"]
    updated_at: datetime | None


class KycSessionOut(BaseModel):
    kyc_status: Literal["none", "pending", "verified", "rejected"]
    url: str = Field(description="Where the player verifies, at the provider (https)")


class KycEventOut(BaseModel):
    status: Literal["applied", "duplicate", "superseded"]
    kyc_status: str


@router.get("", responses=errors(401))
async def my_kyc(claims: AuthedDep, container: ContainerDep) -> KycStatusOut:
    """My identity-verification status."""
    view = await kyc.status_of(container.kyc(), claims.user_id)
    return KycStatusOut(kyc_status=view.status, updated_at=view.updated_at)


@router.post("/session", responses=errors(401, 409, 503))
async def start_session(claims: AuthedDep, container: ContainerDep) -> KycSessionOut:
    """Start identity verification: the answer's URL is where the player verifies (409 when
    the card room verifies players itself, with no provider)."""
    started = await kyc.start_verification(container.kyc(), claims.user_id)
    return KycSessionOut(kyc_status=started.status, url=started.url)


@router.post(
    "/webhook",
    response_model=KycEventOut,
    responses=errors(400, 401, 404, 413),
)
async def provider_event(request: Request, container: ContainerDep) -> KycEventOut | JSONResponse:
    """The KYC provider's status callback, signed in ``x-kyc-signature`` (not for clients)."""
    body = await read_capped(request, MAX_BODY_BYTES)
    if body is None:
        return JSONResponse(TOO_LARGE, 413, headers={"connection": "close"})
    deps = container.kyc()
    result = await kyc.record_event(deps, body, request.headers.get(kyc.SIGNATURE_HEADER))
    await deps.notifier.notify_all(list(result.notices))
    return KycEventOut(status=result.outcome.value, kyc_status=result.kyc_status)
