"""deposits: an output worth more than one ledger movement may carry is kept 'over_limit'

A confirmed deposit worth more than ₩10^15 at the rate of its credit cannot be posted to the
ledger. It was rolled back with a 500 on every delivery (the gateway retried forever, the
scheduler's sweep failed on it each run). It is now recorded with the status ``over_limit``,
credits nobody, and is listed for operators (``GET /api/v1/admin/deposits/over-limit``).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 02:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_constraint(op.f("ck_deposits_status"), "deposits", type_="check")
    op.create_check_constraint(
        op.f("ck_deposits_status"),
        "deposits",
        "status in ('pending', 'credited', 'unmatched', 'over_limit')",
    )


def downgrade() -> None:
    # An over_limit row has no place in the old schema: it goes back to waiting (pending),
    # which is what the old code left it as.
    op.execute("update deposits set status = 'pending' where status = 'over_limit'")
    op.drop_constraint(op.f("ck_deposits_status"), "deposits", type_="check")
    op.create_check_constraint(
        op.f("ck_deposits_status"), "deposits", "status in ('pending', 'credited', 'unmatched')"
    )
