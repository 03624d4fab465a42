"""The ledger's rule is read in one place: the newest ``migrations/sql/ledger_post_v*.sql``.

The migrations from an empty database end with exactly that function, and every status it can
answer has its row in the one outcome table of `holdem.services.ledger.outcomes`.
"""

from __future__ import annotations

import re
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from devstack.paths import ROOT
from holdem.services.ledger.outcomes import OUTCOMES, PostStatus


def _current() -> Path:
    versions = {
        int(found[1]): path
        for path in (ROOT / "migrations" / "sql").glob("ledger_post_v*.sql")
        if (found := re.fullmatch(r"ledger_post_v(\d+)\.sql", path.name))
    }
    return versions[max(versions)]


def _statuses(sql: str) -> set[str]:
    """Every status the function can answer: built in place (``'status', 'x'``), or the
    replayed / key_conflict answer it asks ``ledger_tx_json`` for."""
    built = set(re.findall(r"'status',\s*'([a-z_]+)'", sql))
    for then, otherwise in re.findall(
        r"ledger_tx_json\([^;]*?then\s+'([a-z_]+)'\s+else\s+'([a-z_]+)'", sql, re.S
    ):
        built |= {then, otherwise}
    return built


def test_the_outcome_table_covers_every_status_the_current_sql_can_answer():
    statuses = _statuses(_current().read_text())
    assert {"ok", "replayed", "key_conflict", "insufficient_funds"} <= statuses  # parsed
    assert statuses == {str(s) for s in PostStatus}
    assert set(OUTCOMES) == set(PostStatus)
    refusals = {s for s, outcome in OUTCOMES.items() if outcome.error is not None}
    assert refusals == set(PostStatus) - {PostStatus.OK, PostStatus.REPLAYED}


def _definition(conn: psycopg.Connection, schema: str) -> str:
    found = conn.execute(
        "select pg_get_functiondef(p.oid) from pg_proc p "
        "join pg_namespace n on n.oid = p.pronamespace "
        "where p.proname = 'ledger_post' and n.nspname = %s",
        (schema,),
    ).fetchall()
    assert len(found) == 1, f"one ledger_post in {schema}: {found}"
    return str(found[0][0])


def test_the_migrations_from_empty_end_with_the_current_sql_file(database_url):
    # database_url is a clone of the template every migration ran on from an empty database.
    plain = make_url(database_url).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(plain, autocommit=True) as conn:
        migrated = _definition(conn, "public")
        conn.execute("create schema fresh")
        conn.execute("set search_path to fresh")
        conn.execute(_current().read_text())
        # As migration 0007 made it, and 0008 again after re-creating it.
        conn.execute(
            "alter function fresh.ledger_post security definer set search_path = public, pg_temp"
        )
        loaded = _definition(conn, "fresh")
    assert loaded.replace("fresh.ledger_post(", "public.ledger_post(", 1) == migrated
