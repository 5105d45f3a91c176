"""``/health``, ``/ready`` and ``/status``: unauthenticated operator views."""

from __future__ import annotations

import os
import time

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.api import probes
from gateway.api.context import services_of
from gateway.api.responses import JSONResponse
from gateway.core.version import VERSION

__all__ = ["routes"]


async def health(request: Request) -> Response:
    """Component states; 503 only when the gateway cannot work at all (no database)."""
    components = await probes.check_components(services_of(request))
    status = components.overall
    services = services_of(request)
    body = {"status": status, "version": VERSION, "components": components.to_api(),
            "isolation": services.pools.sandbox.isolation,
            "sandbox": services.pools.sandbox_status()}
    return JSONResponse(body, status_code=503 if status == "down" else 200)


async def ready(request: Request) -> Response:
    if await probes.ready(services_of(request)):
        return JSONResponse({"status": "ready"})
    return JSONResponse({"status": "not_ready"}, status_code=503)


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


async def status(request: Request) -> Response:
    services = services_of(request)
    functions, projects = await services.functions.totals()
    return JSONResponse({
        "status": "running",
        "isolation": services.pools.sandbox.isolation,
        "uptime_seconds": max(0, int(time.time() - services.started_at)),
        "active_projects": projects,
        "total_functions": functions,
        "warm_workers": sum(services.pools.warm_worker_count().values()),
        "memory_usage_bytes": _rss_bytes(),
    })


routes = [
    Route("/health", health, methods=["GET"]),
    Route("/ready", ready, methods=["GET"]),
    Route("/status", status, methods=["GET"]),
]
