"""A generic identity-verification (KYC) provider over httpx (the port:
`holdem.ports.payments.KycProvider`).

The card room never sees identity documents: it asks the provider for a verification session
for a user (``POST /v1/sessions`` with ``x-api-key``, body ``{"reference", "callback_url"}``,
answer ``{"id", "url"}``), sends the player to that URL, and learns the outcome from the
provider's signed status callbacks (`holdem.services.kyc.record_event`). Tests talk to it
through `httpx.MockTransport`, as they do to the payment gateway.
"""

from __future__ import annotations

import httpx

from holdem.ports.payments import KycProvider, KycProviderError, KycSession

TIMEOUT = httpx.Timeout(10.0, connect=5.0)


class HttpKycProvider(KycProvider):
    """A provider's REST API. Pass `transport` to talk to a mock."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        callback_url: str = "",
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url, timeout=TIMEOUT, transport=transport, headers={"x-api-key": api_key}
        )
        self._callback_url = callback_url

    async def aclose(self) -> None:
        await self._client.aclose()

    async def start_session(self, user_ref: str) -> KycSession:
        body = {"reference": user_ref, "callback_url": self._callback_url}
        try:
            response = await self._client.post("/v1/sessions", json=body)
            response.raise_for_status()
            found = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise KycProviderError("the identity-verification provider is unavailable") from exc
        if not isinstance(found, dict):
            found = {}
        session_id, url = found.get("id"), found.get("url")
        if not (isinstance(session_id, str) and isinstance(url, str)) or not url.startswith(
            "https://"
        ):
            raise KycProviderError("the identity-verification provider gave no session URL")
        return KycSession(session_id, url)
