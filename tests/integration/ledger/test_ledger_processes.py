"""Many processes against one balance, and a process killed mid-transaction."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from holdem.adapters.orm.ledger import LedgerAccount, LedgerEntry, LedgerTransaction

WORKER = Path(__file__).with_name("ledger_worker.py")


def _spawn(mode: str, **args: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), mode, json.dumps(args)],
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )


async def test_racing_processes_spend_exactly_the_affordable_amount(world, database_url, tmp_path):
    user = await world.user()
    table = await world.table()
    await world.deposit(user, 95_000)
    start = tmp_path / "start"
    workers = [
        _spawn(
            "race",
            database_url=database_url,
            user_id=user,
            table_id=table,
            worker=n,
            attempts=6,
            amount=10_000,
            start_file=str(start),
        )
        for n in range(4)
    ]
    start.touch()
    results = []
    for worker in workers:
        out, _ = worker.communicate(timeout=120)
        assert worker.returncode == 0
        results.append(json.loads(out.splitlines()[-1]))
    assert sum(r["ok"] for r in results) == 9
    assert sum(r["refused"] for r in results) == 4 * 6 - 9
    balances = await world.service.balances(user)
    assert balances.wallet == 5_000
    assert balances.total == 95_000
    async with world.container.sessions() as session:
        lowest = await session.scalar(
            select(func.min(LedgerEntry.balance_after)).where(LedgerEntry.user_id == user)
        )
    assert lowest is not None
    assert lowest >= 0  # no balance was ever negative, at any step
    await world.assert_sound()


async def test_a_worker_killed_mid_transaction_leaves_no_trace_and_keys_replay(world, database_url):
    user, other = await world.user(), await world.user()
    table = await world.table()
    await world.deposit(user, 50_000)
    await world.deposit(other, 50_000)
    await world.service.buy_in(key="other:in", user_id=other, table_id=table, amount=10_000)
    async with world.container.sessions() as session:
        before = await session.scalar(select(func.count()).select_from(LedgerTransaction))
    worker = _spawn(
        "crash", database_url=database_url, user_id=user, other_id=other, table_id=table
    )
    assert worker.stdout is not None
    committed = json.loads(worker.stdout.readline())["committed"]
    assert json.loads(worker.stdout.readline()) == {"posted": True}
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=30)
    worker.stdout.close()

    async with world.container.sessions() as session:
        count = await session.scalar(select(func.count()).select_from(LedgerTransaction))
        seats = await session.scalar(
            select(LedgerAccount.balance).where(LedgerAccount.key == f"seat:{user}:{table}")
        )
    assert count == before + 1  # only the committed buy-in
    assert seats == 1_000
    again = await world.service.buy_in(
        key="crash:committed", user_id=user, table_id=table, amount=1_000
    )
    assert again.replayed
    assert again.transaction_id == committed
    redo = await world.service.buy_in(key="crash:open", user_id=user, table_id=table, amount=2_000)
    assert not redo.replayed  # it never committed: now it happens, once
    settled = await world.service.settle_hand(
        table_id=table, hand_id=1, fencing_token=1, nets={user: 500, other: -500}, rake=0
    )
    assert not settled.replayed
    balances = await world.service.balances(user)
    assert (balances.wallet, balances.seats) == (47_000, {table: 3_500})
    await world.assert_sound()
