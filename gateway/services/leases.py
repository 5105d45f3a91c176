"""Keeps this replica's job leases alive with a periodic heartbeat."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from gateway.store.jobs import JobStore

__all__ = ["LeaseKeeper"]

logger = logging.getLogger("fngate.leases")


@dataclass(slots=True)
class _Lease:
    settling: bool = False  # the run is over and its outcome is being written


class LeaseKeeper:
    """The lease tokens this replica holds, renewed every ``heartbeat_s`` for ``lease_s``."""

    def __init__(self, jobs: JobStore, *, lease_s: float, heartbeat_s: float) -> None:
        self._jobs = jobs
        self.lease_s = lease_s
        self.heartbeat_s = heartbeat_s
        self._leases: dict[str, _Lease] = {}
        self.paused = False  # tests simulate a dead replica by pausing renewals

    def hold(self, token: str) -> None:
        self._leases[token] = _Lease()

    def drop(self, token: str) -> None:
        self._leases.pop(token, None)

    def settle(self, token: str) -> None:
        """Say that the run under ``token`` is over and its outcome is being written.

        From here the run is not handed back at shutdown (that would race the write).
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
            try:
                await self._jobs.heartbeat(list(self._leases), self.lease_s)
            except Exception as exc:  # network or asyncpg errors: the next beat may pass
                logger.warning("lease heartbeat failed", extra={"error": repr(exc)})
