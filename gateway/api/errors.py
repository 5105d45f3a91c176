"""The one place exceptions become HTTP responses: the API's error body and the app's
exception handlers."""

from __future__ import annotations

import logging
from typing import Any, cast

import asyncpg
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

from gateway.api.responses import JSONResponse
from gateway.core.errors import FngateError, Unavailable
from gateway.schemas.errors import Error, ErrorCode, ErrorObject

__all__ = ["error_body", "error_request_id", "error_response", "exception_handlers",
           "request_id_of"]

logger = logging.getLogger("fngate.errors")


def request_id_of(request: Request) -> str:
    """The request's ``X-Request-ID`` as the request-id middleware chose it."""
    rid = request.scope.get("fngate.request_id")
    return str(rid) if rid else ""


def error_request_id(scope: Scope) -> str:
    """The ``request_id`` of an error body: ``scope["fngate.error_request_id"]`` when set
    (the session id on the session routes), else the request's ``X-Request-ID``."""
    rid = scope.get("fngate.error_request_id") or scope.get("fngate.request_id")
    return str(rid) if rid else ""


def error_body(
    code: str, message: str, details: dict[str, Any] | None, request_id: str
) -> dict[str, Any]:
    """The :class:`~gateway.schemas.errors.Error` body of an error, for the JSON encoder."""
    # Built without validation and dumped in Python mode: an error renders whatever code it
    # carries (a failed run's comes from the run) and its details as they are, left to the
    # encoder as before.
    body = Error.model_construct(
        error=ErrorObject.model_construct(code=cast(ErrorCode, code), message=message,
                                          details=details or {}),
        request_id=request_id,
    )
    return body.model_dump()


def error_response(exc: FngateError, request_id: str) -> Response:
    """Render an :class:`FngateError` as the API's JSON error response."""
    body = error_body(exc.code, exc.message, exc.details, request_id)
    return JSONResponse(body, status_code=exc.status, headers=exc.headers)


async def _fngate_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, FngateError)
    return error_response(exc, error_request_id(request.scope))


_HTTP_CODES = {
    400: ("INVALID_REQUEST", "bad request"),
    404: ("NOT_FOUND", "no such route"),
    405: ("INVALID_REQUEST", "method not allowed"),
    413: ("PAYLOAD_TOO_LARGE", "request body too large"),
}


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code, default = _HTTP_CODES.get(exc.status_code, ("INTERNAL_ERROR", "error"))
    message = default
    if exc.status_code == 405:
        message = f"method {request.method} not allowed on {request.url.path}"
    elif exc.status_code == 404:
        message = f"no route for {request.url.path}"
    body = error_body(code, message, {}, error_request_id(request.scope))
    return JSONResponse(body, status_code=exc.status_code, headers=dict(exc.headers or {}))


async def _store_unreachable(request: Request, exc: Exception) -> Response:
    logger.warning("database unreachable", extra={"error": repr(exc)})
    return error_response(Unavailable("the database is unreachable; try again shortly"),
                          error_request_id(request.scope))


async def _unexpected(request: Request, exc: Exception) -> Response:
    rid = request_id_of(request)
    logger.exception("unhandled error", extra={"request_id": rid, "path": request.url.path})
    body = error_body("INTERNAL_ERROR", "internal error", {}, error_request_id(request.scope))
    # This handler runs outside the request-id middleware, so it sets the header itself.
    return JSONResponse(body, status_code=500, headers={"X-Request-ID": rid} if rid else None)


exception_handlers: dict[Any, Any] = {
    FngateError: _fngate_error,
    HTTPException: _http_error,
    # Connection-level failures of the store (refused, reset, closed mid-query).
    ConnectionError: _store_unreachable,
    asyncpg.PostgresConnectionError: _store_unreachable,
    asyncpg.InterfaceError: _store_unreachable,
    asyncpg.CannotConnectNowError: _store_unreachable,
    Exception: _unexpected,
}
