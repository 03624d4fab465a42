"""The async Python client of the table servers (used by bots, tests and the load test).

>>> # async with TableClient(url, token, encoding="msgpack") as client:
>>> #     await client.join(7, as_="player")
>>> #     await client.sit(7, seat=0, buy_in=100_000)
>>> #     async for message in client.messages(): ...
>>> #     client.openings.hand(7, hand_number).ok   # every card seen was committed to

`verify_opening` (re-exported from the engine, standard library only) checks one card's
opening against a hand's commitment.
"""

from holdem.client.bot import Bot, BotStrategy
from holdem.client.client import ClientError, ClosedError, TableClient
from holdem.client.openings import HandCheck, OpeningChecker
from holdem.engine.shuffle import Opening, verify_opening

__all__ = [
    "Bot",
    "BotStrategy",
    "ClientError",
    "ClosedError",
    "HandCheck",
    "Opening",
    "OpeningChecker",
    "TableClient",
    "verify_opening",
]
