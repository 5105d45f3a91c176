"""The error tree of the API and the one place exceptions become HTTP responses."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

from gateway.jsonresp import JSONResponse

__all__ = [
    "Conflict",
    "ConcurrencyLimit",
    "Forbidden",
    "FngateError",
    "InternalError",
    "InvalidParams",
    "InvalidRequest",
    "InvalidRuntime",
    "MethodNotAllowed",
    "NotFound",
    "PayloadTooLarge",
    "ProjectStopped",
    "RateLimited",
    "RunFailed",
    "Unauthorized",
    "Unavailable",
    "error_body",
    "error_request_id",
    "exception_handlers",
]

logger = logging.getLogger("fngate.errors")


class FngateError(Exception):
    """Root of every error the API answers with; carries its code and HTTP status."""

    code = "INTERNAL_ERROR"
    status = 500

    def __init__(
        self,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}
        if code is not None:
            self.code = code
        self.headers = headers or {}


class InvalidRequest(FngateError):
    code, status = "INVALID_REQUEST", 400


class InvalidParams(FngateError):
    code, status = "INVALID_PARAMS", 400


class InvalidRuntime(FngateError):
    code, status = "INVALID_RUNTIME", 400


class Unauthorized(FngateError):
    code, status = "UNAUTHORIZED", 401

    def __init__(self, message: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.headers.setdefault("WWW-Authenticate", 'Bearer realm="fngate"')


class Forbidden(FngateError):
    code, status = "FORBIDDEN", 403


class MethodNotAllowed(FngateError):
    code, status = "INVALID_REQUEST", 405


class NotFound(FngateError):
    """404; ``code`` names the kind of thing (``FUNCTION_NOT_FOUND``, ``JOB_NOT_FOUND`` …)."""

    code, status = "NOT_FOUND", 404


class Conflict(FngateError):
    code, status = "CONFLICT", 409


class ProjectStopped(FngateError):
    code, status = "PROJECT_STOPPED", 409


class PayloadTooLarge(FngateError):
    code, status = "PAYLOAD_TOO_LARGE", 413


class RateLimited(FngateError):
    code, status = "RATE_LIMITED", 429


class ConcurrencyLimit(FngateError):
    code, status = "CONCURRENCY_LIMIT", 429


class RunFailed(FngateError):
    """A run that failed, where the route maps it to an HTTP status (execute, HTTP triggers)."""

    def __init__(self, message: str, *, code: str, status: int, **kwargs: Any) -> None:
        super().__init__(message, code=code, **kwargs)
        self.status = status


class InternalError(FngateError):
    code, status = "INTERNAL_ERROR", 500


class Unavailable(FngateError):
    code, status = "UNAVAILABLE", 503

    def __init__(self, message: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.headers.setdefault("Retry-After", "5")


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
    """The error body of API.md."""
    return {
        "error": {"code": code, "message": message, "details": details or {}},
        "request_id": request_id,
    }


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
