"""`./dev pay deposit --user EMAIL_OR_ID --coin BTC --amount 0.01`: a deposit end to end.

Against the running `./dev up`: finds the user, gets their deposit address (created through
the simulator like any other), asks the simulator to send the chain transaction's signed IPNs
(one per confirmation, optionally duplicated, shuffled, delayed or forged) to the local
deposit webhook, then prints each delivery's answer and the user's deposits and balance.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Mapping
from typing import Any

import httpx
from sqlalchemy import select


def add_parser(sub: Any) -> None:
    """The `pay` subcommand of ./dev."""
    pay = sub.add_parser("pay", help="simulate crypto payments against the running ./dev up")
    what = pay.add_subparsers(dest="pay_command", required=True)
    deposit = what.add_parser("deposit", help="a deposit from the chain, end to end")
    deposit.add_argument("--user", required=True, help="the user's e-mail or id")
    deposit.add_argument("--coin", default="BTC", help="BTC, ETH, USDT or USDC")
    deposit.add_argument("--amount", required=True, help="crypto amount, e.g. 0.01")
    deposit.add_argument("--confirmations", type=int, help="default: the coin's minimum")
    deposit.add_argument("--duplicates", type=int, default=0, help="extra copies of deliveries")
    deposit.add_argument("--shuffle", action="store_true", help="deliver in random order")
    deposit.add_argument("--bad-signatures", type=int, default=0, help="forged deliveries")
    deposit.add_argument("--delay", type=float, default=0.0, help="seconds between deliveries")
    deposit.set_defaults(func=cmd_pay)


def cmd_pay(args: argparse.Namespace) -> int:
    """Run `./dev pay deposit`."""
    from devstack.functions_host import running_stack
    from devstack.paths import STATE

    info = running_stack(STATE / "up")
    if info is None:
        print("dev pay: start the backend first (./dev up)", file=sys.stderr)
        return 2
    return asyncio.run(_deposit(args, info))


async def _deposit(args: argparse.Namespace, info: Mapping[str, Any]) -> int:
    os.environ.update(info["env"])
    from holdem.adapters.orm.users import User
    from holdem.adapters.repositories.ledger import SqlLedgerReads
    from holdem.bootstrap import bootstrap
    from holdem.config import get_settings
    from holdem.services import deposits, errors, ledger

    get_settings.cache_clear()
    container = bootstrap()
    try:
        async with container.sessions() as session:
            column = User.id if args.user.isdigit() else User.email
            value: int | str = int(args.user) if args.user.isdigit() else args.user
            user = (await session.execute(select(User).where(column == value))).scalar_one_or_none()
        if user is None:
            print(f"dev pay: no user {args.user!r}", file=sys.stderr)
            return 2
        try:
            address = await deposits.deposit_address(container.deposits(), user.id, args.coin)
        except errors.ServiceError as exc:
            print(f"dev pay: {exc.code}: {exc.message}", file=sys.stderr)
            return 2
        webhook = f"http://127.0.0.1:{info['api_port']}/api/v1/wallet/webhook/deposit"
        body = {
            "address": address.address,
            "coin": address.coin,
            "amount": args.amount,
            "callback_url": webhook,
            "confirmations": args.confirmations,
            "duplicates": args.duplicates,
            "shuffle": args.shuffle,
            "bad_signature": args.bad_signatures,
            "delay_s": args.delay,
        }
        sim_url = container.settings.money.gateway_base_url
        async with httpx.AsyncClient(timeout=120) as client:
            answer = (await client.post(f"{sim_url}/sim/deposits", json=body)).json()
        print(f"{address.coin} {args.amount} → {address.address} (user {user.id} {user.email})")
        print(f"tx {answer['tx_hash']}")
        for delivery in answer["deliveries"]:
            print(f"  confirmations {delivery['confirmations']:>3}: {delivery.get('status')}")
        rows = await deposits.list_deposits(container.deposits(), user.id, limit=5)
        async with container.sessions() as session:
            balance = await ledger.balances(SqlLedgerReads(session), user.id)
        for row in rows:
            print(
                json.dumps(
                    {
                        "deposit": row.id,
                        "status": row.status,
                        "coin": row.coin,
                        "crypto_amount": str(row.crypto_amount.normalize()),
                        "confirmations": row.confirmations,
                        "amount_krw": row.amount_krw,
                        "rate_krw": None if row.rate_krw is None else str(row.rate_krw),
                    }
                )
            )
        print(f"wallet ₩{balance.wallet:,}  pending withdrawal ₩{balance.pending_withdrawal:,}")
        return 0
    finally:
        await container.aclose()
