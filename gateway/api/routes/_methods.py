"""One route per path with several methods, so a 405 lists every allowed method."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

__all__ = ["methods_route"]

Endpoint = Callable[[Request], Awaitable[Response]]


def methods_route(path: str, endpoints: dict[str, Endpoint]) -> Route:
    """A :class:`Route` at ``path`` that calls the endpoint of the request's method."""
    table = dict(endpoints)
    if "GET" in table:
        table.setdefault("HEAD", table["GET"])

    async def endpoint(request: Request) -> Response:
        return await table[request.method](request)

    endpoint.__name__ = "_".join(e.__name__ for e in endpoints.values())
    return Route(path, endpoint, methods=list(endpoints))
