"""Group commit: rows written by concurrent requests go to PostgreSQL together.

A caller hands its row over and waits until the row is committed, so nothing it
answers afterwards names a row that is not there yet. While one batch is being
written, the rows that arrive wait and go in the next one: under load, one
statement and one commit carry many rows (less CPU in the gateway and in
PostgreSQL per row); alone, a row goes at once, as a single write would.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

__all__ = ["BatchWriter"]

T = TypeVar("T")
R = TypeVar("R")

logger = logging.getLogger("fngate.store")


class BatchWriter(Generic[T, R]):
    """Writes items with ``write_many`` (one result per item, in order); a batch that
    fails is retried item by item.

    ``write_one`` decides each item's own outcome after a failed batch, so one bad row
    (a NUL PostgreSQL cannot store) fails only its own caller.
    """

    def __init__(self, write_many: Callable[[Sequence[T]], Awaitable[Sequence[R]]],
                 write_one: Callable[[T], Awaitable[R]], *, max_batch: int = 256,
                 on_idle: Callable[[], None] | None = None) -> None:
        """``on_idle`` is called whenever the last queued item has been written."""
        self._write_many = write_many
        self._on_idle = on_idle
        self._write_one = write_one
        self._max_batch = max_batch
        self._queued: list[tuple[T, asyncio.Future[R]]] = []
        self._writer: asyncio.Task[None] | None = None
        self._warned_at = -60.0

    async def write(self, item: T) -> R:
        """Return ``item``'s result once it is committed; raise what writing it alone raised."""
        done: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queued.append((item, done))
        if self._writer is None or self._writer.done():
            self._start()
        # A caller that gives up cancels only its own future: its row stays queued (or in
        # the batch being written) and is written all the same.
        return await done

    def _start(self) -> None:
        self._writer = asyncio.create_task(self._drain(), name="batch-writer")
        self._writer.add_done_callback(self._drained)

    async def _drain(self) -> None:
        batch: list[tuple[T, asyncio.Future[R]]] = []
        try:
            while self._queued:
                batch = self._queued[: self._max_batch]
                del self._queued[: self._max_batch]
                await self._write(batch)
        except BaseException as exc:  # cancelled (shutdown): the batch in hand fails
            _fail(batch, exc)
            raise

    def _drained(self, task: asyncio.Task[None]) -> None:
        """After the writer task ended (even cancelled before it ever ran)."""
        if self._writer is not task:
            return  # a newer writer has the queue
        self._writer = None
        if task.cancelled() or task.exception() is not None:
            stranded, self._queued = self._queued, []
            _fail(stranded, None)  # no caller waits forever
        if self._queued:  # came after the writer's last look at the queue
            self._start()
        elif self._on_idle is not None:
            self._on_idle()

    async def _write(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        if len(batch) > 1:
            try:
                results = await self._write_many([item for item, _ in batch])
            except Exception:
                # Rows one by one are right but slower: say so, at most once a minute.
                now = time.monotonic()
                if now - self._warned_at >= 60:
                    self._warned_at = now
                    logger.warning("a batch of %d rows failed; writing them one by one",
                                   len(batch), exc_info=True)
            else:
                for (_, done), result in zip(batch, results, strict=True):
                    _settle(done, None, result)
                return
        for item, done in batch:
            try:
                result = await self._write_one(item)
            except Exception as exc:
                _settle(done, exc)
            else:
                _settle(done, None, result)


def _fail(batch: Sequence[tuple[Any, asyncio.Future[Any]]], cause: BaseException | None) -> None:
    stopped = RuntimeError("the batch writer stopped before the row was written")
    stopped.__cause__ = cause
    for _, done in batch:
        _settle(done, stopped)


def _settle(done: asyncio.Future[Any], exc: BaseException | None, result: Any = None) -> None:
    if done.done():
        return
    if exc is None:
        done.set_result(result)
    else:
        done.set_exception(exc)
        # Marked as seen: a caller that was cancelled meanwhile never retrieves it.
        done.exception()
