"""component roles: one PostgreSQL role per component, money only through ledger_post

Every component connected as the RDS master user, so a flaw in the internet-facing table
servers or the public API could rewrite any table. This revision creates one group role
(NOLOGIN) per component, with the grants its code needs (read from the services it runs):

* ``holdem_api`` (ApiFunction), ``holdem_payments`` (the two webhooks, the withdrawal
  scheduler, the payout worker, the notifier), ``holdem_economy`` (rakeback planner and
  worker, daily stats, archiver), ``holdem_audit_relay`` (AuditRelayFunction) and
  ``holdem_table_server`` (the ECS fleet).
* Money: ``ledger_post`` becomes ``SECURITY DEFINER`` (it runs as its owner, the migration
  user, with a pinned ``search_path``) and is the only way in: the component roles may
  execute it and read the ledger, and hold no INSERT, UPDATE, DELETE or TRUNCATE on
  ``ledger_accounts``, ``ledger_transactions``, ``ledger_entries``, ``ledger_table_fences``,
  ``audit_lanes`` or ``audit_log``. ``admin_actions`` (the operators' audit trail) is
  INSERT-only for the API.
* The master credential stays for migrations and operators only.

PostgreSQL asks UPDATE privilege for ``SELECT ... FOR UPDATE``: a component that claims rows
that way holds UPDATE on their table even where it never changes them.

Still to do before the components log in with these roles (docs/DEPLOY.md, "Database
roles"): one LOGIN user per component (``CREATE ROLE holdem_api_login LOGIN PASSWORD ...
IN ROLE holdem_api``) with its password in a Secrets Manager secret of its own, those
secrets added to RDS Proxy's ``Auth`` (and its role), and each function's ``DATABASE_URL``
naming its component's secret. The function samples (tests/template/test_template_functions.py)
and the table servers of tests/edge run as these roles in the test suite; the API routes the
samples do not reach are read from the code, not yet exercised.

Roles belong to the cluster, not the database: they are created only when missing, and the
downgrade revokes this database's grants but leaves the roles (other databases of the
cluster, such as the test suite's, may still use them).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 02:10:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEDGER_TABLES = (
    "ledger_accounts",
    "ledger_transactions",
    "ledger_entries",
    "ledger_table_fences",
    "audit_lanes",
    "audit_log",
)

# Table privileges beyond SELECT (which every component has on every table), per component.
WRITES: dict[str, dict[str, str]] = {
    "holdem_api": {
        "users": "insert, update",
        "sessions": "insert, update, delete",
        "poker_tables": "insert, update",
        "deposit_addresses": "insert, update",
        "withdrawals": "insert, update",
        "admin_actions": "insert",
        "idempotency_keys": "insert, update, delete",
    },
    "holdem_payments": {
        "deposit_addresses": "insert, update",
        "deposits": "insert, update",
        "withdrawals": "insert, update",
        "idempotency_keys": "insert, update, delete",
    },
    "holdem_economy": {
        "rakeback_settlements": "insert, update",
        "daily_stats": "insert, update, delete",
        "archived_hands": "insert, update",
        "archived_hand_players": "insert, update",
        # delete, and update because SELECT ... FOR UPDATE (the archiver's claim on a
        # table-hour) needs it.
        "hands": "update, delete",
        "hand_players": "delete",
        "hand_events": "delete",
    },
    "holdem_audit_relay": {
        "audit_relay_cursors": "insert, update",
    },
    "holdem_table_server": {
        "poker_tables": "update",
        "seats": "insert, update, delete",
        "hands": "insert, update",
        "hand_players": "insert, update",
        "hand_events": "insert",
        "sessions": "update",
    },
}

COMPONENT_ROLES = tuple(WRITES)


def upgrade() -> None:
    for role in COMPONENT_ROLES:
        op.execute(
            f"do $$ begin if not exists (select from pg_roles where rolname = '{role}') then "
            f"create role {role} nologin; end if; end $$"
        )
    op.execute("alter function ledger_post security definer set search_path = public, pg_temp")
    op.execute("revoke execute on function ledger_post from public")
    for role in COMPONENT_ROLES:
        op.execute(f"grant usage on schema public to {role}")
        op.execute(f"grant select on all tables in schema public to {role}")
        op.execute(f"grant usage on all sequences in schema public to {role}")
        op.execute(f"grant execute on function ledger_post to {role}")
        for table, privileges in WRITES[role].items():
            op.execute(f"grant {privileges} on {table} to {role}")


def downgrade() -> None:
    for role in COMPONENT_ROLES:
        op.execute(f"revoke all on all tables in schema public from {role}")
        op.execute(f"revoke all on all sequences in schema public from {role}")
        op.execute(f"revoke all on function ledger_post from {role}")
        op.execute(f"revoke usage on schema public from {role}")
    op.execute("grant execute on function ledger_post to public")
    op.execute("alter function ledger_post security invoker reset search_path")
