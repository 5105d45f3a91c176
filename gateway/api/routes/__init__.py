"""HTTP routes, one module per resource."""

from __future__ import annotations

from starlette.routing import BaseRoute

__all__ = ["all_routes"]


def all_routes() -> list[BaseRoute]:
    """Every route of the gateway, in matching order."""
    from gateway.api.routes import (
        events,
        function_logs,
        function_metrics,
        functions,
        health,
        invoke,
        jobs,
        metrics,
        openapi,
        projects,
        provider,
        secrets,
        sessions,
        triggers,
        versions,
        webhooks,
    )
    from triggers import http

    # Routes are tried in order: the execute class (the hot paths) first. No two routes
    # match the same path and method, so the order changes nothing else.
    return [
        *invoke.routes, *sessions.routes,
        *health.routes, *metrics.routes, *openapi.routes, *provider.routes, *functions.routes,
        *versions.routes, *jobs.routes, *triggers.routes,
        *function_metrics.routes, *function_logs.routes, *events.routes, *webhooks.routes,
        *projects.routes, *secrets.routes,
        *http.routes,
    ]
