"""Operator bootstrap: ``python -m holdem.admin_cli create-operator EMAIL``, and the deploy's
``set-database-passwords`` (`holdem.adapters.database_logins`).

Creates the account (or promotes an existing one) with the operator role, audited in the
operators' log. The first operator of a room cannot be made over the API (only operators
may use the admin routes): this is how a room starts — ``./dev admin create-operator`` locally,
a one-off task of the table-server image in AWS (docs/DEPLOY.md, "The first operator").

It reads ``DATABASE_URL`` and ``REDIS_URL`` like every process. A new account's password is
read from ``OPERATOR_PASSWORD`` when set, else generated and printed once; an existing
account keeps its password (in AWS, register over the API first and promote: no password
passes through the task's logs).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
from dataclasses import dataclass
from typing import Any

from holdem.config import Settings

MIN_PASSWORD_LENGTH = 12


@dataclass(frozen=True)
class OperatorLogin:
    """What `create_operator` made, for the command's output or `./dev up`'s banner."""

    email: str
    password: str | None
    """The password to log in with, ``None`` when the account existed (it keeps its own)."""
    created: bool


async def create_operator(
    email: str, nickname: str, password: str | None, settings: Settings | None = None
) -> OperatorLogin:
    """Create or promote the operator account.

    Args:
        email: The operator's email (the login).
        nickname: Used when the account is created.
        password: Used when the account is created; ``None`` generates one.
        settings: The database and Redis to use; default: the environment's.
    """
    from holdem.bootstrap import bootstrap

    if settings is None:
        settings = Settings(db={"pool_size": 2, "max_overflow": 0})
    chosen = password or secrets.token_urlsafe(15)
    container = bootstrap(settings)
    try:
        user, created = await container.accounts.make_operator(email, nickname, chosen)
    finally:
        await container.aclose()
    return OperatorLogin(user.email, chosen if created else None, created)


def _cmd_create_operator(args: argparse.Namespace) -> int:
    """Create an operator account (or promote an existing one) in DATABASE_URL's database."""
    if not os.environ.get("DATABASE_URL"):
        raise SystemExit("set DATABASE_URL to the room's database")
    password = os.environ.get("OPERATOR_PASSWORD") or None
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        raise SystemExit(f"OPERATOR_PASSWORD must have at least {MIN_PASSWORD_LENGTH} characters")
    nickname = args.nickname or args.email.split("@", 1)[0]
    login = asyncio.run(create_operator(args.email, nickname, password))
    if not login.created:
        print(f"{login.email} is an operator (existing account, its password is unchanged)")
    elif password is None:
        print(f"operator created: {login.email}  password: {login.password}  (shown once)")
    else:
        print(f"operator created: {login.email}  (password from OPERATOR_PASSWORD)")
    return 0


def _cmd_set_database_passwords(args: argparse.Namespace) -> int:
    """Give each component login (DATABASE_LOGIN__*=user:password) its secret's password."""
    from holdem.adapters.database_logins import logins_from_environment, set_login_passwords

    database_url = os.environ.get("DATABASE_URL")
    if not database_url:
        raise SystemExit("set DATABASE_URL to the database, as its master user")
    logins = logins_from_environment(os.environ)
    if not logins:
        raise SystemExit("no DATABASE_LOGIN__* variable: nothing to set")
    for user in set_login_passwords(database_url, logins):
        print(f"password set: {user}")
    return 0


def add_commands(commands: Any) -> None:
    """Register the commands on a subparsers object (here and under ``./dev admin``)."""
    create = commands.add_parser("create-operator", help=_cmd_create_operator.__doc__)
    create.add_argument("email")
    create.add_argument("--nickname", help="default: the part of the email before @")
    create.set_defaults(func=_cmd_create_operator)
    passwords = commands.add_parser(
        "set-database-passwords", help=_cmd_set_database_passwords.__doc__
    )
    passwords.set_defaults(func=_cmd_set_database_passwords)


def main(argv: list[str] | None = None) -> int:
    """Run a command: ``python -m holdem.admin_cli create-operator EMAIL``."""
    parser = argparse.ArgumentParser(prog="holdem.admin_cli", description=__doc__)
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
