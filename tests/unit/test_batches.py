"""BatchWriter: concurrent rows share a write; a failed batch is retried row by row."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from gateway.store.batches import BatchWriter


class _Store:
    def __init__(self, *, bad: set[int] | None = None) -> None:
        self.batches: list[list[int]] = []
        self.singles: list[int] = []
        self.rows: list[int] = []
        self.bad = bad or set()
        self.gate = asyncio.Event()
        self.gate.set()

    async def many(self, items: Sequence[int]) -> list[None]:
        await self.gate.wait()
        if self.bad & set(items):
            raise ValueError("a bad row")
        self.batches.append(list(items))
        self.rows.extend(items)
        return [None] * len(items)

    async def one(self, item: int) -> None:
        await self.gate.wait()
        if item in self.bad:
            raise ValueError(f"bad row {item}")
        self.singles.append(item)
        self.rows.append(item)


async def _behind_a_held_row(store: _Store, writer: BatchWriter[int, None], head: int,
                             queued: Sequence[int]) -> tuple[asyncio.Task[None],
                                                             list[asyncio.Task[None]]]:
    """Write ``head`` and hold it at the store's gate, then queue ``queued`` behind it."""
    store.gate.clear()
    first = asyncio.create_task(writer.write(head))
    await asyncio.sleep(0.01)  # head is being written (held at the gate) ...
    rest = [asyncio.create_task(writer.write(n)) for n in queued]
    await asyncio.sleep(0.01)  # ... while the others gather
    return first, rest


async def test_a_lone_row_is_written_at_once_and_concurrent_ones_together() -> None:
    store = _Store()
    writer = BatchWriter(store.many, store.one)
    await writer.write(1)
    assert store.singles == [1] and store.batches == []
    first, rest = await _behind_a_held_row(store, writer, 2, range(3, 8))
    assert not first.done() and not any(t.done() for t in rest)  # none returns early
    store.gate.set()
    await asyncio.gather(first, *rest)
    assert store.singles == [1, 2]
    assert store.batches == [[3, 4, 5, 6, 7]]  # ... while the others gather


async def test_a_failed_batch_fails_only_its_bad_row() -> None:
    store = _Store(bad={4})
    writer = BatchWriter(store.many, store.one)
    head, tasks = await _behind_a_held_row(store, writer, 1, range(2, 7))
    store.gate.set()
    results = await asyncio.gather(head, *tasks, return_exceptions=True)
    assert [type(r).__name__ for r in results] == ["NoneType"] * 3 + ["ValueError"] + [
        "NoneType"] * 2
    assert sorted(store.rows) == [1, 2, 3, 5, 6]


async def test_batches_are_bounded() -> None:
    store = _Store()
    writer = BatchWriter(store.many, store.one, max_batch=3)
    head, tasks = await _behind_a_held_row(store, writer, 0, range(1, 8))
    store.gate.set()
    await asyncio.gather(head, *tasks)
    assert store.batches == [[1, 2, 3], [4, 5, 6]] and store.singles == [0, 7]


async def test_a_caller_that_gives_up_still_gets_its_row_written() -> None:
    store = _Store()
    writer = BatchWriter(store.many, store.one)
    head, (quitter, stayer) = await _behind_a_held_row(store, writer, 1, [2, 3])
    quitter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await quitter
    store.gate.set()
    await asyncio.gather(head, stayer)
    assert sorted(store.rows) == [1, 2, 3]


async def test_a_stopped_writer_fails_its_waiting_callers_instead_of_hanging() -> None:
    store = _Store()
    writer = BatchWriter(store.many, store.one)
    head, waiting = await _behind_a_held_row(store, writer, 1, (2, 3))
    assert writer._writer is not None
    writer._writer.cancel()  # as a shutdown would
    results = await asyncio.wait_for(
        asyncio.gather(head, *waiting, return_exceptions=True), timeout=2)
    assert all(isinstance(r, RuntimeError) for r in results)
    store.gate.set()
    await writer.write(4)  # a new row starts a new writer
    assert store.rows == [4]


async def test_a_writer_cancelled_before_it_ran_fails_its_callers_and_a_new_one_starts() -> None:
    store = _Store()
    idle: list[bool] = []
    writer = BatchWriter(store.many, store.one, on_idle=lambda: idle.append(True))
    first = asyncio.create_task(writer.write(1))
    await asyncio.sleep(0)  # write() ran and created the writer task, which has not run yet
    assert writer._writer is not None
    writer._writer.cancel()
    with pytest.raises(RuntimeError):
        await asyncio.wait_for(first, timeout=2)
    await asyncio.wait_for(writer.write(2), timeout=2)
    assert store.rows == [2] and writer._writer is None and idle


async def test_a_row_queued_as_the_writer_finishes_is_still_written() -> None:
    store = _Store()
    writer = BatchWriter(store.many, store.one)
    await writer.write(1)
    task = writer._writer
    assert task is None or task.done()
    # The writer task has returned but its done-callback may not have run yet.
    await asyncio.wait_for(asyncio.gather(writer.write(2), writer.write(3)), timeout=2)
    assert sorted(store.rows) == [1, 2, 3]


async def test_batches_are_bounded_in_bytes_and_a_large_row_goes_alone() -> None:
    store = _Store()
    sizes = {0: 1, 1: 4, 2: 4, 3: 4, 4: 20, 5: 1, 6: 1}
    writer = BatchWriter(store.many, store.one, size=sizes.__getitem__, max_batch_bytes=10)
    head, tasks = await _behind_a_held_row(store, writer, 0, range(1, 7))
    store.gate.set()
    await asyncio.gather(head, *tasks)
    # 4 + 4 fit in 10 bytes, a third does not; 20 is over the bound on its own.
    assert store.batches == [[1, 2], [5, 6]] and store.singles == [0, 3, 4]
