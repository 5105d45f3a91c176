"""``LISTEN fngate_jobs`` on a connection of its own, kept up with backoff.

A job runner is woken by the notification each new pending job sends. Without the
listener it still finds jobs by polling, only later; so a connection that cannot be had,
a ``LISTEN`` that fails after connecting, or a connection lost later is logged and tried
again, waiting twice as long each time (up to ``max_retry_s``), never given up on.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from gateway.store.jobs import JOBS_CHANNEL

__all__ = ["JobListener"]

logger = logging.getLogger("fngate.jobs")

Connect = Callable[[str], Awaitable[Any]]


def _set(event: asyncio.Event, *_: object) -> None:
    event.set()


class JobListener:
    """Calls ``on_notify`` on every job notification, and once after each (re)connect
    (a notification sent while it was away is gone)."""

    def __init__(self, dsn: str, on_notify: Callable[[], None], *, retry_s: float = 0.5,
                 max_retry_s: float = 30.0, connect: Connect | None = None) -> None:
        self._dsn = dsn
        self._on_notify = on_notify
        self._retry_s = retry_s
        self._max_retry_s = max_retry_s
        self._connect = connect or asyncpg.connect
        self.listening = False

    async def run(self) -> None:
        """Listen until cancelled."""
        delay = self._retry_s
        while True:
            lost = asyncio.Event()
            conn: Any = None
            try:
                conn = await self._connect(self._dsn)
                conn.add_termination_listener(functools.partial(_set, lost))
                await conn.add_listener(JOBS_CHANNEL, lambda *_: self._on_notify())
                self.listening = True
                delay = self._retry_s
                self._on_notify()
                await lost.wait()
                logger.warning("job LISTEN connection lost; polling until it is back")
            except Exception as exc:  # never ends on its own: jobs would wait for the poll
                logger.warning("job LISTEN failed; polling, retrying in %.1f s", delay,
                               extra={"error": repr(exc)})
            finally:
                self.listening = False
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await conn.close()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._max_retry_s)
