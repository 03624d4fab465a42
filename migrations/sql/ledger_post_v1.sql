-- ledger_post, version 1 (migration 0003; 0005's downgrade restores it).
--
-- A historical version, kept as the migrations ran it: do not edit. The current rule is the
-- highest-numbered ledger_post_v*.sql in this folder.
create or replace function ledger_post(
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
