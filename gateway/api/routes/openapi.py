"""``/openapi.json``: the OpenAPI 3.1 document of this gateway, unauthenticated."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from gateway.api.operations import Reply, operation, routes_of
from gateway.api.responses import JSONResponse
from gateway.schemas.openapi import OpenAPIDocument

__all__ = ["routes", "openapi_json"]


@operation(
    "GET", "/openapi.json", operation_id="getOpenAPI", tag="operations",
    summary="This document", description="Unauthenticated.", scopes=None,
    replies={200: Reply("The OpenAPI 3.1 document.", OpenAPIDocument)},
)
async def openapi_json(request: Request) -> Response:
    """The document of the app's routes (``app.state.openapi`` builds it on first use,
    once per process)."""
    # Served as built: wrapping it in its model would copy the whole document per request.
    return JSONResponse(request.app.state.openapi())


routes = routes_of(openapi_json)
