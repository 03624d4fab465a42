"""Helpers of the REST API tests: the app on a container, users through the API, and the rows
the table servers write for a completed hand (in the shape docs/api.md documents)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import update

from functions.api import deps
from functions.api.app import create_app
from holdem.adapters.orm.hands import Hand, HandEvent, HandPlayer
from holdem.adapters.orm.tables import PokerTable
from holdem.adapters.orm.users import User

PASSWORD = "correct horse battery staple"
_counter = itertools.count(1)


def make_app(container):
    async def this_container():
        return container

    app = create_app()
    app.dependency_overrides[deps.get_container] = this_container
    return app


@dataclass
class Player:
    user_id: int
    email: str
    nickname: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


class Users:
    """Registers and logs in users through the API (operators are promoted in the DB)."""

    def __init__(self, client: httpx.AsyncClient, container) -> None:
        self.client = client
        self.container = container

    async def register(self, nickname: str | None = None) -> tuple[str, str, int]:
        n = next(_counter)
        nickname = nickname or f"player{n}"
        email = f"{nickname}@example.com"
        r = await self.client.post(
            "/api/v1/auth/register",
            json={
                "email": email,
                "nickname": nickname,
                "password": PASSWORD,
                "date_of_birth": "1990-01-01",
            },
            headers={"x-forwarded-for": "ignored"},
        )
        assert r.status_code == 201, r.text
        return email, nickname, r.json()["id"]

    async def login(self, email: str, password: str = PASSWORD) -> httpx.Response:
        return await self.client.post(
            "/api/v1/auth/login", json={"email": email, "password": password}
        )

    async def player(self, nickname: str | None = None, role: str = "player") -> Player:
        email, nickname, user_id = await self.register(nickname)
        if role != "player":
            async with self.container.sessions() as db:
                await db.execute(update(User).where(User.id == user_id).values(role=role))
                await db.commit()
        r = await self.login(email)
        assert r.status_code == 200, r.text
        body = r.json()
        return Player(user_id, email, nickname, body["access_token"], body["refresh_token"])

    async def operator(self) -> Player:
        return await self.player(role="operator")


async def make_table(db, name="Seoul 1", small_blind=1_000, big_blind=2_000, **kw) -> PokerTable:
    table = PokerTable(
        name=name,
        small_blind=small_blind,
        big_blind=big_blind,
        max_seats=kw.get("max_seats", 6),
        min_buy_in=40 * big_blind,
        max_buy_in=100 * big_blind,
        rake_rate_bps=500,
        rake_cap=3 * big_blind,
        status=kw.get("status", "open"),
    )
    if "created_at" in kw:
        table.created_at = kw["created_at"]
    db.add(table)
    await db.flush()
    return table


def openings(seat_no: int, cards: str) -> list[dict]:
    """Stand-in openings of a seat's hole cards, each nonce naming its seat (``"a0a0..."``
    for seat 0) so a test can look for it."""
    return [
        {
            "position": 2 * seat_no + i,
            "card": cards[2 * i : 2 * i + 2],
            "nonce": f"a{seat_no}" * 32,
            "proof": ["00" * 32],
        }
        for i in range(2)
    ]


async def make_hand(
    db,
    table_id: int,
    hand_no: int,
    seats: list[tuple[int, int, str, bool]],
    started_at: datetime | None = None,
    rake_share: int = 0,
) -> Hand:
    """A finished hand; ``seats`` are (seat_no, user_id, hole_cards, shown)."""
    started = started_at or datetime.now(UTC) - timedelta(minutes=5)
    hand = Hand(
        table_id=table_id,
        hand_no=hand_no,
        started_at=started,
        ended_at=started + timedelta(seconds=40),
        small_blind=1_000,
        big_blind=2_000,
        button_seat=seats[0][0],
        board="AhKh2c7d9s",
        total_pot=20_000,
        rake=1_000,
        deck_commitment="c" * 64,
        deck_seed="s" * 64,
        result={
            "pots": [
                {
                    "amount": 20_000,
                    "eligible": [seat[0] for seat in seats],
                    "rake": 1_000,
                    "winners": [{"seat": seats[0][0], "amount": 19_000}],
                }
            ],
            "secret": "must not leak",
        },
    )
    db.add(hand)
    await db.flush()
    events = [("hand_started", None, {"hand_no": hand_no})]
    for seat_no, _, cards, _ in seats:
        events.append(
            ("hole_cards", seat_no, {"cards": cards, "openings": openings(seat_no, cards)})
        )
    events += [
        ("bet", seats[0][0], {"action": "raise", "amount": 6_000}),
        ("board", None, {"street": "flop", "cards": "AhKh2c"}),
    ]
    for seat_no, _, cards, shown in seats:
        if shown:
            events.append(("show", seat_no, {"cards": cards}))
    for seq, (type_, seat_no, payload) in enumerate(events, start=1):
        db.add(HandEvent(hand_id=hand.id, seq_no=seq, type=type_, seat_no=seat_no, payload=payload))
    for seat_no, user_id, cards, shown in seats:
        db.add(
            HandPlayer(
                hand_id=hand.id,
                seat_no=seat_no,
                user_id=user_id,
                started_at=started,
                hole_cards=cards,
                shown=shown,
                net=0,
                rake_share=rake_share,
            )
        )
    await db.flush()
    return hand


async def deposit(container, user_id: int, amount: int, n: int = 1) -> None:
    """Credit a confirmed BTC deposit through the real ledger."""
    from decimal import Decimal

    from holdem.services import ledger

    async with container.sessions() as db:
        await ledger.credit_deposit(
            db,
            key=f"deposit:BTC:tx{user_id}-{n}:0",
            user_id=user_id,
            amount=amount,
            coin="BTC",
            crypto_amount=Decimal("0.001") * n,
            rate_krw=Decimal("100000000"),
            tx_hash=f"tx{user_id}-{n}",
            address="bc1qexampleaddress",
        )
        await db.commit()
