"""integrity signals: where players connect from, and the record of each integrity run

* ``player_logins``: one row per authenticated table-server connection — the client's IP
  address (behind the load balancer: from ``X-Forwarded-For``, see docs/integrity.md) and the
  device id the client sent at ``auth`` (optional). Read by the sit check and the daily run
  to find two players of one table who share an address or a device.
* ``integrity_runs``: one row per run of the integrity signals (scheduled or by an
  operator): the window of hands read, the thresholds in force, how many flags each signal
  filed and their ids. Append-only: the trail of why each flag exists. The flags themselves
  go to the operators' queue, ``aml_flags`` (0009).

Grants follow 0007: the table servers insert logins; the economy component (the scheduled
``IntegrityFunction``) files flags and records its runs; the API (an operator's run) records
runs (it inserts flags since 0009). Nobody updates or deletes a run.

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-07 08:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WRITES: dict[str, dict[str, str]] = {
    "holdem_table_server": {"player_logins": "insert"},
    "holdem_economy": {"integrity_runs": "insert", "aml_flags": "insert"},
    "holdem_api": {"integrity_runs": "insert"},
}
"""Privileges beyond SELECT on the new tables (every component role reads every table)."""

COMPONENT_ROLES = (
    "holdem_api",
    "holdem_payments",
    "holdem_economy",
    "holdem_audit_relay",
    "holdem_table_server",
)


def upgrade() -> None:
    op.create_table(
        "player_logins",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_player_logins_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_player_logins")),
    )
    op.create_index(
        "ix_player_logins_user_id_created_at", "player_logins", ["user_id", "created_at"]
    )
    op.create_table(
        "integrity_runs",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("operator_id", sa.BigInteger(), nullable=True),
        sa.Column("window_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_to", sa.DateTime(timezone=True), nullable=False),
        sa.Column("hands", sa.Integer(), nullable=False),
        sa.Column("thresholds", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("counts", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("flag_ids", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "trigger in ('schedule', 'operator')", name=op.f("ck_integrity_runs_trigger")
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"], ["users.id"], name=op.f("fk_integrity_runs_operator_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_integrity_runs")),
    )
    for role in COMPONENT_ROLES:  # created by 0007
        op.execute(f"grant select on player_logins, integrity_runs to {role}")
        op.execute(f"grant usage on sequence player_logins_id_seq to {role}")
        op.execute(f"grant usage on sequence integrity_runs_id_seq to {role}")
    for role, tables in WRITES.items():
        for table, privileges in tables.items():
            op.execute(f"grant {privileges} on {table} to {role}")


def downgrade() -> None:
    op.execute("revoke insert on aml_flags from holdem_economy")
    op.drop_table("integrity_runs")
    op.drop_table("player_logins")
