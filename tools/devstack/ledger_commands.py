"""Operator commands on the money ledger, usable against any database.

``./dev ledger check``  — the conservation check on one consistent snapshot.
``./dev audit verify``  — recompute the audit hash chains from the ledger rows, and
                          cross-check the Redis Stream and S3 copies.
``./dev audit relay``   — copy committed audit records to Redis and S3 once (what the
                          scheduled relay does), e.g. after an outage.

They read ``DATABASE_URL``, ``REDIS_URL`` and the ``AWS__*`` settings (``AWS__ENDPOINT_URL``,
``AWS__AUDIT_BUCKET``, ``AWS__REGION``) like every process, and exit non-zero when anything is
wrong, after listing every problem.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from holdem.config import Settings


def operator_settings() -> Settings:
    """An operator command's settings: the environment's, with a two-connection pool."""
    from holdem.config import Settings

    if not os.environ.get("DATABASE_URL"):
        raise SystemExit("set DATABASE_URL to the database to check")
    return Settings(db={"pool_size": 2, "max_overflow": 0})


async def _ledger_check() -> int:
    from holdem.bootstrap import bootstrap

    container = bootstrap(operator_settings())
    try:
        report = await container.ledger.conservation_report()
    finally:
        await container.aclose()
    t = report.totals
    print("ledger check (one REPEATABLE READ snapshot)")
    print(f"  sum of all accounts      {t.sum_of_balances:>20,}")
    for kind, total in sorted({**t.player_balances_by_kind, **t.house_balances_by_kind}.items()):
        print(f"  {kind:<24} {total:>20,}")
    print(f"  credited deposits        {t.credited_deposits:>20,}")
    print(f"  paid withdrawals         {t.paid_withdrawals:>20,}")
    print(f"  rake                     {t.rake:>20,}")
    print(f"  rakeback                 {t.rakeback:>20,}")
    print(f"  adjustments              {t.adjustments:>20,}")
    if report.ok:
        print("OK: every conservation rule holds")
        return 0
    for violation in report.violations:
        print(f"VIOLATION {violation.code}: {violation.message}")
    print(f"{len(report.violations)} violation(s)", file=sys.stderr)
    return 1


async def _audit_verify(check_redis: bool, check_s3: bool) -> int:
    from holdem.adapters import audit_relay
    from holdem.bootstrap import bootstrap

    settings = operator_settings()
    container = bootstrap(settings)
    problems: list[str] = []
    try:
        chain = await container.ledger.verify_audit_chain()
        print(f"audit chain: {chain.records} record(s) in {len(chain.heads)} lane(s)")
        problems += chain.problems
        async with container.sessions() as session:
            database = await audit_relay.database_records(session)
            cursors = {
                dest: await audit_relay.published_cursors(session, dest) for dest in ("redis", "s3")
            }
        copies: list[tuple[str, Any]] = []
        if check_redis:
            copies.append(("redis", await audit_relay.redis_copies(container.redis)))
        if check_s3:
            bucket = settings.aws.audit_bucket
            found_s3 = await asyncio.to_thread(audit_relay.s3_copies, container.s3, bucket)
            copies.append(("s3", found_s3))
        for destination, found in copies:
            report = audit_relay.compare_copy(
                destination,
                found,
                database,
                cursors[destination],
                trimmed=destination == "redis",
            )
            published = sum(cursors[destination].values())
            print(
                f"{destination}: {report.records} copied record(s), "
                f"{published} published per the relay cursors, "
                f"{len(database) - published} not yet relayed"
            )
            problems += report.problems
    finally:
        await container.aclose()
    if not problems:
        print("OK: the chains verify and the copies match")
        return 0
    for problem in problems:
        print(f"PROBLEM {problem}")
    print(f"{len(problems)} problem(s)", file=sys.stderr)
    return 1


async def _audit_relay() -> int:
    from holdem.bootstrap import bootstrap

    container = bootstrap(operator_settings())
    try:
        stats = await container.audit_relay.run_once()
    finally:
        await container.aclose()
    print(
        f"relayed {stats.redis} record(s) to Redis, "
        f"{stats.s3_records} in {stats.s3_objects} object(s) to S3"
    )
    return 0


def cmd_ledger(args: argparse.Namespace) -> int:
    """Ledger operator commands (check)."""
    return asyncio.run(_ledger_check())


def cmd_audit(args: argparse.Namespace) -> int:
    """Audit trail commands (verify, relay)."""
    if args.action == "verify":
        return asyncio.run(_audit_verify(not args.no_redis, not args.no_s3))
    return asyncio.run(_audit_relay())


def add_parsers(sub: Any) -> None:
    """Register `ledger` and `audit` on the `./dev` parser."""
    ledger = sub.add_parser("ledger", help=cmd_ledger.__doc__)
    ledger.add_argument("action", choices=["check"])
    ledger.set_defaults(func=cmd_ledger)
    audit = sub.add_parser("audit", help=cmd_audit.__doc__)
    audit.add_argument("action", choices=["verify", "relay"])
    audit.add_argument("--no-redis", action="store_true", help="do not cross-check Redis")
    audit.add_argument("--no-s3", action="store_true", help="do not cross-check S3")
    audit.set_defaults(func=cmd_audit)


def run_directly(prog: str, add: Callable[[Any], None], argv: list[str] | None) -> int:
    """Parse `argv` with the commands `add` registers (an ``add_parsers``) and run the one
    named: what ``python -m devstack.<prog>`` does."""
    parser = argparse.ArgumentParser(prog=prog)
    add(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


def main(argv: list[str] | None = None) -> int:
    """Run a command directly: ``python -m devstack.ledger_commands ledger check``."""
    return run_directly("ledger_commands", add_parsers, argv)


if __name__ == "__main__":
    raise SystemExit(main())
