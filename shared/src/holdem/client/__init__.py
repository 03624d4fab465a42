"""The async Python client of the table servers (used by bots, tests and the load test).

>>> # async with TableClient(url, token, encoding="msgpack") as client:
>>> #     await client.join(7, as_="player")
>>> #     await client.sit(7, seat=0, buy_in=100_000)
>>> #     async for message in client.messages(): ...
"""

from holdem.client.bot import Bot, BotStrategy
from holdem.client.client import ClientError, ClosedError, TableClient

__all__ = ["Bot", "BotStrategy", "ClientError", "ClosedError", "TableClient"]
