"""``python -m edge.demo --bots N --url ws://...``: bots playing at a demo table.

The table servers log every hand ("hand ended": board, pot, rake, each player's net).

For the local stack (``./dev up --bots N``): creates the demo table and the bot users when
missing, credits their wallets through the ledger (an operator adjustment, as a newcomer's
"play money"), then seats the bots — spread over the given servers — and logs every hand.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import uuid

from sqlalchemy import select

from edge import logs
from holdem.adapters.orm.tables import PokerTable
from holdem.adapters.orm.users import User
from holdem.adapters.repositories.ledger import SqlLedgerReads
from holdem.auth.tokens import issue_access_token
from holdem.bootstrap import Container, bootstrap
from holdem.client import Bot, BotStrategy, ClientError, ClosedError, TableClient
from holdem.config import get_settings
from holdem.services import ledger

log = logging.getLogger("edge.demo")

TABLE_NAME = "Demo ₩1,000/₩2,000"
SMALL_BLIND, BIG_BLIND = 1_000, 2_000
BUY_IN = 100 * BIG_BLIND
DEMO_SEATS = 9
MAX_BOTS = DEMO_SEATS - 2
"""Bots leave two seats free, for people to join the demo table."""
WALLET_FLOOR = 10 * BUY_IN


async def demo_table(container: Container, seats: int) -> int:
    async with container.sessions() as session, session.begin():
        found = await session.scalar(
            select(PokerTable.id).where(PokerTable.name == TABLE_NAME, PokerTable.status == "open")
        )
        if found is not None:
            return int(found)
        row = PokerTable(
            name=TABLE_NAME,
            small_blind=SMALL_BLIND,
            big_blind=BIG_BLIND,
            max_seats=seats,
            min_buy_in=40 * BIG_BLIND,
            max_buy_in=100 * BIG_BLIND,
            rake_rate_bps=500,
            rake_cap=3 * BIG_BLIND,
        )
        session.add(row)
        await session.flush()
        return int(row.id)


async def bot_users(container: Container, count: int) -> list[int]:
    """The bot accounts (created once), each with at least `WALLET_FLOOR` in the wallet."""
    ids = []
    async with container.sessions() as session, session.begin():
        for n in range(1, count + 1):
            email = f"bot{n}@demo.local"
            user_id = await session.scalar(select(User.id).where(User.email == email))
            if user_id is None:
                user = User(email=email, nickname=f"bot{n}", password_hash="!demo-bot")
                session.add(user)
                await session.flush()
                user_id = user.id
            held = await ledger.balances(SqlLedgerReads(session), user_id)
            if held.wallet < WALLET_FLOOR:
                await ledger.adjust(
                    session,
                    key=f"demo-funds:{user_id}:{uuid.uuid4().hex}",
                    user_id=user_id,
                    amount=WALLET_FLOOR - held.wallet,
                    reason="demo bot play money (local stack only)",
                    operator_id=user_id,
                )
            ids.append(int(user_id))
    return ids


async def run_bot(url: str, token: str, table_id: int, seat: int) -> None:
    client = TableClient(url, token, encoding="msgpack" if seat % 2 else "json")
    bot = Bot(client, table_id, seat, BUY_IN, BotStrategy(seed=seat), think_s=0.5)
    while True:
        try:
            await client.reconnect()
            await bot.sit_down()
            await bot.play()
        except (OSError, ClosedError, ClientError, TimeoutError) as exc:
            log.info("bot reconnecting", extra={"seat": seat, "why": str(exc)})
            await asyncio.sleep(1.0)


async def main(args: argparse.Namespace) -> int:
    settings = get_settings()
    logs.configure("demo", settings.log_level)
    container = bootstrap(settings)
    try:
        bots = max(2, min(MAX_BOTS, args.bots))
        table_id = await demo_table(container, DEMO_SEATS)
        users = await bot_users(container, bots)
        log.info("demo table ready", extra={"table": table_id, "bots": bots})
        tasks = []
        for seat, user_id in enumerate(users):
            token, _ = issue_access_token(
                user_id,
                "player",
                settings.auth,
            )
            url = args.url[seat % len(args.url)]
            tasks.append(asyncio.create_task(run_bot(url, token, table_id, seat)))
        await asyncio.gather(*tasks)
    finally:
        await container.aclose()
    return 0


def cli() -> int:
    parser = argparse.ArgumentParser(prog="python -m edge.demo", description=__doc__)
    parser.add_argument("--bots", type=int, default=6, help=f"2 to {MAX_BOTS}")
    parser.add_argument("--url", action="append", required=True, help="a table server")
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C of ./dev up
        return asyncio.run(main(parser.parse_args()))
    return 0


if __name__ == "__main__":
    raise SystemExit(cli())
