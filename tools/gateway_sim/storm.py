"""A webhook storm: thousands of deliveries of every kind, good and bad, sent concurrently.

Used by the storm test (which checks every outcome) and by `loadtest/bench_webhook.py`
(which prints the counts and the latency figures).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

import httpx

from gateway_sim.app import Delivery, address_for, deliveries
from holdem.payments import signatures
from holdem.payments.conversion import krw_for_crypto

PATH = "/api/v1/wallet/webhook/deposit"


@dataclass
class Storm:
    deliveries: list[tuple[str, Delivery]]  # (expected kind, delivery)
    expected_krw: dict[int, int]  # user id → won that must be credited
    known_outputs: int
    unknown_outputs: int


@dataclass
class StormResult:
    delivered: int = 0
    by_kind_status: Counter[tuple[str, int, str]] = field(default_factory=Counter)
    latencies_s: list[float] = field(default_factory=list)
    elapsed_s: float = 0.0


def build_storm(
    secret: str,
    addresses: dict[int, dict[str, str]],
    prices: dict[str, Decimal],
    *,
    outputs: int = 120,
    unknown: int = 10,
    seed: int = 7,
) -> Storm:
    """Deliveries for `outputs` chain outputs to our users plus `unknown` to strangers,
    each with every confirmation count, duplicates and forged copies, plus unsigned,
    stale, malformed and invalid deliveries; shuffled."""
    rng = random.Random(seed)
    now_ms = int(time.time() * 1000)
    batch: list[tuple[str, Delivery]] = []
    expected: dict[int, int] = {}
    users = sorted(addresses)
    for i in range(outputs + unknown):
        coin = rng.choice(["BTC", "BTC", "BTC", "ETH", "USDT", "USDC"])
        places = {"BTC": 8, "ETH": 8, "USDT": 6, "USDC": 6}[coin]
        amount = Decimal(rng.randint(10**places // 1000, 10**places // 10)).scaleb(-places)
        if coin in ("USDT", "USDC"):
            amount *= 1000
        if i < outputs:
            user = rng.choice(users)
            address = addresses[user][coin]
            expected[user] = expected.get(user, 0) + krw_for_crypto(amount, prices[coin])
            kind = "good"
        else:
            address = address_for(f"stranger-{i}", coin)
            kind = "unknown"
        for d in deliveries(
            secret,
            address=address,
            coin=coin,
            amount=str(amount),
            tx_hash=f"{i:04x}" + "ab" * 30,
            duplicates=2,
            bad_signatures=1,
            payment_id=i,
            now_ms=now_ms,
            rng=rng,
        ):
            batch.append((kind if d.well_signed else "forged", d))
    sample = batch[0][1]
    for n in range(outputs // 2):
        unsigned = {"content-type": "application/json"}
        batch.append(("unsigned", Delivery(sample.body, unsigned, 0, False)))
        stale = json.loads(sample.body)
        stale["updated_at"] = now_ms - 3_600_000 - n
        raw = json.dumps(stale).encode()
        headers = {"x-nowpayments-sig": signatures.sign(raw, secret)}
        batch.append(("stale", Delivery(raw, headers, 0, True)))
        junk = b"{not json" + str(n).encode()
        batch.append(("malformed", Delivery(junk, {"x-nowpayments-sig": "00"}, 0, False)))
        invalid = json.dumps({"payment_id": n, "updated_at": now_ms}).encode()
        headers = {"x-nowpayments-sig": signatures.sign(invalid, secret)}
        batch.append(("invalid", Delivery(invalid, headers, 0, True)))
    rng.shuffle(batch)
    return Storm(batch, expected, outputs, unknown)


async def send_storm(
    client: httpx.AsyncClient, storm: Storm, *, concurrency: int = 50
) -> StormResult:
    """POST every delivery with at most `concurrency` in flight; count (kind, status, code)."""
    result = StormResult()
    gate = asyncio.Semaphore(concurrency)

    async def one(kind: str, delivery: Delivery) -> None:
        async with gate:
            started = time.perf_counter()
            try:
                response = await client.post(PATH, content=delivery.body, headers=delivery.headers)
            except httpx.HTTPError as exc:  # counted, so a gateway would retry it
                result.by_kind_status[(kind, 0, type(exc).__name__)] += 1
                result.delivered += 1
                return
            result.latencies_s.append(time.perf_counter() - started)
        body = response.json()
        code = body["error"]["code"] if "error" in body else body["status"]
        result.by_kind_status[(kind, response.status_code, code)] += 1
        result.delivered += 1

    started = time.perf_counter()
    await asyncio.gather(*(one(kind, d) for kind, d in storm.deliveries))
    result.elapsed_s = time.perf_counter() - started
    return result


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
