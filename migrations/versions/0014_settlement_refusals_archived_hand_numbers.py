"""settlement refusals and archived hand numbers: the one-statement settlement's two guards

* ``ledger_require_accepted(answer)``: ``ledger_post``'s answer when it posted the
  transaction (status ``ok`` or ``replayed``); any other answer (a refusal) raises SQLSTATE
  ``LG001`` (``holdem.adapters.repositories.table_money.LEDGER_REFUSED_SQLSTATE``), naming the
  status, with the whole answer as the error's detail. The table servers' one-statement
  settlement (``Settlements.at_once``) ends with it: ``ledger_post`` answers a refusal rather
  than raising and may already have stored a fence advance, so the refusal must fail the
  statement for nothing of it to commit. It replaces a division by zero, which another data
  error could be mistaken for. ``LG`` is a class neither the SQL standard nor PostgreSQL
  uses (the standard leaves classes beginning with I-Z to implementations; PostgreSQL uses
  ``P0`` and ``XX`` there).
* ``archived_hands.hand_no``: the hand's number at its table, filled by the archiver from now
  on (hands archived before this revision keep none: their numbers are only in S3), indexed
  with the table. The settlement keys a hand by table and hand number (``hands``' unique
  constraint), and the archiver deletes the hot row: without the number kept, a settlement
  retried after the hand was archived (an owner's outbox restored from a checkpoint days
  old) wrote the hand again under a new id, and ``ledger_post``'s key (table and hand id)
  was new, so the money moved twice.
* ``hand_archived(table_id, hand_no)``: whether the table's hand of that number was archived.
  It first waits for an archiver moving that hand (the archiver holds the hot row ``FOR
  UPDATE`` until it commits the archived row and the delete), then reads ``archived_hands``
  in a statement of its own, which in READ COMMITTED sees what that archiver committed: the
  settlement's own snapshot, taken before, would not. The settlement's hand row is inserted
  only when it is false. Its two reads are planned with the call's values
  (``plan_cache_mode = force_custom_plan``): PL/pgSQL otherwise keeps a generic plan made
  when ``hands`` was small, and the bench caught one that read every hand of the table
  (0.06 ms per call growing to 2 ms over 6,000 hands); planned on each call it stayed flat
  at 0.12-0.19 ms on the same machine (load average ≈ 8).

Grants as for ``ledger_post`` (0007): ``EXECUTE`` is taken from ``PUBLIC`` and given to the
role that settles hands, ``holdem_table_server`` (its login, 0010, inherits it).
``hand_archived`` runs as its caller: the table servers read ``archived_hands`` (0007's
SELECT on every table) and lock ``hands`` rows (UPDATE, which they hold).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 19:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SETTLING_ROLE = "holdem_table_server"

LEDGER_REQUIRE_ACCEPTED = """
create function ledger_require_accepted(p_answer jsonb) returns jsonb
language plpgsql as $fn$
begin
    if p_answer ->> 'status' in ('ok', 'replayed') then
        return p_answer;
    end if;
    raise exception 'ledger_post refused the post: %', coalesce(p_answer ->> 'status', 'no status')
        using errcode = 'LG001', detail = coalesce(p_answer::text, 'no answer');
end
$fn$
"""

HAND_ARCHIVED = """
create function hand_archived(p_table_id bigint, p_hand_no bigint) returns boolean
language plpgsql set plan_cache_mode = force_custom_plan as $fn$
begin
    -- Hot (here, or being moved by an archiver, which this waits for): not archived; when an
    -- archiver committed meanwhile, the row is gone and the lock takes nothing.
    perform from hands where table_id = p_table_id and hand_no = p_hand_no for key share;
    if found then
        return false;
    end if;
    -- A statement of its own: a snapshot taken now, after that archiver's commit.
    return exists (select from archived_hands
                   where table_id = p_table_id and hand_no = p_hand_no);
end
$fn$
"""

FUNCTIONS = ("ledger_require_accepted(jsonb)", "hand_archived(bigint, bigint)")


def upgrade() -> None:
    op.add_column("archived_hands", sa.Column("hand_no", sa.BigInteger(), nullable=True))
    op.create_index("ix_archived_hands_table_id_hand_no", "archived_hands", ["table_id", "hand_no"])
    op.execute(LEDGER_REQUIRE_ACCEPTED)
    op.execute(HAND_ARCHIVED)
    for function in FUNCTIONS:
        op.execute(f"revoke execute on function {function} from public")
        op.execute(f"grant execute on function {function} to {SETTLING_ROLE}")


def downgrade() -> None:
    for function in FUNCTIONS:
        op.execute(f"drop function {function}")
    op.drop_index("ix_archived_hands_table_id_hand_no", table_name="archived_hands")
    op.drop_column("archived_hands", "hand_no")
