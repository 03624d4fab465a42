"""ledger: accounts, transactions, entries, audit chain, relay cursors, table fences

Money moves only through the ledger_post() function defined here. Triggers make entries,
transactions and audit records append-only (no UPDATE, DELETE or TRUNCATE), keep account
identities immutable, and reject entries that do not sum to zero per transaction.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 13:44:43.817645
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


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
    op.execute(LEDGER_POST)


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

# One call posts one balanced transaction: idempotency, lane, fence, ordered row locks,
# funds check, entries, cached balances and the audit record. It returns a status instead
# of raising for every expected refusal, and refuses before writing anything (only a valid
# fence advance may already be stored), so a caller's own transaction stays usable.
LEDGER_POST = r"""
create function ledger_post(
    p_kind text, p_key text, p_request_hash text, p_metadata text,
    p_user_id bigint, p_table_id bigint, p_hand_id bigint, p_related_id bigint,
    p_fence_table bigint, p_fence_token bigint, p_legs jsonb
) returns jsonb language plpgsql as $fn$
declare
    v_lane int;
    v_now timestamptz := now();
    v_id bigint;
    v_hash text;
    v_count int;
    v_found int;
    v_short record;
    v_lines text;
    v_entries jsonb;
    v_content text;
    v_audit record;
    v_keys text[];
    v_kinds text[];
    v_users bigint[];
    v_tables bigint[];
    v_coins text[];
    v_amounts bigint[];
begin
    -- 1. The same key again: the original result, or a conflict when the request differs.
    select id, request_hash into v_id, v_hash from ledger_transactions
    where idempotency_key = p_key;
    if found then
        return ledger_tx_json(v_id, case when v_hash = p_request_hash
            then 'replayed' else 'key_conflict' end);
    end if;

    -- 2. The audit lane (and house-account stripe) of this database transaction: the one
    --    it already holds, else any free one, else wait for one.
    v_lane := nullif(current_setting('holdem.ledger_lane', true), '')::int;
    if v_lane is null then
        select lane into v_lane from audit_lanes order by lane limit 1 for update skip locked;
        if not found then
            select lane into v_lane from audit_lanes
            order by lane offset (pg_backend_pid() % (select count(*) from audit_lanes))
            limit 1 for update;
        end if;
        perform set_config('holdem.ledger_lane', v_lane::text, true);
    end if;

    -- 3. The table's fencing token may only grow.
    if p_fence_table is not null then
        insert into ledger_table_fences as f (table_id, token, updated_at)
        values (p_fence_table, p_fence_token, v_now)
        on conflict (table_id) do update set token = excluded.token,
            updated_at = excluded.updated_at
        where f.token <= excluded.token;
        if not found then
            return jsonb_build_object('status', 'stale_fence', 'token',
                (select token from ledger_table_fences where table_id = p_fence_table));
        end if;
    end if;

    -- 4. The legs, with house legs on this lane's stripe.
    select array_agg(k order by k), array_agg(kind order by k), array_agg(u order by k),
           array_agg(t order by k), array_agg(c order by k), array_agg(a order by k)
    into v_keys, v_kinds, v_users, v_tables, v_coins, v_amounts
    from (
        select case when (l->>'s')::boolean then (l->>'k') || ':' || v_lane
                    else l->>'k' end as k,
               l->>'kind' as kind, (l->>'u')::bigint as u, (l->>'t')::bigint as t,
               l->>'c' as c, (l->>'a')::bigint as a
        from jsonb_array_elements(p_legs) as l
    ) as parsed;
    v_count := cardinality(v_keys);

    -- 5. Lock the accounts in id order (no deadlocks); create the missing ones that are
    --    credited or belong to the house.
    select count(*) into v_found from (
        select a.id from ledger_accounts a where a.key = any(v_keys)
        order by a.id for update of a
    ) as locked;
    if v_found < v_count then
        if exists (select 1 from unnest(v_users) as l(u) where l.u is not null
                   and not exists (select 1 from users where users.id = l.u)) then
            return jsonb_build_object('status', 'unknown_user');
        end if;
        if exists (select 1 from unnest(v_tables) as l(t) where l.t is not null
                   and not exists (select 1 from poker_tables p where p.id = l.t)) then
            return jsonb_build_object('status', 'unknown_table');
        end if;
        insert into ledger_accounts (key, kind, user_id, table_id, coin, lane)
        select l.k, l.kind, l.u, l.t, l.c,
               case when l.kind in ('wallet', 'pending_withdrawal', 'seat') then null
                    else v_lane end
        from unnest(v_keys, v_kinds, v_users, v_tables, v_coins, v_amounts)
            as l(k, kind, u, t, c, a)
        where (l.a > 0 or l.kind not in ('wallet', 'pending_withdrawal', 'seat'))
          and not exists (select 1 from ledger_accounts x where x.key = l.k)
        order by l.k
        on conflict (key) do nothing;
        perform 1 from ledger_accounts a where a.key = any(v_keys)
        order by a.id for update of a;
    end if;

    -- 6. A reserved withdrawal ends once: completed or returned (checked under the locks
    --    of its pending account, so a concurrent finish has committed by now).
    if p_kind in ('withdrawal_complete', 'withdrawal_return') and exists (
        select 1 from ledger_transactions
        where related_id = p_related_id
          and kind in ('withdrawal_complete', 'withdrawal_return')
    ) then
        return jsonb_build_object('status', 'already_finished', 'related_id', p_related_id);
    end if;

    -- 7. Funds: no player account may go below zero.
    select l.k, coalesce(a.balance, 0) as balance, -l.a as needed into v_short
    from unnest(v_keys, v_kinds, v_amounts) as l(k, kind, a)
    left join ledger_accounts a on a.key = l.k
    where l.kind in ('wallet', 'pending_withdrawal', 'seat')
      and coalesce(a.balance, 0) + l.a < 0
    order by l.k limit 1;
    if found then
        return jsonb_build_object('status', 'insufficient_funds', 'account', v_short.k,
            'balance', v_short.balance, 'needed', v_short.needed);
    end if;

    -- 8. The transaction row: its unique key (and the one-finish-per-withdrawal index)
    --    settle races between concurrent posts.
    insert into ledger_transactions (kind, idempotency_key, request_hash, user_id, table_id,
        hand_id, related_id, lane, metadata, created_at)
    values (p_kind, p_key, p_request_hash, p_user_id, p_table_id, p_hand_id, p_related_id,
        v_lane, p_metadata::jsonb, v_now)
    on conflict do nothing
    returning id into v_id;
    if v_id is null then
        select id, request_hash into v_id, v_hash from ledger_transactions
        where idempotency_key = p_key;
        if found then
            return ledger_tx_json(v_id, case when v_hash = p_request_hash
                then 'replayed' else 'key_conflict' end);
        end if;
        return jsonb_build_object('status', 'already_finished', 'related_id', p_related_id);
    end if;

    -- 9. Balances and entries.
    with moved as (
        update ledger_accounts a set balance = a.balance + l.a
        from unnest(v_keys, v_amounts) as l(k, a) where a.key = l.k
        returning a.id, a.kind, a.user_id, a.table_id, a.balance, l.a as amount
    ), written as (
        insert into ledger_entries (transaction_id, account_id, user_id, amount, balance_after)
        select v_id, m.id, m.user_id, m.amount, m.balance from moved m order by m.id
        returning account_id
    )
    select string_agg('e|' || m.id || '|' || m.amount || '|' || m.balance, E'\n'
                      order by m.id),
           jsonb_agg(jsonb_build_object('account_id', m.id, 'kind', m.kind,
               'user_id', m.user_id, 'table_id', m.table_id, 'amount', m.amount,
               'balance_after', m.balance) order by m.id)
    into v_lines, v_entries
    from moved m where m.id in (select account_id from written);

    -- 10. The audit record, chained on this lane's head.
    v_content := 'v1' || E'\n' || 'tx|' || v_id || '|' || p_kind || '|' || p_key || '|'
        || p_request_hash || '|'
        || to_char(v_now at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') || '|'
        || coalesce(p_user_id::text, '') || '|' || coalesce(p_table_id::text, '') || '|'
        || coalesce(p_hand_id::text, '') || '|' || coalesce(p_related_id::text, '')
        || E'\n' || 'meta|' || p_metadata || E'\n' || v_lines;
    update audit_lanes set seq = seq + 1, prev_hash = hash,
        hash = encode(sha256(convert_to(hash || E'\n' || v_content, 'UTF8')), 'hex')
    where lane = v_lane
    returning seq, prev_hash, hash into v_audit;
    insert into audit_log (lane, seq, transaction_id, prev_hash, hash, content, created_at)
    values (v_lane, v_audit.seq, v_id, v_audit.prev_hash, v_audit.hash, v_content, v_now);

    return jsonb_build_object(
        'status', 'ok', 'id', v_id, 'kind', p_kind, 'request_hash', p_request_hash,
        'metadata', p_metadata::jsonb,
        'created_at', to_char(v_now at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        'lane', v_lane, 'seq', v_audit.seq, 'hash', v_audit.hash, 'entries', v_entries);
end
$fn$
"""
