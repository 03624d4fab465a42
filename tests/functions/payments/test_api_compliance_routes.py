"""The compliance routes through the ASGI app: KYC (status, verification session, the
provider's webhook, the operator's setting) and the operators' AML queue, each audited."""

from __future__ import annotations

import json

import httpx
import pytest
from sqlalchemy import select

from holdem.adapters.kyc import HttpKycProvider
from holdem.adapters.orm.admin import AdminAction
from holdem.adapters.orm.compliance import AmlFlag
from holdem.adapters.orm.users import User
from holdem.config import Settings
from holdem.payments import signatures
from holdem.services import kyc
from tests.functions.api.conftest import Users, make_app
from tests.payments_support import fund, utc_now
from tests.settings_support import TEST_AUTH

KYC_SECRET = "test-only-kyc-secret"
BTC_ADDRESS = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"


@pytest.fixture
def settings(database_url, redis_url) -> Settings:
    return Settings(
        database_url=database_url,
        redis_url=redis_url,
        auth=TEST_AUTH,
        money={"webhook_secret": "test-only-webhook-secret", "kyc_required_above_krw": 100_000},
        kyc={"webhook_secret": KYC_SECRET},
        aml={"hold_rules": ["structuring", "shared_address"]},
        rate_limits={"default_per_minute": 10_000, "login_per_minute": 1_000},
    )


@pytest.fixture
def app(container, payments):
    # `payments` replaced the container's gateway and rates with the simulator's.
    return make_app(container)


@pytest.fixture
async def client(app):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        yield c


@pytest.fixture
def users(client, container) -> Users:
    return Users(client, container)


def _signed(user_id: int, status: str, event_id: str = "ev-1") -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        {
            "event_id": event_id,
            "reference": kyc.reference_of(user_id),
            "status": status,
            "occurred_at": utc_now().isoformat(),
        }
    ).encode()
    headers = {"x-kyc-signature": signatures.sign(body, KYC_SECRET)}
    return body, {**headers, "content-type": "application/json"}


async def _actions(container, name: str) -> list[AdminAction]:
    async with container.sessions() as session:
        stmt = select(AdminAction).where(AdminAction.action == name).order_by(AdminAction.id)
        return list((await session.execute(stmt)).scalars())


async def test_a_held_withdrawal_shows_why_and_the_provider_webhook_releases_it(client, users):
    player = await users.player()
    await fund(users.container, player.user_id, 500_000)
    r = await client.post(
        "/api/v1/wallet/withdraw",
        json={"amount_krw": 200_000, "coin": "BTC", "address": BTC_ADDRESS},
        headers={**player.headers, "Idempotency-Key": "k1"},
    )
    assert r.status_code == 201, r.text
    assert (r.json()["status"], r.json()["kyc_required"]) == ("pending", True)
    assert (await client.get("/api/v1/kyc", headers=player.headers)).json()["kyc_status"] == "none"

    body, headers = _signed(player.user_id, "verified")
    first = await client.post("/api/v1/kyc/webhook", content=body, headers=headers)
    again = await client.post("/api/v1/kyc/webhook", content=body, headers=headers)
    assert (first.status_code, first.json()) == (
        200,
        {"status": "applied", "kyc_status": "verified"},
    )
    assert again.json()["status"] == "duplicate"
    listed = await client.get("/api/v1/wallet/withdrawals", headers=player.headers)
    assert listed.json()[0]["kyc_required"] is False
    mine = await client.get("/api/v1/kyc", headers=player.headers)
    assert mine.json()["kyc_status"] == "verified"


async def test_the_webhook_refuses_bad_signatures_and_oversized_bodies(client, users, container):
    player = await users.player()
    body, headers = _signed(player.user_id, "verified")
    forged = await client.post(
        "/api/v1/kyc/webhook", content=body, headers={**headers, "x-kyc-signature": "00" * 64}
    )
    assert (forged.status_code, forged.json()["error"]["code"]) == (401, "invalid_signature")
    huge = b'{"pad": "' + b"x" * (64 * 1024) + b'"}'
    too_large = await client.post(
        "/api/v1/kyc/webhook", content=huge, headers={"content-type": "application/json"}
    )
    assert (too_large.status_code, too_large.json()["error"]["code"]) == (413, "payload_too_large")
    garbled = await client.post(
        "/api/v1/kyc/webhook", content=b"{", headers={**headers, "x-kyc-signature": "00"}
    )
    assert (garbled.status_code, garbled.json()["error"]["code"]) == (400, "malformed_body")
    async with container.sessions() as session:
        assert (await session.get(User, player.user_id)).kyc_status == "none"


async def test_starting_a_verification_needs_a_provider(client, users, payments):
    player = await users.player()
    r = await client.post("/api/v1/kyc/session", headers=player.headers)
    assert (r.status_code, r.json()["error"]["code"]) == (409, "kyc_provider_not_configured")

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"id": "s1", "url": "https://kyc.test/s/s1"})

    payments.container.kyc_provider = HttpKycProvider(
        "https://kyc.test", "key", transport=httpx.MockTransport(answer)
    )
    r = await client.post("/api/v1/kyc/session", headers=player.headers)
    assert r.json() == {"kyc_status": "pending", "url": "https://kyc.test/s/s1"}


async def test_an_operator_sets_kyc_status_audited_and_players_cannot(client, users, container):
    player = await users.player()
    operator = await users.operator()
    url = f"/api/v1/admin/users/{player.user_id}/kyc"
    body = {"status": "verified", "note": "documents checked by hand"}
    refused = await client.put(url, json=body, headers=player.headers)
    assert refused.status_code == 403
    r = await client.put(url, json=body, headers=operator.headers)
    assert r.status_code == 200, r.text
    assert r.json()["kyc_status"] == "verified"
    bad = await client.put(url, json={"status": "approved", "note": "x"}, headers=operator.headers)
    assert bad.status_code == 422
    no_note = await client.put(url, json={"status": "none"}, headers=operator.headers)
    assert no_note.status_code == 422
    missing = await client.put(
        "/api/v1/admin/users/999999/kyc", json=body, headers=operator.headers
    )
    assert missing.status_code == 404
    [audit] = await _actions(container, "kyc_status_set")
    assert (audit.actor_id, audit.target_user_id) == (operator.user_id, player.user_id)


async def test_operators_list_review_and_resolve_aml_flags_all_audited(client, users, container):
    first, second = await users.player(), await users.player()
    operator = await users.operator()
    for n, p in enumerate((first, second)):
        await fund(container, p.user_id, 100_000)
        r = await client.post(
            "/api/v1/wallet/withdraw",
            json={"amount_krw": 50_000, "coin": "BTC", "address": BTC_ADDRESS},
            headers={**p.headers, "Idempotency-Key": f"k{n}"},
        )
        assert r.status_code == 201, r.text
    assert r.json()["status"] == "held"  # the second one: another account's address

    assert (await client.get("/api/v1/admin/aml/flags", headers=first.headers)).status_code == 403
    listed = await client.get("/api/v1/admin/aml/flags", headers=operator.headers)
    [flag] = listed.json()
    assert (flag["rule"], flag["user_id"], flag["status"]) == (
        "shared_address",
        second.user_id,
        "open",
    )
    base = f"/api/v1/admin/aml/flags/{flag['id']}"
    reviewed = await client.post(f"{base}/review", headers=operator.headers)
    assert reviewed.json()["status"] == "reviewing"
    twice = await client.post(f"{base}/review", headers=operator.headers)
    assert (twice.status_code, twice.json()["error"]["code"]) == (409, "aml_flag_transition")
    empty = await client.post(f"{base}/resolve", json={"note": ""}, headers=operator.headers)
    assert empty.status_code == 422
    resolved = await client.post(
        f"{base}/resolve", json={"note": "siblings sharing a wallet"}, headers=operator.headers
    )
    assert resolved.json()["resolution_note"] == "siblings sharing a wallet"
    gone = await client.post(
        "/api/v1/admin/aml/flags/999999/resolve", json={"note": "x"}, headers=operator.headers
    )
    assert (gone.status_code, gone.json()["error"]["code"]) == (404, "aml_flag_not_found")
    open_now = await client.get("/api/v1/admin/aml/flags", headers=operator.headers)
    assert open_now.json() == []
    for action in ("aml_flags_list", "aml_flag_review", "aml_flag_resolve"):
        assert await _actions(container, action), action
    [resolve] = await _actions(container, "aml_flag_resolve")
    assert resolve.details["note"] == "siblings sharing a wallet"
    async with container.sessions() as session:
        row = await session.get(AmlFlag, flag["id"])
        assert (row.resolved_by, row.status) == (operator.user_id, "resolved")
