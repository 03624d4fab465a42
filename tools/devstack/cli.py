"""`./dev` subcommands."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from devstack.paths import ROOT, VENV_BIN
from devstack.services import free_port
from devstack.supervisor import Supervisor

PYTHON = str(VENV_BIN / "python")
SHIPPED_CODE = ["shared/src/holdem", "functions", "tools/devstack"]


def cmd_up(args: argparse.Namespace) -> int:
    """Run the whole backend locally until Ctrl-C."""
    from devstack.stack import local_stack

    supervisor = Supervisor()
    with local_stack() as stack:
        try:
            api_port = args.api_port or free_port()
            supervisor.spawn(
                "api",
                [
                    PYTHON,
                    "-m",
                    "uvicorn",
                    "functions.api.app:app",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(api_port),
                    "--no-access-log",
                ],
                stack.env,
            )
            print(
                "\nHold'em backend is running. Ctrl-C stops everything.\n"
                f"  REST API     http://127.0.0.1:{api_port}  (docs: /docs)\n"
                f"  readiness    http://127.0.0.1:{api_port}/health/ready\n"
                f"  PostgreSQL   {stack.database_url}\n"
                f"  Redis        {stack.redis_url}\n"
                f"  AWS (moto)   {stack.aws_endpoint_url}\n",
                flush=True,
            )
            return supervisor.wait()
        finally:
            supervisor.stop_all()


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="./dev", description="Hold'em backend developer tool")
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help=cmd_up.__doc__)
    up.add_argument("--api-port", type=int, default=0, help="REST API port (default: a free one)")
    up.set_defaults(func=cmd_up)

    test = sub.add_parser("test", help=cmd_test.__doc__)
    test.add_argument("--no-lint", action="store_true", help="skip ruff and mypy")
    test.set_defaults(func=cmd_test)

    mig = sub.add_parser("migrate", help=cmd_migrate.__doc__)
    mig.set_defaults(func=cmd_migrate)

    bench = sub.add_parser("bench", help=cmd_bench.__doc__)
    bench.add_argument("name", help="engine, ledger, api, ...")
    bench.set_defaults(func=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    # `test` and `bench` pass every argument they do not know on to pytest / the benchmark.
    args, rest = build_parser().parse_known_args(argv)
    if rest and args.command not in ("test", "bench"):
        build_parser().error(f"unrecognized arguments: {' '.join(rest)}")
    args.pytest_args = args.bench_args = rest
    code: int = args.func(args)
    return code
