"""HTTP routes, one module per resource."""

from __future__ import annotations

from starlette.routing import BaseRoute

__all__ = ["all_routes"]


def all_routes() -> list[BaseRoute]:
    """Every route of the gateway, in matching order."""
    from gateway.routes import (
        functions,
        health,
        invoke,
        jobs,
        metrics,
        openapi,
        provider,
        sessions,
        triggers,
    )
    from triggers import http

    return [
        *health.routes, *metrics.routes, *openapi.routes, *provider.routes, *functions.routes,
        *invoke.routes, *jobs.routes, *sessions.routes, *triggers.routes, *http.routes,
    ]
