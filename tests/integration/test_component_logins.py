"""The components' LOGIN users (migration 0010) and the deploy step that gives them their
secrets' passwords (`holdem.adapters.database_logins`, ``admin_cli set-database-passwords``)."""

from __future__ import annotations

import importlib.util
from types import ModuleType

import psycopg
import pytest
from sqlalchemy import make_url

from devstack.paths import ROOT
from holdem.adapters.database_logins import (
    DatabaseLoginError,
    logins_from_environment,
    set_login_passwords,
)
from tests.template.conftest import run_python


def _revision() -> ModuleType:
    path = ROOT / "migrations/versions/0010_component_logins.py"
    spec = importlib.util.spec_from_file_location("component_logins", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


LOGINS: dict[str, str] = _revision().LOGINS


def _plain(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(False)


@pytest.fixture
def admin(database_url):
    with psycopg.connect(_plain(database_url), autocommit=True) as conn:
        yield conn


def _has_password(admin: psycopg.Connection, login: str) -> bool:
    row = admin.execute(
        "select rolpassword is not null from pg_authid where rolname = %s", (login,)
    ).fetchone()
    assert row is not None
    return bool(row[0])


@pytest.fixture
def cleared(admin):
    """The logins belong to the test cluster: leave them without a password afterwards."""
    yield
    for login in LOGINS:
        admin.execute(f"alter role {login} password null")


@pytest.mark.parametrize(("login", "role"), LOGINS.items())
def test_each_component_login_is_a_plain_member_of_its_role_and_nothing_else(admin, login, role):
    row = admin.execute(
        "select rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolinherit, "
        "array(select g.rolname from pg_auth_members m join pg_roles g on g.oid = m.roleid "
        "      where m.member = r.oid) "
        "from pg_roles r where rolname = %s",
        (login,),
    ).fetchone()
    assert row == (True, False, False, False, True, [role])


def test_the_logins_connect_with_their_roles_grants(database_url):
    url = make_url(database_url).set(username="holdem_table_server_login")
    with psycopg.connect(_plain(url.render_as_string(False)), autocommit=True) as conn:
        row = conn.execute("select current_user, has_table_privilege('seats', 'INSERT')")
        assert row.fetchone() == ("holdem_table_server_login", True)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("update ledger_accounts set balance = balance + 1")


def test_set_database_passwords_gives_every_login_its_password(database_url, admin, cleared):
    changed = set_login_passwords(
        database_url, {login: f"pw{n}x" for n, login in enumerate(LOGINS)}
    )
    assert changed == sorted(LOGINS)
    assert all(_has_password(admin, login) for login in LOGINS)
    # Again, as every deploy runs it: the same outcome.
    assert set_login_passwords(database_url, {"holdem_api_login": "pw0x"}) == ["holdem_api_login"]


@pytest.mark.parametrize("target", ["postgres", "holdem_api", "no_such_login"])
def test_set_database_passwords_refuses_anything_but_a_component_login_and_changes_nothing(
    database_url, admin, cleared, target
):
    with pytest.raises(DatabaseLoginError):
        set_login_passwords(database_url, {"holdem_api_login": "pw", target: "pw"})
    assert not _has_password(admin, "holdem_api_login")


def test_the_logins_come_from_the_deploy_tasks_variables():
    environ = {
        "DATABASE_LOGIN__API": "holdem_api_login:Secret123",
        "DATABASE_LOGIN__TABLE_SERVER": "holdem_table_server_login:Other456",
        "DATABASE_URL": "ignored",
    }
    assert logins_from_environment(environ) == {
        "holdem_api_login": "Secret123",
        "holdem_table_server_login": "Other456",
    }
    with pytest.raises(DatabaseLoginError):
        logins_from_environment({"DATABASE_LOGIN__API": "{{secret:arn#username}}"})


def test_the_admin_command_sets_the_passwords_of_its_environment(database_url, admin, cleared):
    result = run_python(
        "-m",
        "holdem.admin_cli",
        "set-database-passwords",
        DATABASE_URL=database_url,
        DATABASE_LOGIN__ECONOMY="holdem_economy_login:Rotated789",
    )
    assert result.returncode == 0, result.stderr
    assert "password set: holdem_economy_login" in result.stdout
    assert "Rotated789" not in result.stdout + result.stderr
    assert _has_password(admin, "holdem_economy_login")
