"""Running the template's Lambda functions locally, the way the Lambda service would.

`load_functions()` reads every `AWS::Serverless::Function` of template.yaml (Globals merged in)
into a `FunctionSpec`. A function runs in an "execution environment" of its own: a child process
(`python -m devstack.lambda_runtime --function ID --port N`) with that function's environment
variables, which imports the handler once (cold start) and then serves the Lambda Invoke API
(`POST /2015-03-31/functions/ID/invocations`) one invocation at a time, as Lambda does.
`HttpInvoker` calls those processes from threads (the SQS pollers, the scheduler, `./dev
invoke`), `AsyncHttpInvoker` from an event loop (the local API Gateway); `InProcessInvoker`
calls handlers in this process (for tests).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import http.client
import importlib
import json
import os
import queue
import selectors
import signal
import socket
import sys
import time
import traceback
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast

from devstack.paths import ROOT, TEMPLATE
from devstack.services import die_with_parent
from devstack.template import LOCAL_ACCOUNT_ID, Resolver, load_template

FUNCTION_TYPE = "AWS::Serverless::Function"
Handler = Callable[[Any, Any], Any]


class InvocationError(RuntimeError):
    """The handler raised: Lambda reports it as a function error (`Unhandled`)."""

    def __init__(self, error_type: str, message: str, trace: list[str]) -> None:
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type
        self.message = message
        self.trace = trace

    def payload(self) -> dict[str, Any]:
        return {
            "errorType": self.error_type,
            "errorMessage": self.message,
            "stackTrace": self.trace,
        }


@dataclass(frozen=True)
class FunctionSpec:
    """One function of the template, with Globals applied."""

    logical_id: str
    handler: str
    code_uri: Path
    timeout_s: int
    memory_mb: int
    environment: dict[str, str]
    events: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def function_name(self) -> str:
        return self.logical_id

    def events_of_type(self, event_type: str) -> dict[str, dict[str, Any]]:
        """The function's events of one type (`HttpApi`, `SQS`, `ScheduleV2`), by name."""
        return {
            name: event.get("Properties", {})
            for name, event in self.events.items()
            if event.get("Type") == event_type
        }


def load_functions(
    resolver: Resolver | None = None, template_path: Path = TEMPLATE
) -> dict[str, FunctionSpec]:
    """Every function the template declares, by logical id."""
    if resolver is None:
        resolver = Resolver(load_template(template_path), "holdem-local", "ap-northeast-2")
    template = resolver.template
    defaults = template.get("Globals", {}).get("Function", {})
    specs: dict[str, FunctionSpec] = {}
    for logical, resource in resolver.resources_of_type(FUNCTION_TYPE).items():
        props = resource.get("Properties", {})
        merged = {**defaults, **props}
        env_vars = {
            **defaults.get("Environment", {}).get("Variables", {}),
            **props.get("Environment", {}).get("Variables", {}),
        }
        environment: dict[str, str] = {}
        for name, value in env_vars.items():
            try:
                environment[name] = str(resolver.resolve(value))
            except KeyError:
                continue  # refers to something with no local counterpart (the stack sets it)
        specs[logical] = FunctionSpec(
            logical_id=logical,
            handler=str(merged["Handler"]),
            code_uri=(template_path.parent / str(merged.get("CodeUri", "."))).resolve(),
            timeout_s=int(merged.get("Timeout", 3)),
            memory_mb=int(merged.get("MemorySize", 128)),
            environment=environment,
            events=props.get("Events", {}) or {},
        )
    return specs


class LambdaContext:
    """The `context` argument of a handler (the attributes Powertools reads)."""

    def __init__(self, spec: FunctionSpec, region: str = "ap-northeast-2") -> None:
        self.function_name = spec.function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = (
            f"arn:aws:lambda:{region}:{LOCAL_ACCOUNT_ID}:function:{spec.function_name}"
        )
        self.memory_limit_in_mb = spec.memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{spec.function_name}"
        self.log_stream_name = f"local/{self.aws_request_id}"
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + spec.timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def import_handler(spec: FunctionSpec) -> Handler:
    """Import `module.attr` from the function's CodeUri, as the Lambda runtime does."""
    module_name, _, attribute = spec.handler.rpartition(".")
    if str(spec.code_uri) not in sys.path:
        sys.path.insert(0, str(spec.code_uri))
    module = importlib.import_module(module_name)
    handler: Handler = getattr(module, attribute)
    return handler


def invoke_json(spec: FunctionSpec, handler: Handler, event: Any) -> str:
    """One invocation, its result as JSON text. The handler's exception, or a result that is
    not JSON (a real invocation must return JSON), becomes an `InvocationError`."""
    context = LambdaContext(spec)
    try:
        result = handler(event, context)
    except Exception as exc:
        raise InvocationError(
            type(exc).__name__, str(exc), traceback.format_exception(exc)
        ) from exc
    try:
        return json.dumps(result)
    except (TypeError, ValueError) as exc:
        message = f"Unable to marshal response: {exc}"
        raise InvocationError("Runtime.MarshalError", message, []) from exc


def call_handler(spec: FunctionSpec, handler: Handler, event: Any) -> Any:
    """One invocation; its result as the caller would decode it (see `invoke_json`)."""
    return json.loads(invoke_json(spec, handler, event))


class Invoker(Protocol):
    """Something that runs a function of the template with an event and returns its result."""

    def invoke(self, function_id: str, event: Any) -> Any: ...


class InProcessInvoker:
    """Calls handlers in this process, with each function's environment applied first.

    Handlers that cache settings read the environment of the first function called, so use
    one `InProcessInvoker` per function when their environments differ (tests, `./dev invoke`).
    """

    def __init__(self, specs: Mapping[str, FunctionSpec], env: Mapping[str, str]) -> None:
        self._specs = specs
        self._env = env
        self._handlers: dict[str, Handler] = {}

    def invoke(self, function_id: str, event: Any) -> Any:
        spec = self._specs[function_id]
        os.environ.update({**spec.environment, **self._env})
        handler = self._handlers.get(function_id)
        if handler is None:
            handler = self._handlers[function_id] = import_handler(spec)
        return call_handler(spec, handler, event)


class HttpInvoker:
    """Calls the execution-environment processes of `./dev up` through the Invoke API.

    A function may have several environments (ports): each invocation takes an idle one and
    waits when all are busy, as Lambda would run them side by side up to a concurrency limit.
    An environment runs one invocation at a time, so each port keeps one HTTP/1.1 connection,
    used by one invocation at a time (a new connection and thread per invocation cost as
    much CPU as a light API request itself).
    """

    def __init__(self, ports: Mapping[str, int | Sequence[int]], timeout_s: float = 960) -> None:
        self._idle: dict[str, queue.SimpleQueue[int]] = {}
        for function_id, found in ports.items():
            idle: queue.SimpleQueue[int] = queue.SimpleQueue()
            for port in [found] if isinstance(found, int) else found:
                idle.put(port)
            self._idle[function_id] = idle
        self._timeout_s = timeout_s
        self._connections: dict[int, http.client.HTTPConnection] = {}

    def invoke(self, function_id: str, event: Any) -> Any:
        idle = self._idle[function_id]
        port = idle.get()
        try:
            status, failed, content = self._post(
                port, _invoke_path(function_id), json.dumps(event).encode()
            )
        finally:
            idle.put(port)
        return _invocation_result(function_id, status, failed, content)

    def _post(self, port: int, path: str, payload: bytes) -> tuple[int, bool, bytes]:
        """POST on the port's kept connection, or on a new one when the kept one turns out
        closed (an environment closes an idle connection before reading from it)."""
        kept = self._connections.pop(port, None)
        if kept is not None:
            with contextlib.suppress(
                http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError
            ):
                return self._exchange(port, kept, path, payload)
        fresh = http.client.HTTPConnection("127.0.0.1", port, timeout=self._timeout_s)
        return self._exchange(port, fresh, path, payload)

    def _exchange(
        self, port: int, connection: http.client.HTTPConnection, path: str, payload: bytes
    ) -> tuple[int, bool, bytes]:
        """One request and its answer; the connection is kept for the port when it worked."""
        try:
            connection.request("POST", path, payload, {"Content-Type": "application/json"})
            response = connection.getresponse()
            content = response.read()
        except BaseException:
            connection.close()
            raise
        self._connections[port] = connection
        return response.status, bool(response.getheader("X-Amz-Function-Error")), content

    def close(self) -> None:
        connections, self._connections = self._connections, {}
        for connection in connections.values():
            connection.close()


def _invoke_path(function_id: str) -> str:
    return f"/2015-03-31/functions/{function_id}/invocations"


def _invocation_result(function_id: str, status: int, failed: bool, content: bytes) -> Any:
    """The result of an Invoke API answer; a function error raises `InvocationError`."""
    body: Any = json.loads(content) if content else None
    if failed and isinstance(body, dict):
        raise InvocationError(
            str(body.get("errorType")),
            str(body.get("errorMessage")),
            body.get("stackTrace", []),
        )
    if status >= 400:
        raise RuntimeError(f"the Invoke API of {function_id} answered {status}")
    return body


class AsyncHttpInvoker:
    """Calls the execution environments through the Invoke API from an event loop (the local
    API Gateway's), as `HttpInvoker` does from threads.

    An invocation waits for an idle environment of its function (holding nothing: a
    function's invocations under way never exceed its environments, and a busy function
    never delays another's), then sends the request on that environment's kept connection
    and reads the answer, both on the loop. The gateway used to run `HttpInvoker` on a
    thread per invocation: the hand-offs and http.client's parsing cost it more CPU than
    the rest of a request's proxying. An invocation not answered within `timeout_s` (waiting
    for an environment included) raises `TimeoutError`; its connection is dropped and the
    environment finishes it on its own, as a Lambda outlives an API Gateway integration
    that timed out.
    """

    def __init__(self, ports: Mapping[str, Sequence[int]], timeout_s: float) -> None:
        self._idle: dict[str, asyncio.Queue[int]] = {}
        for function_id, found in ports.items():
            idle: asyncio.Queue[int] = asyncio.Queue()
            for port in found:
                idle.put_nowait(port)
            self._idle[function_id] = idle
        self._timeout_s = timeout_s
        self._connections: dict[int, _InvokeConnection] = {}

    async def invoke(self, function_id: str, event: Any) -> Any:
        idle = self._idle[function_id]
        request = _invoke_request(function_id, json.dumps(event).encode())
        async with asyncio.timeout(self._timeout_s):
            port = await idle.get()
            try:
                status, failed, content = await self._post(port, request)
            finally:
                idle.put_nowait(port)
        return _invocation_result(function_id, status, failed, content)

    async def _post(self, port: int, request: bytes) -> tuple[int, bool, bytes]:
        """The answer on the port's kept connection, or on a new one when the kept one turns
        out closed before answering (an environment that ended, say)."""
        kept = self._connections.pop(port, None)
        if kept is not None and not kept.closed:
            with contextlib.suppress(ConnectionResetError):
                return await self._exchange(port, kept, request)
        _, fresh = await asyncio.get_running_loop().create_connection(
            _InvokeConnection, "127.0.0.1", port
        )
        return await self._exchange(port, fresh, request)

    async def _exchange(
        self, port: int, connection: _InvokeConnection, request: bytes
    ) -> tuple[int, bool, bytes]:
        try:
            answer = await connection.exchange(request)
        except BaseException:
            connection.close()
            raise
        self._connections[port] = connection
        return answer

    def close(self) -> None:
        connections, self._connections = self._connections, {}
        for connection in connections.values():
            connection.close()


class _InvokeConnection(asyncio.Protocol):
    """One kept connection to an execution environment: a request, then its answer."""

    def __init__(self) -> None:
        self._transport: asyncio.Transport | None = None
        self._buffer = b""
        self._answer: asyncio.Future[tuple[int, bool, bytes]] | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # a TCP one (uvloop's included)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        message = _complete_message(self._buffer)
        if message is None:
            return
        answer = self._answer
        if isinstance(message, ValueError) or answer is None or answer.done():
            self.close()  # not an answer to our request: this connection is done
            return
        head, body, self._buffer = message
        status_line, _, fields = head.partition(b"\r\n")
        failed = b"\r\nx-amz-function-error:" in b"\r\n" + fields.lower()
        answer.set_result((int(status_line.split()[1]), failed, body))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._answer is not None and not self._answer.done():
            self._answer.set_exception(ConnectionResetError("the environment closed"))

    async def exchange(self, request: bytes) -> tuple[int, bool, bytes]:
        assert self._transport is not None
        self._answer = asyncio.get_running_loop().create_future()
        self._transport.write(request)
        return await self._answer

    def close(self) -> None:
        self.closed = True
        if self._transport is not None:
            self._transport.close()


def _invoke_request(function_id: str, payload: bytes) -> bytes:
    head = (
        f"POST {_invoke_path(function_id)} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
    )
    return head.encode() + payload


class _ExecutionEnvironment:
    """One function, imported once, serving the Invoke API on one thread.

    Like the Lambda runtime, one thread runs every invocation, one at a time; as there, it
    sets no event loop (a handler that runs async code keeps its own across invocations:
    `functions.event_loop`). That thread also reads the requests: connections are kept open (each
    caller keeps one per environment) and watched with a selector, and a request is parsed
    by hand — the standard library's threaded HTTP server spent as much CPU per invocation
    (a thread per connection, a hand-off to the invoking thread, e-mail header parsing) as a
    light API request itself.
    """

    def __init__(self, spec: FunctionSpec, port: int) -> None:
        self.spec = spec
        self.handler = import_handler(spec)
        self._listener = socket.create_server(("127.0.0.1", port))
        self._listener.setblocking(False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ)
        self._pending: dict[socket.socket, bytes] = {}
        self.stopping = False

    def serve(self) -> None:
        """Serve invocations until `stopping` is set; the one running then ends first."""
        while not self.stopping:
            for key, _ in self._selector.select(timeout=0.2):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                if sock is self._listener:
                    self._accept()
                else:
                    self._read(sock)

    def _accept(self) -> None:
        with contextlib.suppress(BlockingIOError):
            connection, _ = self._listener.accept()
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._pending[connection] = b""
            self._selector.register(connection, selectors.EVENT_READ)

    def _read(self, connection: socket.socket) -> None:
        try:
            chunk = connection.recv(65536)
        except OSError:
            chunk = b""
        if not chunk:
            self._drop(connection)
            return
        buffer = self._pending[connection] + chunk
        while (request := _complete_message(buffer)) is not None:
            if isinstance(request, ValueError):
                self._drop(connection)  # not an Invoke API request
                return
            _, body, buffer = request
            try:  # a blocking socket (as accepted): the answer goes out whole
                connection.sendall(self._respond(body))
            except OSError:
                self._drop(connection)
                return
        self._pending[connection] = buffer

    def _respond(self, body: bytes) -> bytes:
        try:
            event = json.loads(body or b"{}")
        except ValueError:
            refused = {"Type": "User", "message": "the payload is not JSON"}
            return _response(400, True, json.dumps(refused))
        try:
            return _response(200, True, invoke_json(self.spec, self.handler, event))
        except InvocationError as error:
            print(f"{self.spec.logical_id}: {error}", file=sys.stderr, flush=True)
            return _response(200, False, json.dumps(error.payload()))

    def _drop(self, connection: socket.socket) -> None:
        self._selector.unregister(connection)
        self._pending.pop(connection, None)
        connection.close()

    def close(self) -> None:
        for connection in list(self._pending):
            self._drop(connection)
        self._selector.close()
        self._listener.close()


def _response(status: int, ok: bool, body: str) -> bytes:
    """An Invoke API answer; a handler that raised is flagged as a function error."""
    payload = body.encode()
    head = f"HTTP/1.1 {status} {'OK' if status == 200 else 'Bad Request'}\r\n"
    head += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
    if not ok:
        head += "X-Amz-Function-Error: Unhandled\r\n"
    return head.encode() + b"\r\n" + payload


def _complete_message(buffer: bytes) -> tuple[bytes, bytes, bytes] | ValueError | None:
    """The head and body of the first whole HTTP message in `buffer` (a request, or an
    answer: both carry a Content-Length) and what follows it; None until it is whole; a
    ValueError when its Content-Length is not a number."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return None
    length = 0
    head = buffer[:end]
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            try:
                length = int(value)
            except ValueError as error:
                return error
    start = end + 4
    if len(buffer) < start + length:
        return None
    return head, buffer[start : start + length], buffer[start + length :]


def serve(
    function_id: str,
    port: int,
    env: Mapping[str, str] | None = None,
    metrics_port: int | None = None,
) -> None:
    """Run one function's execution environment until SIGTERM / Ctrl-C.

    With `metrics_port`, the environment also serves the Prometheus metrics its handler
    records (prometheus_client's default registry, plus the process's CPU and memory) at
    `http://127.0.0.1:<metrics_port>/metrics`: a scrape target of the local stack, where
    Lambda would have only the handler's EMF logs.
    """
    spec = load_functions()[function_id]
    os.environ.update({**spec.environment, **(env or _stack_overrides())})
    environment = _ExecutionEnvironment(spec, port)
    if metrics_port is not None:
        from prometheus_client import start_http_server

        start_http_server(metrics_port, addr="127.0.0.1")

    def stop(*_: Any) -> None:
        environment.stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        environment.serve()
    finally:
        environment.close()


def _stack_overrides() -> dict[str, str]:
    """The local stack's connection settings, passed in by `./dev up` as JSON."""
    raw = os.environ.get("DEVSTACK_ENV", "{}")
    overrides: dict[str, str] = json.loads(raw)
    return overrides


# Imported once before forking the execution environments: each then imports only its own
# handler (a cold start), instead of every process importing the whole stack on two cores.
# Third-party libraries only, plus holdem's settings: nothing here reads the environment.
PRELOAD = (
    "sqlalchemy.ext.asyncio",
    "psycopg",
    "redis.asyncio",
    "fastapi",
    "pydantic_settings",
    "boto3",
    "botocore.session",
    "httpx",
    "aws_lambda_powertools",
    "holdem.config",
)


@dataclass(frozen=True)
class Environment:
    """Where one execution environment listens: the Invoke API, and its metrics (or None)."""

    function_id: str
    port: int
    metrics_port: int | None = None

    def argument(self) -> str:
        """Its `--serve` argument: `ID=PORT` or `ID=PORT/METRICS_PORT`."""
        metrics = f"/{self.metrics_port}" if self.metrics_port is not None else ""
        return f"--serve={self.function_id}={self.port}{metrics}"

    @classmethod
    def parse(cls, argument: str) -> Environment:
        """The environment of a `--serve` value (see `argument`)."""
        function_id, _, ports = argument.partition("=")
        port, _, metrics = ports.partition("/")
        return cls(function_id, int(port), int(metrics) if metrics else None)


def serve_many(functions: Sequence[Environment], envs: Mapping[str, Mapping[str, str]]) -> int:
    """Fork one execution environment per function from a preloaded parent; wait for them.

    Ends every child when it gets SIGTERM / SIGINT, and returns 1 as soon as a child dies on
    its own (an import error at cold start, say), after ending the others.
    """
    for module in PRELOAD:
        with contextlib.suppress(ImportError):
            importlib.import_module(module)
    # The preloaded objects are frozen out of every collection: a child's collections then
    # never write to their pages, which stay shared with this process instead of being
    # copied into each child (Python's advice before a fork without exec, `gc.freeze`):
    # ~36 MB less private memory per environment of the REST API.
    gc.freeze()
    children: dict[int, str] = {}
    for environment in functions:
        function_id = environment.function_id
        pid = os.fork()
        if pid == 0:  # the execution environment
            code = 0
            try:
                die_with_parent(signal.SIGTERM)()
                serve(
                    function_id,
                    environment.port,
                    envs.get(function_id, {}),
                    environment.metrics_port,
                )
            except BaseException:
                traceback.print_exc()
                code = 1
            finally:
                os._exit(code)
        children[pid] = function_id
    stopping = False

    def stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    code = 0
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        function_id = children.pop(pid, "?")
        if not stopping:
            print(f"dev: {function_id} exited ({status})", file=sys.stderr, flush=True)
            code = 1
            stop()
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.lambda_runtime")
    parser.add_argument("--function", help="logical id of the function (one environment)")
    parser.add_argument("--port", type=int)
    parser.add_argument(
        "--serve",
        action="append",
        default=[],
        metavar="ID=PORT[/METRICS_PORT]",
        help="several environments forked from one preloaded process; environments in "
        "DEVSTACK_ENVS (JSON: id -> variables); METRICS_PORT serves its Prometheus metrics",
    )
    args = parser.parse_args(argv)
    os.chdir(ROOT)
    if args.serve:
        # The same id may come more than once: several environments of one function.
        functions = [Environment.parse(item) for item in args.serve]
        envs: dict[str, dict[str, str]] = json.loads(os.environ.get("DEVSTACK_ENVS", "{}"))
        return serve_many(functions, envs)
    if not args.function or not args.port:
        parser.error("give --function and --port, or --serve ID=PORT ...")
    serve(args.function, args.port)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
