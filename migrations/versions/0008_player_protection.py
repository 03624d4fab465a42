"""player protection: limits, breaks and self-exclusion; a locked account in the ledger

* ``player_protection``: one row per player who set a limit or took a break: deposit and
  loss limits per rolling day, week and month (won), a session length and a reality-check
  interval (minutes), the raises waiting for their cooling period, and the exclusion (kind,
  start, end). Changes are recorded in ``admin_actions``.
* A new player account kind, ``locked``: the part of a deposit credited over the player's
  deposit limit (all of it during a break or a self-exclusion). Withdrawable, never brought
  to a table. ``ledger_post`` treats it as a player account (never negative, created when
  credited); it is otherwise 0005's function, again ``SECURITY DEFINER`` (0007). Its text is
  ``migrations/sql/ledger_post_v3.sql``.
* Grants as in 0007: every component reads the table; the API writes it; the payment
  functions lock its rows (a deposit is split under the player's row lock).

Downgrade refuses once a locked account exists (the old schema has no place for it).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 05:00:00.000000
"""

from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_PLAYERS = "('wallet', 'pending_withdrawal', 'seat')"
_NEW_PLAYERS = "('wallet', 'pending_withdrawal', 'locked', 'seat')"
_OLD_KINDS = (
    "kind in ('wallet', 'pending_withdrawal', 'seat', 'house_rake', 'house_rakeback', "
    "'house_adjustment', 'gateway_clearing')"
)
_NEW_KINDS = (
    "kind in ('wallet', 'pending_withdrawal', 'locked', 'seat', 'house_rake', "
    "'house_rakeback', 'house_adjustment', 'gateway_clearing')"
)
_SQL = Path(__file__).parents[1] / "sql"
LEDGER_POST = _SQL / "ledger_post_v3.sql"
LEDGER_POST_0005 = _SQL / "ledger_post_v2.sql"
COMPONENT_ROLES = (
    "holdem_api",
    "holdem_payments",
    "holdem_economy",
    "holdem_audit_relay",
    "holdem_table_server",
)


def _account_checks(players: str, kinds: str) -> None:
    for name in ("kind", "owner", "player_not_negative"):
        op.drop_constraint(op.f(f"ck_ledger_accounts_{name}"), "ledger_accounts", type_="check")
    op.create_check_constraint(op.f("ck_ledger_accounts_kind"), "ledger_accounts", kinds)
    op.create_check_constraint(
        op.f("ck_ledger_accounts_owner"),
        "ledger_accounts",
        f"(user_id is not null) = (kind in {players})",
    )
    op.create_check_constraint(
        op.f("ck_ledger_accounts_player_not_negative"),
        "ledger_accounts",
        f"kind not in {players} or balance >= 0",
    )


def _definer() -> None:
    # CREATE OR REPLACE resets SECURITY DEFINER and the pinned search_path (0007).
    op.execute("alter function ledger_post security definer set search_path = public, pg_temp")


def upgrade() -> None:
    op.create_table(
        "player_protection",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("deposit_day", sa.BigInteger(), nullable=True),
        sa.Column("deposit_week", sa.BigInteger(), nullable=True),
        sa.Column("deposit_month", sa.BigInteger(), nullable=True),
        sa.Column("loss_day", sa.BigInteger(), nullable=True),
        sa.Column("loss_week", sa.BigInteger(), nullable=True),
        sa.Column("loss_month", sa.BigInteger(), nullable=True),
        sa.Column("session_minutes", sa.Integer(), nullable=True),
        sa.Column("reality_check_minutes", sa.Integer(), nullable=True),
        sa.Column(
            "pending",
            sa.dialects.postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("exclusion_kind", sa.String(length=16), nullable=True),
        sa.Column("excluded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("excluded_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "exclusion_kind is null or exclusion_kind in ('break', 'self_exclusion')",
            name=op.f("ck_player_protection_exclusion_kind"),
        ),
        sa.CheckConstraint(
            "(excluded_until is null) = (exclusion_kind is null)",
            name=op.f("ck_player_protection_exclusion"),
        ),
        sa.CheckConstraint(
            "reality_check_minutes is null or reality_check_minutes > 0",
            name=op.f("ck_player_protection_reality_check"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_player_protection_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_player_protection")),
    )
    _account_checks(_NEW_PLAYERS, _NEW_KINDS)
    op.execute(LEDGER_POST.read_text())
    _definer()
    for role in COMPONENT_ROLES:
        op.execute(f"grant select on player_protection to {role}")
    op.execute("grant insert, update on player_protection to holdem_api")
    # UPDATE only because SELECT ... FOR UPDATE needs it: a deposit is split under the
    # player's row lock, so two deposits credited at once never share the same room.
    op.execute("grant update on player_protection to holdem_payments")


def downgrade() -> None:
    op.execute(
        "do $$ begin if exists (select 1 from ledger_accounts where kind = 'locked') then "
        "raise exception 'locked accounts exist: the old schema has no place for them'; "
        "end if; end $$"
    )
    op.execute(LEDGER_POST_0005.read_text())
    _definer()
    _account_checks(_OLD_PLAYERS, _OLD_KINDS)
    op.drop_table("player_protection")
