"""A Prometheus scrape of this replica: what lives in PostgreSQL read first.

Each scrape sets the jobs pending (all replicas') and drops the series of functions that
no longer exist (deleted or renamed through another replica). A database that does not
answer within :data:`REFRESH_TIMEOUT_S` leaves those as they were rather than failing the
scrape.
"""

from __future__ import annotations

import asyncio
import logging

import asyncpg

from gateway.services.metrics import GatewayMetrics
from gateway.store.functions import FunctionStore
from gateway.store.jobs import JobStore

__all__ = ["REFRESH_TIMEOUT_S", "MetricsScrape"]

logger = logging.getLogger("fngate.metrics")

REFRESH_TIMEOUT_S = 2.0


class MetricsScrape:
    """Answers a scrape with ``metrics``, refreshed from ``jobs`` and ``functions``."""

    def __init__(self, *, metrics: GatewayMetrics, jobs: JobStore,
                 functions: FunctionStore) -> None:
        self._metrics = metrics
        self._jobs = jobs
        self._functions = functions

    async def exposition(self) -> bytes:
        """The Prometheus text exposition, after a refresh from the database."""
        await self._refresh()
        return self._metrics.render()

    async def _refresh(self) -> None:
        metrics = self._metrics
        tracked = metrics.function_names()
        try:
            async with asyncio.timeout(REFRESH_TIMEOUT_S):
                pending = await self._jobs.count_pending()
                existing = await self._functions.existing_names(tracked) if tracked \
                    else set()
        except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            logger.warning("metrics refresh from the database failed",
                           extra={"error": repr(exc)})
            return
        metrics.set_jobs_pending(pending)
        # Only names seen before the query: a function created meanwhile keeps its series.
        for name in tracked - existing:
            metrics.forget_function(name)
