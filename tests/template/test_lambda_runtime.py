"""An execution environment's Invoke API, and the invokers' kept connections to it."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from devstack.lambda_runtime import (
    AsyncHttpInvoker,
    FunctionSpec,
    HttpInvoker,
    InvocationError,
    _ExecutionEnvironment,
)
from devstack.services import free_port

SPEC = FunctionSpec(
    logical_id="Echo",
    handler="template_handlers.echo",
    code_uri=Path(__file__).parent,
    timeout_s=5,
    memory_mb=128,
    environment={},
)


@contextmanager
def environment(port: int, spec: FunctionSpec = SPEC) -> Iterator[None]:
    """One execution environment of `spec` serving on `port`, on a thread of its own."""
    ready, stop = threading.Event(), threading.Event()
    found: list[_ExecutionEnvironment] = []

    def run() -> None:
        env = _ExecutionEnvironment(spec, port)
        found.append(env)
        ready.set()
        try:
            env.serve()
        finally:
            env.close()
            stop.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        yield
    finally:
        found[0].stopping = True
        assert stop.wait(10)
        thread.join(10)


def _accepted_connections(port: int) -> int:
    """How many connections the environment holds open (from /proc/net/tcp)."""
    established = "01"
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        if int(local.split(":")[1], 16) == port and state == established:
            count += 1
    return count


def test_invocations_share_one_kept_connection_and_errors_come_back_as_lambda_reports_them():
    port = free_port()
    invoker = HttpInvoker({"Echo": port})
    try:
        with environment(port):
            for n in range(3):
                assert invoker.invoke("Echo", {"n": n}) == {"echo": {"n": n}, "fn": "Echo"}
            assert _accepted_connections(port) == 1
            with pytest.raises(InvocationError) as raised:
                invoker.invoke("Echo", {"raise": "boom"})
            assert (raised.value.error_type, raised.value.message) == ("ValueError", "boom")
            assert invoker.invoke("Echo", [1, 2]) == {"echo": [1, 2], "fn": "Echo"}
    finally:
        invoker.close()


def test_a_kept_connection_the_environment_closed_is_replaced():
    port = free_port()
    invoker = HttpInvoker({"Echo": port})
    try:
        with environment(port):
            assert invoker.invoke("Echo", 1)["echo"] == 1
        with environment(port):  # a new environment: the kept connection died with the old
            assert invoker.invoke("Echo", 2)["echo"] == 2
    finally:
        invoker.close()


def test_a_payload_that_is_not_json_is_refused_and_the_environment_goes_on():
    port = free_port()
    with environment(port):
        with socket.create_connection(("127.0.0.1", port)) as raw:
            raw.sendall(b"POST /x HTTP/1.1\r\nContent-Length: 3\r\n\r\n{x}")
            assert raw.recv(4096).startswith(b"HTTP/1.1 400 ")
        with socket.create_connection(("127.0.0.1", port)) as raw:
            raw.sendall(b"POST /x HTTP/1.1\r\nContent-Length: many\r\n\r\n")
            assert raw.recv(4096) == b""  # not an Invoke API request: the connection is closed
        invoker = HttpInvoker({"Echo": port})
        try:
            assert invoker.invoke("Echo", "still here")["echo"] == "still here"
        finally:
            invoker.close()


def test_a_result_that_is_not_json_is_a_function_error_and_the_environment_goes_on():
    port = free_port()
    spec = dataclasses.replace(SPEC, logical_id="NotJson", handler="template_handlers.not_json")
    invoker = HttpInvoker({"NotJson": port})
    try:
        with environment(port, spec):
            for _ in range(2):
                with pytest.raises(InvocationError) as raised:
                    invoker.invoke("NotJson", {})
                assert raised.value.error_type == "Runtime.MarshalError"
    finally:
        invoker.close()


async def test_the_async_invoker_keeps_one_connection_and_reports_function_errors():
    port = free_port()
    invoker = AsyncHttpInvoker({"Echo": [port]}, timeout_s=30)
    try:
        with environment(port):
            for n in range(3):
                assert await invoker.invoke("Echo", {"n": n}) == {"echo": {"n": n}, "fn": "Echo"}
            assert _accepted_connections(port) == 1
            with pytest.raises(InvocationError) as raised:
                await invoker.invoke("Echo", {"raise": "boom"})
            assert (raised.value.error_type, raised.value.message) == ("ValueError", "boom")
            assert await invoker.invoke("Echo", [1, 2]) == {"echo": [1, 2], "fn": "Echo"}
        with environment(port):  # a new environment: the kept connection died with the old
            assert (await invoker.invoke("Echo", 2))["echo"] == 2
    finally:
        invoker.close()


class HeldEnvironments:
    """Invoke API servers that hold every answer until `release` is set, counting the
    invocations under way per function."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.running: dict[str, int] = {}
        self.most: dict[str, int] = {}
        self.changed = asyncio.Condition()
        self.servers: list[asyncio.Server] = []
        self.writers: list[asyncio.StreamWriter] = []

    async def start(self, function_id: str) -> int:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.writers.append(writer)
            with contextlib.suppress(asyncio.IncompleteReadError):
                await answer(reader, writer)

        async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while head := await reader.readuntil(b"\r\n\r\n"):
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                await reader.readexactly(length)
                async with self.changed:
                    self.running[function_id] = self.running.get(function_id, 0) + 1
                    self.most[function_id] = max(
                        self.most.get(function_id, 0), self.running[function_id]
                    )
                    self.changed.notify_all()
                await self.release.wait()
                self.running[function_id] -= 1
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        self.servers.append(server)
        return int(server.sockets[0].getsockname()[1])

    async def wait_running(self, function_id: str, count: int) -> None:
        async with self.changed:
            await self.changed.wait_for(lambda: self.running.get(function_id, 0) >= count)

    async def close(self) -> None:
        for server in self.servers:
            server.close()
        for writer in self.writers:
            writer.close()
        await asyncio.gather(*(w.wait_closed() for w in self.writers), return_exceptions=True)


async def test_a_busy_function_neither_exceeds_its_environments_nor_delays_another():
    held = HeldEnvironments()
    api = [await held.start("Api"), await held.start("Api")]
    invoker = AsyncHttpInvoker({"Api": api, "Webhook": [await held.start("Webhook")]}, 30)
    try:
        calls = [asyncio.create_task(invoker.invoke("Api", {"n": n})) for n in range(6)]
        await held.wait_running("Api", 2)  # both environments busy, four requests waiting
        webhook = asyncio.create_task(invoker.invoke("Webhook", {}))
        await held.wait_running("Webhook", 1)  # not queued behind the API's requests
        held.release.set()
        assert await webhook == {}
        assert await asyncio.gather(*calls) == [{}] * 6
        assert held.most == {"Api": 2, "Webhook": 1}
    finally:
        invoker.close()
        await held.close()


async def test_an_invocation_past_the_timeout_raises_and_its_connection_is_dropped():
    held = HeldEnvironments()
    invoker = AsyncHttpInvoker({"Api": [await held.start("Api")]}, timeout_s=0.2)
    try:
        with pytest.raises(TimeoutError):
            await invoker.invoke("Api", {})
        held.release.set()  # the environment answers late, on a connection no longer kept
        assert await invoker.invoke("Api", {}) == {}
    finally:
        invoker.close()
        await held.close()
