"""The components' PostgreSQL logins take their passwords from their secrets (a deploy step).

Migration ``0010_component_logins`` creates one LOGIN user per component, without a password.
Each one's password is generated in its own Secrets Manager secret (template.yaml,
``Database*LoginSecret``). The deploy's database task, logged in as the master user, runs
``python -m holdem.admin_cli set-database-passwords`` after the migrations: its environment
carries one ``DATABASE_LOGIN__<NAME>={{secret:ARN#username}}:{{secret:ARN#password}}`` per
component, resolved at start like every secret reference (`holdem.adapters.secret_refs`), and
this module sets each login's password to its secret's current value. Running it again is
harmless (after a rotation it sets the value the rotation already set), so the deploy runs it
every time.

Only a component login may be changed this way: a member of a ``holdem_*`` component role,
named ``*_login``, that is neither a superuser nor allowed to create roles or databases, so a
mistaken variable cannot reset the master user's or an operator's password.
"""

from __future__ import annotations

from collections.abc import Mapping

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

PREFIX = "DATABASE_LOGIN__"


class DatabaseLoginError(RuntimeError):
    """A login is missing or is not a component login (code: ``database_login``)."""

    code = "database_login"


def logins_from_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The ``DATABASE_LOGIN__*`` variables as login → password (``user:password`` each)."""
    logins: dict[str, str] = {}
    for name, value in environ.items():
        if not name.startswith(PREFIX):
            continue
        user, separator, password = value.partition(":")
        if not separator or not user or not password or "{{secret:" in value:
            raise DatabaseLoginError(f"{name} must be user:password (unresolved secret?)")
        logins[user] = password
    return logins


_COMPONENT_LOGIN = """
select r.rolcanlogin and not r.rolsuper and not r.rolcreaterole and not r.rolcreatedb
       and r.rolname like '%%\\_login'
       and exists (select from pg_auth_members m join pg_roles g on g.oid = m.roleid
                   where m.member = r.oid and g.rolname like 'holdem\\_%%')
from pg_roles r where r.rolname = %s
"""


def set_login_passwords(database_url: str, logins: Mapping[str, str]) -> list[str]:
    """Set each component login's password; return the logins changed, sorted.

    Args:
        database_url: The master user's URL (SQLAlchemy or libpq form).
        logins: Login → password.

    Raises:
        DatabaseLoginError: A login does not exist (migrations not run) or is not a component
            login; nothing is changed then.
    """
    url = make_url(database_url).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(url) as conn:
        for user in sorted(logins):
            row = conn.execute(_COMPONENT_LOGIN, (user,)).fetchone()
            if row is None:
                raise DatabaseLoginError(f"{user} does not exist: run the migrations first")
            if not row[0]:
                raise DatabaseLoginError(f"{user} is not a component login")
        for user in sorted(logins):
            statement = sql.SQL("alter role {} password {}").format(
                sql.Identifier(user), sql.Literal(logins[user])
            )
            conn.execute(statement)
    return sorted(logins)
