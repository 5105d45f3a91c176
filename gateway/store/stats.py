"""Per-function invocation statistics, aggregated in PostgreSQL from job records."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

__all__ = ["Activity", "JobStats", "StatsStore"]


@dataclass(frozen=True, slots=True, kw_only=True)
class JobStats:
    """Aggregates over a function's finished jobs.

    Durations, CPU and memory cover the jobs that ran (cache hits did not); the
    counts cover every finished job, cache hits included.
    """

    total: int
    successful: int
    failed: int
    cold_starts: int
    cache_hits: int
    ran: int
    duration_min: float | None
    duration_max: float | None
    duration_avg: float | None
    duration_p50: float | None
    duration_p95: float | None
    duration_p99: float | None
    duration_sum_ms: float
    cpu_ms_avg: float | None
    max_rss_bytes: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Activity:
    """How often a function was asked to run (jobs in any status) and when last."""

    jobs: int
    last_requested_at: dt.datetime | None


_ACTIVITY = """
SELECT function_id, count(*) AS jobs, max(timestamp) AS last_at
FROM jobs WHERE function_id = ANY($1::bigint[]) GROUP BY function_id
"""


# One pass over the function's jobs (index jobs_by_function serves the range).
_STATS = """
SELECT
    count(*) AS total,
    count(*) FILTER (WHERE status = 'success') AS successful,
    count(*) FILTER (WHERE status = 'failed') AS failed,
    count(*) FILTER (WHERE cold_start) AS cold_starts,
    count(*) FILTER (WHERE cached) AS cache_hits,
    count(duration) FILTER (WHERE NOT cached) AS ran,
    min(duration) FILTER (WHERE NOT cached) AS d_min,
    max(duration) FILTER (WHERE NOT cached) AS d_max,
    avg(duration) FILTER (WHERE NOT cached) AS d_avg,
    percentile_cont(ARRAY[0.5, 0.95, 0.99]::double precision[])
        WITHIN GROUP (ORDER BY duration) FILTER (WHERE NOT cached) AS d_pct,
    coalesce(sum(duration) FILTER (WHERE NOT cached), 0) AS d_sum,
    avg(cpu_ms) FILTER (WHERE NOT cached) AS cpu_avg,
    max(max_rss_bytes) FILTER (WHERE NOT cached) AS rss_max
FROM jobs
WHERE function_id = $1 AND status IN ('success', 'failed')
"""


class StatsStore:
    """Reads :class:`JobStats` of a function."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool

    async def job_stats(self, function_id: int, *, since: dt.datetime | None,
                        until: dt.datetime | None = None) -> JobStats:
        """Aggregates over the function's finished jobs requested at or after ``since`` and
        before ``until``."""
        sql, args = _STATS, list[Any]([function_id])
        for bound, op in ((since, ">="), (until, "<")):
            if bound is not None:
                args.append(bound)
                sql += f" AND timestamp {op} ${len(args)}"
        row = await self._pool.fetchrow(sql, *args)
        pct = row["d_pct"] or [None, None, None]
        return JobStats(
            total=row["total"], successful=row["successful"], failed=row["failed"],
            cold_starts=row["cold_starts"], cache_hits=row["cache_hits"], ran=row["ran"],
            duration_min=row["d_min"], duration_max=row["d_max"], duration_avg=row["d_avg"],
            duration_p50=pct[0], duration_p95=pct[1], duration_p99=pct[2],
            duration_sum_ms=float(row["d_sum"]), cpu_ms_avg=row["cpu_avg"],
            max_rss_bytes=row["rss_max"],
        )

    async def activity(self, function_ids: list[int]) -> dict[int, Activity]:
        """Each function's job count and latest request (functions without jobs left out)."""
        rows = await self._pool.fetch(_ACTIVITY, function_ids)
        return {row["function_id"]: Activity(jobs=row["jobs"], last_requested_at=row["last_at"])
                for row in rows}
