"""Keeps this replica's job leases alive with a periodic heartbeat."""

from __future__ import annotations

import asyncio
import logging

from gateway.store.jobs import JobStore

__all__ = ["LeaseKeeper"]

logger = logging.getLogger("fngate.leases")


class LeaseKeeper:
    """The lease tokens this replica holds, renewed every ``heartbeat_s`` for ``lease_s``."""

    def __init__(self, jobs: JobStore, *, lease_s: float, heartbeat_s: float) -> None:
        self._jobs = jobs
        self.lease_s = lease_s
        self.heartbeat_s = heartbeat_s
        self._tokens: set[str] = set()
        self.paused = False  # tests simulate a dead replica by pausing renewals

    def hold(self, token: str) -> None:
        self._tokens.add(token)

    def drop(self, token: str) -> None:
        self._tokens.discard(token)

    @property
    def held(self) -> int:
        return len(self._tokens)

    async def run(self) -> None:
        """Renew every held lease until cancelled."""
        while True:
            await asyncio.sleep(self.heartbeat_s)
            if self.paused or not self._tokens:
                continue
            try:
                await self._jobs.heartbeat(list(self._tokens), self.lease_s)
            except Exception as exc:  # network or asyncpg errors: the next beat may pass
                logger.warning("lease heartbeat failed", extra={"error": repr(exc)})
