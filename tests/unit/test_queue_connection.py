"""The broker connection's finalizer when the garbage collector runs off the loop."""

from __future__ import annotations

import asyncio
import gc

from yarl import URL

from triggers.queue import BrokerConnection


async def test_a_connection_collected_in_another_thread_leaves_no_unawaited_close() -> None:
    # Never connected, so never closed: its finalizer is what runs. aio-pika's own
    # would create a close() coroutine nothing awaits (a RuntimeWarning, an error here).
    held = [BrokerConnection(URL("amqp://guest:guest@127.0.0.1:1/"))]

    def drop() -> None:
        held.clear()
        gc.collect()

    await asyncio.to_thread(drop)
    assert held == []
