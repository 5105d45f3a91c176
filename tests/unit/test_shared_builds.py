"""SharedBuilds: one build task per digest for every caller; a caller with a slot wait
gives up (BuildQueued) only while the build is still queued for a worker slot, and the
build goes on for the others."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from executors.budget import BuildQueued
from executors.buildrun import SharedBuilds, in_slot


class OneSlot:
    """A budget of one slot, held by the test until it lets go."""

    def __init__(self) -> None:
        self.lock = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def __call__(self) -> AsyncIterator[None]:
        async with self.lock:
            yield


async def test_a_caller_gives_up_while_the_build_is_queued_and_the_build_goes_on() -> None:
    slot, builds = OneSlot(), SharedBuilds[str]("build")
    runs = 0

    async def build() -> str:
        nonlocal runs
        async with in_slot(slot):
            runs += 1
            return "built"

    await slot.lock.acquire()  # every slot held
    with pytest.raises(BuildQueued, match="no worker slot"):
        await builds.join("d1", build, slot_wait_s=0.05)
    waiting = asyncio.create_task(builds.join("d1", build))  # a deploy: as long as it takes
    await asyncio.sleep(0)
    assert not waiting.done() and len(builds.tasks()) == 1
    slot.lock.release()
    assert await waiting == "built" and runs == 1 and builds.tasks() == []


async def test_a_build_that_holds_its_slot_is_awaited_past_the_callers_slot_wait() -> None:
    slot, builds = OneSlot(), SharedBuilds[str]("compile")
    holding, finish = asyncio.Event(), asyncio.Event()

    async def build() -> str:
        async with in_slot(slot):
            holding.set()
            await finish.wait()
            return "compiled"

    first = asyncio.create_task(builds.join("d2", build))
    await holding.wait()
    bounded = asyncio.create_task(builds.join("d2", build, slot_wait_s=0.01))
    await asyncio.sleep(0.05)  # past its slot wait: the build runs, so it still waits
    assert not bounded.done()
    finish.set()
    assert await bounded == "compiled" and await first == "compiled"

