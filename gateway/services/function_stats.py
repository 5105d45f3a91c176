"""A function's invocation statistics: aggregates of its finished jobs (every replica's,
read from PostgreSQL), its runs in flight on this replica, and what they cost."""

from __future__ import annotations

import datetime as dt

from config import Settings
from gateway.core.models import FunctionRecord
from gateway.schemas.function_metrics import (
    FunctionMetrics,
    FunctionMetricsConcurrency,
    FunctionMetricsDurations,
    FunctionMetricsInvocations,
)
from gateway.services.concurrency import ConcurrencyGates
from gateway.store.stats import Activity, JobStats, StatsStore

__all__ = ["Activity", "FunctionStats", "metrics_view"]


def _ms(value: float | None) -> float | None:
    return None if value is None else round(float(value), 3)


def metrics_view(stats: JobStats, function: FunctionRecord, settings: Settings, *,
                 current: int, since: dt.datetime | None) -> FunctionMetrics:
    """The API's metrics from the aggregates (pure; rates are 0 with no invocations)."""
    total = stats.total
    gb_seconds = stats.duration_sum_ms / 1000 * function.memory_mb / 1024
    return FunctionMetrics(
        invocations=FunctionMetricsInvocations(total=total, successful=stats.successful,
                                               failed=stats.failed),
        success_rate=stats.successful / total * 100 if total else 0.0,
        error_rate=stats.failed / total if total else 0.0,
        cold_starts=stats.cold_starts,
        cache_hits=stats.cache_hits,
        avg_execution_time=_ms(stats.duration_avg),
        duration=FunctionMetricsDurations(
            min=_ms(stats.duration_min), max=_ms(stats.duration_max),
            avg=_ms(stats.duration_avg), p50=_ms(stats.duration_p50),
            p95=_ms(stats.duration_p95), p99=_ms(stats.duration_p99),
        ),
        cpu_usage=_ms(stats.cpu_ms_avg),
        memory_usage=stats.max_rss_bytes,
        concurrency=FunctionMetricsConcurrency(current=current, max=function.max_concurrency),
        gb_seconds=gb_seconds,
        cost_estimate=gb_seconds * settings.price_per_gb_s
        + stats.ran * settings.price_per_request,
        since=since,
    )


class FunctionStats:
    """Statistics of functions; prices from ``settings``, runs in flight from ``gates``
    (this replica's, as ``max_concurrency`` limits each replica)."""

    def __init__(self, *, store: StatsStore, gates: ConcurrencyGates,
                 settings: Settings) -> None:
        self._store = store
        self._gates = gates
        self._settings = settings

    async def metrics(self, function: FunctionRecord, *, since: dt.datetime | None,
                      until: dt.datetime | None = None) -> FunctionMetrics:
        """The function's statistics over its jobs requested at or after ``since`` and
        before ``until`` (without bounds: all of them)."""
        stats = await self._store.job_stats(function.id, since=since, until=until)
        return metrics_view(stats, function, self._settings, since=since,
                            current=self._gates.current(function.id))

    async def activity(self, function_ids: list[int]) -> dict[int, Activity]:
        """How many jobs each function has and when it was last asked to run (a function
        without jobs is not in the answer)."""
        return await self._store.activity(function_ids)
