"""Stopping asyncio tasks for sure.

`task.cancel()` asks once. A library caught mid-operation can swallow that one request (the
task runs on, e.g. into its loop's next sleep), and an ``await asyncio.wait(tasks)`` after it
then waits forever: a server that never stops. Like anyio's cancel scopes, which re-deliver a
cancellation at every await until the task ends, `cancel_and_wait` asks again until it does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

__all__ = ["cancel_and_wait"]

ASK_AGAIN_S = 0.5


async def cancel_and_wait(tasks: Iterable[asyncio.Future[Any]]) -> None:
    """Cancel every task and return once all have ended (asking again while any runs on)."""
    pending = {task for task in tasks if not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=ASK_AGAIN_S)
