"""Migrations apply on an empty database and agree with the SQLAlchemy models."""

from __future__ import annotations

import uuid

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect

from devstack import migrate
from holdem.adapters.orm import Base


def test_migrations_have_a_single_head():
    script = ScriptDirectory.from_config(migrate.alembic_config("postgresql://unused"))
    assert len(script.get_heads()) == 1


def test_all_migrations_apply_on_an_empty_database_and_match_the_models(postgres):
    name = f"empty_{uuid.uuid4().hex[:12]}"
    with postgres.admin() as conn:
        conn.execute(f'create database "{name}"')
    url = postgres.url_for(name)
    try:
        migrate.upgrade(url)
        engine = create_engine(url)
        with engine.connect() as conn:
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
            )
            tables = set(inspect(conn).get_table_names())
        engine.dispose()
        assert diff == [], f"models and migrations drift: {diff}"
        assert {"users", "sessions", "poker_tables", "seats", "hands", "hand_events"} <= tables
    finally:
        with postgres.admin() as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')


def test_spec_indexes_exist(database_url):
    engine = create_engine(database_url)
    with engine.connect() as conn:
        inspector = inspect(conn)
        indexes = {
            table: {ix["name"] for ix in inspector.get_indexes(table)}
            for table in ("poker_tables", "hands", "sessions", "hand_players")
        }
        unique_users = {tuple(c["column_names"]) for c in inspector.get_unique_constraints("users")}
    engine.dispose()
    assert {"ix_poker_tables_created_at", "ix_poker_tables_status_created_at"} <= indexes[
        "poker_tables"
    ]
    assert {"ix_hands_started_at", "ix_hands_table_id_started_at"} <= indexes["hands"]
    assert "ix_sessions_expires_at" in indexes["sessions"]
    assert "ix_hand_players_user_id_started_at" in indexes["hand_players"]
    assert {("email",), ("nickname",)} <= unique_users
