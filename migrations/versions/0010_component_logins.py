"""component logins: one LOGIN user per component role, without a password

Migration 0007 made the component roles (NOLOGIN groups holding the grants). This revision
makes the users the components log in as, each a member of its role and nothing else:

========================== ======================= ==========================================
login                      member of               used by
========================== ======================= ==========================================
holdem_api_login           holdem_api              ApiFunction
holdem_payments_login      holdem_payments         the webhooks, withdrawals, payouts, notifier
holdem_economy_login       holdem_economy          rakeback, daily stats, archiver
holdem_audit_relay_login   holdem_audit_relay      AuditRelayFunction
holdem_table_server_login  holdem_table_server     the table servers (ECS)
========================== ======================= ==========================================

Who exists and which role each joins is schema: versioned here, the same in every
environment, and what the test suite and ``./dev up`` connect as (their PostgreSQL trusts
local connections). The passwords are not: each login's lives in its own Secrets Manager
secret (template.yaml, ``Database*LoginSecret``, whose ``username`` is the name above), is set
by the deploy's database task after this migration (``python -m holdem.admin_cli
set-database-passwords``) and rotated by Secrets Manager afterwards; no password passes
through a migration or alembic's history. Until it is set, a login has no password and cannot
authenticate over the network.

The logins inherit their role's privileges and may not create roles or databases. Roles
belong to the cluster: they are created only when missing, and the downgrade leaves them
(other databases of the cluster may use them, as 0007 leaves the component roles).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 05:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# login -> the component role (migration 0007) it is a member of.
LOGINS: dict[str, str] = {
    "holdem_api_login": "holdem_api",
    "holdem_payments_login": "holdem_payments",
    "holdem_economy_login": "holdem_economy",
    "holdem_audit_relay_login": "holdem_audit_relay",
    "holdem_table_server_login": "holdem_table_server",
}


def upgrade() -> None:
    for login, role in LOGINS.items():
        op.execute(
            f"do $$ begin if not exists (select from pg_roles where rolname = '{login}') then "
            f"create role {login} login inherit nocreaterole nocreatedb in role {role}; "
            "end if; end $$"
        )


def downgrade() -> None:
    """Leave the logins: they belong to the cluster, and 0007's downgrade takes this
    database's grants from their roles, which is what a downgrade of the schema needs."""
