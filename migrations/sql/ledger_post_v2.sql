-- ledger_post, version 2 (migration 0005; 0008's downgrade restores it).
--
-- A historical version, kept as the migrations ran it: do not edit. The current rule is the
-- highest-numbered ledger_post_v*.sql in this folder.
--
-- The same contract as version 1 (arguments, statuses, result), with fewer statements: the
-- legs are parsed, their accounts locked and read, and the entries, audit lines and
-- overdraft derived in one statement; the transaction, balances, entries and audit record
-- are written in another.
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
