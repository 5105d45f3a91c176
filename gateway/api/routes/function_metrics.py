"""``GET /api/v1/functions/{ref}/metrics``: a function's invocation statistics.

Counts, rates and durations are aggregated in PostgreSQL from the function's
finished jobs (every replica's); ``concurrency.current`` is this replica's runs in
flight, as ``max_concurrency`` limits each replica.
"""

from __future__ import annotations

import datetime as dt

from starlette.requests import Request
from starlette.responses import Response

from auth.scopes import ADMIN, READ_JOBS
from config import Settings
from gateway.api.context import services_of
from gateway.api.operations import Reply, operation, routes_of
from gateway.api.responses import JSONResponse
from gateway.api.routes._lookup import load_function
from gateway.api.routes._observe import (
    READ_JOBS_NOTE,
    query_time,
    require_read_jobs,
    time_parameter,
)
from gateway.api.security import authenticate
from gateway.core.models import FunctionRecord
from gateway.schemas.base import render
from gateway.schemas.function_metrics import (
    FunctionMetrics,
    FunctionMetricsConcurrency,
    FunctionMetricsDurations,
    FunctionMetricsInvocations,
)
from gateway.store.stats import JobStats, StatsStore

__all__ = ["metrics_view", "routes"]

_DESCRIPTION = READ_JOBS_NOTE + """\
Aggregated in PostgreSQL from the function's finished jobs (`success` or `failed`, \
every replica's, as long as retention keeps them) requested at or after `since` (all \
of them without it).

- `invocations`: finished jobs, cache hits included; `success_rate` = successful / total \
× 100 and `error_rate` = failed / total (both 0 with no invocations).
- `cold_starts`: jobs whose run started a worker; `cache_hits`: jobs answered from the \
result cache (no run).
- `duration` (ms, rounded to µs; `p50`/`p95`/`p99` interpolated with `percentile_cont`), \
`avg_execution_time` (= `duration.avg`), `cpu_usage` (mean CPU ms per run, user + system, \
measured by the worker with `getrusage` / `process.cpuUsage`) and `memory_usage` (the \
highest peak RSS in bytes a worker reported) cover the jobs that ran — cache hits did \
not; null when none ran.
- `concurrency`: `current` runs in flight on the replica that answers, `max` the \
function's `max_concurrency` (a per-replica limit).
- `gb_seconds` = Σ duration (s) × `memory_mb` / 1024 (the function's current \
`memory_mb`); `cost_estimate` (US dollars) = `gb_seconds` × `FNGATE_PRICE_PER_GB_S` + the \
runs × `FNGATE_PRICE_PER_REQUEST` (cache hits cost nothing).
- `since`: the window's start as applied, or null."""


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


@operation(
    "GET", "/api/v1/functions/{ref}/metrics", operation_id="getFunctionMetrics",
    tag="observability", summary="A function's invocation statistics",
    description=_DESCRIPTION, scopes=[READ_JOBS, ADMIN], errors=[400, 404],
    parameters=["ref", time_parameter("since", "Only jobs requested at or after this time.")],
    replies={200: Reply("The statistics.", FunctionMetrics)},
)
async def function_metrics(request: Request) -> Response:
    principal = await authenticate(request)
    require_read_jobs(principal, "metrics")
    services = services_of(request)
    function = await load_function(services, request.path_params["ref"])
    since = query_time(request, "since")
    stats = await StatsStore(services.pool).job_stats(function.id, since=since)
    metrics = metrics_view(stats, function, services.settings, since=since,
                           current=services.dispatcher.gates.current(function.id))
    return JSONResponse(render(metrics))


routes = routes_of(function_metrics)
