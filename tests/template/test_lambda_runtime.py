"""An execution environment's Invoke API, and the invoker's kept connection to it."""

from __future__ import annotations

import dataclasses
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from devstack.lambda_runtime import (
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
