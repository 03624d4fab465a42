"""hand chat: the table's chat lines kept with each hand, for operators settling disputes

* ``hands.chat``: the chat lines said at the table since the previous hand ended, up to this
  hand's end (`holdem.session.chat`), as a JSON array of ``{user_id, seat, text, at}``
  (plus ``original`` when a blocked word was masked). Read by the operators' route
  ``GET /api/v1/admin/hands/{hand_id}/chat``; never by a player's history or export. Old
  hands get an empty array.

No new table: the component roles' grants on ``hands`` (0007) cover the new column.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 11:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "hands",
        sa.Column(
            "chat",
            postgresql.JSONB(),
            nullable=False,
            server_default=sa.text("'[]'::jsonb"),
        ),
    )


def downgrade() -> None:
    op.drop_column("hands", "chat")
