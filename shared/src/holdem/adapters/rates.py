# ruff: noqa: N818  (error names follow the domain: InvalidAddress, RateUnavailable...)
"""Live KRW exchange rates: a primary and a fallback provider, cached 60 s in Redis.

Providers (public, no key): Upbit's KRW market ticker and CoinGecko's simple price with
``vs_currencies=krw``. Each request has timeouts of 10 s (connect 5 s) and is retried by
tenacity (3 tries, exponential 1–10 s). A quote carries the provider's own timestamp; a
quote older than ``MONEY__RATE_MAX_AGE_S`` is never used — not from a provider, not from the
cache — and `RateUnavailable` is raised instead (deposits wait, withdrawals are refused).

Redis keys: ``rates:krw:{COIN}`` → JSON ``{"rate", "source", "observed_at"}``, TTL 60 s.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

import httpx
from redis.asyncio import Redis
from redis.exceptions import RedisError
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

TIMEOUT = httpx.Timeout(10.0, connect=5.0)
CACHE_KEY = "rates:krw:{coin}"

UPBIT_MARKETS = {"BTC": "KRW-BTC", "ETH": "KRW-ETH", "USDT": "KRW-USDT", "USDC": "KRW-USDC"}
COINGECKO_IDS = {"BTC": "bitcoin", "ETH": "ethereum", "USDT": "tether", "USDC": "usd-coin"}

Clock = Callable[[], datetime]


class RateError(Exception):
    code: ClassVar[str] = "rate_error"


class ProviderFailed(RateError):
    """One provider did not give a usable quote (unreachable, bad answer, or stale)."""

    code = "rate_provider_failed"


class RateUnavailable(RateError):
    """No fresh rate exists right now: deposits wait, withdrawals are refused."""

    code = "rate_unavailable"


@dataclass(frozen=True)
class Quote:
    """1 `coin` = `rate` KRW, as `source` saw it at `observed_at`."""

    coin: str
    rate: Decimal
    source: str
    observed_at: datetime

    def age_s(self, now: datetime) -> float:
        return (now - self.observed_at).total_seconds()


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _decimal(value: Any) -> Decimal:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise ProviderFailed(f"{value!r} is not a number") from exc
    if not number.is_finite() or number <= 0:
        raise ProviderFailed(f"{value!r} is not a positive rate")
    return number


class RateProvider(abc.ABC):
    """One source of KRW prices."""

    name: ClassVar[str]

    def __init__(
        self,
        base_url: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self._client = httpx.AsyncClient(base_url=base_url, timeout=TIMEOUT, transport=transport)
        self._sleep = sleep

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _get_json(self, path: str, params: dict[str, str]) -> Any:
        options: dict[str, Any] = {
            "stop": stop_after_attempt(3),
            "wait": wait_exponential(multiplier=1, min=1, max=10),
            "retry": retry_if_exception_type(ProviderFailed),
            "reraise": True,
        }
        if self._sleep is not None:
            options["sleep"] = self._sleep
        async for attempt in AsyncRetrying(**options):
            with attempt:
                try:
                    response = await self._client.get(path, params=params)
                    response.raise_for_status()
                    return json.loads(response.content, parse_float=Decimal)
                except (httpx.HTTPError, ValueError) as exc:
                    raise ProviderFailed(f"{self.name}: {exc!r}") from exc
        raise AssertionError("unreachable: tenacity reraises")  # pragma: no cover

    @abc.abstractmethod
    async def quote(self, coin: str) -> Quote:
        """The provider's current price of `coin` in KRW, or ProviderFailed."""


class UpbitProvider(RateProvider):
    """Upbit's public ticker for the KRW market (``GET /v1/ticker?markets=KRW-BTC``)."""

    name = "upbit"

    async def quote(self, coin: str) -> Quote:
        market = UPBIT_MARKETS.get(coin)
        if market is None:
            raise ProviderFailed(f"upbit has no KRW market for {coin}")
        answer = await self._get_json("/v1/ticker", {"markets": market})
        try:
            row = next(r for r in answer if r["market"] == market)
            observed = datetime.fromtimestamp(int(row["timestamp"]) / 1000, UTC)
            return Quote(coin, _decimal(row["trade_price"]), self.name, observed)
        except (StopIteration, KeyError, TypeError, ValueError) as exc:
            raise ProviderFailed(f"upbit: unexpected answer for {market}") from exc


class CoinGeckoProvider(RateProvider):
    """CoinGecko's simple price (``GET /api/v3/simple/price?vs_currencies=krw``)."""

    name = "coingecko"

    async def quote(self, coin: str) -> Quote:
        ident = COINGECKO_IDS.get(coin)
        if ident is None:
            raise ProviderFailed(f"coingecko does not list {coin}")
        params = {"ids": ident, "vs_currencies": "krw", "include_last_updated_at": "true"}
        answer = await self._get_json("/api/v3/simple/price", params)
        try:
            row = answer[ident]
            observed = datetime.fromtimestamp(int(row["last_updated_at"]), UTC)
            return Quote(coin, _decimal(row["krw"]), self.name, observed)
        except (KeyError, TypeError, ValueError) as exc:
            raise ProviderFailed(f"coingecko: unexpected answer for {ident}") from exc


PROVIDERS: dict[str, type[RateProvider]] = {
    UpbitProvider.name: UpbitProvider,
    CoinGeckoProvider.name: CoinGeckoProvider,
}


class RateService:
    """Fresh KRW rates: the Redis cache, else the providers in order (primary, fallback)."""

    def __init__(
        self,
        redis: Redis,
        providers: Sequence[RateProvider],
        *,
        cache_ttl_s: int = 60,
        max_age_s: int = 300,
        clock: Clock = _utc_now,
    ) -> None:
        self._redis = redis
        self._providers = list(providers)
        self._cache_ttl_s = cache_ttl_s
        self._max_age_s = max_age_s
        self._clock = clock
        self._fetching: dict[str, asyncio.Lock] = {}

    async def aclose(self) -> None:
        for provider in self._providers:
            await provider.aclose()

    async def rate(self, coin: str) -> Quote:
        """A quote no older than the limit, or RateUnavailable.

        Callers that miss the cache at once wait for one provider request between them
        (one per coin and process): a burst of credits on a cold cache asks the providers
        once, not once per delivery.
        """
        fresh = await self._fresh_cached(coin)
        if fresh is not None:
            return fresh
        async with self._fetching.setdefault(coin, asyncio.Lock()):
            fresh = await self._fresh_cached(coin)  # stored while this caller waited
            if fresh is not None:
                return fresh
            return await self._from_providers(coin)

    async def _fresh_cached(self, coin: str) -> Quote | None:
        cached = await self._cached(coin)
        if cached is not None and cached.age_s(self._clock()) <= self._max_age_s:
            return cached
        return None

    async def _from_providers(self, coin: str) -> Quote:
        failures: dict[str, str] = {}
        for provider in self._providers:
            try:
                quote = await provider.quote(coin)
            except ProviderFailed as exc:
                failures[provider.name] = str(exc)
                continue
            if quote.age_s(self._clock()) > self._max_age_s:
                failures[provider.name] = f"stale: {quote.age_s(self._clock()):.0f} s old"
                continue
            await self._store(quote)
            return quote
        raise RateUnavailable(f"no fresh {coin}/KRW rate: {failures}")

    async def _cached(self, coin: str) -> Quote | None:
        try:
            raw = await self._redis.get(CACHE_KEY.format(coin=coin))
        except RedisError:
            return None  # the cache is an optimisation: go to the providers
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            return Quote(
                coin,
                Decimal(data["rate"]),
                data["source"],
                datetime.fromisoformat(data["observed_at"]),
            )
        except (ValueError, KeyError, InvalidOperation):
            return None

    async def _store(self, quote: Quote) -> None:
        payload = json.dumps(
            {
                "rate": str(quote.rate),
                "source": quote.source,
                "observed_at": quote.observed_at.isoformat(),
            }
        )
        # A missed cache write only costs the next caller a provider request.
        with contextlib.suppress(RedisError):
            await self._redis.set(CACHE_KEY.format(coin=quote.coin), payload, ex=self._cache_ttl_s)
