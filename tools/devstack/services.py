"""Private PostgreSQL, Redis and moto servers on free loopback ports, for `./dev up` and tests.

Each server keeps its data under a project-local, git-ignored directory (`.devstate/`), runs as
a child process that dies with its parent, and is stopped on exit. Nothing here touches the
machine's own PostgreSQL or Redis services.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import psycopg
import redis

from devstack.system import postgres_binaries, redis_server_binary

_PR_SET_PDEATHSIG = 1
_POSTGRES_USER = "postgres"


_handed_out: set[int] = set()


def _ports_outside_the_ephemeral_range() -> range:
    """Ports the kernel never picks for an outgoing connection's local end.

    A port taken from the ephemeral range (what binding port 0 returns) can be claimed by any
    `connect()` between the moment it is chosen and the moment the child process binds it.
    """
    try:
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        low, high = 32768, 60999
    below = range(max(1024, low - 12000), low)
    above = range(high + 1, 65536)
    return below if len(below) >= len(above) else above


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing is bound to now and that no connection will take.

    Ports come from outside the kernel's ephemeral range, in random order, and this process
    never hands out the same port twice.
    """
    candidates = _ports_outside_the_ephemeral_range()
    for _ in range(200):
        port = random.choice(candidates)
        if port in _handed_out:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free TCP port on 127.0.0.1 in {candidates.start}-{candidates.stop - 1}")


def port_listens(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:`port`."""
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
        return True
    return False


def die_with_parent(sig: int) -> Callable[[], None]:
    """A preexec hook: the child gets `sig` when the process that started it dies."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)

    def hook() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, sig)

    return hook


def _wait_until(ready: Callable[[], bool], timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.05)
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
    raise RuntimeError(f"{what} did not become ready within {timeout:.0f} s\n{tail}")


class _ServerProcess:
    """A server run as a child process that dies with its parent, logging to a file."""

    _proc: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    def _spawn(self, argv: list[str], log_path: Path, user: str | None, death: int) -> None:
        self._log = log_path.open("ab")
        self._proc = subprocess.Popen(
            argv,
            user=user,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent(death),
            # Not in the terminal's process group: a Ctrl-C of `./dev up` must not stop the
            # stores under the processes that use them (those stop first, in order).
            start_new_session=True,
        )

    def kill(self) -> None:
        """SIGKILL the server, as a crash would."""
        self._signal_and_wait(signal.SIGKILL, 10)

    def _signal_and_wait(self, sig: int, timeout: float) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None


class PostgresServer(_ServerProcess):
    """A private PostgreSQL cluster. As root, the server runs as the `postgres` user.

    It trusts every connection unless given a `password`: then it checks passwords
    (``scram-sha-256``, as RDS does) and `password` is the ``postgres`` superuser's, so a test can
    see a wrong or rotated password refused.
    """

    def __init__(
        self,
        state_dir: Path,
        *,
        durable: bool = True,
        port: int | None = None,
        password: str | None = None,
    ) -> None:
        self._state_dir = state_dir
        self._durable = durable
        self._password = password
        self.port = port or free_port()
        self._bins = postgres_binaries()
        self._run_as = _POSTGRES_USER if os.geteuid() == 0 else None
        self.data_dir = self._choose_data_dir()

    @property
    def log_path(self) -> Path:
        return self._state_dir / "postgres.log"

    def url(self, database: str = "postgres", driver: str = "postgresql+psycopg") -> str:
        login = "postgres" if self._password is None else f"postgres:{self._password}"
        return f"{driver}://{login}@127.0.0.1:{self.port}/{database}"

    def _choose_data_dir(self) -> Path:
        wanted = self._state_dir / "pgdata"
        if self._run_as is None:
            return wanted
        _ensure_system_user(self._run_as)
        wanted.mkdir(parents=True, exist_ok=True)
        _chown(wanted, self._run_as)
        probe = subprocess.run(["test", "-w", str(wanted)], user=self._run_as, check=False)
        if probe.returncode == 0:
            return wanted
        # The checkout lives where the postgres user cannot reach (e.g. under a 0700 temp
        # folder): keep the cluster in a private temporary directory instead.
        fallback = Path(tempfile.mkdtemp(prefix="holdem-pgdata-"))
        _chown(fallback, self._run_as)
        return fallback

    def _run(self, argv: list[str]) -> None:
        subprocess.run(argv, check=True, user=self._run_as, stdout=subprocess.DEVNULL)

    def start(self) -> None:
        """Initialise the cluster when new, start the server and wait until it accepts queries."""
        self._state_dir.mkdir(parents=True, exist_ok=True)
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": "",
            "max_connections": "300",
            "shared_buffers": "256MB",
            "fsync": "on" if self._durable else "off",
            "synchronous_commit": "on" if self._durable else "off",
            "full_page_writes": "on" if self._durable else "off",
            "log_min_messages": "warning",
        }
        argv = [str(self._bins.postgres), "-D", str(self.data_dir)]
        for name, value in settings.items():
            argv += ["-c", f"{name}={value}"]
        self._spawn(argv, self.log_path, self._run_as, signal.SIGINT)
        _wait_until(self._accepts_queries, 60, "PostgreSQL", self.log_path)

    def _initdb(self) -> None:
        argv = [
            str(self._bins.initdb),
            "-D",
            str(self.data_dir),
            "-U",
            "postgres",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        ]
        if self._password is None:
            self._run([*argv, "--auth=trust"])
            return
        # initdb reads the superuser's password from a file the server's user can read.
        password_file = self.data_dir.parent / f"{self.data_dir.name}.password"
        password_file.write_text(self._password + "\n")
        if self._run_as is not None:
            _chown(password_file, self._run_as)
        try:
            self._run([*argv, "--auth=scram-sha-256", f"--pwfile={password_file}"])
        finally:
            password_file.unlink()

    def _accepts_queries(self) -> bool:
        if self._proc is not None and self._proc.poll() is not None:
            raise RuntimeError(
                f"PostgreSQL exited with {self._proc.returncode}; see {self.log_path}"
            )
        try:
            with psycopg.connect(self.url(driver="postgresql"), connect_timeout=2) as conn:
                conn.execute("select 1")
            return True
        except psycopg.OperationalError:
            return False

    def create_database(self, name: str, template: str | None = None) -> str:
        """Create a database (from a template when given) unless it exists; return its URL."""
        with psycopg.connect(self.url(driver="postgresql"), autocommit=True) as conn:
            exists = conn.execute("select 1 from pg_database where datname = %s", (name,))
            if exists.fetchone() is None:
                clause = f" template {template}" if template else ""
                conn.execute(f'create database "{name}"{clause}')
        return self.url(name)

    def stop(self, timeout: float = 30) -> None:
        """A fast shutdown (rolls back open transactions), then SIGKILL if it hangs."""
        self._signal_and_wait(signal.SIGINT, timeout)

    def remove(self) -> None:
        """Stop the server and delete its data."""
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)


class RedisServer(_ServerProcess):
    """A private redis-server process."""

    def __init__(
        self, state_dir: Path, *, persistent: bool = True, port: int | None = None
    ) -> None:
        self._state_dir = state_dir
        self._persistent = persistent
        self.port = port or free_port()
        self._binary = redis_server_binary()

    @property
    def log_path(self) -> Path:
        return self._state_dir / "redis.log"

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        """Start the server and wait until it answers PING."""
        data_dir = self._state_dir / "redis"
        data_dir.mkdir(parents=True, exist_ok=True)
        argv = [
            str(self._binary),
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--dir",
            str(data_dir),
            "--daemonize",
            "no",
            "--protected-mode",
            "no",
            "--maxmemory-policy",
            "noeviction",
        ]
        if self._persistent:
            argv += ["--appendonly", "yes", "--appendfsync", "everysec"]
        else:
            argv += ["--save", "", "--appendonly", "no"]
        self._spawn(argv, self.log_path, None, signal.SIGTERM)
        _wait_until(self._answers_ping, 30, "Redis", self.log_path)

    def _answers_ping(self) -> bool:
        if self._proc is not None and self._proc.poll() is not None:
            raise RuntimeError(f"redis-server exited with {self._proc.returncode}")
        try:
            client = redis.Redis.from_url(self.url(), socket_connect_timeout=1)
            with contextlib.closing(client):
                return bool(client.ping())
        except redis.ConnectionError:
            return False

    def stop(self, timeout: float = 15) -> None:
        """Stop the server (SIGTERM saves when persistent), SIGKILL if it hangs."""
        self._signal_and_wait(signal.SIGTERM, timeout)


def _ensure_system_user(name: str) -> None:
    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
            check=True,
        )


def _chown(path: Path, user: str) -> None:
    entry = pwd.getpwnam(user)
    for root, dirs, files in os.walk(path):
        for name in [*dirs, *files]:
            os.chown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)
    os.chown(path, entry.pw_uid, entry.pw_gid)
    path.chmod(0o700)


@contextlib.contextmanager
def running(*servers: PostgresServer | RedisServer) -> Iterator[None]:
    """Start the servers in order and stop them in reverse order, whatever happens."""
    started: list[PostgresServer | RedisServer] = []
    try:
        for server in servers:
            server.start()
            started.append(server)
        yield
    finally:
        for server in reversed(started):
            server.stop()
