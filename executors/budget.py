"""The worker budget: at most ``limit`` live worker processes per gateway replica.

Every worker (generic pre-started, warm, busy, starting) holds one slot from the moment
its spawn begins until its process is reaped. A call that needs a new worker while all
slots are held waits here, first come first served, for one of two things: a slot (a
worker exited: evicted, reaped, retired, crashed) or a worker of its own function handed
over as its previous call ends. Waiting is bounded by the caller; past it the call gets
:class:`CapacityExhausted`, which the dispatcher answers as ``CONCURRENCY_LIMIT``.

A runtime may also have a share (``FNGATE_MAX_WORKERS_PER_RUNTIME``): at most that many of
the slots hold its workers. A call of a runtime at its share waits like one at the cap,
but only a worker of its own runtime ending makes room for it, and it holds up no call of
another runtime meanwhile.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

__all__ = ["BuildQueued", "CapacityExhausted", "RuntimeCapacity", "WorkerBudget",
           "WorkerCapacity"]

W = TypeVar("W")

# A worker of a waiter's own function goes to that waiter (no cold start) unless the
# oldest waiter of another function has waited this long: then the worker is ended so
# its slot goes to that one, and no function's stream of calls starves another's.
HANDOFF_PATIENCE_S = 1.0


class CapacityExhausted(Exception):
    """No worker could be had within the wait the caller allowed: the gateway is at its cap."""


class BuildQueued(CapacityExhausted):
    """What a call needed built (a replica rebuilding a version's dependencies or binary it
    has no copy of) got no slot of the budget within the call's wait. The build stays
    queued and runs when a slot comes free; a later call finds it built."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RuntimeCapacity:
    """One runtime's part of the budget."""

    max: int | None  # its share (FNGATE_MAX_WORKERS_PER_RUNTIME); None: only the cap
    live: int  # its workers alive or starting
    waiting: int  # its calls waiting for a worker
    idle: int = 0  # of its live workers, those waiting for a call (filled in by the pools)


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerCapacity:
    """The budget as ``/status`` shows it."""

    max: int  # the cap (FNGATE_MAX_WORKERS, or derived)
    live: int  # workers alive or starting
    waiting: int  # calls waiting for one
    # Per runtime that has a share, a worker or a waiting call.
    runtimes: Mapping[str, RuntimeCapacity] = field(default_factory=dict)


@dataclass(slots=True, eq=False)
class _Waiter(Generic[W]):
    key: str
    runtime: str
    future: asyncio.Future[W | None]
    since: float = field(default_factory=time.monotonic)


class WorkerBudget(Generic[W]):
    """Slots for worker processes, and the calls waiting for one (oldest first).

    ``unclaimed`` takes back a worker handed to a waiter that gave up (cancelled) before
    it could use it. Slots are counted per runtime (``""`` where the caller names none);
    ``shares`` caps a runtime's count below ``limit``.
    """

    def __init__(self, limit: int, *, unclaimed: Callable[[W], None],
                 shares: Mapping[str, int] | None = None) -> None:
        self.limit = max(1, limit)
        self.shares = dict(shares or {})
        self.live = 0  # slots held: workers alive or starting
        self._live_by: dict[str, int] = {}
        self._unclaimed = unclaimed
        self._waiters: deque[_Waiter[W]] = deque()

    @property
    def waiting(self) -> int:
        """Calls waiting for a worker."""
        return len(self._waiters)

    def capacity(self) -> WorkerCapacity:
        """The cap, the slots held and the calls waiting, now (per runtime too)."""
        waiting: dict[str, int] = {}
        for waiter in self._waiters:
            waiting[waiter.runtime] = waiting.get(waiter.runtime, 0) + 1
        names = sorted((set(self.shares) | set(self._live_by) | set(waiting)) - {""})
        return WorkerCapacity(max=self.limit, live=self.live, waiting=len(self._waiters),
                              runtimes={rt: RuntimeCapacity(max=self.shares.get(rt),
                                                            live=self._live_by.get(rt, 0),
                                                            waiting=waiting.get(rt, 0))
                                        for rt in names})

    def at_share(self, runtime: str) -> bool:
        """Whether ``runtime`` holds its whole share (only its own workers make room)."""
        share = self.shares.get(runtime)
        return share is not None and self._live_by.get(runtime, 0) >= share

    def waiting_for(self, runtime: str) -> int:
        """Calls a slot freed by a worker of ``runtime`` could go to."""
        return sum(1 for w in self._waiters
                   if w.runtime == runtime or not self.at_share(w.runtime))

    def try_take(self, runtime: str = "") -> bool:
        """Take a free slot for a worker of ``runtime`` now, unless the budget or the
        runtime's share is full, or calls that could use the slot already wait for one."""
        if self._fits(runtime) and not any(self._fits(w.runtime) for w in self._waiters):
            self._take(runtime)
            return True
        return False

    async def wait(self, key: str, timeout_s: float | None, runtime: str = "") -> W | None:
        """Wait for a slot (returns None: the caller now holds it) or a worker of ``key``
        handed over (returned, its slot with it); :class:`CapacityExhausted` after
        ``timeout_s`` (None: as long as it takes)."""
        if self.try_take(runtime):
            return None
        waiter: _Waiter[W] = _Waiter(key, runtime, asyncio.get_running_loop().create_future())
        self._waiters.append(waiter)
        try:
            await asyncio.wait((waiter.future,), timeout=timeout_s)
        except asyncio.CancelledError:
            self._abandon(waiter)
            raise
        if waiter.future.done():
            return waiter.future.result()
        self._abandon(waiter)
        if self.at_share(runtime):
            raise CapacityExhausted(
                f"all {self.shares[runtime]} {runtime} worker processes of this gateway are"
                f" busy (its share of FNGATE_MAX_WORKERS; waited {timeout_s:.1f} s for one)")
        raise CapacityExhausted(
            f"all {self.limit} worker processes of this gateway are busy"
            f" (waited {timeout_s:.1f} s for one)")

    def release(self, runtime: str = "") -> None:
        """A worker of ``runtime`` is gone: its slot goes to the oldest waiter that can
        use it, or is freed."""
        self.live = max(0, self.live - 1)
        left = self._live_by.get(runtime, 0) - 1
        if left > 0:
            self._live_by[runtime] = left
        else:
            self._live_by.pop(runtime, None)
        for waiter in list(self._waiters):
            if waiter.future.done():
                self._waiters.remove(waiter)
            elif self._fits(waiter.runtime):
                self._waiters.remove(waiter)
                self._take(waiter.runtime)
                waiter.future.set_result(None)
                return

    def _fits(self, runtime: str) -> bool:
        return self.live < self.limit and not self.at_share(runtime)

    def _take(self, runtime: str) -> None:
        self.live += 1
        self._live_by[runtime] = self._live_by.get(runtime, 0) + 1

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
                self.release(waiter.runtime)
            else:
                self._unclaimed(handed)
            return
        waiter.future.cancel()
        try:
            self._waiters.remove(waiter)
        except ValueError:
            pass
