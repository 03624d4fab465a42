"""The spy test (issue 18, SPEC §4): three seated SDK clients and a spectator play 200 hands
with folds and showdowns on a real table server. For every hole card a client was not
entitled to see (another seat's folded or mucked cards), nothing it received carries that
card, its nonce or the seed: not one raw WebSocket frame, not its own hand history over
REST, not its PokerStars or OHH export. Every opening the SDK received verifies.

Ground truth is what the server keeps: each hand's seed (``hands.deck_seed``) and every
seat's cards (``hand_players``). From the seed the test derives each unseen card's nonce and
checks the stored commitment is the root the seed produces (the operator's check).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import msgpack
from sqlalchemy import func, select

from holdem.adapters.orm.hands import Hand, HandPlayer
from holdem.bootstrap import bootstrap
from holdem.client import Bot, BotStrategy, Opening, verify_opening
from holdem.engine.cards import card_str, parse_cards
from holdem.engine.shuffle import card_nonce, deal_from_seed
from tests.edge.conftest import FAST, bounded, fast_settings, url_of
from tests.functions.api.api_support import make_app

HANDS = 200
SEATS = 3
BUY_IN = 200_000  # 100 big blinds at ₩1,000/₩2,000


@dataclass
class StoredHand:
    hand_id: int
    hand_no: int
    seed: bytes
    commitment: str
    seats: dict[int, tuple[int, list[int], bool]]  # seat -> (user id, cards, shown)


@dataclass
class Secret:
    """One card a viewer may not see, and every value that would give it away."""

    hand_no: int
    hand_id: int
    card: str
    nonce: bytes


async def stored_hands(container, table_id: int) -> list[StoredHand]:
    async with container.sessions() as session:
        hands = (
            await session.execute(
                select(Hand.id, Hand.hand_no, Hand.deck_seed, Hand.deck_commitment)
                .where(Hand.table_id == table_id)
                .order_by(Hand.hand_no)
            )
        ).all()
        players = (
            await session.execute(
                select(
                    HandPlayer.hand_id,
                    HandPlayer.seat_no,
                    HandPlayer.user_id,
                    HandPlayer.hole_cards,
                    HandPlayer.shown,
                ).where(HandPlayer.hand_id.in_([h.id for h in hands]))
            )
        ).all()
    by_hand: dict[int, dict[int, tuple[int, list[int], bool]]] = {h.id: {} for h in hands}
    for hand_id, seat, user_id, cards, shown in players:
        by_hand[hand_id][seat] = (user_id, parse_cards(cards), shown)
    return [
        StoredHand(h.id, h.hand_no, bytes.fromhex(h.deck_seed), h.deck_commitment, by_hand[h.id])
        for h in hands
    ]


def secrets_of(hands: list[StoredHand], viewer: int | None) -> list[Secret]:
    """The cards ``viewer`` (a user id; None: a spectator) may not see, hand by hand."""
    found = []
    for hand in hands:
        for seat, (user_id, cards, shown) in hand.seats.items():
            if shown or user_id == viewer:
                continue
            for offset, card in enumerate(cards):
                nonce = card_nonce(hand.seed, 2 * seat + offset).hex().encode()
                found.append(Secret(hand.hand_no, hand.hand_id, card_str(card), nonce))
    return found


_HEX_RUN = re.compile(rb"[0-9a-fA-F]{64,}")


def hex_values(blob: bytes) -> set[bytes]:
    """Every 32-byte value written in hex anywhere in ``blob`` (each 64-digit window of a
    longer run too), lowercased: where a nonce or a seed would show up as text."""
    found = set()
    for run in _HEX_RUN.findall(blob):
        run = run.lower()
        found.update(run[i : i + 64] for i in range(len(run) - 63))
    return found


def frame_values(frame: bytes | str) -> set[bytes]:
    """The 32-byte values one raw frame carries: as hex text in JSON; in MessagePack also as
    raw bytes (openings' nonces and proofs travel as ``bin``), read with a plain MessagePack
    decoder, not the SDK's codec."""
    if isinstance(frame, str):
        return hex_values(frame.encode())
    raw = msgpack.unpackb(frame, raw=False, strict_map_key=False)
    blobs = [b for b in binary_values(raw) if len(b) >= 32]
    windows = {b[i : i + 32].hex().encode() for b in blobs for i in range(len(b) - 31)}
    return hex_values(frame) | windows


def binary_values(value: Any) -> list[bytes]:
    if isinstance(value, bytes):
        return [value]
    if isinstance(value, dict):
        return [b for v in value.values() for b in binary_values(v)]
    if isinstance(value, list):
        return [b for v in value for b in binary_values(v)]
    return []


def strings_in(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings_in(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings_in(v)]
    return []


async def play_until(bots: list[Bot], hands: int) -> None:
    await asyncio.wait_for(asyncio.gather(*(bot.play(hands) for bot in bots)), 300)


async def settled(container, table_id: int, through: int, wait_s: float = 30.0) -> None:
    """Wait until the table's hands up to number ``through`` are written behind."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        async with container.sessions() as session:
            written = await session.scalar(
                select(func.count()).where(Hand.table_id == table_id, Hand.hand_no <= through)
            )
        if written == through:
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(f"hands up to {through} not settled")


async def test_over_200_hands_no_client_learns_a_card_it_may_not_see(
    start_edge, make_players, fund, make_table, clients, container, edge_settings, aws
):
    # Bots with no think time act faster than a person may (20 messages/s per connection):
    # a refused action would cost a 10 s clock.
    settings = fast_settings(
        edge_settings,
        ws={**FAST["ws"], "messages_per_second": 1_000.0, "message_burst": 1_000},
        game={"action_clock_s": 10.0, "time_bank_s": 0.0, "between_hands_s": 0.0},
    )
    server = await start_edge(settings)
    players = await make_players(SEATS + 1)
    await fund([p.user_id for p in players], 10_000_000)
    table_id = await make_table(seats=SEATS)
    bots = []
    for seat, player in enumerate(players[:SEATS]):
        client = clients(
            url_of(server), player.token, record=True, encoding="json" if seat else "msgpack"
        )
        await client.connect()
        # Folds before and after the flop, and check-downs that end in a showdown with mucks.
        strategy = BotStrategy(seed=seat, raise_rate=0.1, fold_to_bet_rate=0.45)
        bots.append(Bot(client, table_id, seat=seat, buy_in=BUY_IN, strategy=strategy))
    spectator = clients(url_of(server), players[SEATS].token, record=True, encoding="msgpack")
    await spectator.connect()
    await spectator.join(table_id, as_="spectator")
    for bot in bots:
        await bot.sit_down()
    started = datetime.now(UTC)
    await play_until(bots, HANDS)
    last = max(max(bot.hands_seen) for bot in bots)
    await settled(container, table_id, last)
    hands = [h for h in await stored_hands(container, table_id) if h.hand_no <= last]
    assert len(hands) >= HANDS

    # The operator's view: each stored seed produces the published commitment and the cards.
    for hand in hands:
        deal = deal_from_seed(hand.seed, SEATS)
        assert deal.commitment == hand.commitment
        for seat, (_, cards, _) in hand.seats.items():
            assert list(deal.cards[2 * seat : 2 * seat + 2]) == cards
    never_shown = sum(1 for h in hands for _, _, shown in h.seats.values() if not shown)
    showdowns = sum(1 for h in hands if any(shown for _, _, shown in h.seats.values()))
    assert never_shown > HANDS
    assert showdowns > 10

    viewers = [(bot.client, bot.client.user_id, players[i]) for i, bot in enumerate(bots)]
    viewers.append((spectator, None, None))
    seeds = {h.seed.hex().encode() for h in hands}
    unseen_checked = 0
    opened = 0
    for client, user_id, _ in viewers:
        assert client.openings.failed == 0, [c.failed for c in client.openings.hands if c.failed]
        opened += client.openings.verified
        assert not binary_values(client.received)
        # Every frame as it came off the socket, not the SDK's reading of it.
        sent = set().union(*(frame_values(frame) for frame in client.frames))
        assert not seeds & sent
        if user_id is not None:  # the detector sees what the client was entitled to
            own = {
                card_nonce(h.seed, 2 * seat + offset).hex().encode()
                for h in hands
                for seat, (owner, _, _) in h.seats.items()
                if owner == user_id
                for offset in (0, 1)
            }
            assert own <= sent
        by_hand: dict[int, set[str]] = {}
        for message in client.received:
            number = message.get("hand", message.get("hand_number"))
            if isinstance(number, int):
                by_hand.setdefault(number, set()).update(strings_in(message))
        for secret in secrets_of(hands, user_id):
            assert secret.nonce not in sent, (user_id, secret)
            assert secret.card not in by_hand.get(secret.hand_no, set()), (user_id, secret)
            unseen_checked += 1

    # REST: each seated player's own hand history and both exports, as the API serves them.
    api_container = bootstrap(
        settings.model_copy(
            update={
                "rate_limits": settings.rate_limits.model_copy(update={"default_per_minute": 10**6})
            }
        )
    )
    rest_hands = rest_openings = 0
    try:
        transport = httpx.ASGITransport(app=make_app(api_container))
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as api:
            for _, user_id, player in viewers[:SEATS]:
                headers = {"Authorization": f"Bearer {player.token}"}
                secrets = secrets_of(hands, user_id)
                mine = {
                    h.hand_id: h for h in hands if any(u == user_id for u, _, _ in h.seats.values())
                }
                for hand_id, hand in mine.items():
                    r = await api.get(f"/api/v1/hands/{hand_id}", headers=headers)
                    assert r.status_code == 200, r.text
                    body = r.json()
                    sent = hex_values(r.content)
                    assert "deck_seed" not in body
                    assert not seeds & sent
                    hidden = {
                        s for s, (u, _, shown) in hand.seats.items() if u != user_id and not shown
                    }
                    for p in body["players"]:
                        if p["seat_no"] in hidden:
                            assert p["hole_cards"] is None
                    for e in body["events"]:
                        assert not (e["type"] == "hole_cards" and e["seat_no"] in hidden)
                    for wire in body["openings"]:
                        opening = Opening.from_wire(wire)
                        assert opening.position // 2 not in hidden or opening.position >= 2 * SEATS
                        assert verify_opening(body["deck_commitment"], opening)
                        rest_openings += 1
                    for secret in secrets:
                        if secret.hand_id == hand_id:
                            assert secret.nonce not in sent
                            assert secret.card not in strings_in(
                                [p["hole_cards"] for p in body["players"]]
                                + [e["payload"] for e in body["events"]]
                            )
                    rest_hands += 1
                window = {
                    "since": (started - timedelta(minutes=1)).isoformat(),
                    "until": (datetime.now(UTC) + timedelta(minutes=1)).isoformat(),
                }
                text_export = await api.get("/api/v1/hand-exports", params=window, headers=headers)
                ohh_export = await api.get(
                    "/api/v1/hand-exports", params={**window, "format": "ohh"}, headers=headers
                )
                assert text_export.status_code == ohh_export.status_code == 200
                blocks = _blocks(text_export.text)
                # OHH's storage format: one document per hand, a blank line between.
                documents = {
                    int(d["ohh"]["game_number"]): d
                    for d in map(json.loads, ohh_export.text.strip().split("\n\n"))
                }
                assert set(documents) >= set(mine)  # and hands dealt since
                exported = hex_values(text_export.content + b"\n" + ohh_export.content)
                assert not seeds & exported
                for secret in secrets:
                    if secret.hand_id not in mine:
                        continue
                    assert secret.nonce not in exported
                    block = blocks[secret.hand_id]
                    assert f"[{secret.card} " not in block
                    assert f" {secret.card}]" not in block
                    assert secret.card not in strings_in(
                        [
                            a.get("cards")
                            for r in documents[secret.hand_id]["ohh"]["rounds"]
                            for a in r["actions"]
                        ]
                    )
    finally:
        async with bounded("closing the API's adapters"):
            await api_container.aclose()

    figures = (
        f"spy test: {len(hands)} hands ({showdowns} with a showdown), {never_shown} hole-card "
        f"pairs never shown (folded, mucked or won uncontested); {unseen_checked} unseen "
        f"cards checked against "
        f"{sum(len(c.frames) for c, _, _ in viewers)} frames of {len(viewers)} clients; "
        f"{opened} openings verified by the SDK; REST: {rest_hands} hand histories "
        f"({rest_openings} openings verified) and 2 exports for each of {SEATS} players"
    )
    print(figures)
    assert unseen_checked > 2 * HANDS
    assert opened > 0
    assert rest_openings > 0


def _blocks(text: str) -> dict[int, str]:
    """PokerStars hands by id (each begins with its ``PokerStars Hand #<id>:`` line)."""
    found: dict[int, str] = {}
    current: list[str] = []
    for line in text.splitlines():
        if line.startswith("PokerStars Hand #") and current:
            block = "\n".join(current)
            found[int(block.split("#", 1)[1].split(":", 1)[0])] = block
            current = []
        current.append(line)
    if current:
        block = "\n".join(current)
        found[int(block.split("#", 1)[1].split(":", 1)[0])] = block
    return found
