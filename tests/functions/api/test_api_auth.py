"""Accounts and sessions through the ASGI app, including the usual attacks on tokens."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from datetime import UTC, datetime

import jwt
import jwt.warnings
import pytest
from sqlalchemy import func, select, text, update

from devstack.paths import ROOT
from holdem.adapters.orm.admin import AdminAction
from holdem.adapters.orm.users import Session, User
from holdem.adapters.repositories.accounts import RawRefreshRotation
from holdem.auth.passwords import PasswordService
from holdem.auth.refresh import hash_token
from holdem.auth.tokens import AUDIENCE, ISSUER, issue_access_token
from holdem.config import AuthSettings
from tests.functions.api.api_support import PASSWORD


def _error(response):
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    return body["error"]


async def test_register_login_and_profile(client, users):
    email, _, user_id = await users.register("alice")
    r = await users.login(email)
    assert r.status_code == 200
    tokens = r.json()
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] == 15 * 60
    me = await client.get(
        "/api/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert me.status_code == 200
    assert me.json()["user"] == {
        **me.json()["user"],
        "id": user_id,
        "email": email,
        "nickname": "alice",
        "role": "player",
        "is_locked": False,
    }
    assert me.json()["vip"]["level"] == "bronze"


async def test_passwords_are_stored_as_argon2id_hashes(users, container):
    _, _, user_id = await users.register("hashme")
    async with container.sessions() as db:
        user = await db.get(User, user_id)
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash


async def test_production_hashes_with_the_default_argon2id_cost():
    """The tests hash with argon2id's cheapest parameters (tests/settings_support.py). What is
    deployed sets none of them (template.yaml has no AUTH__ARGON2_* for any function or the
    table servers), so it hashes with the defaults: OWASP's minimum, m=19 MiB, t=2, p=1."""
    assert "ARGON2" not in (ROOT / "template.yaml").read_text().upper()
    encoded = await PasswordService(AuthSettings()).hash(PASSWORD)
    assert encoded.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


async def test_emails_are_case_insensitive_and_unique(client, users):
    await users.register("bob")
    r = await client.post(
        "/api/v1/auth/register",
        json={
            "email": " BOB@Example.com",
            "nickname": "bob2",
            "password": PASSWORD,
            "date_of_birth": "1990-01-01",
        },
    )
    assert r.status_code == 409
    assert _error(r)["code"] == "email_taken"
    r = await client.post(
        "/api/v1/auth/register",
        json={
            "email": "other@example.com",
            "nickname": "bob",
            "password": PASSWORD,
            "date_of_birth": "1990-01-01",
        },
    )
    assert r.status_code == 409
    assert _error(r)["code"] == "nickname_taken"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"email": "race@example.com", "nickname": "racer_b"}, "email_taken"),
        ({"email": "other@example.com", "nickname": "racer_a"}, "nickname_taken"),
    ],
)
async def test_a_registration_that_loses_the_race_for_an_email_or_nickname_is_409(
    client, container, body, code
):
    """A rival registration commits between this one's check and its insert."""
    async with container.sessions() as rival:
        rival.add(User(email="race@example.com", nickname="racer_a", password_hash="x"))
        await rival.flush()  # not committed: invisible to the check, in the way of the insert
        answer = asyncio.create_task(
            client.post(
                "/api/v1/auth/register",
                json={**body, "password": PASSWORD, "date_of_birth": "1990-01-01"},
            )
        )
        while not await _insert_waits_on_a_lock(container):
            assert not answer.done(), answer.result().text
            await asyncio.sleep(0.01)
        await rival.commit()
    r = await answer
    assert r.status_code == 409
    assert _error(r)["code"] == code
    async with container.sessions() as db:
        assert await db.scalar(select(func.count()).select_from(User)) == 1


async def _insert_waits_on_a_lock(container) -> bool:
    async with container.sessions() as db:
        waiting = await db.scalar(
            text(
                "select count(*) from pg_stat_activity where wait_event_type = 'Lock'"
                " and query ilike 'insert into users%'"
            )
        )
    return bool(waiting)


async def test_wrong_password_and_unknown_email_look_the_same(users):
    email, _, _ = await users.register()
    wrong = await users.login(email, "not the password")
    unknown = await users.login("nobody@example.com")
    assert wrong.status_code == unknown.status_code == 401
    assert _error(wrong) == _error(unknown)
    assert _error(wrong)["code"] == "invalid_credentials"


async def test_refresh_rotates_the_token_and_the_old_one_is_spent(client, users):
    p = await users.player()
    r = await client.post("/api/v1/auth/refresh", json={"refresh_token": p.refresh_token})
    assert r.status_code == 200
    new = r.json()
    assert new["refresh_token"] != p.refresh_token
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {new['access_token']}"})
    assert me.status_code == 200


async def test_refresh_token_reuse_revokes_the_whole_family(client, users, container):
    p = await users.player()
    first = await client.post("/api/v1/auth/refresh", json={"refresh_token": p.refresh_token})
    successor = first.json()["refresh_token"]
    # An attacker replays the stolen, already used token.
    replay = await client.post("/api/v1/auth/refresh", json={"refresh_token": p.refresh_token})
    assert replay.status_code == 401
    assert _error(replay)["code"] == "refresh_token_reused"
    # The legitimate successor is dead too: the family is revoked.
    after = await client.post("/api/v1/auth/refresh", json={"refresh_token": successor})
    assert after.status_code == 401
    assert _error(after)["code"] == "invalid_refresh_token"
    async with container.sessions() as db:
        alive = await db.scalar(
            select(func.count())
            .select_from(Session)
            .where(Session.user_id == p.user_id, Session.revoked_at.is_(None))
        )
    assert alive == 0


async def test_refresh_token_reuse_voids_the_access_tokens_of_the_thief_and_the_victim_at_once(
    client, users
):
    p = await users.player()
    elsewhere = (await users.login(p.email)).json()  # the same user on another device
    # The thief uses the stolen refresh token first; the victim's app then presents it again.
    thief = await client.post("/api/v1/auth/refresh", json={"refresh_token": p.refresh_token})
    thief_headers = {"Authorization": f"Bearer {thief.json()['access_token']}"}
    assert (await client.get("/api/v1/me", headers=thief_headers)).status_code == 200
    replay = await client.post("/api/v1/auth/refresh", json={"refresh_token": p.refresh_token})
    assert replay.status_code == 401
    assert _error(replay)["code"] == "refresh_token_reused"
    for headers in (p.headers, thief_headers):
        me = await client.get("/api/v1/me", headers=headers)
        assert me.status_code == 401
        assert _error(me) == {
            **_error(me),
            "code": "invalid_token",
            "details": {"reason": "revoked"},
        }
    # Only that login: the user's other device keeps its session.
    other = {"Authorization": f"Bearer {elsewhere['access_token']}"}
    assert (await client.get("/api/v1/me", headers=other)).status_code == 200
    r = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": elsewhere["refresh_token"]}
    )
    assert r.status_code == 200


async def test_logout_voids_every_access_token_of_the_login(client, users):
    p = await users.player()
    rotated = await client.post("/api/v1/auth/refresh", json={"refresh_token": p.refresh_token})
    newer = {"Authorization": f"Bearer {rotated.json()['access_token']}"}
    assert (await client.post("/api/v1/auth/logout", json={}, headers=newer)).status_code == 204
    me = await client.get("/api/v1/me", headers=p.headers)  # issued earlier to the same login
    assert me.status_code == 401
    assert _error(me)["details"]["reason"] == "revoked"


async def test_a_refresh_spends_the_token_and_stores_its_successor_in_the_login(
    client, users, container
):
    """The common rotation (one statement, `RawRefreshRotation`) stores what the general
    path stores: the successor in the same family, with the family's expiry and the client's
    user agent cut to 255 characters; the presented token is spent, not revoked."""
    p = await users.player()
    r = await client.post(
        "/api/v1/auth/refresh",
        json={"refresh_token": p.refresh_token},
        headers={"User-Agent": "a" * 300},
    )
    assert r.status_code == 200
    new = r.json()
    async with container.sessions() as db:
        spent = await db.scalar(
            select(Session).where(Session.token_hash == hash_token(p.refresh_token))
        )
        successor = await db.scalar(
            select(Session).where(Session.token_hash == hash_token(new["refresh_token"]))
        )
    assert spent is not None
    assert successor is not None
    assert spent.used_at is not None
    assert spent.revoked_at is None
    assert (successor.user_id, successor.family_id) == (p.user_id, spent.family_id)
    assert successor.expires_at == spent.expires_at
    assert successor.used_at is None
    assert successor.revoked_at is None
    assert successor.user_agent == "a" * 255
    assert (new["user_id"], new["role"]) == (p.user_id, "player")
    assert new["refresh_expires_at"] == spent.expires_at.isoformat().replace("+00:00", "Z")
    # The adapter itself: the successor rotates once, into the same login.
    rotation = RawRefreshRotation(container.reads)
    now, next_id = datetime.now(UTC), uuid.uuid4()
    again = (next_id, hash_token("next"), None)
    rotated = await rotation(hash_token(new["refresh_token"]), now, again)
    assert rotated is not None
    claimed, role = rotated
    assert (claimed.user_id, claimed.family_id, role) == (p.user_id, spent.family_id, "player")
    assert claimed.expires_at == spent.expires_at
    assert claimed.used_at == now
    assert await rotation(hash_token(new["refresh_token"]), now, again) is None


async def test_a_locked_accounts_refresh_is_403_and_spends_nothing(client, users, container):
    """A claimable token of an account locked since (here without the lock's revocation) is
    refused as locked, and stays unused: the one-statement rotation claims nothing for it."""
    p = await users.player()
    async with container.sessions() as db:
        await db.execute(update(User).where(User.id == p.user_id).values(is_locked=True))
        await db.commit()
    r = await client.post("/api/v1/auth/refresh", json={"refresh_token": p.refresh_token})
    assert r.status_code == 403
    assert _error(r)["code"] == "account_locked"
    async with container.sessions() as db:
        used = await db.scalar(
            select(Session.used_at).where(Session.token_hash == hash_token(p.refresh_token))
        )
        count = await db.scalar(
            select(func.count()).select_from(Session).where(Session.user_id == p.user_id)
        )
    assert used is None
    assert count == 1


async def test_refresh_tokens_are_stored_hashed(users, container):
    p = await users.player()
    async with container.sessions() as db:
        hashes = list(await db.scalars(select(Session.token_hash)))
    assert p.refresh_token not in hashes
    assert all(len(h) == 64 for h in hashes)


async def test_unknown_refresh_token_is_401(client):
    r = await client.post("/api/v1/auth/refresh", json={"refresh_token": "made-up"})
    assert r.status_code == 401
    assert _error(r)["code"] == "invalid_refresh_token"


async def test_expired_refresh_token_is_refused(client, users, container):
    p = await users.player()
    async with container.sessions() as db:
        await db.execute(
            Session.__table__.update()
            .where(Session.user_id == p.user_id)
            .values(expires_at=func.now() - func.make_interval(0, 0, 0, 0, 0, 0, 1))
        )
        await db.commit()
    r = await client.post("/api/v1/auth/refresh", json={"refresh_token": p.refresh_token})
    assert r.status_code == 401
    assert _error(r)["code"] == "invalid_refresh_token"


async def test_logout_revokes_the_access_token_and_the_refresh_family(client, users):
    p = await users.player()
    r = await client.post(
        "/api/v1/auth/logout", json={"refresh_token": p.refresh_token}, headers=p.headers
    )
    assert r.status_code == 204
    me = await client.get("/api/v1/me", headers=p.headers)
    assert me.status_code == 401
    assert _error(me)["details"]["reason"] == "revoked"
    again = await client.post("/api/v1/auth/refresh", json={"refresh_token": p.refresh_token})
    assert again.status_code == 401


async def test_a_revoked_token_is_not_counted_against_its_users_budget(client, users, container):
    p = await users.player()
    budget = f"rl:general:user:{p.user_id}"
    await client.post("/api/v1/auth/logout", json={}, headers=p.headers)
    counted = int(await container.redis.get(budget))  # the logout itself counts
    for _ in range(3):
        assert (await client.get("/api/v1/me", headers=p.headers)).status_code == 401
    assert int(await container.redis.get(budget)) == counted


async def test_logout_all_ends_every_login_but_a_new_login_works(client, users):
    p = await users.player()
    second = (await users.login(p.email)).json()
    r = await client.post("/api/v1/auth/logout-all", headers=p.headers)
    assert r.status_code == 204
    for token in (p.access_token, second["access_token"]):
        me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 401
    for refresh_token in (p.refresh_token, second["refresh_token"]):
        r = await client.post("/api/v1/auth/refresh", json={"refresh_token": refresh_token})
        assert r.status_code == 401
    fresh = (await users.login(p.email)).json()
    me = await client.get(
        "/api/v1/me", headers={"Authorization": f"Bearer {fresh['access_token']}"}
    )
    assert me.status_code == 200


async def test_locked_user_cannot_log_in_or_refresh_and_is_signed_out(client, users, container):
    op = await users.operator()
    p = await users.player()
    r = await client.post(f"/api/v1/admin/users/{p.user_id}/lock", headers=op.headers)
    assert r.status_code == 200
    assert r.json()["is_locked"] is True
    login = await users.login(p.email)
    assert login.status_code == 403
    assert _error(login)["code"] == "account_locked"
    assert (await client.get("/api/v1/me", headers=p.headers)).status_code == 401
    refresh = await client.post("/api/v1/auth/refresh", json={"refresh_token": p.refresh_token})
    assert refresh.status_code == 401
    r = await client.post(f"/api/v1/admin/users/{p.user_id}/unlock", headers=op.headers)
    assert r.status_code == 200
    assert (await users.login(p.email)).status_code == 200
    async with container.sessions() as db:
        actions = list(await db.scalars(select(AdminAction.action).order_by(AdminAction.id)))
    assert actions == ["lock_user", "unlock_user"]


# --- attacks on access tokens -----------------------------------------------------------


async def test_missing_token_is_401(client):
    r = await client.get("/api/v1/me")
    assert r.status_code == 401
    assert _error(r)["code"] == "invalid_token"
    assert r.headers["www-authenticate"] == "Bearer"


async def test_expired_token_is_401(client, users, settings):
    p = await users.player()
    token, _ = issue_access_token(p.user_id, "player", settings.auth, now=time.time() - 3600)
    r = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401
    assert _error(r)["details"]["reason"] == "expired"


async def test_forged_token_signed_with_another_key_is_401(client, users):
    p = await users.player()
    now = int(time.time())
    payload = {
        "sub": str(p.user_id),
        "role": "operator",
        "typ": "access",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 600,
        "jti": "x",
    }
    forged = jwt.encode(payload, "an-attacker-key-that-is-long-enough-1234", algorithm="HS256")
    r = await client.get("/api/v1/admin/users/1", headers={"Authorization": f"Bearer {forged}"})
    assert r.status_code == 401


async def test_alg_none_and_tampered_payload_are_401(client, users):
    p = await users.player()
    header, payload, signature = p.access_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["role"] = "operator"
    tampered_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    none_header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    for token in (
        f"{header}.{tampered_payload}.{signature}",
        f"{none_header}.{tampered_payload}.",
        "not-a-jwt",
    ):
        r = await client.get("/api/v1/admin/users/1", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401, token


async def test_wrong_algorithm_token_is_401(client, users, settings):
    p = await users.player()
    now = int(time.time())
    payload = {
        "sub": str(p.user_id),
        "role": "player",
        "typ": "access",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 600,
        "jti": "y",
    }
    # Same secret, different HMAC: the algorithm is pinned to HS256.
    with pytest.warns(jwt.warnings.InsecureKeyLengthWarning):
        token = jwt.encode(payload, settings.auth.jwt_secret.get_secret_value(), algorithm="HS512")
    r = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401


async def test_players_cannot_reach_operator_endpoints(client, users):
    p = await users.player()
    r = await client.get(f"/api/v1/admin/users/{p.user_id}", headers=p.headers)
    assert r.status_code == 403
    assert _error(r)["code"] == "forbidden"


@pytest.mark.parametrize(
    "body",
    [
        {
            "email": "not-an-email",
            "nickname": "valid_nick",
            "password": PASSWORD,
            "date_of_birth": "1990-01-01",
        },
        {
            "email": "a@example.com",
            "nickname": "x",
            "password": PASSWORD,
            "date_of_birth": "1990-01-01",
        },
        {"email": "a@example.com", "nickname": "valid_nick", "password": "short"},
        {
            "email": "a@example.com",
            "nickname": "valid\x00nick",
            "password": PASSWORD,
            "date_of_birth": "1990-01-01",
        },
        {"email": "a@example.com", "nickname": "valid_nick", "password": PASSWORD, "x": 1},
    ],
)
async def test_bad_registrations_are_422_and_create_nothing(client, container, body):
    r = await client.post("/api/v1/auth/register", json=body)
    assert r.status_code == 422
    assert _error(r)["code"] == "validation_error"
    async with container.sessions() as db:
        assert await db.scalar(select(func.count()).select_from(User)) == 0


async def test_a_signed_token_of_a_user_id_beyond_bigint_is_401_not_500(client, settings):
    token, _ = issue_access_token(2**63, "player", settings.auth)
    for path in ("/api/v1/me", "/api/v1/wallet/balance", "/api/v1/wallet/deposit-address/BTC"):
        r = await client.get(path, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401, (path, r.text)
        assert _error(r)["code"] == "invalid_token"
