"""ledger: accounts, transactions, entries, audit chain, relay cursors, table fences

Money moves only through the ledger_post() function created here from
``migrations/sql/ledger_post_v1.sql``. Triggers make entries, transactions and audit records
append-only (no UPDATE, DELETE or TRUNCATE), keep account identities immutable, and reject
entries that do not sum to zero per transaction.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 13:44:43.817645
"""

from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The function as this revision created it (the file keeps it; later versions are new files).
LEDGER_POST = Path(__file__).parents[1] / "sql" / "ledger_post_v1.sql"


def upgrade() -> None:
    op.create_table(
        "audit_lanes",
        sa.Column("lane", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("lane", name=op.f("pk_audit_lanes")),
    )
    op.create_table(
        "audit_relay_cursors",
        sa.Column("destination", sa.String(length=16), nullable=False),
        sa.Column("lane", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("published_seq", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("planned_seq", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("destination", "lane", name=op.f("pk_audit_relay_cursors")),
    )
    op.create_table(
        "ledger_table_fences",
        sa.Column("table_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("token", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("table_id", name=op.f("pk_ledger_table_fences")),
    )
    op.create_table(
        "ledger_transactions",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("idempotency_key", sa.String(length=160), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("table_id", sa.BigInteger(), nullable=True),
        sa.Column("hand_id", sa.BigInteger(), nullable=True),
        sa.Column("related_id", sa.BigInteger(), nullable=True),
        sa.Column("lane", sa.SmallInteger(), nullable=False),
        sa.Column("metadata", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_transactions")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_ledger_transactions_idempotency_key")),
    )
    op.create_index(
        "ix_ledger_transactions_user_id_created_at",
        "ledger_transactions",
        ["user_id", sa.literal_column("created_at desc")],
        unique=False,
    )
    op.create_index(
        "uq_ledger_transactions_withdrawal_finish",
        "ledger_transactions",
        ["related_id"],
        unique=True,
        postgresql_where=sa.text("kind in ('withdrawal_complete', 'withdrawal_return')"),
    )
    op.create_table(
        "audit_log",
        sa.Column("lane", sa.SmallInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("transaction_id", sa.BigInteger(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["ledger_transactions.id"],
            name=op.f("fk_audit_log_transaction_id_ledger_transactions"),
        ),
        sa.PrimaryKeyConstraint("lane", "seq", name=op.f("pk_audit_log")),
        sa.UniqueConstraint("transaction_id", name=op.f("uq_audit_log_transaction_id")),
    )
    op.create_table(
        "ledger_accounts",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("table_id", sa.BigInteger(), nullable=True),
        sa.Column("coin", sa.String(length=10), nullable=True),
        sa.Column("lane", sa.SmallInteger(), nullable=True),
        sa.Column("balance", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "(table_id is not null) = (kind = 'seat')", name=op.f("ck_ledger_accounts_seat_table")
        ),
        sa.CheckConstraint(
            "(user_id is not null) = (kind in ('wallet', 'pending_withdrawal', 'seat'))",
            name=op.f("ck_ledger_accounts_owner"),
        ),
        sa.CheckConstraint(
            "kind in ('wallet', 'pending_withdrawal', 'seat', 'house_rake', 'house_rakeback', "
            "'house_adjustment', 'gateway_clearing')",
            name=op.f("ck_ledger_accounts_kind"),
        ),
        sa.CheckConstraint(
            "kind not in ('wallet', 'pending_withdrawal', 'seat') or balance >= 0",
            name=op.f("ck_ledger_accounts_player_not_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["table_id"], ["poker_tables.id"], name=op.f("fk_ledger_accounts_table_id_poker_tables")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_ledger_accounts_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_accounts")),
        sa.UniqueConstraint("key", name=op.f("uq_ledger_accounts_key")),
    )
    op.create_index("ix_ledger_accounts_user_id", "ledger_accounts", ["user_id"], unique=False)
    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("transaction_id", sa.BigInteger(), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("balance_after", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("amount <> 0", name=op.f("ck_ledger_entries_amount_not_zero")),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["ledger_accounts.id"],
            name=op.f("fk_ledger_entries_account_id_ledger_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["ledger_transactions.id"],
            name=op.f("fk_ledger_entries_transaction_id_ledger_transactions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entries")),
    )
    op.create_index(
        "ix_ledger_entries_account_id_id", "ledger_entries", ["account_id", "id"], unique=False
    )
    op.create_index(
        "ix_ledger_entries_transaction_id", "ledger_entries", ["transaction_id"], unique=False
    )
    op.create_index(
        "ix_ledger_entries_user_id_id",
        "ledger_entries",
        ["user_id", sa.literal_column("id desc")],
        unique=False,
        postgresql_where=sa.text("user_id is not null"),
    )
    op.execute(SEED_LANES)
    for statement in TRIGGERS:
        op.execute(statement)
    op.execute(LEDGER_TX_JSON)
    op.execute(LEDGER_POST.read_text())


def downgrade() -> None:
    op.execute("drop function ledger_post")
    op.execute("drop function ledger_tx_json")
    op.execute("drop function ledger_entries_balanced cascade")
    op.execute("drop function ledger_reject_change cascade")
    op.drop_index(
        "ix_ledger_entries_user_id_id",
        table_name="ledger_entries",
        postgresql_where=sa.text("user_id is not null"),
    )
    op.drop_index("ix_ledger_entries_transaction_id", table_name="ledger_entries")
    op.drop_index("ix_ledger_entries_account_id_id", table_name="ledger_entries")
    op.drop_table("ledger_entries")
    op.drop_index("ix_ledger_accounts_user_id", table_name="ledger_accounts")
    op.drop_table("ledger_accounts")
    op.drop_table("audit_log")
    op.drop_index(
        "uq_ledger_transactions_withdrawal_finish",
        table_name="ledger_transactions",
        postgresql_where=sa.text("kind in ('withdrawal_complete', 'withdrawal_return')"),
    )
    op.drop_index("ix_ledger_transactions_user_id_created_at", table_name="ledger_transactions")
    op.drop_table("ledger_transactions")
    op.drop_table("ledger_table_fences")
    op.drop_table("audit_relay_cursors")
    op.drop_table("audit_lanes")


SEED_LANES = """
insert into audit_lanes (lane, seq, hash, prev_hash)
select lane, 0, repeat('0', 64), repeat('0', 64) from generate_series(0, 7) as lane
"""

_APPEND_ONLY = ("ledger_transactions", "ledger_entries", "audit_log")

TRIGGERS = [
    """
    create function ledger_reject_change() returns trigger language plpgsql as $$
    begin
        raise exception 'ledger: % on % is not allowed (append-only; corrections are new
            transactions)', tg_op, tg_table_name
            using errcode = 'insufficient_privilege';
    end
    $$
    """,
    *(
        f"""
        create trigger {table}_append_only before update or delete on {table}
        for each row execute function ledger_reject_change()
        """
        for table in _APPEND_ONLY
    ),
    *(
        f"""
        create trigger {table}_no_truncate before truncate on {table}
        for each statement execute function ledger_reject_change()
        """
        for table in (*_APPEND_ONLY, "ledger_accounts", "audit_lanes")
    ),
    """
    create trigger ledger_accounts_identity before update of id, key, kind, user_id, table_id,
        coin, lane on ledger_accounts
    for each row execute function ledger_reject_change()
    """,
    """
    create trigger ledger_accounts_no_delete before delete on ledger_accounts
    for each row execute function ledger_reject_change()
    """,
    """
    create trigger audit_lanes_no_delete before delete on audit_lanes
    for each row execute function ledger_reject_change()
    """,
    """
    create function ledger_entries_balanced() returns trigger language plpgsql as $$
    declare
        bad bigint;
    begin
        select transaction_id into bad from new_entries
        group by transaction_id having sum(amount) <> 0 or count(*) < 2 limit 1;
        if found then
            raise exception 'ledger: the entries of transaction % do not balance', bad
                using errcode = 'check_violation';
        end if;
        return null;
    end
    $$
    """,
    """
    create trigger ledger_entries_balanced after insert on ledger_entries
    referencing new table as new_entries
    for each statement execute function ledger_entries_balanced()
    """,
]

LEDGER_TX_JSON = """
create function ledger_tx_json(p_id bigint, p_status text) returns jsonb
language sql stable as $$
    select jsonb_build_object(
        'status', p_status,
        'id', t.id,
        'kind', t.kind,
        'request_hash', t.request_hash,
        'metadata', t.metadata,
        'created_at', to_char(t.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        'lane', a.lane,
        'seq', a.seq,
        'hash', a.hash,
        'entries', (
            select jsonb_agg(jsonb_build_object(
                'account_id', e.account_id, 'kind', ac.kind, 'user_id', ac.user_id,
                'table_id', ac.table_id, 'amount', e.amount, 'balance_after', e.balance_after
            ) order by e.account_id)
            from ledger_entries e join ledger_accounts ac on ac.id = e.account_id
            where e.transaction_id = t.id
        )
    )
    from ledger_transactions t left join audit_log a on a.transaction_id = t.id
    where t.id = p_id
$$
"""
