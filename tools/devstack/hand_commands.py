"""Operator commands on stored hands, usable against any database.

``./dev hand verify HAND_ID`` — recompute the hand's deal from the seed kept with it and
check it against the commitment it published and every card and opening it recorded
(`holdem.services.hand_audit`); hot hands in PostgreSQL and archived ones in S3.

It reads ``DATABASE_URL``, ``REDIS_URL`` and the ``AWS__*`` settings like every process, and
exits non-zero when the hand does not verify, after listing every problem.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from devstack.ledger_commands import operator_settings, run_directly


async def _verify(hand_id: int) -> int:
    from holdem.adapters.repositories.transaction import SqlTransaction
    from holdem.bootstrap import bootstrap
    from holdem.services.errors import NotFound
    from holdem.services.hand_audit import verify_hand

    container = bootstrap(operator_settings())
    try:
        async with container.sessions() as session:
            verdict = await verify_hand(
                SqlTransaction(session), container.archive_store, container.redis, hand_id
            )
    except NotFound as exc:
        print(f"NOT FOUND: {exc}", file=sys.stderr)
        return 2
    finally:
        await container.aclose()
    where = "the S3 archive" if verdict.archived else "PostgreSQL"
    print(
        f"hand {verdict.hand_id} (table {verdict.table_id}, #{verdict.hand_no}) from {where}: "
        f"commitment scheme {verdict.scheme or 'unknown'}, {verdict.cards_checked} recorded "
        f"card(s) and {verdict.openings_checked} opening(s) checked"
    )
    if verdict.ok:
        print("OK: the seed deals exactly what the hand published and recorded")
        return 0
    for problem in verdict.problems:
        print(f"PROBLEM {problem}")
    print(f"{len(verdict.problems)} problem(s)", file=sys.stderr)
    return 1


def cmd_hand(args: argparse.Namespace) -> int:
    """Hand commands (verify HAND_ID: the operator's full check of a deal)."""
    return asyncio.run(_verify(args.hand_id))


def add_parsers(sub: Any) -> None:
    """Register `hand` on the `./dev` parser."""
    hand = sub.add_parser("hand", help=cmd_hand.__doc__)
    hand.add_argument("action", choices=["verify"])
    hand.add_argument("hand_id", type=int)
    hand.set_defaults(func=cmd_hand)


def main(argv: list[str] | None = None) -> int:
    """Run a command directly: ``python -m devstack.hand_commands hand verify 42``."""
    return run_directly("hand_commands", add_parsers, argv)


if __name__ == "__main__":
    raise SystemExit(main())
