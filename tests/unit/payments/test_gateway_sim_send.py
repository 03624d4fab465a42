"""The gateway simulator resends a callback its receiver did not accept, as the gateway does."""

from __future__ import annotations

import httpx
from gateway_sim.app import deliveries, send


class Receiver:
    """Answers each delivery (by its confirmation count) from its own script of outcomes."""

    def __init__(self, scripts: dict[int, list[int | Exception]]) -> None:
        self.scripts = scripts
        self.seen: list[int] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        confirmations = int(request.read().split(b'"confirmations":')[1].split(b",")[0])
        self.seen.append(confirmations)
        answer = self.scripts[confirmations].pop(0)
        if isinstance(answer, Exception):
            raise answer
        return httpx.Response(answer)


def _batch() -> list:
    return deliveries("secret", address="bc1qtest", coin="BTC", amount="0.001", confirmations=2)


async def test_a_callback_answered_with_a_5xx_or_not_at_all_is_resent_until_accepted():
    receiver = Receiver(
        {
            0: [200],
            1: [503, httpx.ConnectError("refused"), 200],  # awaiting_rate, then down, then ok
            2: [401],  # refused for good: a 4xx is not resent
        }
    )
    statuses = await send(
        "http://webhook/",
        _batch(),
        resend_after_s=(0, 0, 0),
        transport=httpx.MockTransport(receiver),
    )
    assert statuses == [
        {"confirmations": 0, "status": 200, "attempts": 1},
        {"confirmations": 1, "status": 200, "attempts": 3},
        {"confirmations": 2, "status": 401, "attempts": 1},
    ]
    assert receiver.seen == [0, 1, 1, 1, 2]


async def test_a_callback_never_accepted_keeps_its_last_outcome():
    receiver = Receiver({0: [200], 1: [200], 2: [503, 502, httpx.ReadTimeout("slow")]})
    statuses = await send(
        "http://webhook/",
        _batch(),
        resend_after_s=(0, 0),
        transport=httpx.MockTransport(receiver),
    )
    assert statuses[-1] == {"confirmations": 2, "error": "ReadTimeout('slow')", "attempts": 3}
