"""Every route through the Lambda handler (`functions.http_api`) with the API Gateway events in
events/api, against real PostgreSQL and Redis; plus the correlation id and the EMF metrics."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import update

from functions.api.app import create_app
from holdem.adapters.orm.users import User
from holdem.bootstrap import process_container, reset_process_container
from holdem.config import get_settings
from tests.functions.api.api_support import make_hand, make_table

EVENTS = Path(__file__).parents[3] / "events" / "api"


def _route_key(method: str, path: str) -> str:
    return f"{method} {path}"


def _event(name: str, **values: str) -> dict:
    text = (EVENTS / f"{name}.json").read_text()
    for key, value in values.items():
        text = text.replace("${" + key + "}", value)
    assert "${" not in text, f"{name}: unfilled placeholder"
    return json.loads(text)


def test_every_route_has_an_event():
    routes = {
        _route_key(method.upper(), path)
        for path, item in create_app().openapi()["paths"].items()
        for method in item
    }
    assert len(routes) > 20
    covered = set()
    for path in EVENTS.glob("*.json"):
        event = json.loads(path.read_text())
        assert event["version"] == "2.0"
        http = event["requestContext"]["http"]
        covered.add(_route_key(http["method"], http["path"]))
    normalised = {
        re.sub(r"\$\{([A-Z_]+)\}", lambda m: "{" + m.group(1).lower() + "}", key) for key in covered
    }
    assert routes <= normalised, routes - normalised


@pytest.fixture
def lambda_env(database_url, redis_url, monkeypatch, lambda_loop):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("RUNTIME", "lambda")
    monkeypatch.setenv("AUTH__JWT_SECRET", "test-only-signing-key-0123456789abcdef")
    monkeypatch.setenv("RATE_LIMITS__REGISTER_PER_MINUTE", "100")
    monkeypatch.setenv("RATE_LIMITS__LOGIN_PER_MINUTE", "100")
    get_settings.cache_clear()
    from functions.api.handler import handler

    # The handler runs the app on the execution environment's loop: seed and clean up there.
    loop = lambda_loop
    try:
        yield handler, loop
    finally:
        loop.run_until_complete(reset_process_container())
        get_settings.cache_clear()


def test_all_routes_through_the_lambda_handler(lambda_env, capsys):
    handler, loop = lambda_env

    def call(name: str, status: int, **values: str) -> dict:
        response = handler(_event(name, **values), None)
        assert response["statusCode"] == status, (name, response["body"])
        assert response["headers"]["x-correlation-id"] == f"{name}-0001"
        return json.loads(response["body"]) if response["body"] else {}

    def register_and_login(nick: str) -> dict:
        email = f"{nick}@example.com"
        user = call("auth-register", 201, EMAIL=email, NICKNAME=nick)
        tokens = call("auth-login", 200, EMAIL=email)
        return {"id": str(user["id"]), "email": email, **tokens}

    call("health", 200)
    call("health-live", 200)
    call("health-ready", 200)
    op = register_and_login("operator1")
    player = register_and_login("player1")

    async def promote_and_seed() -> int:
        container = process_container()
        async with container.sessions() as db:
            await db.execute(update(User).where(User.id == int(op["id"])).values(role="operator"))
            table = await make_table(db, "seeded")
            hand = await make_hand(
                db, table.id, 1, [(0, int(player["id"]), "AsAd", False)], rake_share=10
            )
            await db.commit()
            return hand.id

    hand_id = str(loop.run_until_complete(promote_and_seed()))
    op = {**op, **call("auth-login", 200, EMAIL=op["email"])}  # a token with the new role
    op_token, token = op["access_token"], player["access_token"]

    assert call("me", 200, ACCESS_TOKEN=token)["user"]["nickname"] == "player1"
    assert call("vip", 200, ACCESS_TOKEN=token)["rake_paid"] == 10
    table = call("admin-create-table", 201, ACCESS_TOKEN=op_token)
    table_id = str(table["id"])
    assert call("lobby-tables", 200)["items"][0]["id"] == table["id"]
    assert call("lobby-table", 200, TABLE_ID=table_id)["seats"] == []
    assert call("hands", 200, ACCESS_TOKEN=token)["items"][0]["hand_id"] == int(hand_id)
    detail = call("hand", 200, ACCESS_TOKEN=token, HAND_ID=hand_id)
    assert detail["deck_commitment"]
    assert "deck_seed" not in detail
    call("admin-user", 200, ACCESS_TOKEN=op_token, USER_ID=player["id"])
    # make_hand's stand-in seed explains nothing: the operator's check says so, with a 200.
    verified = call("admin-hand-verification", 200, ACCESS_TOKEN=op_token, HAND_ID=hand_id)
    assert verified["ok"] is False
    chat = call("admin-hand-chat", 200, ACCESS_TOKEN=op_token, HAND_ID=hand_id)
    assert chat["lines"] == []
    muted = call("admin-chat-mute", 200, ACCESS_TOKEN=op_token, USER_ID=player["id"])
    assert muted["muted_until"] is not None
    unmuted = call("admin-chat-unmute", 200, ACCESS_TOKEN=op_token, USER_ID=player["id"])
    assert unmuted["muted_until"] is None
    call("admin-find-user", 200, ACCESS_TOKEN=op_token, EMAIL=player["email"])
    call("admin-withdrawals", 200, ACCESS_TOKEN=op_token)
    adjusted = call("admin-adjust", 201, ACCESS_TOKEN=op_token, USER_ID=player["id"])
    assert adjusted["wallet_after"] == 10_000
    assert call("wallet-balance", 200, ACCESS_TOKEN=token)["wallet"] == 10_000
    assert call("wallet-transactions", 200, ACCESS_TOKEN=token)["items"][0]["kind"] == (
        "adjustment"
    )
    limits = call("me-protection-limits", 200, ACCESS_TOKEN=token)
    assert (limits["deposit_day"], limits["reality_check_minutes"]) == (500_000, 30)
    assert call("me-protection", 200, ACCESS_TOKEN=token)["loss_day"] == 100_000
    assert call("me-protection-release-locked", 200, ACCESS_TOKEN=token)["locked"] == 0
    assert call("me-protection-exclusion", 200, ACCESS_TOKEN=token)["exclusion"] == "break"
    extended = call("admin-extend-exclusion", 200, ACCESS_TOKEN=op_token, USER_ID=player["id"])
    assert extended["permanent"] is True
    call("admin-close-table", 200, ACCESS_TOKEN=op_token, TABLE_ID=table_id)
    assert call("kyc", 200, ACCESS_TOKEN=token)["kyc_status"] == "none"
    call("kyc-session", 409, ACCESS_TOKEN=token)  # no KYC provider is configured here
    call("kyc-webhook", 401, USER_ID=player["id"], SIGNATURE="00")  # nor a webhook secret
    kyc = call("admin-set-kyc", 200, ACCESS_TOKEN=op_token, USER_ID=player["id"])
    assert kyc["kyc_status"] == "verified"
    assert call("admin-aml-flags", 200, ACCESS_TOKEN=op_token) == []
    run = call("admin-integrity-run", 201, ACCESS_TOKEN=op_token)
    assert run["trigger"] == "operator"
    assert [r["id"] for r in call("admin-integrity-runs", 200, ACCESS_TOKEN=op_token)] == [
        run["id"]
    ]
    call("admin-aml-flag-review", 404, ACCESS_TOKEN=op_token, FLAG_ID="1")
    call("admin-aml-flag-resolve", 404, ACCESS_TOKEN=op_token, FLAG_ID="1")
    call("admin-lock-user", 200, ACCESS_TOKEN=op_token, USER_ID=player["id"])
    call("me", 401, ACCESS_TOKEN=token)  # locked users are signed out
    call("admin-unlock-user", 200, ACCESS_TOKEN=op_token, USER_ID=player["id"])
    fresh = call("auth-login", 200, EMAIL=player["email"])
    rotated = call("auth-refresh", 200, REFRESH_TOKEN=fresh["refresh_token"])
    call(
        "auth-logout",
        204,
        ACCESS_TOKEN=rotated["access_token"],
        REFRESH_TOKEN=rotated["refresh_token"],
    )
    call("auth-logout-all", 204, ACCESS_TOKEN=op_token)
    call("me", 401, ACCESS_TOKEN=op_token)

    # One EMF document per invocation, with the route template as the dimension.
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert emf, "no EMF metrics were flushed"
    hand_metrics = [m for m in emf if m.get("route") == "GET /api/v1/hands/{hand_id}"]
    assert hand_metrics[0]["requests"] == [1.0]
    names = {d["Name"] for d in hand_metrics[0]["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert names == {"requests", "errors", "client_errors", "latency"}


@pytest.mark.parametrize("name", ["auth-register", "auth-login", "auth-refresh"])
def test_a_body_that_is_not_utf8_arrives_base64_encoded_and_is_a_4xx_envelope(lambda_env, name):
    """API Gateway passes such a body base64-encoded (isBase64Encoded); the app refuses it."""
    handler, _ = lambda_env
    event = _event(name, EMAIL="x@example.com", NICKNAME="x", REFRESH_TOKEN="x")
    event["body"] = base64.b64encode(b'{"email": "\xff\xfe"}').decode()
    event["isBase64Encoded"] = True
    response = handler(event, None)
    assert 400 <= response["statusCode"] < 500, response["body"]
    assert json.loads(response["body"])["error"]["code"] in {"bad_request", "validation_error"}
