"""The one place exceptions become HTTP responses: the API's error body and the app's
exception handlers.

A compatibility dialect answers in its own document's error shape: the app lists each
dialect's base path and renderer in ``app.state.error_shapes`` (a sequence of
:class:`ErrorShape`), and :func:`render_error` — what every handler and middleware calls —
picks the renderer by the request's path, so an error raised before routing (a rate limit,
a body limit, a refused target) is shaped like one raised by the endpoint."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import asyncpg
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

from gateway.api.base_paths import BasePath
from gateway.api.responses import JSONResponse
from gateway.core.errors import (
    FngateError,
    InternalError,
    InvalidRequest,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    Unavailable,
)
from gateway.schemas.errors import Error, ErrorCode, ErrorObject

__all__ = ["ErrorRenderer", "ErrorShape", "error_body", "error_request_id", "error_response",
           "exception_handlers", "render_error", "request_id_of"]

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


#: Renders an error as one API's error response, given the error body's request id.
ErrorRenderer = Callable[[FngateError, str], Response]


@dataclass(frozen=True, slots=True)
class ErrorShape:
    """The error renderer of the requests under ``base`` (a compatibility dialect's)."""

    base: BasePath
    render: ErrorRenderer


def render_error(exc: FngateError, scope: Scope) -> Response:
    """``exc`` as the response of the API the request's path belongs to: the dialect whose
    base path it is under (``app.state.error_shapes``), else the native error body."""
    state = getattr(scope.get("app"), "state", None)
    shapes: tuple[ErrorShape, ...] = getattr(state, "error_shapes", ())
    path = scope.get("path", "")
    for shape in shapes:
        if shape.base.rest(path) is not None:
            return shape.render(exc, error_request_id(scope))
    return error_response(exc, error_request_id(scope))


async def _fngate_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, FngateError)
    return render_error(exc, request.scope)


def _from_http(request: Request, exc: HTTPException) -> FngateError:
    """Starlette's own HTTP errors (no route, wrong method, a body too large) as ours."""
    headers = dict(exc.headers or {})
    status = exc.status_code
    if status == 404:
        return NotFound(f"no route for {request.url.path}", headers=headers)
    if status == 405:
        return MethodNotAllowed(f"method {request.method} not allowed on {request.url.path}",
                                headers=headers)
    if status == 413:
        return PayloadTooLarge("request body too large", headers=headers)
    if status == 400:
        return InvalidRequest("bad request", headers=headers)
    error = InternalError("error", headers=headers)
    error.status = status
    return error


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return render_error(_from_http(request, exc), request.scope)


async def _store_unreachable(request: Request, exc: Exception) -> Response:
    logger.warning("database unreachable", extra={"error": repr(exc)})
    return render_error(Unavailable("the database is unreachable; try again shortly"),
                        request.scope)


async def _unexpected(request: Request, exc: Exception) -> Response:
    rid = request_id_of(request)
    logger.exception("unhandled error", extra={"request_id": rid, "path": request.url.path})
    # This handler runs outside the request-id middleware, so it sets the header itself.
    headers = {"X-Request-ID": rid} if rid else None
    return render_error(InternalError("internal error", headers=headers), request.scope)


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
