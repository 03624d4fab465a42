"""economy: archived hands index, daily stats

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 13:42:46.766497
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "archived_hand_players",
        sa.Column("hand_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("seat_no", sa.SmallInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("net", sa.BigInteger(), nullable=False),
        sa.Column("rake_share", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("hand_id", "seat_no", name=op.f("pk_archived_hand_players")),
    )
    op.create_index(
        "ix_archived_hand_players_user_id_started_at",
        "archived_hand_players",
        ["user_id", sa.literal_column("started_at desc")],
        unique=False,
    )
    op.create_table(
        "archived_hands",
        sa.Column("hand_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("table_id", sa.BigInteger(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("object_key", sa.String(length=256), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column(
            "archived_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("hand_id", name=op.f("pk_archived_hands")),
    )
    op.create_index("ix_archived_hands_object_key", "archived_hands", ["object_key"], unique=False)
    op.create_table(
        "daily_stats",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("stakes", sa.String(length=32), nullable=False),
        sa.Column("small_blind", sa.BigInteger(), nullable=True),
        sa.Column("big_blind", sa.BigInteger(), nullable=True),
        sa.Column("hands", sa.BigInteger(), nullable=False),
        sa.Column("rake", sa.BigInteger(), nullable=False),
        sa.Column("pots", sa.BigInteger(), nullable=False),
        sa.Column("active_players", sa.Integer(), nullable=False),
        sa.Column(
            "computed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("day", "stakes", name=op.f("pk_daily_stats")),
    )


def downgrade() -> None:
    op.drop_table("daily_stats")
    op.drop_index("ix_archived_hands_object_key", table_name="archived_hands")
    op.drop_table("archived_hands")
    op.drop_index("ix_archived_hand_players_user_id_started_at", table_name="archived_hand_players")
    op.drop_table("archived_hand_players")
