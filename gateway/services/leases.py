"""Keeps this replica's job leases alive with a periodic heartbeat, and notices the
ones it lost.

A lease is lost when the heartbeat no longer finds its token on a running job: the
lease ran out and was reaped, and another runner may have claimed the job since. Such
a run is told (``on_lost``) so it stops; what it would write matches on the token and
is refused anyway, so the runner that took over keeps its outcome.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

from gateway.store.jobs import JobStore

__all__ = ["LeaseKeeper", "LeaseLost", "LeaseWatch"]

logger = logging.getLogger("fngate.leases")


class LeaseLost(Exception):
    """The run's lease was lost while it ran: the run was cancelled here."""


@dataclass(slots=True)
class _Lease:
    on_lost: Callable[[], None] | None
    settling: bool = False  # the run is over and its outcome is being written


class LeaseKeeper:
    """The lease tokens this replica holds, renewed every ``heartbeat_s`` for ``lease_s``."""

    def __init__(self, jobs: JobStore, *, lease_s: float, heartbeat_s: float) -> None:
        self._jobs = jobs
        self.lease_s = lease_s
        self.heartbeat_s = heartbeat_s
        self._leases: dict[str, _Lease] = {}
        self.paused = False  # tests simulate a dead replica by pausing renewals

    def hold(self, token: str, on_lost: Callable[[], None] | None = None) -> None:
        """Renew ``token`` from now on; ``on_lost`` is called (once) if the heartbeat
        finds the lease gone while the run still holds it and is not settling."""
        self._leases[token] = _Lease(on_lost)

    def watch(self, token: str) -> LeaseWatch:
        """While the block runs, a loss of ``token``'s lease cancels it and comes out as
        :class:`LeaseLost` (the lease must be held: see :class:`LeaseWatch`)."""
        return LeaseWatch(self, token)

    def drop(self, token: str) -> None:
        self._leases.pop(token, None)

    def settle(self, token: str) -> None:
        """Say that the run under ``token`` is over and its outcome is being written.

        From here the run is neither stopped when its lease is lost (its write is refused
        by the token) nor handed back at shutdown (that would race the write).
        """
        lease = self._leases.get(token)
        if lease is not None:
            lease.settling = True

    def is_settling(self, token: str) -> bool:
        lease = self._leases.get(token)
        return lease is not None and lease.settling

    @property
    def held(self) -> int:
        return len(self._leases)

    async def run(self) -> None:
        """Renew every held lease until cancelled."""
        while True:
            await asyncio.sleep(self.heartbeat_s)
            if self.paused or not self._leases:
                continue
            await self.beat()

    async def beat(self) -> None:
        """Renew the held leases once, and stop the runs whose lease is gone."""
        tokens = list(self._leases)
        try:
            kept = await self._jobs.heartbeat(tokens, self.lease_s)
        except Exception as exc:  # network or asyncpg errors: the next beat may pass
            logger.warning("lease heartbeat failed", extra={"error": repr(exc)})
            return
        for token in tokens:
            lease = self._leases.get(token)
            # Gone from the map: the run ended meanwhile. Settling: its own write may be
            # what cleared the token, and a write of a lost lease is refused anyway.
            if token in kept or lease is None or lease.settling:
                continue
            del self._leases[token]
            if lease.on_lost is not None:
                lease.on_lost()  # says so itself, naming its job
            else:
                logger.warning("lease lost; the run's outcome will be discarded",
                               extra={"lease_token": token})


class LeaseWatch:
    """Cancels the task running a ``with`` block when the heartbeat finds its lease lost,
    and turns that cancellation into :class:`LeaseLost` on the way out.

    Whoever took the lease holds and drops it; the watch only puts its own ``on_lost`` on
    the held lease for the block, and the previous one back after it. A lease already
    gone when the block starts is lost at once. A cancellation from elsewhere (shutdown,
    a client that went away) stays a cancellation, as ``asyncio.timeout`` tells its own
    apart with ``uncancel``.
    """

    __slots__ = ("_keeper", "_token", "_task", "_previous", "_lost", "_active")

    def __init__(self, keeper: LeaseKeeper, token: str) -> None:
        self._keeper = keeper
        self._token = token
        self._task: asyncio.Task[object] | None = None
        self._previous: Callable[[], None] | None = None
        self._lost = False
        self._active = False

    def __enter__(self) -> LeaseWatch:
        lease = self._keeper._leases.get(self._token)
        if lease is None:
            raise LeaseLost(f"lease {self._token} is no longer held")
        self._task = asyncio.current_task()
        self._previous, lease.on_lost = lease.on_lost, self._lose
        self._active = True
        return self

    def _lose(self) -> None:
        if self._active and not self._lost and self._task is not None:
            self._lost = True
            self._task.cancel()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._active = False
        lease = self._keeper._leases.get(self._token)
        if lease is not None and lease.on_lost == self._lose:
            lease.on_lost = self._previous
        if not self._lost:
            return
        assert self._task is not None
        # Ours alone: the block saw the cancel (or ended as it came) and no one else
        # cancelled the task meanwhile.
        if self._task.uncancel() == 0 and exc_type in (None, asyncio.CancelledError):
            raise LeaseLost(f"lease {self._token} was lost while its run ran") from exc
