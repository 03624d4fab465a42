"""Finding (and when missing, installing) the server binaries the local stack runs."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

_APT_PACKAGES = {"postgres": "postgresql", "redis": "redis-server", "prometheus": "prometheus"}


class MissingBinaryError(RuntimeError):
    """A server binary is missing and cannot be installed from here."""


@dataclass(frozen=True)
class PostgresBinaries:
    initdb: Path
    postgres: Path
    pg_dump: Path
    pg_restore: Path
    pgbench: Path | None


def _postgres_bindir() -> Path | None:
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name)
    )
    for bindir in reversed(candidates):
        if (Path(bindir) / "postgres").exists() and (Path(bindir) / "initdb").exists():
            return Path(bindir)
    found = shutil.which("postgres")
    if found and shutil.which("initdb"):
        return Path(found).resolve().parent
    return None


def _apt_install(package: str) -> None:
    if os.geteuid() != 0:
        raise MissingBinaryError(
            f"{package} is not installed and this is not root: run "
            f"`sudo apt-get install -y {package}` (or set DATABASE_URL / REDIS_URL "
            "to servers of your own), then try again."
        )
    print(f"dev: installing {package} with apt-get ...", file=sys.stderr)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", package],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )


def postgres_binaries() -> PostgresBinaries:
    """The PostgreSQL server binaries, installed with apt-get first when missing."""
    bindir = _postgres_bindir()
    if bindir is None:
        _apt_install(_APT_PACKAGES["postgres"])
        bindir = _postgres_bindir()
    if bindir is None:
        raise MissingBinaryError("PostgreSQL was installed but its binaries were not found")
    pgbench = bindir / "pgbench"
    return PostgresBinaries(
        initdb=bindir / "initdb",
        postgres=bindir / "postgres",
        pg_dump=bindir / "pg_dump",
        pg_restore=bindir / "pg_restore",
        pgbench=pgbench if pgbench.exists() else None,
    )


def redis_server_binary() -> Path:
    """The redis-server binary, installed with apt-get first when missing."""
    found = shutil.which("redis-server")
    if found is None:
        _apt_install(_APT_PACKAGES["redis"])
        found = shutil.which("redis-server")
    if found is None:
        raise MissingBinaryError("redis-server was installed but is not on PATH")
    return Path(found)


@dataclass(frozen=True)
class PrometheusBinaries:
    prometheus: Path
    promtool: Path


def prometheus_binaries() -> PrometheusBinaries:
    """Prometheus and promtool (Debian's `prometheus` package, installed with apt-get first
    when missing). The package's own service is never used: `./dev up --monitoring` runs a
    private Prometheus with its data under .devstate/."""
    found = shutil.which("prometheus"), shutil.which("promtool")
    if None in found:
        _apt_install(_APT_PACKAGES["prometheus"])
        found = shutil.which("prometheus"), shutil.which("promtool")
    prometheus, promtool = found
    if prometheus is None or promtool is None:
        raise MissingBinaryError("prometheus was installed but is not on PATH")
    return PrometheusBinaries(Path(prometheus), Path(promtool))
