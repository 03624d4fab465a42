"""Exchange rates: primary, fallback, retries, the Redis cache and the staleness limit."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from holdem.adapters.rates import (
    CoinGeckoProvider,
    ProviderFailed,
    RateService,
    RateUnavailable,
    UpbitProvider,
)

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


async def _no_sleep(_: float) -> None:
    return None


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def upbit_answer(price: str, at: datetime) -> httpx.Response:
    body = (
        f'[{{"market":"KRW-BTC","trade_price":{price},"timestamp":{int(at.timestamp() * 1000)}}}]'
    )
    return httpx.Response(200, content=body.encode())


def coingecko_answer(price: str, at: datetime) -> httpx.Response:
    body = f'{{"bitcoin":{{"krw":{price},"last_updated_at":{int(at.timestamp())}}}}}'
    return httpx.Response(200, content=body.encode())


class Script:
    """A MockTransport handler answering from a list, counting calls."""

    def __init__(self, *answers) -> None:
        self.answers = list(answers)
        self.calls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        answer = self.answers[min(self.calls, len(self.answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer


@pytest.fixture
async def redis(container):
    return container.redis


def _service(redis, upbit: Script, gecko: Script, clock: Clock, max_age_s: int = 300):
    providers = [
        UpbitProvider("https://upbit", transport=httpx.MockTransport(upbit), sleep=_no_sleep),
        CoinGeckoProvider("https://gecko", transport=httpx.MockTransport(gecko), sleep=_no_sleep),
    ]
    return RateService(redis, providers, cache_ttl_s=60, max_age_s=max_age_s, clock=clock)


async def test_the_primary_provider_gives_an_exact_decimal_rate(redis):
    upbit, gecko = Script(upbit_answer("95123456.78", NOW)), Script()
    service = _service(redis, upbit, gecko, Clock(NOW))
    try:
        quote = await service.rate("BTC")
    finally:
        await service.aclose()
    assert quote.rate == Decimal("95123456.78")
    assert quote.source == "upbit"
    assert gecko.calls == 0


async def test_a_rate_is_cached_for_sixty_seconds_in_redis(redis):
    upbit = Script(upbit_answer("100", NOW))
    service = _service(redis, upbit, Script(), Clock(NOW))
    try:
        await service.rate("BTC")
        await service.rate("BTC")
    finally:
        await service.aclose()
    assert upbit.calls == 1
    ttl = await redis.ttl("rates:krw:BTC")
    assert 0 < ttl <= 60


async def test_a_burst_on_a_cold_cache_asks_the_provider_once(redis):
    upbit = Script(upbit_answer("100", NOW))
    service = _service(redis, upbit, Script(), Clock(NOW))
    try:
        quotes = await asyncio.gather(*(service.rate("BTC") for _ in range(20)))
    finally:
        await service.aclose()
    assert upbit.calls == 1
    assert {q.rate for q in quotes} == {Decimal("100")}


async def test_the_primary_is_retried_three_times_then_the_fallback_answers(redis):
    upbit = Script(httpx.Response(502), httpx.ConnectError("down"), httpx.Response(500))
    gecko = Script(coingecko_answer("94000000", NOW))
    service = _service(redis, upbit, gecko, Clock(NOW))
    try:
        quote = await service.rate("BTC")
    finally:
        await service.aclose()
    assert upbit.calls == 3
    assert (quote.source, quote.rate) == ("coingecko", Decimal("94000000"))


async def test_a_primary_that_recovers_within_its_retries_is_used(redis):
    upbit = Script(httpx.ReadTimeout("slow"), upbit_answer("96000000", NOW))
    service = _service(redis, upbit, Script(), Clock(NOW))
    try:
        quote = await service.rate("BTC")
    finally:
        await service.aclose()
    assert (quote.source, upbit.calls) == ("upbit", 2)


async def test_a_stale_primary_quote_is_skipped_for_a_fresh_fallback(redis):
    upbit = Script(upbit_answer("1", NOW - timedelta(seconds=301)))
    gecko = Script(coingecko_answer("95000000", NOW - timedelta(seconds=5)))
    service = _service(redis, upbit, gecko, Clock(NOW))
    try:
        quote = await service.rate("BTC")
    finally:
        await service.aclose()
    assert quote.source == "coingecko"


async def test_no_fresh_rate_anywhere_is_rate_unavailable(redis):
    old = NOW - timedelta(hours=1)
    service = _service(
        redis, Script(upbit_answer("1", old)), Script(httpx.Response(503)), Clock(NOW)
    )
    try:
        with pytest.raises(RateUnavailable) as caught:
            await service.rate("BTC")
    finally:
        await service.aclose()
    assert "stale" in str(caught.value)
    assert await redis.get("rates:krw:BTC") is None


async def test_a_cached_rate_past_the_age_limit_is_never_used(redis):
    clock = Clock(NOW)
    upbit = Script(upbit_answer("100", NOW), httpx.Response(503))
    service = _service(redis, upbit, Script(httpx.Response(503)), clock, max_age_s=30)
    try:
        assert (await service.rate("BTC")).rate == Decimal(100)
        clock.now = NOW + timedelta(seconds=31)  # the cache entry still lives (TTL 60 s)
        with pytest.raises(RateUnavailable):
            await service.rate("BTC")
    finally:
        await service.aclose()


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, content=b"[]"),
        httpx.Response(200, content=b'[{"market":"KRW-BTC","trade_price":-5,"timestamp":1}]'),
        httpx.Response(200, content=b'[{"market":"KRW-BTC","trade_price":"x","timestamp":1}]'),
        httpx.Response(200, content=b"not json"),
        httpx.Response(404),
    ],
)
async def test_malformed_provider_answers_are_provider_failures(answer):
    provider = UpbitProvider(
        "https://upbit", transport=httpx.MockTransport(Script(answer)), sleep=_no_sleep
    )
    try:
        with pytest.raises(ProviderFailed):
            await provider.quote("BTC")
    finally:
        await provider.aclose()


async def test_an_unlisted_coin_fails_without_a_request():
    script = Script()
    provider = CoinGeckoProvider(
        "https://g", transport=httpx.MockTransport(script), sleep=_no_sleep
    )
    try:
        with pytest.raises(ProviderFailed):
            await provider.quote("DOGE")
    finally:
        await provider.aclose()
    assert script.calls == 0
