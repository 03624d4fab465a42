"""`./dev` subcommands."""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devstack.monitoring import FIRST_METRICS_PORT, PROMETHEUS_PORT
from devstack.paths import ROOT, TEMPLATE, VENV_BIN
from devstack.services import free_port
from devstack.supervisor import Supervisor

if TYPE_CHECKING:
    from devstack.lambda_runtime import Invoker

PYTHON = str(VENV_BIN / "python")
# The folder under .devstate/ of `./dev up` (and of the stack `./dev invoke` etc. look for).
STACK_STATE = os.environ.get("DEVSTACK_STACK", "up")
SHIPPED_CODE = ["shared/src/holdem", "functions", "tools/devstack", "tools/gateway_sim", "edge"]


def cmd_up(args: argparse.Namespace) -> int:
    """Run the whole backend locally, as template.yaml declares it, until Ctrl-C."""
    # Ctrl-C stops the stack even when the shell started us with SIGINT ignored (a background
    # job of a script): otherwise `kill -INT` would leave it running. From the first step, so
    # a Ctrl-C during the start-up stops what has started.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from devstack.edge_fleet import start_edge_fleet
    from devstack.functions_host import advertised, start_functions
    from devstack.local_room import LOCAL_RATE_LIMITS, open_local_room
    from devstack.monitoring import MetricsPorts, PortTakenError, start_prometheus
    from devstack.stack import local_stack

    supervisor = Supervisor()
    with local_stack(STACK_STATE) as stack:
        running = None
        try:
            api_port = args.api_port or free_port()
            # The gateway simulator calls the deposit and payout webhooks back on the API port.
            webhooks = f"http://127.0.0.1:{api_port}/api/v1/wallet/webhook"
            stack.env["MONEY__DEPOSIT_CALLBACK_URL"] = f"{webhooks}/deposit"
            stack.env["MONEY__PAYOUT_CALLBACK_URL"] = f"{webhooks}/payout"
            stack.env.update(LOCAL_RATE_LIMITS)
            metrics = MetricsPorts(args.metrics_port)
            running = start_functions(stack, supervisor, api_port, args.http_concurrency, metrics)
            room = open_local_room(stack, f"http://127.0.0.1:{api_port}")
            fleet = start_edge_fleet(stack, supervisor, 2, args.bots, metrics)
            api_metrics = ", ".join(t.url for t in metrics.targets if t.job == "api")
            if args.monitoring:
                fleet += start_prometheus(
                    stack.state_dir, supervisor, metrics.targets, args.prometheus_port
                )
            with advertised(stack, running):
                functions = ", ".join(sorted(running.specs)) or "none"
                queues = ", ".join(p.source.queue_logical_id for p in running.pollers) or "none"
                schedules = ", ".join(running.schedule_names) or "none"
                print(
                    "\nHold'em backend is running (template.yaml). Ctrl-C stops everything.\n"
                    f"  REST API     http://127.0.0.1:{api_port}  (docs: /docs)\n"
                    f"  readiness    http://127.0.0.1:{api_port}/health/ready\n"
                    f"  API metrics  {api_metrics}\n"
                    f"  functions    {functions}\n"
                    f"  SQS pollers  {queues}\n"
                    f"  schedules    {schedules}\n"
                    f"  PostgreSQL   {stack.database_url}\n"
                    f"  Redis        {stack.redis_url}\n"
                    f"  AWS (moto)   {stack.aws_endpoint_url}\n"
                    f"  gateway sim  {stack.env.get('MONEY__GATEWAY_BASE_URL', 'none')}"
                    "  (./dev pay deposit --user EMAIL --coin BTC --amount 0.01)\n",
                    flush=True,
                )
                print("\n".join([*room, *fleet]), flush=True)
                return supervisor.wait()
        except PortTakenError as error:
            print(f"dev up: {error}", file=sys.stderr)
            return 2
        finally:
            # The interpreter's last garbage collection of everything moto and boto3 loaded
            # took ~1.5 s after the stack had stopped; what exists now is never collected.
            gc.freeze()
            if running is not None:
                running.close()
            supervisor.stop_all()


def _with_functions(function_id: str, action: Callable[[Invoker], Any]) -> int:
    """Run `action` against the running `./dev up`, or against a stack started for it."""
    from devstack.functions_host import function_environment, running_stack
    from devstack.lambda_runtime import HttpInvoker, InProcessInvoker, load_functions
    from devstack.paths import STATE
    from devstack.stack import local_stack

    info = running_stack(STATE / STACK_STATE)
    if info is not None:
        invoker = HttpInvoker(info["function_ports"])
        try:
            _print_result(action(invoker))
        finally:
            invoker.close()
        return 0
    print("dev: no `./dev up` is running; starting a local stack for this call", file=sys.stderr)
    with local_stack("oneoff") as stack:
        specs = load_functions(stack.resolver())
        # A one-off process runs one function, with that function's environment.
        env = function_environment(specs[function_id], stack)
        # The function's own output (logs) goes to stderr, as with `sam local invoke`: stdout
        # carries only the result.
        with contextlib.redirect_stdout(sys.stderr):
            result = action(InProcessInvoker(specs, env))
        _print_result(result)
    return 0


def _print_result(result: Any) -> None:
    print(json.dumps(result, indent=2, ensure_ascii=False))


def _default_event(function_id: str) -> Path:
    from devstack.lambda_runtime import load_functions

    spec = load_functions()[function_id]
    folder = events_folder(spec.handler)
    samples = sorted(folder.glob("*.json"))
    if not samples:
        raise SystemExit(f"dev invoke: no sample event in {folder.relative_to(ROOT)}/")
    return samples[0]


def events_folder(handler: str) -> Path:
    """`events/<name>/` for a handler `functions.<name>.handler.handler`."""
    parts = handler.split(".")
    name = parts[1] if parts[0] == "functions" and len(parts) > 2 else parts[0]
    return ROOT / "events" / name


def cmd_invoke(args: argparse.Namespace) -> int:
    """Invoke one function of the template with an event (default: its first events/ sample)."""
    from devstack.lambda_runtime import InvocationError, load_functions

    specs = load_functions()
    if args.function not in specs:
        print(
            f"dev invoke: no function {args.function!r}; one of: {', '.join(specs)}",
            file=sys.stderr,
        )
        return 2
    path = Path(args.event) if args.event else _default_event(args.function)
    event = json.loads(path.read_text())
    try:
        return _with_functions(args.function, lambda invoker: invoker.invoke(args.function, event))
    except InvocationError as error:
        print(f"dev invoke: {args.function} failed: {error}", file=sys.stderr)
        return 1


def cmd_fire(args: argparse.Namespace) -> int:
    """Fire one schedule of the template now (by schedule name or function logical id)."""
    from devstack.lambda_runtime import InvocationError, load_functions
    from devstack.scheduler import find_schedule, fire, schedules
    from devstack.stack import REGION, STACK_NAME
    from devstack.template import Resolver, load_template

    resolver = Resolver(load_template(TEMPLATE), STACK_NAME, REGION)
    try:
        schedule = find_schedule(schedules(load_functions(resolver), resolver), args.name)
    except KeyError as error:
        print(f"dev fire: {error.args[0]}", file=sys.stderr)
        return 2
    print(f"dev fire: {schedule.name} -> {schedule.function_id}", file=sys.stderr)
    try:
        return _with_functions(schedule.function_id, lambda invoker: fire(schedule, invoker))
    except InvocationError as error:
        print(f"dev fire: {schedule.function_id} failed: {error}", file=sys.stderr)
        return 1


def _stack_connections(action: Callable[[str, str], Any]) -> int:
    from devstack.functions_host import running_stack
    from devstack.paths import STATE
    from devstack.stack import local_stack

    info = running_stack(STATE / STACK_STATE)
    if info is not None:
        action(info["env"]["DATABASE_URL"], info["env"]["REDIS_URL"])
        return 0
    with local_stack(STACK_STATE) as stack:
        action(stack.database_url, stack.redis_url)
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    """Back up the local stack's PostgreSQL database and Redis to a folder."""
    from devstack.backup import backup
    from devstack.paths import STATE

    folder = Path(args.folder or STATE / "backups" / time.strftime("%Y%m%d-%H%M%S"))

    def run(database_url: str, redis_url: str) -> None:
        summary = backup(database_url, redis_url, folder)
        print(f"dev backup: {summary.database} and {summary.redis_keys} Redis keys -> {folder}")

    return _stack_connections(run)


def cmd_restore(args: argparse.Namespace) -> int:
    """Replace the local stack's database and Redis with a backup folder's content."""
    from devstack.backup import BackupError, restore

    def run(database_url: str, redis_url: str) -> None:
        summary = restore(database_url, redis_url, Path(args.folder))
        print(f"dev restore: {summary.database} and {summary.redis_keys} Redis keys restored")

    try:
        return _stack_connections(run)
    except BackupError as error:
        print(f"dev restore: {error}", file=sys.stderr)
        return 1


def cmd_lint_template(args: argparse.Namespace) -> int:
    """cfn-lint and checkov on template.yaml (offline, each in its own pinned virtualenv)."""
    from devstack.cfn import lint_template

    return lint_template(TEMPLATE)


def _step(title: str, argv: list[str]) -> None:
    started = time.monotonic()
    print(f"dev test: {title} ...", flush=True)
    result = subprocess.run(argv, cwd=ROOT, check=False)
    if result.returncode != 0:
        print(f"dev test: {title} failed", file=sys.stderr)
        raise SystemExit(result.returncode)
    print(f"dev test: {title} ok ({time.monotonic() - started:.1f} s)", flush=True)


def cmd_test(args: argparse.Namespace) -> int:
    """Lint, type-check and run the test suite (pytest starts its own servers)."""
    if not args.no_lint:
        _step("ruff check", [str(VENV_BIN / "ruff"), "check", "."])
        _step("ruff format --check", [str(VENV_BIN / "ruff"), "format", "--check", "."])
        _step("mypy --strict", [str(VENV_BIN / "mypy"), *SHIPPED_CODE])
        _step("import contracts (lint-imports)", [str(VENV_BIN / "lint-imports")])
        _step("cfn-lint + checkov template.yaml", [PYTHON, "-m", "devstack", "lint-template"])
    _step("pytest", [PYTHON, "-m", "pytest", *args.pytest_args])
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    """Apply the migrations to DATABASE_URL."""
    from devstack import migrate

    url = os.environ.get("DATABASE_URL")
    if not url:
        print("dev migrate: set DATABASE_URL", file=sys.stderr)
        return 2
    migrate.upgrade(url)
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    """Run a benchmark from loadtest/ (bench_<name>.py) and print its figures."""
    module = f"loadtest.bench_{args.name}"
    argv = [PYTHON, "-m", module, *args.bench_args]
    return subprocess.run(argv, cwd=ROOT, check=False).returncode


def cmd_loadtest(args: argparse.Namespace) -> int:
    """Run the bot swarm against a local stack, in one stage or staged (see loadtest/)."""
    argv = [PYTHON, "-m", "loadtest.stages", *args.bench_args]
    return subprocess.run(argv, cwd=ROOT, check=False).returncode


def cmd_openapi(args: argparse.Namespace) -> int:
    """Regenerate docs/openapi.json from the REST API app."""
    argv = [PYTHON, "-m", "functions.api.openapi", "docs/openapi.json"]
    return subprocess.run(argv, cwd=ROOT, check=False).returncode


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="./dev", description="Hold'em backend developer tool")
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help=cmd_up.__doc__)
    up.add_argument("--api-port", type=int, default=0, help="REST API port (default: a free one)")
    up.add_argument("--bots", type=int, default=0, help="seat N bots (2-7) at a 9-seat demo table")
    up.add_argument(
        "--http-concurrency",
        type=int,
        default=2,
        help="execution environments per function with HTTP routes (default 2)",
    )
    up.add_argument(
        "--metrics-port",
        type=int,
        default=FIRST_METRICS_PORT,
        help=f"first of the fixed metrics ports: table servers, then the REST API's "
        f"environments (default {FIRST_METRICS_PORT}; 0: free ports)",
    )
    up.add_argument(
        "--monitoring",
        action="store_true",
        help="also run Prometheus with ops/prometheus/alerts.yml over those ports",
    )
    up.add_argument(
        "--prometheus-port",
        type=int,
        default=PROMETHEUS_PORT,
        help=f"Prometheus port with --monitoring (default {PROMETHEUS_PORT}; 0: a free one)",
    )
    up.set_defaults(func=cmd_up)

    test = sub.add_parser("test", help=cmd_test.__doc__)
    test.add_argument(
        "--no-lint", action="store_true", help="skip ruff, mypy, lint-imports and cfn-lint"
    )
    test.set_defaults(func=cmd_test)

    mig = sub.add_parser("migrate", help=cmd_migrate.__doc__)
    mig.set_defaults(func=cmd_migrate)

    invoke = sub.add_parser("invoke", help=cmd_invoke.__doc__)
    invoke.add_argument("function", help="logical id in template.yaml, e.g. ApiFunction")
    invoke.add_argument("event", nargs="?", help="event JSON file (default: events/<name>/)")
    invoke.set_defaults(func=cmd_invoke)

    fire = sub.add_parser("fire", help=cmd_fire.__doc__)
    fire.add_argument("name", help="schedule name (with or without the stack prefix) or function")
    fire.set_defaults(func=cmd_fire)

    backup = sub.add_parser("backup", help=cmd_backup.__doc__)
    backup.add_argument("folder", nargs="?", help="default: .devstate/backups/<time>")
    backup.set_defaults(func=cmd_backup)

    restore = sub.add_parser("restore", help=cmd_restore.__doc__)
    restore.add_argument("folder", help="a folder written by ./dev backup")
    restore.set_defaults(func=cmd_restore)

    lint = sub.add_parser("lint-template", help=cmd_lint_template.__doc__)
    lint.set_defaults(func=cmd_lint_template)

    openapi = sub.add_parser("openapi", help=cmd_openapi.__doc__)
    openapi.set_defaults(func=cmd_openapi)

    bench = sub.add_parser("bench", help=cmd_bench.__doc__)
    bench.add_argument("name", help="engine, ledger, api, ...")
    bench.set_defaults(func=cmd_bench)

    loadtest = sub.add_parser("loadtest", help=cmd_loadtest.__doc__, add_help=False)
    loadtest.set_defaults(func=cmd_loadtest)

    from devstack import chaos, hand_commands, ledger_commands
    from holdem import admin_cli

    ledger_commands.add_parsers(sub)
    hand_commands.add_parsers(sub)
    chaos.add_parser(sub)
    admin = sub.add_parser("admin", help="operator bootstrap against DATABASE_URL")
    admin_cli.add_commands(admin.add_subparsers(dest="admin_command", required=True))
    from gateway_sim import pay

    pay.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    # `test` and `bench` pass every argument they do not know on to pytest / the benchmark.
    args, rest = build_parser().parse_known_args(argv)
    if rest and args.command not in ("test", "bench", "loadtest"):
        build_parser().error(f"unrecognized arguments: {' '.join(rest)}")
    args.pytest_args = args.bench_args = rest
    code: int = args.func(args)
    return code
