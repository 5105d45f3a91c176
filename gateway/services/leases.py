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

from gateway.store.jobs import JobStore

__all__ = ["LeaseKeeper"]

logger = logging.getLogger("fngate.leases")


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
