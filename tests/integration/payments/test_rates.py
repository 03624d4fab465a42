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
    UpbitProvider,
)
from holdem.payments.rates import RateUnavailable

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


class Held:
    """A MockTransport handler that answers only once released: a provider slower than any wait."""

    def __init__(self, answer: httpx.Response) -> None:
        self.answer = answer
        self.asked = asyncio.Event()
        self.release = asyncio.Event()
        self.calls = 0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        self.asked.set()
        await self.release.wait()
        return self.answer


def _service(redis, upbit, gecko, clock: Clock, max_age_s: int = 300, refresh_wait_s: float = 0.5):
    providers = [
        UpbitProvider("https://upbit", transport=httpx.MockTransport(upbit), sleep=_no_sleep),
        CoinGeckoProvider("https://gecko", transport=httpx.MockTransport(gecko), sleep=_no_sleep),
    ]
    return RateService(
        redis,
        providers,
        cache_ttl_s=60,
        max_age_s=max_age_s,
        refresh_wait_s=refresh_wait_s,
        clock=clock,
    )


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


async def test_a_rate_is_cached_in_redis_and_refreshed_after_sixty_seconds(redis):
    clock = Clock(NOW)
    later = NOW + timedelta(seconds=60)
    upbit = Script(upbit_answer("100", NOW), upbit_answer("101", later))
    service = _service(redis, upbit, Script(), clock)
    try:
        assert (await service.rate("BTC")).rate == Decimal(100)
        clock.now = NOW + timedelta(seconds=59)
        assert (await service.rate("BTC")).rate == Decimal(100)
        assert upbit.calls == 1
        clock.now = later
        assert (await service.rate("BTC")).rate == Decimal(101)
    finally:
        await service.aclose()
    assert upbit.calls == 2
    ttl = await redis.ttl("rates:krw:BTC")
    assert 60 < ttl <= 300  # kept for the age limit: a usable quote outlives a failed refresh


async def test_a_refresh_that_fails_answers_with_the_cached_quote_within_the_age_limit(redis):
    clock = Clock(NOW)
    upbit = Script(upbit_answer("100", NOW), httpx.Response(503))
    gecko = Script(httpx.Response(503))
    service = _service(redis, upbit, gecko, clock)
    try:
        await service.rate("BTC")
        clock.now = NOW + timedelta(seconds=290)
        quote = await service.rate("BTC")
        assert (quote.rate, quote.observed_at) == (Decimal(100), NOW)
        assert (upbit.calls, gecko.calls) == (4, 3)  # the refresh was tried, and failed
        clock.now = NOW + timedelta(seconds=301)  # past the limit: never used
        with pytest.raises(RateUnavailable):
            await service.rate("BTC")
    finally:
        await service.aclose()


async def _cached_90_s_ago(redis, clock: Clock) -> Held:
    """Cache a quote of 100 fetched at NOW, move the clock 90 s on (a refresh is due), and
    return a provider that will quote 105 only when released."""
    first = _service(redis, Script(upbit_answer("100", NOW)), Script(), clock)
    try:
        await first.rate("BTC")
    finally:
        await first.aclose()
    clock.now = NOW + timedelta(seconds=90)
    return Held(upbit_answer("105", clock.now))


async def test_a_refresh_slower_than_the_wait_answers_with_the_cached_quote(redis):
    clock = Clock(NOW)
    slow = await _cached_90_s_ago(redis, clock)
    service = _service(redis, slow, Script(), clock, refresh_wait_s=0.05)
    try:
        quote = await service.rate("BTC")  # the provider never answers
    finally:
        slow.release.set()
        await service.aclose()
    assert (quote.rate, slow.calls) == (Decimal(100), 1)


async def test_callers_during_a_refresh_take_the_cached_quote_at_once(redis):
    clock = Clock(NOW)
    slow = await _cached_90_s_ago(redis, clock)
    service = _service(redis, slow, Script(), clock, refresh_wait_s=30)
    try:
        refreshing = asyncio.create_task(service.rate("BTC"))
        await slow.asked.wait()
        others = await asyncio.gather(*(service.rate("BTC") for _ in range(5)))
        assert {q.rate for q in others} == {Decimal(100)}
        assert not refreshing.done()
        slow.release.set()
        assert (await refreshing).rate == Decimal(105)
        assert (await service.rate("BTC")).rate == Decimal(105)
    finally:
        slow.release.set()
        await service.aclose()
    assert slow.calls == 1


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
        clock.now = NOW + timedelta(seconds=31)  # the cache entry still lives in Redis
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
