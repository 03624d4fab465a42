"""What `./dev up` sets up so a newcomer can play at once: an operator and open tables.

The operator's password is generated once and kept under the stack's state folder
(git-ignored), so every `./dev up` of the same checkout prints the same login. The tables are
opened through the REST API as that operator (the route a real operator uses), each only
when no open table has its name: a restarted stack keeps the tables it had.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from typing import Any

import httpx

from devstack.stack import Stack
from holdem.admin_cli import create_operator
from holdem.config import Settings

OPERATOR_EMAIL = "operator@localhost.test"
OPERATOR_NICKNAME = "operator"

# Register and login limits of the local stack only (SPEC §6 defaults are 3 and 5 per minute):
# a client developer re-running a two-user test should not wait a minute.
LOCAL_RATE_LIMITS = {
    "RATE_LIMITS__REGISTER_PER_MINUTE": "60",
    "RATE_LIMITS__LOGIN_PER_MINUTE": "60",
}


@dataclass(frozen=True)
class LocalTable:
    name: str
    small_blind: int
    big_blind: int
    max_seats: int


LOCAL_TABLES = (
    LocalTable("Seoul 1000-2000 6-max", 1_000, 2_000, 6),
    LocalTable("Busan 1000-2000 9-max", 1_000, 2_000, 9),
    LocalTable("Incheon 5000-10000 6-max", 5_000, 10_000, 6),
    LocalTable("Jeju 25000-50000 heads-up", 25_000, 50_000, 2),
)


def operator_password(stack: Stack) -> str:
    """The local operator's password, generated on the first `./dev up` of this checkout."""
    path = stack.state_dir / "operator-password"
    if not path.exists():
        stack.state_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(15))
        path.chmod(0o600)
    return path.read_text().strip()


def open_local_room(stack: Stack, api_url: str) -> list[str]:
    """Create the operator and open the tables; returns lines for the banner."""
    password = operator_password(stack)
    settings = Settings(
        database_url=stack.database_url,
        redis_url=stack.redis_url,
        db={"pool_size": 2, "max_overflow": 0},
    )
    asyncio.run(create_operator(OPERATOR_EMAIL, OPERATOR_NICKNAME, password, settings))
    with httpx.Client(base_url=api_url, timeout=30) as http:
        login = http.post(
            "/api/v1/auth/login", json={"email": OPERATOR_EMAIL, "password": password}
        )
        login.raise_for_status()
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        listed = http.get("/api/v1/lobby/tables", params={"limit": 100})
        listed.raise_for_status()
        open_names = {table["name"] for table in listed.json()["items"]}
        for table in LOCAL_TABLES:
            if table.name not in open_names:
                body: dict[str, Any] = vars(table).copy()
                http.post("/api/v1/admin/tables", json=body, headers=headers).raise_for_status()
    limits = ", ".join(f"{k.split('__')[1].lower()}={v}" for k, v in LOCAL_RATE_LIMITS.items())
    return [
        f"  operator     {OPERATOR_EMAIL} / {password}  (local only)",
        f"  tables       {len(LOCAL_TABLES)} open with free seats: "
        + "; ".join(t.name for t in LOCAL_TABLES),
        f"  rate limits  raised for local use: {limits}",
    ]
