"""Jurisdiction and age at the API: blocked countries refused at registration and login (the
CloudFront country header trusted only when configured), the date of birth checked against
the minimum age; clear 4xx codes, nothing created."""

from __future__ import annotations

from datetime import UTC, date, datetime

import httpx
import pytest
from sqlalchemy import func, select

from holdem.adapters.orm.users import User
from holdem.bootstrap import bootstrap
from holdem.config import Settings
from holdem.services.jurisdiction import age_on
from tests.functions.api.api_support import PASSWORD, make_app
from tests.settings_support import TEST_AUTH

HEADER = "CloudFront-Viewer-Country"


def _settings(database_url, redis_url, **jurisdiction) -> Settings:
    return Settings(
        database_url=database_url,
        redis_url=redis_url,
        auth=TEST_AUTH,
        rate_limits={
            "default_per_minute": 10_000,
            "login_per_minute": 1_000,
            "register_per_minute": 1_000,
        },
        jurisdiction=jurisdiction,
    )


@pytest.fixture
async def room(database_url, redis_url):
    """`await room(**jurisdiction)`: an API client of a card room with those settings, and
    its container; all closed after the test."""
    opened: list = []

    async def make(**jurisdiction):
        container = bootstrap(_settings(database_url, redis_url, **jurisdiction))
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=make_app(container)), base_url="http://t"
        )
        opened.append((client, container))
        return client, container

    yield make
    for client, container in opened:
        await client.aclose()
        await container.aclose()


def _body(n: int = 1, born: str = "1990-01-01") -> dict:
    return {
        "email": f"j{n}@example.com",
        "nickname": f"juris{n}",
        "password": PASSWORD,
        "date_of_birth": born,
    }


async def _users(container) -> int:
    async with container.sessions() as db:
        return int(await db.scalar(select(func.count()).select_from(User)) or 0)


def _years_ago(years: int, today: date) -> date:
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # 29 February
        return today.replace(year=today.year - years, day=28)


async def test_registration_login_and_refresh_from_a_blocked_country_are_refused(room):
    client, container = await room(blocked_countries=("US", "KP"), trust_country_header=True)
    r = await client.post("/api/v1/auth/register", json=_body(), headers={HEADER: "US"})
    assert (r.status_code, r.json()["error"]["code"]) == (403, "country_blocked")
    assert r.json()["error"]["details"] == {"country": "US"}
    assert await _users(container) == 0
    ok = await client.post("/api/v1/auth/register", json=_body(), headers={HEADER: "kr"})
    assert ok.status_code == 201, ok.text
    async with container.sessions() as db:
        user = await db.get(User, ok.json()["id"])
        assert (user.country, user.date_of_birth) == ("KR", date(1990, 1, 1))
    login = {"email": "j1@example.com", "password": PASSWORD}
    travelling = await client.post("/api/v1/auth/login", json=login, headers={HEADER: "KP"})
    assert (travelling.status_code, travelling.json()["error"]["code"]) == (403, "country_blocked")
    home = await client.post("/api/v1/auth/login", json=login, headers={HEADER: "KR"})
    assert home.status_code == 200
    token = {"refresh_token": home.json()["refresh_token"]}
    abroad = await client.post("/api/v1/auth/refresh", json=token, headers={HEADER: "US"})
    assert (abroad.status_code, abroad.json()["error"]["code"]) == (403, "country_blocked")
    rotated = await client.post("/api/v1/auth/refresh", json=token, headers={HEADER: "KR"})
    assert rotated.status_code == 200  # the refused attempt spent nothing


async def test_the_country_header_is_ignored_unless_trusted(room):
    client, container = await room(blocked_countries=("US",))
    r = await client.post("/api/v1/auth/register", json=_body(), headers={HEADER: "US"})
    assert r.status_code == 201, r.text  # anyone could have written it
    async with container.sessions() as db:
        assert (await db.get(User, r.json()["id"])).country is None


async def test_locally_the_country_is_a_setting(room):
    client, _ = await room(blocked_countries=("US",), default_country="us")
    r = await client.post("/api/v1/auth/register", json=_body(), headers={HEADER: "KR"})
    assert (r.status_code, r.json()["error"]["code"]) == (403, "country_blocked")


@pytest.mark.parametrize("header", [None, "", "XXX", "1A"])
async def test_an_unknown_country_is_refused_when_so_configured(room, header):
    client, container = await room(
        blocked_countries=("US",), trust_country_header=True, refuse_unknown_country=True
    )
    headers = {} if header is None else {HEADER: header}
    r = await client.post("/api/v1/auth/register", json=_body(), headers=headers)
    assert (r.status_code, r.json()["error"]["code"]) == (403, "country_blocked")
    assert await _users(container) == 0


async def test_a_player_under_the_minimum_age_cannot_register(room):
    client, container = await room()
    today = datetime.now(UTC).date()
    born = _years_ago(17, today)  # 17 today: one year short of the default 18
    r = await client.post("/api/v1/auth/register", json=_body(born=born.isoformat()))
    assert (r.status_code, r.json()["error"]["code"]) == (403, "under_minimum_age")
    assert r.json()["error"]["details"] == {"minimum_age": 18}
    assert await _users(container) == 0
    exactly = _years_ago(18, today)
    assert age_on(exactly, today) == 18
    r = await client.post("/api/v1/auth/register", json=_body(2, exactly.isoformat()))
    assert r.status_code == 201, r.text


async def test_the_minimum_age_is_configurable(room):
    client, _ = await room(minimum_age=19)
    born = _years_ago(18, datetime.now(UTC).date())
    r = await client.post("/api/v1/auth/register", json=_body(born=born.isoformat()))
    assert (r.status_code, r.json()["error"]["details"]) == (403, {"minimum_age": 19})


@pytest.mark.parametrize(
    ("born", "status", "code"),
    [
        ("2999-01-01", 400, "invalid_date_of_birth"),
        ("1850-06-01", 400, "invalid_date_of_birth"),
        ("1990-02-30", 422, "validation_error"),
        ("not a date", 422, "validation_error"),
        (19900101, 422, "validation_error"),
        (None, 422, "validation_error"),
    ],
)
async def test_a_bad_date_of_birth_is_a_clear_4xx(room, born, status, code):
    client, container = await room()
    body = _body(born=born)
    if born is None:
        del body["date_of_birth"]
    r = await client.post("/api/v1/auth/register", json=body)
    assert (r.status_code, r.json()["error"]["code"]) == (status, code)
    assert await _users(container) == 0


def test_age_counts_whole_years_and_leap_day_birthdays():
    assert age_on(date(2004, 2, 29), date(2022, 2, 28)) == 17
    assert age_on(date(2004, 2, 29), date(2022, 3, 1)) == 18
    assert age_on(date(2000, 12, 31), date(2018, 12, 31)) == 18
