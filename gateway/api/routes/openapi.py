"""``/openapi.json``: the OpenAPI 3.1 document of this gateway, unauthenticated."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.api.openapi import build_openapi
from gateway.api.responses import JSONResponse
from gateway.core.version import VERSION

__all__ = ["routes", "openapi_json"]

_DOCUMENT = build_openapi(VERSION)


async def openapi_json(request: Request) -> Response:
    """The document, built once per process."""
    return JSONResponse(_DOCUMENT)


routes = [Route("/openapi.json", openapi_json, methods=["GET"])]
