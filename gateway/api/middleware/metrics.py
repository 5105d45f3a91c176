"""HTTP request metrics, labelled with the matched route's template (never the raw path)."""

from __future__ import annotations

import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.api.route_groups import matched_route
from gateway.services.metrics import UNMATCHED_ROUTE, GatewayMetrics

__all__ = ["MetricsMiddleware", "route_template"]


def route_template(scope: Scope) -> str:
    """The template of the route that served (or would serve) this request.

    The router leaves the route it chose in ``scope["route"]`` (a group's own route, not
    the group); for a request answered before routing (a 429 of the rate limiter, a 413,
    a CORS preflight) or by no route, it is :func:`matched_route`'s — the rate limiter's
    match when it made one. A path no route matches gets :data:`UNMATCHED_ROUTE`.
    """
    route: Any = scope.get("route") or matched_route(scope).route
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else UNMATCHED_ROUTE


class MetricsMiddleware:
    """Count every HTTP request and time it until its response has been sent."""

    def __init__(self, app: ASGIApp, *, metrics: GatewayMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        # An exception that escapes every handler becomes a 500 further out.
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            self.metrics.observe_http(route_template(scope), scope["method"], status,
                                      time.perf_counter() - started)
