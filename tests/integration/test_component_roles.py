"""The per-component PostgreSQL roles (migration 0007): money moves only through ledger_post,
and the ledger and audit tables are append-only for every component, at the database."""

from __future__ import annotations

import importlib.util
import uuid
from decimal import Decimal
from types import ModuleType

import psycopg
import pytest
from sqlalchemy import make_url

from devstack.paths import ROOT
from holdem.bootstrap import bootstrap
from holdem.config import Settings


def _revision() -> ModuleType:
    path = ROOT / "migrations/versions/0007_component_roles.py"
    spec = importlib.util.spec_from_file_location("component_roles", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ROLES = _revision()
LEDGER_SIGNATURE = (
    "ledger_post(text, text, text, text, bigint, bigint, bigint, bigint, bigint, bigint, jsonb)"
)


def _plain(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(False)


@pytest.fixture
def admin(database_url):
    with psycopg.connect(_plain(database_url), autocommit=True) as conn:
        yield conn


@pytest.fixture
def login_as(database_url, admin):
    """A LOGIN member of a component role, and its database URL; dropped after the test."""
    created: list[str] = []

    def make(role: str) -> str:
        user = f"t_{role}_{uuid.uuid4().hex[:8]}"
        admin.execute(f"create role {user} login in role {role}")
        created.append(user)
        return make_url(database_url).set(username=user).render_as_string(False)

    yield make
    for user in created:
        admin.execute(f"drop owned by {user}")
        admin.execute(f"drop role {user}")


def _has(conn: psycopg.Connection, role: str, table: str, privilege: str) -> bool:
    query = "select has_table_privilege(%s, %s, %s)"
    row = conn.execute(query, (role, table, privilege)).fetchone()
    assert row is not None
    return bool(row[0])


@pytest.mark.parametrize("role", ROLES.COMPONENT_ROLES)
def test_no_component_can_write_the_ledger_or_the_audit_chain_but_through_ledger_post(admin, role):
    for table in ROLES.LEDGER_TABLES:
        assert _has(admin, role, table, "SELECT"), table
        for privilege in ("INSERT", "UPDATE", "DELETE", "TRUNCATE"):
            assert not _has(admin, role, table, privilege), (table, privilege)
    row = admin.execute(
        "select has_function_privilege(%s, %s, 'EXECUTE')", (role, LEDGER_SIGNATURE)
    ).fetchone()
    assert row == (True,)


def test_ledger_post_runs_as_its_owner_with_a_pinned_search_path_and_not_for_everyone(admin):
    row = admin.execute(
        "select prosecdef, proconfig, array(select unnest(proacl)::text) "
        "from pg_proc where proname = 'ledger_post'"
    ).fetchone()
    assert row is not None
    definer, config, grants = row
    assert definer is True
    assert "search_path=public, pg_temp" in config
    # An aclitem granted to PUBLIC has an empty grantee: "=X/owner".
    assert not [grant for grant in grants if grant.startswith("=")], grants


@pytest.mark.parametrize(
    "function", ["ledger_require_accepted(jsonb)", "hand_archived(bigint, bigint)"]
)
def test_the_settlements_own_functions_are_the_table_servers_and_not_for_everyone(admin, function):
    """Migration 0014's functions, as ledger_post: PUBLIC may not execute them; the role that
    settles hands may, and no other component."""
    for role in ROLES.COMPONENT_ROLES:
        row = admin.execute(
            "select has_function_privilege(%s, %s, 'EXECUTE')", (role, function)
        ).fetchone()
        assert row == (role == "holdem_table_server",), role
    row = admin.execute(
        "select array(select unnest(proacl)::text) from pg_proc where oid = %s::regprocedure",
        (function,),
    ).fetchone()
    assert row is not None
    assert not [grant for grant in row[0] if grant.startswith("=")], row


def test_the_operators_audit_trail_is_insert_only_for_the_api(admin):
    assert _has(admin, "holdem_api", "admin_actions", "INSERT")
    for privilege in ("UPDATE", "DELETE", "TRUNCATE"):
        assert not _has(admin, "holdem_api", "admin_actions", privilege)
    for role in set(ROLES.COMPONENT_ROLES) - {"holdem_api"}:
        assert not _has(admin, role, "admin_actions", "INSERT"), role


async def test_a_component_role_moves_money_through_ledger_post_and_cannot_touch_the_ledger(
    admin, login_as, redis_url
):
    user_id = admin.execute(
        "insert into users (email, nickname, password_hash) "
        "values ('roles@example.test', 'roles', 'x') returning id"
    ).fetchone()[0]
    url = login_as("holdem_payments")
    container = bootstrap(Settings(database_url=url, redis_url=redis_url))
    try:
        service = container.ledger
        posted = await service.credit_deposit(
            key="deposit:BTC:roles:0",
            user_id=user_id,
            amount=50_000,
            coin="BTC",
            crypto_amount=Decimal("0.0005"),
            rate_krw=Decimal(100_000_000),
            tx_hash="roles",
            address="bc1qroles",
        )
        assert sum(entry.amount for entry in posted.entries) == 0
    finally:
        await container.aclose()
    with psycopg.connect(_plain(url), autocommit=True) as conn:
        for statement in (
            "update ledger_accounts set balance = balance + 1",
            "delete from audit_log",
            "update ledger_entries set amount = 0",
            "insert into ledger_table_fences (table_id, token, updated_at) values (1, 1, now())",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
    wallet = admin.execute(
        "select balance from ledger_accounts where user_id = %s and kind = 'wallet'", (user_id,)
    ).fetchone()
    assert wallet == (50_000,)
