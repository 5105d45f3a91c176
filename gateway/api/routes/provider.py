"""``/api/v1/provider/*``: what this gateway offers and whether it can serve, for
platforms that schedule work onto several serverless providers. Any valid token."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from gateway.api import probes
from gateway.api.context import Services, services_of
from gateway.api.operations import Reply, operation, routes_of
from gateway.api.responses import JSONResponse
from gateway.api.security import authenticate
from gateway.core.errors import Unavailable
from gateway.core.version import VERSION
from gateway.schemas.base import render
from gateway.schemas.provider import Capabilities, ProviderHealth

__all__ = ["capabilities_of", "routes", "serving_problem"]

# The trigger types of the triggers API; ``queue`` only with a broker configured.
_TRIGGER_TYPES = ("http", "cron")


@operation(
    "GET", "/api/v1/provider/capabilities", operation_id="getProviderCapabilities",
    tag="provider", summary="What this gateway offers",
    description="Needs any valid token. Runtimes found on this machine, trigger types it can "
                "run (`queue` only with a broker), its configured caps and the median of its "
                "recent cold starts.",
    scopes=[], replies={200: Reply("The capabilities.", Capabilities)},
)
async def capabilities(request: Request) -> Response:
    """Runtimes found on this machine, the trigger types it can run, its configured caps."""
    await authenticate(request)
    return JSONResponse(capabilities_of(services_of(request)))


def capabilities_of(services: Services) -> Capabilities:
    """What this replica offers (the native answer; the dialects translate it)."""
    settings = services.settings
    runtimes = [rt for rt, found in services.pools.available_runtimes().items() if found]
    triggers = [*_TRIGGER_TYPES, *(("queue",) if settings.amqp_url else ())]
    return Capabilities(
        name="fngate",
        version=VERSION,
        supported_runtimes=runtimes,
        supported_trigger_types=triggers,
        supports_async=True,
        supports_versioning=True,
        isolation=services.pools.sandbox.isolation,
        network_policies=services.pools.network_policies(),
        max_timeout_ms=settings.max_timeout_ms,
        max_memory_mb=settings.max_memory_mb,
        max_payload_bytes=settings.max_body_bytes,
        typical_cold_start_ms=services.metrics.typical_cold_start_ms(),
    )


@operation(
    "GET", "/api/v1/provider/health", operation_id="getProviderHealth", tag="provider",
    summary="Whether this gateway can serve",
    description="Needs any valid token. 503 `UNAVAILABLE` when the database or a runtime "
                "installed here is down (`details.down` names them, e.g. `[\"database\"]` or "
                "`[\"runtimes.nodejs\"]`; `details.components` is the `components` object of "
                "`/health`). A broker, scheduler or rate limiter that is down does not make it "
                "unhealthy.",
    scopes=[], errors=[503],
    replies={200: Reply("`{\"status\": \"healthy\"}`.", ProviderHealth)},
)
async def provider_health(request: Request) -> Response:
    """``healthy``, or 503 ``UNAVAILABLE`` naming the database or enabled runtime that is down."""
    await authenticate(request)
    problem = await serving_problem(services_of(request))
    if problem is not None:
        raise problem
    return JSONResponse(ProviderHealth(status="healthy"))


async def serving_problem(services: Services) -> Unavailable | None:
    """Why this replica cannot serve (the database, the sandbox or an enabled runtime is
    down), or None."""
    components = await probes.check_components(services)
    down = [name for name in components.down()
            if name in ("database", "sandbox") or name.startswith("runtimes.")]
    if not down:
        return None
    return Unavailable(f"this gateway cannot serve: {', '.join(down)} down",
                       details={"down": down, "components": render(components.view())})


routes = routes_of(capabilities, provider_health)
