"""One composition root: `holdem.bootstrap` is the only place that builds adapters.

Every Lambda handler and the REST API take the process's container
(`holdem.bootstrap.process_container`); the table servers, the admin CLI and the ``./dev``
commands that run use cases call `bootstrap()`. These tests read the source (no module outside
the root constructs a notifier, a queue sender, an S3 store or a Redis client), then check the
container itself: nothing built at import or before first use, each adapter built once.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import holdem
from holdem.bootstrap import Container, bootstrap
from holdem.config import Settings
from holdem.services.notifications import Notifier

ROOT = Path(__file__).parents[2]
PACKAGE = Path(holdem.__file__).parent
BOOTSTRAP = PACKAGE / "bootstrap.py"

BUILDERS = {
    # adapters and the use-case objects the container shares
    "Notifier",
    "S3ArchiveStore",
    "SqsRakebackQueue",
    "AuditRelay",
    "NowPaymentsGateway",
    "RateService",
    "HttpKycProvider",
    "Accounts",
    "PasswordService",
    "RateLimiter",
    "ScriptConnections",
    "Relay",
    "TablesCache",
    "CachePersistenceLayer",
    # their factories
    "from_settings",
    "message_sender",
    "withdrawal_enqueuer",
    "create_redis",
    "create_sync_redis",
    "create_engine",
    "create_statement_pool",
    "session_factory",
    "coin_registry",
    # clients of the libraries
    "Redis",
    "SyncRedis",
    "from_url",
}
"""Calls that build something a process should build once: only the root makes them."""

LIBRARY_FACTORIES = {"Redis", "SyncRedis", "from_url", "create_async_engine"}
ADAPTER_FACTORIES = {
    # each builds its client from the library; the root calls the factory
    PACKAGE / "adapters" / "redis_client.py": {"Redis", "SyncRedis", "from_url"},
    PACKAGE / "adapters" / "database.py": {"create_async_engine"},
}

SERVICE_BUILDING_TOOLS = [
    ROOT / "tools" / "devstack" / "hand_commands.py",
    ROOT / "tools" / "devstack" / "ledger_commands.py",
    ROOT / "tools" / "gateway_sim" / "pay.py",
]
"""The ``./dev`` commands that run use cases (the rest of ./dev provisions the local stack:
it creates moto queues and checks that Redis answers, building no service)."""


def _shipped_modules() -> list[Path]:
    modules = [
        *PACKAGE.rglob("*.py"),
        *(ROOT / "functions").rglob("*.py"),
        *(ROOT / "edge").rglob("*.py"),
        *SERVICE_BUILDING_TOOLS,
    ]
    return sorted(path for path in modules if path != BOOTSTRAP)


def _called_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _boto3_client_call(call: ast.Call) -> bool:
    func = call.func
    return (
        isinstance(func, ast.Attribute)
        and func.attr in {"client", "resource"}
        and isinstance(func.value, ast.Name)
        and func.value.id == "boto3"
    )


def _constructions(path: Path) -> list[str]:
    """What `path` builds that the root should: ``line: call`` for each such call."""
    tree = ast.parse(path.read_text(), filename=str(path))
    allowed = ADAPTER_FACTORIES.get(path, set())
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _called_name(node)
        if _boto3_client_call(node):
            found.append(f"{node.lineno}: boto3.{name}")
        elif name in (BUILDERS | LIBRARY_FACTORIES) - allowed:
            found.append(f"{node.lineno}: {name}")
    return found


def _uses_process_container(path: Path) -> bool:
    tree = ast.parse(path.read_text(), filename=str(path))
    return any(
        isinstance(node, ast.ImportFrom)
        and node.module == "holdem.bootstrap"
        and any(alias.name == "process_container" for alias in node.names)
        for node in ast.walk(tree)
    )


def _functions_imports(path: Path) -> set[Path]:
    """The modules of the ``functions`` package that `path` imports."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("functions"):
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names if alias.name.startswith("functions")}
    found = set()
    for name in names:
        base = ROOT.joinpath(*name.split("."))
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                found.add(candidate)
    return found


def _entrypoints() -> list[Path]:
    return sorted((ROOT / "functions").glob("*/handler.py"))


def test_there_are_modules_and_entrypoints_to_check():
    assert len(_shipped_modules()) > 100
    assert len(_entrypoints()) >= 12


@pytest.mark.parametrize("path", _shipped_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_only_the_composition_root_builds_adapters_and_clients(path: Path):
    assert _constructions(path) == [], (
        f"{path.relative_to(ROOT)} builds what holdem.bootstrap.Container should "
        "(take it from the container instead)"
    )


@pytest.mark.parametrize("path", _entrypoints(), ids=lambda p: p.parent.name)
def test_every_lambda_takes_its_adapters_from_the_process_container(path: Path):
    seen: set[Path] = set()
    todo = [path]
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo += _functions_imports(module)
    assert any(_uses_process_container(module) for module in seen), (
        f"{path.relative_to(ROOT)} reaches no holdem.bootstrap.process_container"
    )


@pytest.mark.parametrize(
    "path",
    sorted([*(ROOT / "functions").rglob("*.py"), *(PACKAGE / "adapters").rglob("*.py")]),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_lambdas_never_bootstrap_a_container_of_their_own_and_adapters_never_import_the_root(
    path: Path,
):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            assert _called_name(node) != "bootstrap", f"{path.name}:{node.lineno}"
        if isinstance(node, ast.ImportFrom) and path.is_relative_to(PACKAGE):
            assert node.module != "holdem.bootstrap", f"{path.name}:{node.lineno}"


def test_importing_every_entrypoint_builds_nothing_and_connects_nowhere():
    """A cold start's import phase opens no socket and builds no container (AWS_NOTES.md):
    the handlers, the API app and the table server are imported with every connection
    refused."""
    modules = [f"functions.{p.parent.name}.handler" for p in _entrypoints()]
    modules += ["functions.api.app", "edge.server", "edge.__main__", "holdem.admin_cli"]
    script = f"""
import importlib, socket

def refuse(*args, **kwargs):
    raise AssertionError("a connection at import")

socket.socket.connect = refuse
socket.create_connection = refuse
for name in {modules!r}:
    importlib.import_module(name)
import holdem.bootstrap
assert holdem.bootstrap._process is None, "a container was built at import"
print("ok")
"""
    env = {
        "PATH": "/usr/bin:/bin",
        "DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none",
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "AWS__REGION": "ap-northeast-2",
    }
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def _offline() -> Settings:
    """Settings naming servers that are not there: building an adapter must not need them."""
    return Settings(
        database_url="postgresql+psycopg://nobody@127.0.0.1:1/none",
        redis_url="redis://127.0.0.1:1/0",
        aws={
            "region": "ap-northeast-2",
            "notification_queue_url": "https://sqs.example/notices",
            "payout_queue_url": "https://sqs.example/payouts",
        },
    )


async def test_bootstrap_builds_nothing_until_asked():
    container = bootstrap(_offline())
    try:
        assert set(vars(container)) == {"settings"}
        container.notifier  # noqa: B018 (built on first use)
        assert {"notifier", "redis", "sqs"} <= set(vars(container))
        assert "engine" not in vars(container)
        assert "gateway" not in vars(container)
    finally:
        await container.aclose()


async def test_each_adapter_is_built_once_and_shared_by_every_use_case():
    container = bootstrap(_offline())
    try:
        deposits, withdrawals, kyc = container.deposits(), container.withdrawals(), container.kyc()
        assert deposits.notifier is withdrawals.notifier is kyc.notifier is container.notifier
        assert deposits.gateway is withdrawals.gateway is container.gateway
        assert deposits.rates is withdrawals.rates is container.rates
        assert deposits.uow is withdrawals.uow is kyc.uow is container.payments_uow
        assert container.accounts is container.accounts
        assert container.redis is container.relay._redis  # one asyncio Redis client
    finally:
        await container.aclose()


async def test_a_replaced_adapter_is_what_the_use_cases_get():
    container = Container(_offline())
    sent: list[list[int]] = []

    async def enqueue(ids: list[int]) -> None:
        sent.append(ids)

    notifier = Notifier(None)
    container.payout_queue = enqueue
    container.notifier = notifier
    try:
        deps = container.withdrawals()
        assert (deps.enqueue, deps.notifier) == (enqueue, notifier)
        assert "sqs" not in vars(container)  # the real queues' client was never built
    finally:
        await container.aclose()


async def test_the_process_container_is_one_per_process_until_reset(monkeypatch):
    from holdem import bootstrap as root

    built: list[Container] = []

    def fake_bootstrap(settings=None, *, component=None):
        built.append(Container(_offline()))
        return built[-1]

    monkeypatch.setattr(root, "bootstrap", fake_bootstrap)
    await root.reset_process_container()
    try:
        first = root.process_container()
        assert root.process_container() is first
        await root.reset_process_container()
        assert root.process_container() is not first
        assert len(built) == 2
    finally:
        await root.reset_process_container()
