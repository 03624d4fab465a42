"""Stopping tasks for sure, even one that swallows a cancellation."""

from __future__ import annotations

import asyncio

from holdem.cancellation import cancel_and_wait


async def test_a_task_that_swallows_a_cancellation_is_still_stopped():
    cancels_seen = 0

    async def stubborn() -> None:
        nonlocal cancels_seen
        while True:
            try:
                await asyncio.sleep(0.01)
            except asyncio.CancelledError:
                cancels_seen += 1
                if cancels_seen == 1:
                    continue  # what a library caught mid-operation may do
                raise

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0.02)
    await cancel_and_wait([task])
    assert task.cancelled()
    assert cancels_seen == 2


async def test_finished_tasks_and_an_empty_list_return_at_once():
    done = asyncio.create_task(asyncio.sleep(0))
    await done
    await cancel_and_wait([done])
    await cancel_and_wait([])
    assert done.done()
    assert not done.cancelled()
