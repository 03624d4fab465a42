"""`./dev admin create-operator`: the first operator of a room, without SQL."""

from __future__ import annotations

from sqlalchemy import select

from holdem.adapters.orm.admin import AdminAction
from holdem.adapters.orm.users import User
from holdem.auth.passwords import PasswordService
from tests.template.conftest import run_python


def _create_operator(database_url, redis_url, email, password=""):
    return run_python(
        *("-m", "devstack", "admin", "create-operator", email),
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        OPERATOR_PASSWORD=password,  # empty: generate one
    )


async def test_create_operator_makes_an_audited_operator_whose_printed_password_logs_in(
    database_url, redis_url, container, settings
):
    run = _create_operator(database_url, redis_url, "Boss@Room.test")
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("operator created: boss@room.test  password: ")
    password = run.stdout.split("password: ")[1].split()[0]
    async with container.sessions() as db:
        user = await db.scalar(select(User).where(User.email == "boss@room.test"))
        assert user is not None
        assert user.role == "operator"
        assert user.nickname == "Boss"
        actions = (await db.scalars(select(AdminAction))).all()
    assert await PasswordService(settings.auth).verify(user.password_hash, password)
    assert [(a.action, a.actor_id, a.target_user_id) for a in actions] == [
        ("grant_operator", user.id, user.id)
    ]

    again = _create_operator(database_url, redis_url, "boss@room.test")
    assert again.returncode == 0, again.stderr
    assert "existing account, its password is unchanged" in again.stdout
    async with container.sessions() as db:
        assert len((await db.scalars(select(AdminAction))).all()) == 1  # nothing to record


async def test_create_operator_promotes_an_existing_player_and_keeps_its_password(
    database_url, redis_url, container, settings
):
    passwords = PasswordService(settings.auth)
    async with container.sessions() as db:
        db.add(
            User(
                email="player@room.test",
                nickname="player",
                password_hash=await passwords.hash("the player's own password"),
            )
        )
        await db.commit()
    run = _create_operator(database_url, redis_url, "player@room.test")
    assert run.returncode == 0, run.stderr
    async with container.sessions() as db:
        user = await db.scalar(select(User).where(User.email == "player@room.test"))
    assert user.role == "operator"
    assert await passwords.verify(user.password_hash, "the player's own password")


async def test_create_operator_refuses_a_short_password_and_creates_nothing(
    database_url, redis_url, container
):
    run = _create_operator(database_url, redis_url, "x@room.test", password="short")
    assert run.returncode != 0
    assert "at least 12 characters" in run.stderr
    async with container.sessions() as db:
        assert (await db.scalars(select(User))).all() == []
