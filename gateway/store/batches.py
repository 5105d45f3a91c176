"""Group commit: rows written by concurrent requests go to PostgreSQL together.

A caller hands its row over and waits until the row is committed, so nothing it
answers afterwards names a row that is not there yet. While one batch is being
written, the rows that arrive wait and go in the next one: under load, one
statement and one commit carry many rows (less CPU in the gateway and in
PostgreSQL per row); alone, a row goes at once, as a single write would.

A batch holds at most ``max_batch`` rows and, when the writer is given each row's
``size``, at most ``max_batch_bytes`` of them (``MAX_BATCH_BYTES``, 8 MiB, by default):
256 function results of 6 MiB each would otherwise make one parameter of 1.5 GB, past
PostgreSQL's 1 GB limit for a value and held in the gateway's memory at once. A row
larger than the bound goes alone.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

import orjson

__all__ = ["BatchWriter", "JsonRow", "MAX_BATCH_BYTES", "json_rows"]

MAX_BATCH_BYTES = 8 * 1024 * 1024

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
                 size: Callable[[T], int] | None = None,
                 max_batch_bytes: int = MAX_BATCH_BYTES,
                 on_idle: Callable[[], None] | None = None) -> None:
        """``on_idle`` is called whenever the last queued item has been written.

        ``size`` gives an item's size in bytes (asked only of items that may share a
        batch); with it, a batch holds at most ``max_batch_bytes``, or one item.
        """
        self._write_many = write_many
        self._on_idle = on_idle
        self._write_one = write_one
        self._max_batch = max_batch
        self._size = size
        self._max_batch_bytes = max_batch_bytes
        self._queued: list[tuple[T, asyncio.Future[R]]] = []
        self._writer: asyncio.Task[None] | None = None
        self._warned_at = -60.0

    async def write(self, item: T) -> R:
        """Return ``item``'s result once it is committed; raise what writing it alone raised."""
        # A caller that gives up cancels only its own future: its row stays queued (or in
        # the batch being written) and is written all the same.
        return await self.submit(item)

    def submit(self, item: T) -> asyncio.Future[R]:
        """Queue ``item`` and return the future of its result, without waiting: the caller
        may do other work while it is written (the write goes on whoever waits)."""
        done: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queued.append((item, done))
        if self._writer is None or self._writer.done():
            self._start()
        return done

    def _start(self) -> None:
        self._writer = asyncio.create_task(self._drain(), name="batch-writer")
        self._writer.add_done_callback(self._drained)

    async def _drain(self) -> None:
        batch: list[tuple[T, asyncio.Future[R]]] = []
        try:
            while self._queued:
                count = self._next_count()
                batch = self._queued[:count]
                del self._queued[:count]
                await self._write(batch)
        except BaseException as exc:  # cancelled (shutdown): the batch in hand fails
            _fail(batch, exc)
            raise

    def _next_count(self) -> int:
        """How many of the queued items the next batch takes."""
        count = min(len(self._queued), self._max_batch)
        if self._size is None or count == 1:
            return count
        total = 0
        for n in range(count):
            total += self._size(self._queued[n][0])
            if total > self._max_batch_bytes:
                return max(n, 1)  # up to the one that overflows; alone if it is the first
        return count

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


class JsonRow:
    """The parameters of one row of a statement that reads its rows from one jsonb
    parameter (``jsonb_to_recordset($1)``), encoded once, when first needed.

    ``extra_bytes`` counts what goes with the row besides (its log lines).
    """

    __slots__ = ("fields", "args", "extra_bytes", "_json")

    def __init__(self, fields: tuple[str, ...], args: tuple[Any, ...], *,
                 extra_bytes: int = 0) -> None:
        self.fields = fields
        self.args = args
        self.extra_bytes = extra_bytes
        self._json: bytes | None = None

    def json(self) -> bytes:
        """The row as a JSON object (the encoding the pool's jsonb codec gives)."""
        if self._json is None:
            self._json = orjson.dumps(dict(zip(self.fields, self.args, strict=True)))
        return self._json

    def size(self) -> int:
        """The row's bytes in a batch: its JSON and what goes with it."""
        return len(self.json()) + self.extra_bytes


def json_rows(rows: Sequence[JsonRow]) -> list[Any]:
    """The rows as one jsonb parameter: each one's encoding put in as it is."""
    return [orjson.Fragment(row.json()) for row in rows]


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
