"""The worker budget: at most ``limit`` live worker processes per gateway replica.

Every worker (generic pre-started, warm, busy, starting) holds one slot from the moment
its spawn begins until its process is reaped. A call that needs a new worker while all
slots are held waits here, first come first served, for one of two things: a slot (a
worker exited: evicted, reaped, retired, crashed) or a worker of its own function handed
over as its previous call ends. Waiting is bounded by the caller; past it the call gets
:class:`CapacityExhausted`, which the dispatcher answers as ``CONCURRENCY_LIMIT``.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

__all__ = ["CapacityExhausted", "WorkerBudget", "WorkerCapacity"]

W = TypeVar("W")

# A worker of a waiter's own function goes to that waiter (no cold start) unless the
# oldest waiter of another function has waited this long: then the worker is ended so
# its slot goes to that one, and no function's stream of calls starves another's.
HANDOFF_PATIENCE_S = 1.0


class CapacityExhausted(Exception):
    """No worker could be had within the wait the caller allowed: the gateway is at its cap."""


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerCapacity:
    """The budget as ``/status`` shows it."""

    max: int  # the cap (FNGATE_MAX_WORKERS, or derived)
    live: int  # workers alive or starting
    waiting: int  # calls waiting for one


@dataclass(slots=True, eq=False)
class _Waiter(Generic[W]):
    key: str
    future: asyncio.Future[W | None]
    since: float = field(default_factory=time.monotonic)


class WorkerBudget(Generic[W]):
    """Slots for worker processes, and the calls waiting for one (oldest first).

    ``unclaimed`` takes back a worker handed to a waiter that gave up (cancelled) before
    it could use it.
    """

    def __init__(self, limit: int, *, unclaimed: Callable[[W], None]) -> None:
        self.limit = max(1, limit)
        self.live = 0  # slots held: workers alive or starting
        self._unclaimed = unclaimed
        self._waiters: deque[_Waiter[W]] = deque()

    @property
    def waiting(self) -> int:
        """Calls waiting for a worker."""
        return len(self._waiters)

    def capacity(self) -> WorkerCapacity:
        """The cap, the slots held and the calls waiting, now."""
        return WorkerCapacity(max=self.limit, live=self.live, waiting=len(self._waiters))

    def try_take(self) -> bool:
        """Take a free slot now, unless the budget is full or calls already wait for one."""
        if self.live < self.limit and not self._waiters:
            self.live += 1
            return True
        return False

    async def wait(self, key: str, timeout_s: float | None) -> W | None:
        """Wait for a slot (returns None: the caller now holds it) or a worker of ``key``
        handed over (returned, its slot with it); :class:`CapacityExhausted` after
        ``timeout_s`` (None: as long as it takes)."""
        if self.try_take():
            return None
        waiter: _Waiter[W] = _Waiter(key, asyncio.get_running_loop().create_future())
        self._waiters.append(waiter)
        try:
            await asyncio.wait((waiter.future,), timeout=timeout_s)
        except asyncio.CancelledError:
            self._abandon(waiter)
            raise
        if waiter.future.done():
            return waiter.future.result()
        self._abandon(waiter)
        raise CapacityExhausted(
            f"all {self.limit} worker processes of this gateway are busy"
            f" (waited {timeout_s:.1f} s for one)")

    def release(self) -> None:
        """A worker's process is gone: its slot goes to the oldest waiter, or is freed."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.future.done():
                waiter.future.set_result(None)  # the slot moves over; ``live`` is unchanged
                return
        self.live = max(0, self.live - 1)

    def hand_over(self, key: str, worker: W) -> bool:
        """Give an idle ``worker`` of ``key`` to a call waiting for one; False if none
        waits, or if the oldest waiter (of another key) has waited too long for it."""
        oldest = self._waiters[0] if self._waiters else None
        if oldest is None:
            return False
        if oldest.key != key and time.monotonic() - oldest.since >= HANDOFF_PATIENCE_S:
            return False
        for waiter in self._waiters:
            if waiter.key == key and not waiter.future.done():
                self._waiters.remove(waiter)
                waiter.future.set_result(worker)
                return True
        return False

    def _abandon(self, waiter: _Waiter[W]) -> None:
        if waiter.future.done() and not waiter.future.cancelled():
            handed = waiter.future.result()
            # Handed over just as the caller gave up: pass it on.
            if handed is None:
                self.release()
            else:
                self._unclaimed(handed)
            return
        waiter.future.cancel()
        try:
            self._waiters.remove(waiter)
        except ValueError:
            pass
