"""Runs every function of template.yaml in the local stack, with its triggers.

`start_functions()` starts one execution environment per function (a child process, see
`lambda_runtime`), the HTTP API gateway (`http_routes`) on the API port, one SQS poller per
SQS event source and the scheduler, all read from the template: a function added there
appears here with no other edit. It also records where everything listens in
`.devstate/<stack>/running.json`, so `./dev invoke` and `./dev fire` reach the running stack.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devstack.lambda_runtime import Environment, FunctionSpec, HttpInvoker, load_functions
from devstack.monitoring import MetricsPorts
from devstack.paths import VENV_BIN
from devstack.scheduler import Scheduler, schedules
from devstack.services import free_port, port_listens
from devstack.sqs_poller import SqsPoller, sqs_event_sources
from devstack.stack import REGION, Stack
from devstack.supervisor import Supervisor
from devstack.template import as_login, database_login

PYTHON = str(VENV_BIN / "python")
RUNNING_FILE = "running.json"
REST_API_FUNCTION = "ApiFunction"
"""The function whose handler is the REST API app (its environments serve /metrics)."""


@dataclass
class RunningFunctions:
    """The function processes and trigger threads of a running local stack."""

    specs: dict[str, FunctionSpec]
    ports: dict[str, list[int]]
    api_port: int
    invoker: HttpInvoker
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)
    pollers: list[SqsPoller] = field(default_factory=list)
    schedule_names: list[str] = field(default_factory=list)

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=5)
        for poller in self.pollers:
            poller.close()
        self.invoker.close()


def template_variables(template: Mapping[str, Any]) -> set[str]:
    """Every environment variable the template sets, in Globals or on any function."""
    bodies = [template.get("Globals", {}).get("Function", {})]
    bodies += [
        resource.get("Properties", {})
        for resource in template.get("Resources", {}).values()
        if resource.get("Type") == "AWS::Serverless::Function"
    ]
    return {
        name for body in bodies for name in ((body.get("Environment") or {}).get("Variables") or {})
    }


def function_environment(spec: FunctionSpec, stack: Stack) -> dict[str, str]:
    """What the function sees: its template environment, as in AWS, with local values.

    The local stack replaces what the cloud provides: its connections (database, Redis, moto,
    fake credentials, the gateway and rate simulators) and its values for the variables this
    function's template environment names. A variable the template gives only to other
    functions (a secret, a queue, a bucket) is not given to this one here either, so a
    function that needs something its template entry lacks fails locally as in AWS. It
    reaches PostgreSQL as its component's login (the user its DATABASE_URL's secret names).
    """
    template = stack.resolver().template
    per_function = template_variables(template)
    local = {
        name: value
        for name, value in stack.env.items()
        if name in spec.environment or name not in per_function
    }
    # The database as this function's component login (its DATABASE_URL's secret names it).
    variables = template["Resources"][spec.logical_id]["Properties"].get("Environment", {})
    login = database_login(template, (variables.get("Variables") or {}).get("DATABASE_URL"))
    if "DATABASE_URL" in local:
        local["DATABASE_URL"] = as_login(local["DATABASE_URL"], login)
    # No X-Ray daemon here: Powertools' Tracer stays off (Tracing: Active is for AWS).
    return {**spec.environment, **local, "POWERTOOLS_TRACE_DISABLED": "true"}


def start_functions(
    stack: Stack,
    supervisor: Supervisor,
    api_port: int,
    http_concurrency: int = 2,
    metrics: MetricsPorts | None = None,
) -> RunningFunctions:
    """Start every function of the template and its HTTP, SQS and schedule triggers.

    A function with HTTP routes gets `http_concurrency` execution environments (requests are
    served side by side, as Lambda scales out); every other function gets one. Each
    environment of the REST API serves its Prometheus metrics on a port from `metrics`
    (scrape job `api`).
    """
    resolver = stack.resolver()
    specs = load_functions(resolver)
    ports = {
        logical: [
            free_port()
            for _ in range(max(1, http_concurrency) if spec.events_of_type("HttpApi") else 1)
        ]
        for logical, spec in specs.items()
    }
    envs = {logical: function_environment(spec, stack) for logical, spec in specs.items()}
    environments = [
        Environment(
            logical,
            port,
            metrics.take("api", f"{logical}-{n}")
            if metrics is not None and logical == REST_API_FUNCTION
            else None,
        )
        for logical, found in ports.items()
        for n, port in enumerate(found, start=1)
    ]
    serve = [environment.argument() for environment in environments]
    if serve:
        supervisor.spawn(
            "functions",
            [PYTHON, "-m", "devstack.lambda_runtime", *serve],
            {**stack.env, "DEVSTACK_ENVS": json.dumps(envs)},
        )
    gateway_env = {**stack.env, "DEVSTACK_FUNCTION_PORTS": json.dumps(ports)}
    argv = [PYTHON, "-m", "devstack.http_routes", "--port", str(api_port)]
    supervisor.spawn("http api", argv, gateway_env)
    for port in [*(p for found in ports.values() for p in found), api_port]:
        supervisor.wait_for(functools.partial(port_listens, port), f"a listener on port {port}")

    running = RunningFunctions(specs, ports, api_port, HttpInvoker(ports))
    for source in sqs_event_sources(specs, resolver):
        poller = SqsPoller(
            source,
            stack.resources.queue_urls[source.queue_logical_id],
            running.invoker,
            endpoint_url=stack.aws_endpoint_url,
            region=REGION,
        )
        running.pollers.append(poller)
        running.threads.append(
            threading.Thread(target=poller.run, args=(running.stop,), daemon=True)
        )
    found = schedules(specs, resolver)
    running.schedule_names = sorted(found)
    scheduler = Scheduler(found, running.invoker)
    running.threads.append(
        threading.Thread(target=scheduler.run, args=(running.stop,), daemon=True)
    )
    for thread in running.threads:
        thread.start()
    return running


@contextlib.contextmanager
def advertised(stack: Stack, running: RunningFunctions) -> Iterator[None]:
    """Write running.json for `./dev invoke` / `./dev fire` while the stack runs."""
    path = stack.state_dir / RUNNING_FILE
    info = {
        "pid": os.getpid(),
        "env": stack.env,
        "function_ports": running.ports,
        "api_port": running.api_port,
        "queue_urls": stack.resources.queue_urls,
    }
    path.write_text(json.dumps(info))
    path.chmod(0o600)
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


def running_stack(state_dir: Path) -> Mapping[str, Any] | None:
    """The running.json of a live `./dev up`, or None."""
    path = state_dir / RUNNING_FILE
    if not path.exists():
        return None
    info: dict[str, Any] = json.loads(path.read_text())
    try:
        os.kill(int(info["pid"]), 0)
    except (ProcessLookupError, PermissionError):
        print("dev: ignoring a stale running.json", file=sys.stderr)
        return None
    return info
