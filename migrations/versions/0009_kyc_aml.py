"""kyc and aml: KYC status history and webhook events, withdrawals waiting for KYC, AML flags,
date of birth and country at registration

* ``users``: ``kyc_updated_at`` (orders the provider's events against operator changes),
  ``date_of_birth`` and ``country`` (given and seen at registration; NULL for older accounts).
* ``withdrawals.kyc_hold``: a pending withdrawal that waits for the player's KYC to be
  verified; the scheduler and operators leave it until then.
* ``kyc_events``: one row per event id of the KYC provider (a redelivery changes nothing).
* ``aml_flags``: the operators' AML queue; a rule fires once per subject (``uq_..._subject``).

Grants follow 0007: the API (operator and player routes, the KYC webhook, withdrawal requests)
writes KYC events and flags; the payments component (deposits credited by its webhook and
sweeps) raises flags.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 05:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WRITES: dict[str, dict[str, str]] = {
    "holdem_api": {"kyc_events": "insert", "aml_flags": "insert, update"},
    "holdem_payments": {"aml_flags": "insert"},
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
    op.add_column("users", sa.Column("kyc_updated_at", sa.DateTime(timezone=True)))
    op.add_column("users", sa.Column("date_of_birth", sa.Date()))
    op.add_column("users", sa.Column("country", sa.String(length=2)))
    op.add_column(
        "withdrawals",
        sa.Column("kyc_hold", sa.Boolean(), server_default="false", nullable=False),
    )
    op.create_table(
        "kyc_events",
        sa.Column("event_id", sa.String(length=128), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("applied", sa.Boolean(), nullable=False),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_kyc_events_user_id_users")
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_kyc_events")),
    )
    op.create_table(
        "aml_flags",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("rule", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="open", nullable=False),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("withdrawal_id", sa.BigInteger(), nullable=True),
        sa.Column("reviewed_by", sa.BigInteger(), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.BigInteger(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution_note", sa.String(length=1000), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status in ('open', 'reviewing', 'resolved')", name=op.f("ck_aml_flags_status")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_aml_flags_user_id_users")),
        sa.ForeignKeyConstraint(
            ["withdrawal_id"],
            ["withdrawals.id"],
            name=op.f("fk_aml_flags_withdrawal_id_withdrawals"),
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by"], ["users.id"], name=op.f("fk_aml_flags_reviewed_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by"], ["users.id"], name=op.f("fk_aml_flags_resolved_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_aml_flags")),
    )
    op.create_index("uq_aml_flags_rule_subject", "aml_flags", ["rule", "subject"], unique=True)
    op.create_index("ix_aml_flags_status_id", "aml_flags", ["status", "id"])
    op.create_index("ix_aml_flags_user_id_status", "aml_flags", ["user_id", "status"])
    for role in COMPONENT_ROLES:  # created by 0007
        op.execute(f"grant select on kyc_events, aml_flags to {role}")
        op.execute(f"grant usage on sequence aml_flags_id_seq to {role}")
    for role, tables in WRITES.items():
        for table, privileges in tables.items():
            op.execute(f"grant {privileges} on {table} to {role}")


def downgrade() -> None:
    op.drop_table("aml_flags")
    op.drop_table("kyc_events")
    op.drop_column("withdrawals", "kyc_hold")
    op.drop_column("users", "country")
    op.drop_column("users", "date_of_birth")
    op.drop_column("users", "kyc_updated_at")
