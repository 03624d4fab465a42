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
  lines and any overdraft; one writes the transaction, balances, entries and audit record.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 21:45:00.000000
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

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
    op.execute(LEDGER_POST)


def downgrade() -> None:
    op.execute(
        _revision_0003().LEDGER_POST.replace("create function", "create or replace function")
    )
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


def _revision_0003() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "_ledger_0003", Path(__file__).with_name("0003_ledger.py")
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The same contract as 0003's ledger_post (arguments, statuses, result), with fewer
# statements: the legs are parsed, their accounts locked and read, and the entries, audit
# lines and overdraft derived in one statement; the transaction, balances, entries and audit
# record are written in another.
LEDGER_POST = r"""
create or replace function ledger_post(
    p_kind text, p_key text, p_request_hash text, p_metadata text,
    p_user_id bigint, p_table_id bigint, p_hand_id bigint, p_related_id bigint,
    p_fence_table bigint, p_fence_token bigint, p_legs jsonb
) returns jsonb language plpgsql as $fn$
declare
    v_lane int;
    v_now timestamptz := now();
    v_stamp text;
    v_id bigint;
    v_hash text;
    v_setting text;
    v_created boolean := false;
    v_legs record;
    v_content text;
    v_audit record;
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
        v_setting := set_config('holdem.ledger_lane', v_lane::text, true);
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

    -- 4. One statement: the legs (house legs on this lane's stripe), their accounts locked
    --    in id order (every post locks in the same order: no deadlocks), and from the
    --    balances under those locks, the entries, their audit lines and the first overdraft,
    --    aggregated in account-id order (the order of the sorted subquery: one sort).
    loop
        with legs as (
            select case when l.s then l.k || ':' || v_lane else l.k end as k,
                   l.kind, l.u, l.t, l.c, l.a
            from jsonb_to_recordset(p_legs)
                as l(k text, kind text, u bigint, t bigint, c text, a bigint, s boolean)
        ), locked as materialized (
            select a.id, a.key, a.kind, a.user_id, a.table_id, a.balance
            from ledger_accounts a where a.key in (select k from legs)
            order by a.id for update of a
        )
        select count(*) as legs, count(x.id) as found,
               array_agg(x.k) as keys, array_agg(x.leg_kind) as kinds, array_agg(x.u) as users,
               array_agg(x.t) as tables, array_agg(x.c) as coins, array_agg(x.a) as amounts,
               array_agg(x.id) as ids, array_agg(x.user_id) as owners,
               array_agg(x.balance + x.a) as afters,
               string_agg('e|' || x.id || '|' || x.a || '|' || (x.balance + x.a), E'\n')
                   as lines,
               jsonb_agg(jsonb_build_object('account_id', x.id, 'kind', x.kind,
                   'user_id', x.user_id, 'table_id', x.table_id, 'amount', x.a,
                   'balance_after', x.balance + x.a)) as entries,
               (array_agg(jsonb_build_object('account', x.k, 'balance',
                    coalesce(x.balance, 0), 'needed', -x.a))
                filter (where x.leg_kind in ('wallet', 'pending_withdrawal', 'seat')
                        and coalesce(x.balance, 0) + x.a < 0))[1] as short
        into v_legs
        from (
            select l.k, l.kind as leg_kind, l.u, l.t, l.c, l.a,
                   a.id, a.kind, a.user_id, a.table_id, a.balance
            from legs l left join locked a on a.key = l.k
            order by a.id
        ) as x;
        exit when v_legs.found = v_legs.legs or v_created;

        -- 5. Create the missing accounts that are credited or belong to the house, then
        --    read again (a debited player account stays missing: an overdraft).
        if exists (select 1 from unnest(v_legs.users) as l(u) where l.u is not null
                   and not exists (select 1 from users where users.id = l.u)) then
            return jsonb_build_object('status', 'unknown_user');
        end if;
        if exists (select 1 from unnest(v_legs.tables) as l(t) where l.t is not null
                   and not exists (select 1 from poker_tables p where p.id = l.t)) then
            return jsonb_build_object('status', 'unknown_table');
        end if;
        insert into ledger_accounts (key, kind, user_id, table_id, coin, lane)
        select l.k, l.kind, l.u, l.t, l.c,
               case when l.kind in ('wallet', 'pending_withdrawal', 'seat') then null
                    else v_lane end
        from unnest(v_legs.keys, v_legs.kinds, v_legs.users, v_legs.tables, v_legs.coins,
                    v_legs.amounts) as l(k, kind, u, t, c, a)
        where (l.a > 0 or l.kind not in ('wallet', 'pending_withdrawal', 'seat'))
          and not exists (select 1 from ledger_accounts x where x.key = l.k)
        order by l.k
        on conflict (key) do nothing;
        v_created := true;
    end loop;

    -- 6. A reserved withdrawal ends once: completed or returned (checked under the locks
    --    of its pending account, so a concurrent finish has committed by now).
    if p_kind in ('withdrawal_complete', 'withdrawal_return') then
        if exists (select 1 from ledger_transactions
                   where related_id = p_related_id
                     and kind in ('withdrawal_complete', 'withdrawal_return')) then
            return jsonb_build_object('status', 'already_finished', 'related_id', p_related_id);
        end if;
    end if;

    -- 7. Funds: no player account may go below zero.
    if v_legs.short is not null then
        return jsonb_build_object('status', 'insufficient_funds') || v_legs.short;
    end if;

    -- 8. One statement writes it all: the transaction row (its unique key, and the
    --    one-finish-per-withdrawal index, settle races between concurrent posts: on a
    --    conflict nothing else is written), the cached balances, the entries, and the audit
    --    record chained on this lane's head.
    v_id := nextval('ledger_transactions_id_seq'::regclass);
    v_stamp := to_char(v_now at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"');
    v_content := 'v1' || E'\n' || 'tx|' || v_id || '|' || p_kind || '|' || p_key || '|'
        || p_request_hash || '|' || v_stamp || '|'
        || coalesce(p_user_id::text, '') || '|' || coalesce(p_table_id::text, '') || '|'
        || coalesce(p_hand_id::text, '') || '|' || coalesce(p_related_id::text, '')
        || E'\n' || 'meta|' || p_metadata || E'\n' || v_legs.lines;
    with tx as (
        insert into ledger_transactions (id, kind, idempotency_key, request_hash, user_id,
            table_id, hand_id, related_id, lane, metadata, created_at)
        values (v_id, p_kind, p_key, p_request_hash, p_user_id, p_table_id, p_hand_id,
            p_related_id, v_lane, p_metadata::jsonb, v_now)
        on conflict do nothing
        returning id
    ), moved as (
        update ledger_accounts a set balance = a.balance + l.a
        from unnest(v_legs.ids, v_legs.amounts) as l(id, a), tx
        where a.id = l.id
    ), written as (
        insert into ledger_entries (transaction_id, account_id, user_id, amount,
            balance_after)
        select tx.id, l.id, l.u, l.a, l.b
        from tx, unnest(v_legs.ids, v_legs.owners, v_legs.amounts, v_legs.afters)
            as l(id, u, a, b)
    ), head as (
        update audit_lanes h set seq = h.seq + 1, prev_hash = h.hash,
            hash = encode(sha256(convert_to(h.hash || E'\n' || v_content, 'UTF8')), 'hex')
        from tx where h.lane = v_lane
        returning h.seq, h.prev_hash, h.hash
    ), recorded as (
        insert into audit_log (lane, seq, transaction_id, prev_hash, hash, content,
            created_at)
        select v_lane, head.seq, v_id, head.prev_hash, head.hash, v_content, v_now from head
    )
    select head.seq, head.hash into v_audit from head;
    if not found then
        select id, request_hash into v_id, v_hash from ledger_transactions
        where idempotency_key = p_key;
        if found then
            return ledger_tx_json(v_id, case when v_hash = p_request_hash
                then 'replayed' else 'key_conflict' end);
        end if;
        return jsonb_build_object('status', 'already_finished', 'related_id', p_related_id);
    end if;

    return jsonb_build_object(
        'status', 'ok', 'id', v_id, 'kind', p_kind, 'request_hash', p_request_hash,
        'metadata', p_metadata::jsonb, 'created_at', v_stamp,
        'lane', v_lane, 'seq', v_audit.seq, 'hash', v_audit.hash, 'entries', v_legs.entries);
end
$fn$
"""
