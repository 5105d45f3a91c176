"""``LISTEN fngate_changes``: what other replicas (and this one) changed, as it happens.

Every change of a function, version or trigger is announced with ``NOTIFY`` in the
transaction that makes it. The listener has a connection of its own; each
notification is handed to the subscribers as ``(kind, id, sender)``, ``sender`` being
the process id of the PostgreSQL backend that sent it (the connection of the change).
After it (re)connects it hands them ``("*", None, None)``: a notification sent while
it was away is gone, so they reload everything. Subscribers also poll on their own, so a
listener that is down only delays a change, never loses it.

While connected it asks the server a trivial query every ``ping_s``: PostgreSQL sends
a listening session its pending notifications before it answers, so once the answer is
in (and the notifications' callbacks have run) every change committed before the query
was sent has been told. ``on_alive`` gets that time (``time.monotonic()``): caches keep
what they hold as long as it keeps coming, and a connection that stops answering is
replaced.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable

import asyncpg

from gateway.core.identifiers import numeric_id
from gateway.store.functions import CHANGES_CHANNEL

__all__ = ["ChangeListener", "Subscriber", "parse_change"]

logger = logging.getLogger("fngate.changes")

# (kind, id, sender): what changed, and the backend process id of the connection that
# changed it (None with everything).
Subscriber = Callable[[str, int | None, int | None], None]
EVERYTHING = "*"
# A listener connection that does not answer a ping within this is replaced.
_PING_TIMEOUT_S = 10.0


def _set(event: asyncio.Event, *_: object) -> None:
    event.set()


def parse_change(payload: str) -> tuple[str, int | None]:
    """``"trigger:12"`` → ``("trigger", 12)``; anything unreadable means everything."""
    kind, _, ident = payload.partition(":")
    number = numeric_id(ident)
    if not kind or number is None:
        return EVERYTHING, None
    return kind, number


class ChangeListener:
    """Listens on ``fngate_changes`` and tells every subscriber, reconnecting as needed."""

    def __init__(self, dsn: str, subscribers: list[Subscriber], *, retry_s: float = 1.0,
                 on_alive: Callable[[float], None] | None = None,
                 ping_s: float = 0.5) -> None:
        self._dsn = dsn
        self._subscribers = subscribers
        self._retry_s = retry_s
        self._on_alive = on_alive
        self._ping_s = ping_s
        self.connected = False

    def _tell(self, kind: str, ident: int | None, sender: int | None) -> None:
        for subscriber in self._subscribers:
            try:
                subscriber(kind, ident, sender)
            except Exception:  # one subscriber's fault must not starve the others
                logger.exception("change subscriber failed")

    async def run(self) -> None:
        """Listen until cancelled."""
        while True:
            lost = asyncio.Event()
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(self._dsn)
                conn.add_termination_listener(functools.partial(_set, lost))
                await conn.add_listener(
                    CHANGES_CHANNEL, lambda _c, pid, _ch, payload: self._tell(
                        *parse_change(payload), pid))
                self.connected = True
                self._tell(EVERYTHING, None, None)
                await self._ping_until(conn, lost)
            except Exception as exc:  # never ends on its own: the gateway would stop
                logger.warning("change listener connection failed; retrying",
                               extra={"error": repr(exc)})
            finally:
                self.connected = False
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await conn.close()
            await asyncio.sleep(self._retry_s)

    async def _ping_until(self, conn: asyncpg.Connection, lost: asyncio.Event) -> None:
        """Tell ``on_alive`` every ``ping_s`` until the connection is lost; raise
        TimeoutError if the server does not answer within _PING_TIMEOUT_S."""
        loop = asyncio.get_running_loop()
        while not lost.is_set():
            sent = time.monotonic()
            async with asyncio.timeout(_PING_TIMEOUT_S):
                await conn.fetchval("SELECT 1")
            if self._on_alive is not None:
                # After the callbacks of the notifications that came before the answer.
                loop.call_soon(self._on_alive, sent)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._ping_s):
                    await lost.wait()
