"""``/health``, ``/ready`` and ``/status``: unauthenticated operator views."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.jsonresp import JSONResponse
from gateway.services import Services, services_of
from gateway.version import VERSION

__all__ = ["routes", "database_ok"]


async def database_ok(services: Services, timeout_s: float = 2.0) -> bool:
    try:
        async with asyncio.timeout(timeout_s):
            await services.pool.fetchval("SELECT 1")
    except Exception:
        return False
    return True


async def _tcp_ok(url: str, default_port: int, timeout_s: float = 1.0) -> bool:
    parts = urlsplit(url)
    try:
        async with asyncio.timeout(timeout_s):
            _, writer = await asyncio.open_connection(
                parts.hostname or "127.0.0.1", parts.port or default_port
            )
    except (OSError, TimeoutError):
        return False
    writer.close()
    return True


async def health(request: Request) -> Response:
    services = services_of(request)
    database = "ok" if await database_ok(services) else "down"
    broker = "disabled"
    if services.settings.amqp_url:
        broker = "ok" if await _tcp_ok(services.settings.amqp_url, 5672) else "down"
    runtimes = {name: "ok" if up else "down"
                for name, up in services.pools.available_runtimes().items()}
    components: dict[str, Any] = {
        "database": database,
        "broker": broker,
        "scheduler": services.cron.status(),
        "rate_limiter": services.limiter.status(),
        "runtimes": runtimes,
    }
    if database == "down":
        status = "down"
    elif (broker == "down" or components["rate_limiter"] == "down"
          or components["scheduler"] == "down" or "down" in runtimes.values()):
        status = "degraded"
    else:
        status = "ok"
    body = {"status": status, "version": VERSION, "components": components}
    return JSONResponse(body, status_code=503 if status == "down" else 200)


async def ready(request: Request) -> Response:
    services = services_of(request)
    if services.migrated and await database_ok(services):
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
    row = await services.pool.fetchrow(
        "SELECT count(*) AS functions, count(DISTINCT project) AS projects FROM functions"
    )
    return JSONResponse({
        "status": "running",
        "uptime_seconds": int(time.time() - services.started_at),
        "active_projects": row["projects"],
        "total_functions": row["functions"],
        "warm_workers": sum(services.pools.warm_worker_count().values()),
        "memory_usage_bytes": _rss_bytes(),
    })


routes = [
    Route("/health", health, methods=["GET"]),
    Route("/ready", ready, methods=["GET"]),
    Route("/status", status, methods=["GET"]),
]
