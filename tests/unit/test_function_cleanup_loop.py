"""FunctionCleanup.run stops when cancelled, also when a change arrives in the same turn
of the loop (asyncio.wait_for on Python 3.11 could swallow that cancellation, and a
gateway's shutdown then hung on the loop)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from gateway.services.function_cleanup import FunctionCleanup


class _Cleanup(FunctionCleanup):
    def __init__(self) -> None:
        super().__init__(functions=None, replicas=None, pools=None,  # type: ignore[arg-type]
                         gates=None, cache=None, metrics=None,  # type: ignore[arg-type]
                         sweep_s=3600.0)
        self.rounds = 0

    async def take_outbox(self) -> int:
        return 0

    async def reconcile(self, function_ids: set[int], *, everything: bool = False) -> None:
        self.rounds += 1


async def _stops(poke_first: bool) -> bool:
    cleanup = _Cleanup()
    task = asyncio.create_task(cleanup.run())
    for _ in range(3):  # let it reach its wait
        await asyncio.sleep(0)
    if poke_first:
        cleanup.poke("*", None)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=5)
    if not done:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    return bool(done) and task.cancelled()


async def test_a_cancelled_cleanup_loop_stops_even_when_poked_in_the_same_turn() -> None:
    results: list[Any] = [await _stops(poke_first) for poke_first in (False, True) * 10]
    assert all(results), results
