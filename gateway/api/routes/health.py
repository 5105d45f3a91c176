"""``/health``, ``/ready`` and ``/status``: unauthenticated operator views."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response

from gateway.api import probes
from gateway.api.context import services_of
from gateway.api.operations import Reply, operation, routes_of
from gateway.api.responses import JSONResponse
from gateway.core.version import VERSION
from gateway.schemas.health import Health, Ready, RuntimeWorkers, SandboxStatus, Status

__all__ = ["routes"]


@operation(
    "GET", "/health", operation_id="getHealth", tag="operations", summary="Component health",
    description="Unauthenticated.", scopes=None,
    replies={200: Reply("`ok` or `degraded`.", Health),
             503: Reply("`down`: the database does not answer.", Health)},
)
async def health(request: Request) -> Response:
    """Component states; 503 only when the gateway cannot work at all (no database)."""
    components = await probes.check_components(services_of(request))
    status = components.overall
    services = services_of(request)
    body = Health(status=status, version=VERSION, components=components.view(),
                  isolation=services.pools.sandbox.isolation,
                  sandbox=SandboxStatus(**services.pools.sandbox_status()))
    return JSONResponse(body, status_code=503 if status == "down" else 200)


@operation(
    "GET", "/ready", operation_id="getReady", tag="operations", summary="Readiness",
    description="Unauthenticated. Ready once the database answers and every migration this "
                "gateway's code ships is applied.",
    scopes=None,
    replies={200: Reply("`{\"status\": \"ready\"}`.", Ready),
             503: Reply("`{\"status\": \"not_ready\"}`.", Ready)},
)
async def ready(request: Request) -> Response:
    if await probes.ready(services_of(request)):
        return JSONResponse(Ready(status="ready"))
    return JSONResponse(Ready(status="not_ready"), status_code=503)


@operation(
    "GET", "/status", operation_id="getStatus", tag="operations", summary="Gateway status",
    description="Unauthenticated.", scopes=None,
    replies={200: Reply("The gateway's counters.", Status)},
)
async def status(request: Request) -> Response:
    services = services_of(request)
    functions, projects = await services.functions.totals()
    capacity = services.pools.worker_capacity()
    return JSONResponse(Status(
        status="running",
        isolation=services.pools.sandbox.isolation,
        uptime_seconds=max(0, int(time.time() - services.started_at)),
        active_projects=projects,
        total_functions=functions,
        warm_workers=sum(services.pools.warm_worker_count().values()),
        live_workers=capacity.live,
        max_workers=capacity.max,
        workers_waiting=capacity.waiting,
        runtime_workers={rt: RuntimeWorkers(max_workers=part.max, live_workers=part.live,
                                             workers_waiting=part.waiting)
                         for rt, part in capacity.runtimes.items()},
        memory_usage_bytes=probes.rss_bytes(),
        dialects=list(services.settings.mounted_dialects),
    ))


routes = routes_of(health, ready, status)
