"""FastAPI dependencies: the process's adapters, built once per cold start."""

from __future__ import annotations

from functools import lru_cache

from holdem.bootstrap import Container, bootstrap


@lru_cache(maxsize=1)
def get_container() -> Container:
    """The adapters of this process (one Lambda execution environment or one server)."""
    return bootstrap()
