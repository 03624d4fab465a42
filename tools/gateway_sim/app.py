"""A small NOWPayments simulator: the same API as `holdem.adapters.gateway.NowPaymentsGateway`.

Gateway side (what our adapter calls):

- ``POST /v1/payment`` — issues a valid address for the coin (the same one again for the
  same ``order_id``), remembers the IPN callback URL;
- ``POST /v1/auth`` — a bearer token for payouts;
- ``POST /v1/payout`` / ``GET /v1/payout?unique_external_id=`` — accepts payouts, deduped by
  ``unique_external_id``; ``payout_mode`` decides whether they are sent at once, stay
  waiting, fail, or answer 503. When the request names an ``ipn_callback_url``, each status
  the new payout goes through is sent there as a signed callback, after the answer.

Control side (for `./dev pay` and tests):

- ``POST /sim/deposits`` ``{"address", "coin", "amount", "confirmations"?, "duplicates"?,
  "shuffle"?, "bad_signature"?, "delay_s"?}`` — simulates a chain transaction to an address
  we issued: one IPN per confirmation count 0…N (N = the coin's minimum by default), signed
  with the IPN secret and sent to the callback URL, with optional duplicates, reordering,
  delays and deliberately bad signatures. Answers with each delivery's last status and its
  number of attempts.
- ``GET /sim/payouts`` — every payout received; ``POST /sim/payouts/{unique_external_id}``
  ``{"status", "duplicates"?, "shuffle"?, "bad_signature"?}`` — the payout's status changes
  (``FINISHED`` gets a hash) and its signed callback is sent, with the extras asked for;
  ``POST /sim/config`` — change ``payout_mode`` and ``prices_krw``;
- ``GET /v1/ticker?markets=KRW-BTC`` — KRW prices in Upbit's format (the local stack's rates).

A callback that is not accepted (no answer, or a 5xx) is resent after 0.5, 1 and 2 s, as the
gateway resends an IPN (`send`). `deliveries()` and `payout_notices()` build the same signed
callbacks without sending them, for tests.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import secrets
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from holdem.payments import signatures
from holdem.payments.addresses import AddressKind, Network, eip55_checksum, segwit_encode
from holdem.payments.coins import KNOWN_COINS

DEFAULT_CONFIRMATIONS = {"BTC": 3, "ETH": 12, "USDT": 12, "USDC": 12}


def address_for(order_id: str, coin: str, network: Network = "mainnet") -> str:
    """A valid, deterministic address of `coin`'s chain for an order id."""
    seed = hashlib.sha256(f"{order_id}:{coin}".encode()).digest()
    if KNOWN_COINS[coin].address_kind is AddressKind.BITCOIN:
        return segwit_encode("bc" if network == "mainnet" else "tb", 0, seed[:20])
    return eip55_checksum("0x" + seed[:20].hex())


@dataclass
class Delivery:
    """One IPN as it goes on the wire."""

    body: bytes
    headers: dict[str, str]
    confirmations: int
    well_signed: bool


@dataclass
class SimState:
    ipn_secret: str
    network: Network = "mainnet"
    payout_mode: str = "sent"  # sent | waiting | fail | unavailable | reject
    callbacks: dict[str, str] = field(default_factory=dict)  # address → IPN URL
    coins_by_address: dict[str, str] = field(default_factory=dict)
    payments: dict[str, dict[str, Any]] = field(default_factory=dict)  # order_id → payment
    payouts: dict[str, dict[str, Any]] = field(default_factory=dict)  # external id → payout
    payout_callbacks: dict[str, str] = field(default_factory=dict)  # external id → IPN URL
    tokens: set[str] = field(default_factory=set)
    next_id: int = 5_000_000_000
    prices_krw: dict[str, str] = field(
        default_factory=lambda: {
            "BTC": "100000000",
            "ETH": "5000000",
            "USDT": "1400",
            "USDC": "1400",
        }
    )


def deliveries(
    secret: str,
    *,
    address: str,
    coin: str,
    amount: str,
    tx_hash: str | None = None,
    output_index: int = 0,
    confirmations: int | None = None,
    duplicates: int = 0,
    shuffle: bool = False,
    bad_signatures: int = 0,
    payment_id: int = 1,
    now_ms: int | None = None,
    rng: random.Random | None = None,
) -> list[Delivery]:
    """The IPNs of one chain output: one per confirmation count, then the extras asked for."""
    rng = rng or random.Random()
    spec = KNOWN_COINS[coin]
    target = DEFAULT_CONFIRMATIONS[coin] if confirmations is None else confirmations
    tx_hash = tx_hash or secrets.token_hex(32)
    stamp = now_ms if now_ms is not None else int(time.time() * 1000)
    out: list[Delivery] = []
    for n in range(target + 1):
        body = {
            "payment_id": payment_id,
            "payment_status": "finished" if n >= target else ("confirming" if n else "waiting"),
            "pay_address": address,
            "pay_currency": spec.gateway_code,
            "actually_paid": Decimal(amount),
            "payin_hash": tx_hash,
            "output_index": output_index,
            "confirmations": n,
            "updated_at": stamp,
        }
        out.append(_signed(body, secret, n))
    out += [rng.choice(out) for _ in range(duplicates)]
    for _ in range(bad_signatures):
        base = rng.choice(out[: target + 1])
        forged = base.body.replace(b'"actually_paid":', b'"actually_paid":1')
        headers = {**base.headers, "x-nowpayments-sig": hashlib.sha512(forged).hexdigest()}
        out.append(Delivery(forged, headers, base.confirmations, False))
    if shuffle:
        rng.shuffle(out)
    return out


def _signed(body: dict[str, Any], secret: str, confirmations: int = 0) -> Delivery:
    raw = signatures.canonical(body).encode()
    sig = signatures.signature_of(signatures.parse_body(raw), secret)
    headers = {"content-type": "application/json", "x-nowpayments-sig": sig}
    return Delivery(raw, headers, confirmations, True)


def _forge(base: Delivery) -> Delivery:
    headers = {**base.headers, "x-nowpayments-sig": hashlib.sha512(base.body).hexdigest()}
    return Delivery(base.body, headers, base.confirmations, False)


def payout_notices(
    secret: str,
    payout: dict[str, Any],
    statuses: list[str],
    *,
    duplicates: int = 0,
    shuffle: bool = False,
    bad_signatures: int = 0,
    now_ms: int | None = None,
    rng: random.Random | None = None,
) -> list[Delivery]:
    """A payout's signed status callbacks, one per status in order, then the extras asked for."""
    rng = rng or random.Random()
    stamp = now_ms if now_ms is not None else int(time.time() * 1000)
    out: list[Delivery] = []
    for n, status in enumerate(statuses):
        body = {
            "id": payout["id"],
            "batch_withdrawal_id": payout.get("batch_id", payout["id"]),
            "status": status,
            "error": "payout failed" if status in ("FAILED", "REJECTED") else None,
            "currency": payout["currency"],
            "amount": Decimal(str(payout["amount"])),
            "address": payout["address"],
            "hash": payout.get("hash") if status == "FINISHED" else None,
            "unique_external_id": payout["unique_external_id"],
            "updated_at": stamp + n,  # milliseconds: each status a little later
        }
        out.append(_signed(body, secret, n))
    originals = list(out)
    out += [rng.choice(originals) for _ in range(duplicates)]
    out += [_forge(rng.choice(originals)) for _ in range(bad_signatures)]
    if shuffle:
        rng.shuffle(out)
    return out


_PAYOUT_STEPS = {
    "FINISHED": ["PROCESSING", "SENDING", "FINISHED"],
    "SENDING": ["PROCESSING", "SENDING"],
    "FAILED": ["PROCESSING", "FAILED"],
}


def create_app(state: SimState) -> Starlette:
    """The simulator as an ASGI app (run it with uvicorn, or mount it in an httpx transport)."""

    def _id() -> str:
        state.next_id += 1
        return str(state.next_id)

    async def create_payment(request: Request) -> JSONResponse:
        body = await request.json()
        coin = next(
            (s for s, c in KNOWN_COINS.items() if c.gateway_code == body.get("pay_currency")), None
        )
        order_id = str(body.get("order_id") or "")
        if coin is None or not order_id:
            return JSONResponse({"message": "unknown pay_currency or no order_id"}, 400)
        payment = state.payments.get(order_id)
        if payment is None:
            address = address_for(order_id, coin, state.network)
            payment = {"payment_id": _id(), "pay_address": address, "payment_status": "waiting"}
            state.payments[order_id] = payment
            state.coins_by_address[address] = coin
        if body.get("ipn_callback_url"):
            state.callbacks[payment["pay_address"]] = str(body["ipn_callback_url"])
        return JSONResponse({**payment, "pay_currency": body["pay_currency"]}, 201)

    async def auth(request: Request) -> JSONResponse:
        token = secrets.token_hex(16)
        state.tokens.add(token)
        return JSONResponse({"token": token})

    def _authorised(request: Request) -> bool:
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        return bearer in state.tokens

    async def payout(request: Request) -> JSONResponse:
        if not _authorised(request):
            return JSONResponse({"message": "unauthorised"}, 401)
        if state.payout_mode == "unavailable":
            return JSONResponse({"message": "try later"}, 503)
        if state.payout_mode == "reject":
            return JSONResponse({"message": "address rejected"}, 400)
        body = await request.json()
        items = []
        created: list[dict[str, Any]] = []
        for item in body.get("withdrawals", []):
            key = str(item.get("unique_external_id") or _id())
            known = state.payouts.get(key)
            if known is None:
                status = {"sent": "FINISHED", "waiting": "SENDING", "fail": "FAILED"}.get(
                    state.payout_mode, "FINISHED"
                )
                known = {
                    "id": _id(),
                    "address": item["address"],
                    "currency": item["currency"],
                    "amount": str(item["amount"]),
                    "unique_external_id": key,
                    "status": status,
                    "hash": secrets.token_hex(32) if status == "FINISHED" else None,
                }
                state.payouts[key] = known
                created.append(known)
                if body.get("ipn_callback_url"):
                    state.payout_callbacks[key] = str(body["ipn_callback_url"])
            items.append(known)
        later = [
            (state.payout_callbacks[p["unique_external_id"]], p)
            for p in created
            if p["unique_external_id"] in state.payout_callbacks
        ]

        async def call_back() -> None:  # after the answer, as a gateway does
            for url, p in later:
                await send(url, payout_notices(state.ipn_secret, p, _PAYOUT_STEPS[p["status"]]))

        return JSONResponse(
            {"id": _id(), "withdrawals": items}, background=BackgroundTask(call_back)
        )

    async def change_payout(request: Request) -> JSONResponse:
        key = request.path_params["key"]
        payout = state.payouts.get(key)
        if payout is None:
            return JSONResponse({"message": "no such payout"}, 404)
        body = await request.json()
        payout["status"] = str(body["status"]).upper()
        if payout["status"] == "FINISHED" and not payout.get("hash"):
            payout["hash"] = secrets.token_hex(32)
        url = body.get("callback_url") or state.payout_callbacks.get(key)
        if not url:
            return JSONResponse({"payout": payout, "deliveries": []})
        batch = payout_notices(
            state.ipn_secret,
            payout,
            [payout["status"]],
            duplicates=int(body.get("duplicates", 0)),
            shuffle=bool(body.get("shuffle", False)),
            bad_signatures=int(body.get("bad_signature", 0)),
        )
        return JSONResponse({"payout": payout, "deliveries": await send(url, batch)})

    async def find_payout(request: Request) -> JSONResponse:
        if not _authorised(request):
            return JSONResponse({"message": "unauthorised"}, 401)
        key = request.query_params.get("unique_external_id")
        found = [state.payouts[key]] if key in state.payouts else []
        return JSONResponse({"withdrawals": found})

    async def simulate_deposit(request: Request) -> JSONResponse:
        body = await request.json()
        address = str(body["address"])
        coin = str(body.get("coin") or state.coins_by_address.get(address, "BTC")).upper()
        url = body.get("callback_url") or state.callbacks.get(address)
        if not url:
            return JSONResponse({"message": "no callback URL known for this address"}, 400)
        batch = deliveries(
            state.ipn_secret,
            address=address,
            coin=coin,
            amount=str(body["amount"]),
            confirmations=body.get("confirmations"),
            duplicates=int(body.get("duplicates", 0)),
            shuffle=bool(body.get("shuffle", False)),
            bad_signatures=int(body.get("bad_signature", 0)),
        )
        statuses = await send(url, batch, delay_s=float(body.get("delay_s", 0)))
        tx_hash = json.loads(batch[0].body)["payin_hash"]
        return JSONResponse({"tx_hash": tx_hash, "deliveries": statuses})

    async def ticker(request: Request) -> Response:
        """Upbit's public ticker format, so the local stack needs no internet for rates."""
        rows = []
        for market in request.query_params.get("markets", "").split(","):
            coin = market.removeprefix("KRW-")
            if coin in state.prices_krw:
                rows.append(
                    f'{{"market":"{market}","trade_price":{state.prices_krw[coin]},'
                    f'"timestamp":{int(time.time() * 1000)}}}'
                )
        return Response("[" + ",".join(rows) + "]", media_type="application/json")

    async def list_payouts(request: Request) -> JSONResponse:
        return JSONResponse({"payouts": list(state.payouts.values())})

    async def configure(request: Request) -> JSONResponse:
        body = await request.json()
        if "payout_mode" in body:
            state.payout_mode = str(body["payout_mode"])
        state.prices_krw.update({k.upper(): str(v) for k, v in body.get("prices_krw", {}).items()})
        return JSONResponse({"payout_mode": state.payout_mode, "prices_krw": state.prices_krw})

    return Starlette(
        routes=[
            Route("/v1/payment", create_payment, methods=["POST"]),
            Route("/v1/auth", auth, methods=["POST"]),
            Route("/v1/payout", payout, methods=["POST"]),
            Route("/v1/payout", find_payout, methods=["GET"]),
            Route("/v1/ticker", ticker, methods=["GET"]),
            Route("/sim/deposits", simulate_deposit, methods=["POST"]),
            Route("/sim/payouts", list_payouts, methods=["GET"]),
            Route("/sim/payouts/{key}", change_payout, methods=["POST"]),
            Route("/sim/config", configure, methods=["POST"]),
        ]
    )


RESEND_AFTER_S = (0.5, 1.0, 2.0)
"""A delivery that is not accepted (no answer, or a 5xx such as ``awaiting_rate``) is sent
again after each of these waits, as the gateway resends an IPN its receiver did not take."""


async def send(
    url: str,
    batch: list[Delivery],
    *,
    delay_s: float = 0.0,
    resend_after_s: tuple[float, ...] = RESEND_AFTER_S,
    transport: httpx.AsyncBaseTransport | None = None,
) -> list[dict[str, Any]]:
    """POST each delivery in order (waiting `delay_s` between them); each one's last outcome.

    An outcome is ``{"confirmations", "status" or "error", "attempts"}``: a delivery that was
    not accepted is resent after each wait of `resend_after_s`, and its last answer kept.
    """
    statuses: list[dict[str, Any]] = []
    timeout = httpx.Timeout(10.0, connect=5.0)
    async with httpx.AsyncClient(timeout=timeout, transport=transport) as client:
        for delivery in batch:
            if delay_s:
                await asyncio.sleep(delay_s)
            outcome = await _post_once(client, url, delivery)
            attempts = 1
            for wait_s in resend_after_s:
                if "status" in outcome and outcome["status"] < 500:
                    break  # accepted, or refused for good (4xx)
                await asyncio.sleep(wait_s)
                outcome = await _post_once(client, url, delivery)
                attempts += 1
            statuses.append(
                {"confirmations": delivery.confirmations, **outcome, "attempts": attempts}
            )
    return statuses


async def _post_once(client: httpx.AsyncClient, url: str, delivery: Delivery) -> dict[str, Any]:
    """``{"status": code}``, or ``{"error": repr}`` when no answer came."""
    try:
        response = await client.post(url, content=delivery.body, headers=delivery.headers)
    except httpx.HTTPError as exc:
        return {"error": repr(exc)}
    return {"status": response.status_code}
