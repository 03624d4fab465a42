"""ledger: fewer index and foreign-key writes per posted transaction

A hand settlement (6 seats + rake) wrote 32 B-tree leaf entries and ran 15 per-row
foreign-key checks. This migration keeps what the readers use and drops the rest:

* ``ledger_entries`` is keyed by ``(transaction_id, account_id)`` (one entry per account per
  transaction, which the legs already guarantee): its primary key now serves the reads by
  transaction, so the serial ``id`` loses its own unique index (it stays, from its sequence,
  as the statement's keyset order) and ``ix_ledger_entries_transaction_id`` goes.
* ``ix_ledger_entries_account_id_id`` goes: only ``ledger check`` read entries by account,
  scanning all of them anyway.
* ``ix_ledger_transactions_user_id_created_at`` covers only transactions that name a user
  (a hand settlement names none).
* The per-row foreign keys of entries (to their transaction and to their account) become
  one set check per statement in the ``ledger_entries_balanced`` trigger: an entry naming
  a missing row is still refused by the database, and the rows it names can never be
  deleted (the append-only and no-delete triggers of 0003). An audit record's foreign key
  to its transaction goes: ``audit verify`` reports a record whose transaction is missing.
* ``ledger_post`` keeps its contract and runs fewer statements: one parses the legs, locks
  and reads their accounts (in id order, as before) and derives the entries, the audit
  lines and any overdraft; one writes the transaction, balances, entries and audit record
  (``migrations/sql/ledger_post_v2.sql``).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 21:45:00.000000
"""

from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQL = Path(__file__).parents[1] / "sql"
LEDGER_POST = _SQL / "ledger_post_v2.sql"
LEDGER_POST_0003 = _SQL / "ledger_post_v1.sql"

_FOREIGN_KEYS = (
    (
        "fk_ledger_entries_account_id_ledger_accounts",
        "ledger_entries",
        "ledger_accounts",
        "account_id",
    ),
    (
        "fk_ledger_entries_transaction_id_ledger_transactions",
        "ledger_entries",
        "ledger_transactions",
        "transaction_id",
    ),
    (
        "fk_audit_log_transaction_id_ledger_transactions",
        "audit_log",
        "ledger_transactions",
        "transaction_id",
    ),
)


def upgrade() -> None:
    for name, table, _, _ in _FOREIGN_KEYS:
        op.drop_constraint(name, table, type_="foreignkey")
    op.drop_index("ix_ledger_entries_account_id_id", table_name="ledger_entries")
    op.drop_index("ix_ledger_entries_transaction_id", table_name="ledger_entries")
    op.drop_constraint("pk_ledger_entries", "ledger_entries", type_="primary")
    op.create_primary_key("pk_ledger_entries", "ledger_entries", ["transaction_id", "account_id"])
    op.drop_index("ix_ledger_transactions_user_id_created_at", table_name="ledger_transactions")
    op.create_index(
        "ix_ledger_transactions_user_id_created_at",
        "ledger_transactions",
        ["user_id", sa.literal_column("created_at desc")],
        unique=False,
        postgresql_where=sa.text("user_id is not null"),
    )
    op.execute(ENTRIES_CHECK)
    op.execute(LEDGER_POST.read_text())


def downgrade() -> None:
    op.execute(LEDGER_POST_0003.read_text())
    op.execute(ENTRIES_CHECK_0003)
    op.drop_index(
        "ix_ledger_transactions_user_id_created_at",
        table_name="ledger_transactions",
        postgresql_where=sa.text("user_id is not null"),
    )
    op.create_index(
        "ix_ledger_transactions_user_id_created_at",
        "ledger_transactions",
        ["user_id", sa.literal_column("created_at desc")],
        unique=False,
    )
    op.drop_constraint("pk_ledger_entries", "ledger_entries", type_="primary")
    op.create_primary_key("pk_ledger_entries", "ledger_entries", ["id"])
    op.create_index(
        "ix_ledger_entries_transaction_id", "ledger_entries", ["transaction_id"], unique=False
    )
    op.create_index(
        "ix_ledger_entries_account_id_id", "ledger_entries", ["account_id", "id"], unique=False
    )
    for name, table, referred, column in _FOREIGN_KEYS:
        op.create_foreign_key(name, table, referred, [column], ["id"])


ENTRIES_CHECK = """
create or replace function ledger_entries_balanced() returns trigger language plpgsql as $$
declare
    tx record;
begin
    -- One row per transaction (a post inserts one), each named row looked up by primary
    -- key: a join here is planned once per session, maybe as a scan of the whole table.
    for tx in
        select transaction_id as id, sum(amount) as total, count(*) as n,
               array_agg(account_id) as accounts
        from new_entries group by transaction_id
    loop
        if tx.total <> 0 or tx.n < 2 then
            raise exception 'ledger: the entries of transaction % do not balance', tx.id
                using errcode = 'check_violation';
        end if;
        if not exists (select 1 from ledger_transactions t where t.id = tx.id)
           or (select count(*) from ledger_accounts a where a.id = any(tx.accounts)) < tx.n then
            raise exception 'ledger: entries of transaction % name a missing row', tx.id
                using errcode = 'foreign_key_violation';
        end if;
    end loop;
    return null;
end
$$
"""

ENTRIES_CHECK_0003 = """
create or replace function ledger_entries_balanced() returns trigger language plpgsql as $$
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
"""
