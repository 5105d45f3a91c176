"""``GET /api/v1/functions/{ref}/metrics``: a function's invocation statistics
(:mod:`gateway.services.function_stats` computes them)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from auth.scopes import ADMIN, READ_JOBS
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
from gateway.schemas.function_metrics import FunctionMetrics

__all__ = ["routes"]

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


@operation(
    "GET", "/api/v1/functions/{ref}/metrics", operation_id="getFunctionMetrics",
    tag="observability", summary="A function's invocation statistics",
    description=_DESCRIPTION, scopes=[READ_JOBS, ADMIN], errors=[400, 404],
    parameters=["ref", time_parameter("since", "Only jobs requested at or after this time.")],
    replies={200: Reply("The statistics.", FunctionMetrics)},
)
async def function_metrics(request: Request) -> Response:
    principal = await authenticate(request)
    require_read_jobs(principal, "metrics", somewhere=True)
    services = services_of(request)
    function = await load_function(services, request.path_params["ref"], principal)
    require_read_jobs(principal, "metrics", function.project)
    metrics = await services.function_stats.metrics(function,
                                                    since=query_time(request, "since"))
    return JSONResponse(metrics)


routes = routes_of(function_metrics)
