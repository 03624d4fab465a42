"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-26 13:34:42.825348
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("response", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", name=op.f("pk_idempotency_keys")),
    )
    op.create_index(
        "ix_idempotency_keys_expires_at", "idempotency_keys", ["expires_at"], unique=False
    )
    op.create_table(
        "poker_tables",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("small_blind", sa.BigInteger(), nullable=False),
        sa.Column("big_blind", sa.BigInteger(), nullable=False),
        sa.Column("max_seats", sa.SmallInteger(), nullable=False),
        sa.Column("min_buy_in", sa.BigInteger(), nullable=False),
        sa.Column("max_buy_in", sa.BigInteger(), nullable=False),
        sa.Column("rake_rate_bps", sa.Integer(), nullable=False),
        sa.Column("rake_cap", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="open", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status in ('open', 'closing', 'closed')", name=op.f("ck_poker_tables_status")
        ),
        sa.CheckConstraint("max_seats between 2 and 9", name=op.f("ck_poker_tables_max_seats")),
        sa.CheckConstraint(
            "min_buy_in > 0 and max_buy_in >= min_buy_in", name=op.f("ck_poker_tables_buy_in_range")
        ),
        sa.CheckConstraint(
            "rake_rate_bps between 0 and 10000 and rake_cap >= 0", name=op.f("ck_poker_tables_rake")
        ),
        sa.CheckConstraint(
            "small_blind > 0 and big_blind >= small_blind", name=op.f("ck_poker_tables_blinds")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_poker_tables")),
    )
    op.create_index(
        "ix_poker_tables_created_at",
        "poker_tables",
        [sa.literal_column("created_at desc")],
        unique=False,
    )
    op.create_index(
        "ix_poker_tables_status_created_at",
        "poker_tables",
        ["status", sa.literal_column("created_at desc")],
        unique=False,
    )
    op.create_table(
        "users",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("nickname", sa.String(length=32), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), server_default="player", nullable=False),
        sa.Column("kyc_status", sa.String(length=16), server_default="none", nullable=False),
        sa.Column("is_locked", sa.Boolean(), server_default="false", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "kyc_status in ('none', 'pending', 'verified', 'rejected')",
            name=op.f("ck_users_kyc_status"),
        ),
        sa.CheckConstraint("role in ('player', 'operator')", name=op.f("ck_users_role")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
        sa.UniqueConstraint("nickname", name=op.f("uq_users_nickname")),
    )
    op.create_table(
        "deposit_addresses",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("coin", sa.String(length=10), nullable=False),
        sa.Column("address", sa.String(length=128), nullable=False),
        sa.Column("gateway_ref", sa.String(length=128), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_deposit_addresses_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deposit_addresses")),
        sa.UniqueConstraint("coin", "address", name=op.f("uq_deposit_addresses_coin")),
        sa.UniqueConstraint("user_id", "coin", name=op.f("uq_deposit_addresses_user_id")),
    )
    op.create_table(
        "deposits",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("coin", sa.String(length=10), nullable=False),
        sa.Column("tx_hash", sa.String(length=128), nullable=False),
        sa.Column("output_index", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=128), nullable=False),
        sa.Column("crypto_amount", sa.Numeric(precision=38, scale=18), nullable=False),
        sa.Column("confirmations", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("amount_krw", sa.BigInteger(), nullable=True),
        sa.Column("rate_krw", sa.Numeric(precision=24, scale=8), nullable=True),
        sa.Column("ledger_transaction_id", sa.BigInteger(), nullable=True),
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
            "status in ('pending', 'credited', 'unmatched')", name=op.f("ck_deposits_status")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_deposits_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deposits")),
        sa.UniqueConstraint("coin", "tx_hash", "output_index", name=op.f("uq_deposits_coin")),
    )
    op.create_index(
        "ix_deposits_user_id_created_at", "deposits", ["user_id", "created_at"], unique=False
    )
    op.create_table(
        "hands",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("table_id", sa.BigInteger(), nullable=False),
        sa.Column("hand_no", sa.BigInteger(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("small_blind", sa.BigInteger(), nullable=False),
        sa.Column("big_blind", sa.BigInteger(), nullable=False),
        sa.Column("button_seat", sa.SmallInteger(), nullable=False),
        sa.Column("board", sa.String(length=20), nullable=False),
        sa.Column("total_pot", sa.BigInteger(), nullable=False),
        sa.Column("rake", sa.BigInteger(), nullable=False),
        sa.Column("deck_commitment", sa.String(length=64), nullable=False),
        sa.Column("deck_seed", sa.String(length=128), nullable=False),
        sa.Column("result", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.ForeignKeyConstraint(
            ["table_id"], ["poker_tables.id"], name=op.f("fk_hands_table_id_poker_tables")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hands")),
        sa.UniqueConstraint("table_id", "hand_no", name=op.f("uq_hands_table_id")),
    )
    op.create_index(
        "ix_hands_started_at", "hands", [sa.literal_column("started_at desc")], unique=False
    )
    op.create_index(
        "ix_hands_table_id_started_at",
        "hands",
        ["table_id", sa.literal_column("started_at desc")],
        unique=False,
    )
    op.create_table(
        "rakeback_settlements",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("week_start", sa.Date(), nullable=False),
        sa.Column("rake_paid", sa.BigInteger(), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("rate_bps", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("ledger_transaction_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_rakeback_settlements_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rakeback_settlements")),
        sa.UniqueConstraint("user_id", "week_start", name=op.f("uq_rakeback_settlements_user_id")),
    )
    op.create_table(
        "seats",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("table_id", sa.BigInteger(), nullable=False),
        sa.Column("seat_no", sa.SmallInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "sat_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("left_with", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("seat_no between 0 and 8", name=op.f("ck_seats_seat_no")),
        sa.ForeignKeyConstraint(
            ["table_id"], ["poker_tables.id"], name=op.f("fk_seats_table_id_poker_tables")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_seats_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seats")),
    )
    op.create_index("ix_seats_user_id_left_at", "seats", ["user_id", "left_at"], unique=False)
    op.create_index(
        "uq_seats_table_seat_open",
        "seats",
        ["table_id", "seat_no"],
        unique=True,
        postgresql_where=sa.text("left_at is null"),
    )
    op.create_index(
        "uq_seats_table_user_open",
        "seats",
        ["table_id", "user_id"],
        unique=True,
        postgresql_where=sa.text("left_at is null"),
    )
    op.create_table(
        "sessions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("family_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("user_agent", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_sessions_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_sessions_token_hash")),
    )
    op.create_index("ix_sessions_expires_at", "sessions", ["expires_at"], unique=False)
    op.create_index("ix_sessions_family_id", "sessions", ["family_id"], unique=False)
    op.create_index("ix_sessions_user_id", "sessions", ["user_id"], unique=False)
    op.create_table(
        "withdrawals",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("amount_krw", sa.BigInteger(), nullable=False),
        sa.Column("coin", sa.String(length=10), nullable=False),
        sa.Column("address", sa.String(length=128), nullable=False),
        sa.Column("crypto_amount", sa.Numeric(precision=38, scale=18), nullable=True),
        sa.Column("rate_krw", sa.Numeric(precision=24, scale=8), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.BigInteger(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("payout_id", sa.String(length=128), nullable=True),
        sa.Column("tx_hash", sa.String(length=128), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("failure_reason", sa.String(length=255), nullable=True),
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
            "status in ('pending', 'held', 'approved', 'processing', 'paid', 'failed', "
            "'rejected', 'cancelled')",
            name=op.f("ck_withdrawals_status"),
        ),
        sa.CheckConstraint("amount_krw > 0", name=op.f("ck_withdrawals_amount_positive")),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["users.id"], name=op.f("fk_withdrawals_decided_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_withdrawals_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_withdrawals")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_withdrawals_idempotency_key")),
    )
    op.create_index(
        "ix_withdrawals_status_due_at", "withdrawals", ["status", "due_at"], unique=False
    )
    op.create_index(
        "ix_withdrawals_user_id_created_at", "withdrawals", ["user_id", "created_at"], unique=False
    )
    op.create_table(
        "hand_events",
        sa.Column("hand_id", sa.BigInteger(), nullable=False),
        sa.Column("seq_no", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("seat_no", sa.SmallInteger(), nullable=True),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.ForeignKeyConstraint(
            ["hand_id"], ["hands.id"], name=op.f("fk_hand_events_hand_id_hands"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("hand_id", "seq_no", name=op.f("pk_hand_events")),
    )
    op.create_table(
        "hand_players",
        sa.Column("hand_id", sa.BigInteger(), nullable=False),
        sa.Column("seat_no", sa.SmallInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("hole_cards", sa.String(length=8), nullable=False),
        sa.Column("shown", sa.Boolean(), nullable=False),
        sa.Column("net", sa.BigInteger(), nullable=False),
        sa.Column("rake_share", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["hand_id"],
            ["hands.id"],
            name=op.f("fk_hand_players_hand_id_hands"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_hand_players_user_id_users")
        ),
        sa.PrimaryKeyConstraint("hand_id", "seat_no", name=op.f("pk_hand_players")),
    )
    op.create_index(
        "ix_hand_players_user_id_started_at",
        "hand_players",
        ["user_id", sa.literal_column("started_at desc")],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_hand_players_user_id_started_at", table_name="hand_players")
    op.drop_table("hand_players")
    op.drop_table("hand_events")
    op.drop_index("ix_withdrawals_user_id_created_at", table_name="withdrawals")
    op.drop_index("ix_withdrawals_status_due_at", table_name="withdrawals")
    op.drop_table("withdrawals")
    op.drop_index("ix_sessions_user_id", table_name="sessions")
    op.drop_index("ix_sessions_family_id", table_name="sessions")
    op.drop_index("ix_sessions_expires_at", table_name="sessions")
    op.drop_table("sessions")
    op.drop_index(
        "uq_seats_table_user_open", table_name="seats", postgresql_where=sa.text("left_at is null")
    )
    op.drop_index(
        "uq_seats_table_seat_open", table_name="seats", postgresql_where=sa.text("left_at is null")
    )
    op.drop_index("ix_seats_user_id_left_at", table_name="seats")
    op.drop_table("seats")
    op.drop_table("rakeback_settlements")
    op.drop_index("ix_hands_table_id_started_at", table_name="hands")
    op.drop_index("ix_hands_started_at", table_name="hands")
    op.drop_table("hands")
    op.drop_index("ix_deposits_user_id_created_at", table_name="deposits")
    op.drop_table("deposits")
    op.drop_table("deposit_addresses")
    op.drop_table("users")
    op.drop_index("ix_poker_tables_status_created_at", table_name="poker_tables")
    op.drop_index("ix_poker_tables_created_at", table_name="poker_tables")
    op.drop_table("poker_tables")
    op.drop_index("ix_idempotency_keys_expires_at", table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
