"""JobListener's retries: logged, twice as long each time up to the cap, reset by success."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from gateway.services.job_listener import JobListener
from tests.conftest import wait_for


class MemoryConnection:
    def __init__(self) -> None:
        self.channels: list[str] = []
        self.closed = False
        self.on_terminate: Any = None

    def add_termination_listener(self, callback: Any) -> None:
        self.on_terminate = callback

    async def add_listener(self, channel: str, callback: Any) -> None:
        self.channels.append(channel)

    async def close(self) -> None:
        self.closed = True


async def test_failures_are_retried_with_doubling_delays_and_success_resets_them(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="fngate.jobs")
    outcomes: list[Any] = [OSError("refused")] * 4
    connections: list[MemoryConnection] = []

    async def connect(dsn: str) -> MemoryConnection:
        if outcomes:
            raise outcomes.pop(0)
        connections.append(MemoryConnection())
        return connections[-1]

    woken: list[None] = []
    listener = JobListener("postgresql://unused", lambda: woken.append(None), retry_s=0.001,
                           max_retry_s=0.004, connect=connect)
    task = asyncio.create_task(listener.run())
    try:
        await wait_for(lambda: listener.listening, timeout_s=5)
        assert woken == [None]  # told once on connect: a notification may have been missed
        connections[0].on_terminate(connections[0])  # the server went away
        outcomes.append(OSError("refused"))
        await wait_for(lambda: len(connections) == 2 and listener.listening, timeout_s=5)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    delays = [r.args[0] for r in caplog.records if r.getMessage().startswith("job LISTEN failed")]
    assert delays == [0.001, 0.002, 0.004, 0.004, 0.002]
    assert connections[0].closed and connections[1].closed
    assert any("connection lost" in r.getMessage() for r in caplog.records)
