# ruff: noqa: N818  (error names follow the domain: InvalidAddress, RateUnavailable...)
"""Live KRW exchange rates: a primary and a fallback provider, cached in Redis.

Providers (public, no key): Upbit's KRW market ticker and CoinGecko's simple price with
``vs_currencies=krw``. Each request has timeouts of 10 s (connect 5 s) and is retried by
tenacity (3 tries, exponential 1–10 s). A quote carries the provider's own timestamp; a
quote older than ``MONEY__RATE_MAX_AGE_S`` (300 s) is never used — not from a provider, not
from the cache — and `RateUnavailable` is raised instead (deposits wait, withdrawals are
refused).

A cached quote is refreshed from the providers once it was fetched
``MONEY__RATE_CACHE_TTL_S`` (60 s) ago. Until it passes the age limit it stays usable: a
refresh that fails, or does not answer within ``MONEY__RATE_REFRESH_WAIT_S`` (0.5 s), answers
with the cached quote, and callers arriving while another refreshes it take the cached quote
at once — a slow or failing provider does not hold up deposits that a usable quote can price.

Redis keys: ``rates:krw:{COIN}`` → JSON ``{"rate", "source", "observed_at", "fetched_at"}``,
kept for the age limit. `Quote` and `RateUnavailable` are the port's values
(`holdem.payments.rates`); `RateService` implements `holdem.ports.payments.ExchangeRates`.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

import httpx
from redis.asyncio import Redis
from redis.exceptions import RedisError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from holdem.payments.rates import Quote, RateError, RateUnavailable

TIMEOUT = httpx.Timeout(10.0, connect=5.0)
CACHE_KEY = "rates:krw:{coin}"

UPBIT_MARKETS = {"BTC": "KRW-BTC", "ETH": "KRW-ETH", "USDT": "KRW-USDT", "USDC": "KRW-USDC"}
COINGECKO_IDS = {"BTC": "bitcoin", "ETH": "ethereum", "USDT": "tether", "USDC": "usd-coin"}

Clock = Callable[[], datetime]

log = logging.getLogger(__name__)


class ProviderFailed(RateError):
    """One provider did not give a usable quote (unreachable, bad answer, or stale)."""

    code = "rate_provider_failed"


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


def _log_retry(state: RetryCallState) -> None:
    failure = state.outcome.exception() if state.outcome is not None else None
    log.warning("rate provider attempt %d failed (%s): retrying", state.attempt_number, failure)


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
            "before_sleep": _log_retry,
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


@dataclass(frozen=True)
class _Cached:
    quote: Quote
    fetched_at: datetime


class RateService:
    """Fresh KRW rates: the Redis cache, else the providers in order (primary, fallback)."""

    def __init__(
        self,
        redis: Redis,
        providers: Sequence[RateProvider],
        *,
        cache_ttl_s: int = 60,
        max_age_s: int = 300,
        refresh_wait_s: float = 0.5,
        clock: Clock = _utc_now,
    ) -> None:
        self._redis = redis
        self._providers = list(providers)
        self._cache_ttl_s = cache_ttl_s
        self._max_age_s = max_age_s
        self._refresh_wait_s = refresh_wait_s
        self._clock = clock
        self._fetching: dict[str, asyncio.Lock] = {}

    async def aclose(self) -> None:
        for provider in self._providers:
            await provider.aclose()

    async def rate(self, coin: str) -> Quote:
        """A quote no older than the limit, or RateUnavailable.

        Callers that find no usable quote wait for one provider request between them (one
        per coin and process): a burst of credits on a cold cache asks the providers once,
        not once per delivery. A usable quote due for refresh is refreshed by one caller,
        for at most the refresh wait; the others take it as it is meanwhile.
        """
        cached = await self._usable_cached(coin)
        if cached is not None and not self._due(cached):
            return cached.quote
        fetching = self._fetching.setdefault(coin, asyncio.Lock())
        if cached is not None and fetching.locked():
            return cached.quote  # being refreshed by another caller, and still usable
        async with fetching:
            cached = await self._usable_cached(coin)  # stored while this caller waited?
            if cached is None:
                return await self._from_providers(coin)
            if not self._due(cached):
                return cached.quote
            try:
                async with asyncio.timeout(self._refresh_wait_s):
                    return await self._from_providers(coin)
            except (RateUnavailable, TimeoutError) as exc:
                log.warning(
                    "%s rate refresh failed (%s): using the cached quote, %.0f s old",
                    coin,
                    str(exc) or "no answer in time",
                    cached.quote.age_s(self._clock()),
                )
                return cached.quote

    def _due(self, cached: _Cached) -> bool:
        return (self._clock() - cached.fetched_at).total_seconds() >= self._cache_ttl_s

    async def _usable_cached(self, coin: str) -> _Cached | None:
        cached = await self._cached(coin)
        if cached is not None and cached.quote.age_s(self._clock()) <= self._max_age_s:
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

    async def _cached(self, coin: str) -> _Cached | None:
        try:
            raw = await self._redis.get(CACHE_KEY.format(coin=coin))
        except RedisError:
            return None  # the cache is an optimisation: go to the providers
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            quote = Quote(
                coin,
                Decimal(data["rate"]),
                data["source"],
                datetime.fromisoformat(data["observed_at"]),
            )
            return _Cached(quote, datetime.fromisoformat(data["fetched_at"]))
        except (ValueError, KeyError, TypeError, InvalidOperation):
            return None

    async def _store(self, quote: Quote) -> None:
        payload = json.dumps(
            {
                "rate": str(quote.rate),
                "source": quote.source,
                "observed_at": quote.observed_at.isoformat(),
                "fetched_at": self._clock().isoformat(),
            }
        )
        # Kept as long as it may be used; a missed write only costs a provider request.
        with contextlib.suppress(RedisError):
            await self._redis.set(
                CACHE_KEY.format(coin=quote.coin), payload, ex=max(1, self._max_age_s)
            )
