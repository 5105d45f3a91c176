"""``GET /api/v1/functions/{ref}/metrics``: a function's invocation statistics.

Counts, rates and durations are aggregated in PostgreSQL from the function's
finished jobs (every replica's); ``concurrency.current`` is this replica's runs in
flight, as ``max_concurrency`` limits each replica.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from config import Settings
from gateway.api.context import services_of
from gateway.api.responses import JSONResponse
from gateway.api.routes._lookup import load_function
from gateway.api.routes._observe import query_time, require_read_jobs
from gateway.api.security import authenticate
from gateway.core.jsoncodec import isoformat
from gateway.core.models import FunctionRecord
from gateway.store.stats import JobStats, StatsStore

__all__ = ["routes", "render_metrics"]


def _ms(value: float | None) -> float | None:
    return None if value is None else round(float(value), 3)


def render_metrics(stats: JobStats, function: FunctionRecord, settings: Settings, *,
                   current: int) -> dict[str, Any]:
    """The API's metrics body from the aggregates (pure; rates are 0 with no invocations)."""
    total = stats.total
    gb_seconds = stats.duration_sum_ms / 1000 * function.memory_mb / 1024
    return {
        "invocations": {"total": total, "successful": stats.successful, "failed": stats.failed},
        "success_rate": stats.successful / total * 100 if total else 0.0,
        "error_rate": stats.failed / total if total else 0.0,
        "cold_starts": stats.cold_starts,
        "cache_hits": stats.cache_hits,
        "avg_execution_time": _ms(stats.duration_avg),
        "duration": {
            "min": _ms(stats.duration_min), "max": _ms(stats.duration_max),
            "avg": _ms(stats.duration_avg), "p50": _ms(stats.duration_p50),
            "p95": _ms(stats.duration_p95), "p99": _ms(stats.duration_p99),
        },
        "cpu_usage": _ms(stats.cpu_ms_avg),
        "memory_usage": stats.max_rss_bytes,
        "concurrency": {"current": current, "max": function.max_concurrency},
        "gb_seconds": gb_seconds,
        "cost_estimate": gb_seconds * settings.price_per_gb_s
        + stats.ran * settings.price_per_request,
    }


async def function_metrics(request: Request) -> Response:
    principal = await authenticate(request)
    require_read_jobs(principal, "metrics")
    services = services_of(request)
    function = await load_function(services, request.path_params["ref"])
    since = query_time(request, "since")
    stats = await StatsStore(services.pool).job_stats(function.id, since=since)
    body = render_metrics(stats, function, services.settings,
                          current=services.dispatcher.gates.current(function.id))
    body["since"] = isoformat(since)
    return JSONResponse(body)


routes = [Route("/api/v1/functions/{ref}/metrics", function_metrics, methods=["GET"])]
