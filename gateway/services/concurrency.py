"""Per-function concurrency gates that hand out slots in strict FIFO order.

A waiter gets a future of its own and a released slot passes straight to the
oldest waiter, so newcomers never overtake (an ``asyncio.Queue`` or
``Semaphore`` lets them, which showed as 1 s p99 tails here).
"""

from __future__ import annotations

import asyncio
import functools
from collections import deque
from collections.abc import Callable, Hashable
from typing import TypeVar

__all__ = ["ConcurrencyGates", "Gate", "GateFull"]

_K = TypeVar("_K", bound=Hashable)


class GateFull(Exception):
    """No slot within the wait limit (too many waiters, or waited too long)."""


class Gate:
    """At most ``capacity`` holders at once; the rest wait first come, first served."""

    def __init__(self, capacity: int, on_free: Callable[[Gate], None] | None = None) -> None:
        self.capacity = max(1, capacity)
        self.active = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._on_free = on_free

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    def resize(self, capacity: int) -> None:
        self.capacity = max(1, capacity)
        while self._waiters and self.active < self.capacity:
            fut = self._waiters.popleft()
            if not fut.done():
                self.active += 1
                fut.set_result(None)

    def try_acquire(self) -> bool:
        """Take a free slot at once if there is one and nobody waits for it."""
        if self.active < self.capacity and not self._waiters:
            self.active += 1
            return True
        return False

    async def acquire(
        self, *, max_waiters: int | None = None, timeout_s: float | None = None
    ) -> None:
        """Take a slot; raise :class:`GateFull` if the queue is full or ``timeout_s`` passes."""
        if self.active < self.capacity and not self._waiters:
            self.active += 1
            return
        if max_waiters is not None and len(self._waiters) >= max_waiters:
            raise GateFull(f"{len(self._waiters)} callers already waiting")
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            await asyncio.wait((fut,), timeout=timeout_s)
        except asyncio.CancelledError:
            self._abandon(fut)
            raise
        if fut.done():
            return
        self._abandon(fut)
        raise GateFull(f"no slot within {timeout_s:.3f} s")

    def _abandon(self, fut: asyncio.Future[None]) -> None:
        if fut.done() and not fut.cancelled():
            # The slot was handed over just as we gave up: pass it on.
            self.release()
            return
        fut.cancel()
        try:
            self._waiters.remove(fut)
        except ValueError:
            pass

    def release(self) -> None:
        """Give the slot to the oldest waiter, or free it."""
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(None)  # the slot moves over; ``active`` is unchanged
                return
        self.active -= 1
        if self._on_free is not None:
            self._on_free(self)


class ConcurrencyGates:
    """One :class:`Gate` per function id, resized to its current ``max_concurrency``, and
    one per project with a ``max_concurrency`` quota (taken after the function's)."""

    def __init__(self) -> None:
        self._gates: dict[int, Gate] = {}
        self._projects: dict[str, Gate] = {}
        self._listeners: list[Callable[[int, Gate], None]] = []

    def on_free(self, callback: Callable[[int, Gate], None]) -> None:
        """Call ``callback(function_id, gate)`` whenever a slot of a function's gate falls
        free (no one waited for it). Project quotas tell no one: claims ignore them."""
        self._listeners.append(callback)

    def gate(self, function_id: int, capacity: int) -> Gate:
        """The gate of ``function_id``, resized to ``capacity`` (its ``max_concurrency``);
        its frees are told to the listeners."""
        return self._gate(self._gates, function_id, capacity, self._freed)

    def project_gate(self, project: str, capacity: int) -> Gate:
        """The gate of ``project``'s concurrency quota, resized to ``capacity``. Dropped
        whenever its last slot falls free (projects come and go; made again on use)."""
        return self._gate(self._projects, project, capacity, self._idle)

    def _idle(self, project: str, gate: Gate) -> None:
        if gate.active == 0 and not gate.waiting and self._projects.get(project) is gate:
            del self._projects[project]

    def _freed(self, function_id: int, gate: Gate) -> None:
        for callback in self._listeners:
            callback(function_id, gate)

    @staticmethod
    def _gate(table: dict[_K, Gate], key: _K, capacity: int,
              on_free: Callable[[_K, Gate], None]) -> Gate:
        """``table``'s gate for ``key``: made on first use (``on_free(key, gate)`` told of
        its frees), resized when ``capacity`` changed (a larger one lets waiters in at
        once)."""
        gate = table.get(key)
        if gate is None:
            gate = table[key] = Gate(capacity, functools.partial(on_free, key))
        elif gate.capacity != capacity:
            gate.resize(capacity)
        return gate

    def project_current(self, project: str) -> int:
        """The slots of ``project``'s quota held on this replica."""
        gate = self._projects.get(project)
        return 0 if gate is None else gate.active

    def in_use(self) -> dict[int, int]:
        """Per function id, the slots held plus those waited for (gates in use only)."""
        return {function_id: gate.active + gate.waiting
                for function_id, gate in self._gates.items() if gate.active or gate.waiting}

    def current(self, function_id: int) -> int:
        gate = self._gates.get(function_id)
        return 0 if gate is None else gate.active

    def function_ids(self) -> set[int]:
        """Functions that have a gate here."""
        return set(self._gates)

    def forget(self, function_id: int) -> None:
        """Drop the gate of ``function_id`` unless a call holds or waits for a slot."""
        gate = self._gates.get(function_id)
        if gate is not None and gate.active == 0 and gate.waiting == 0:
            del self._gates[function_id]
