"""``/api/v1/provider/*``: what this gateway offers and whether it can serve, for
platforms that schedule work onto several serverless providers. Any valid token."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.api import probes
from gateway.api.context import services_of
from gateway.api.responses import JSONResponse
from gateway.api.security import authenticate
from gateway.core.errors import Unavailable
from gateway.core.version import VERSION

__all__ = ["routes"]

# The trigger types of the triggers API; ``queue`` only with a broker configured.
_TRIGGER_TYPES = ("http", "cron")


async def capabilities(request: Request) -> Response:
    """Runtimes found on this machine, the trigger types it can run, its configured caps."""
    await authenticate(request)
    services = services_of(request)
    settings = services.settings
    runtimes = [rt for rt, found in services.pools.available_runtimes().items() if found]
    triggers = [*_TRIGGER_TYPES, *(("queue",) if settings.amqp_url else ())]
    return JSONResponse({
        "name": "fngate",
        "version": VERSION,
        "supported_runtimes": runtimes,
        "supported_trigger_types": triggers,
        "supports_async": True,
        "supports_versioning": True,
        "isolation": services.pools.sandbox.isolation,
        "network_policies": services.pools.network_policies(),
        "max_timeout_ms": settings.max_timeout_ms,
        "max_memory_mb": settings.max_memory_mb,
        "max_payload_bytes": settings.max_body_bytes,
        "typical_cold_start_ms": services.metrics.typical_cold_start_ms(),
    })


async def provider_health(request: Request) -> Response:
    """``healthy``, or 503 ``UNAVAILABLE`` naming the database or enabled runtime that is down."""
    await authenticate(request)
    components = await probes.check_components(services_of(request))
    down = [name for name in components.down()
            if name in ("database", "sandbox") or name.startswith("runtimes.")]
    if down:
        raise Unavailable(f"this gateway cannot serve: {', '.join(down)} down",
                          details={"down": down, "components": components.to_api()})
    return JSONResponse({"status": "healthy"})


routes = [
    Route("/api/v1/provider/capabilities", capabilities, methods=["GET"]),
    Route("/api/v1/provider/health", provider_health, methods=["GET"]),
]
