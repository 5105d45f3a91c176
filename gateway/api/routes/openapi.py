"""``/openapi.json``: the OpenAPI 3.1 document of this gateway, unauthenticated."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.api.responses import JSONResponse

__all__ = ["routes", "openapi_json"]


async def openapi_json(request: Request) -> Response:
    """The document the app was built with (``app.state.openapi``), written once per
    process from its routes."""
    return JSONResponse(request.app.state.openapi)


routes = [Route("/openapi.json", openapi_json, methods=["GET"])]
