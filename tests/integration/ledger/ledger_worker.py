"""A separate process that moves money through the ledger, for the race and crash tests.

Run as ``python ledger_worker.py <mode> <json arguments>``; prints one JSON line per report.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time

from holdem.bootstrap import bootstrap
from holdem.config import Settings
from holdem.services import ledger
from holdem.services.ledger_errors import InsufficientFunds


def report(**fields: object) -> None:
    print(json.dumps(fields), flush=True)


def _wait_for(path: str) -> None:
    while not os.path.exists(path):
        time.sleep(0.005)


async def race(args: dict) -> None:
    """Try `attempts` buy-ins and withdrawals of `amount` after the start file appears."""
    container = bootstrap(Settings(database_url=args["database_url"], db={"pool_size": 1}))
    service = container.ledger
    ok = refused = 0
    try:
        await service.balances(args["user_id"])  # connect before the start signal
        await asyncio.to_thread(_wait_for, args["start_file"])
        for attempt in range(args["attempts"]):
            key = f"race:{args['worker']}:{attempt}"
            try:
                if attempt % 2:
                    await service.reserve_withdrawal(
                        key=key,
                        user_id=args["user_id"],
                        amount=args["amount"],
                        coin="BTC",
                        address="bc1qrace",
                    )
                else:
                    await service.buy_in(
                        key=key,
                        user_id=args["user_id"],
                        table_id=args["table_id"],
                        amount=args["amount"],
                    )
                ok += 1
            except InsufficientFunds:
                refused += 1
    finally:
        await container.aclose()
    report(ok=ok, refused=refused)


async def crash(args: dict) -> None:
    """Commit one buy-in, then post another and wait, uncommitted, to be killed."""
    container = bootstrap(Settings(database_url=args["database_url"], db={"pool_size": 1}))
    service = container.ledger
    first = await service.buy_in(
        key="crash:committed", user_id=args["user_id"], table_id=args["table_id"], amount=1_000
    )
    report(committed=first.transaction_id)
    async with container.sessions.begin() as session:
        await ledger.buy_in(
            session,
            key="crash:open",
            user_id=args["user_id"],
            table_id=args["table_id"],
            amount=2_000,
        )
        await ledger.settle_hand(
            session,
            table_id=args["table_id"],
            hand_id=1,
            fencing_token=1,
            nets={args["user_id"]: 500, args["other_id"]: -500},
            rake=0,
        )
        report(posted=True)
        await asyncio.sleep(120)  # killed here, mid-transaction


if __name__ == "__main__":
    mode, raw = sys.argv[1], sys.argv[2]
    asyncio.run({"race": race, "crash": crash}[mode](json.loads(raw)))
