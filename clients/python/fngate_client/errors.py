"""The client's exceptions: every failure is an :class:`FngateClientError`; an answer of the
gateway's error body is an :class:`ApiError` carrying its ``code``, ``status``, ``message``,
``details`` and ``request_id``."""

from __future__ import annotations

from typing import Any

import httpx

__all__ = ["ApiError", "BadResponse", "Conflict", "ConnectionFailed", "FngateClientError",
           "Forbidden", "InvalidRequest", "NotFound", "RateLimited", "Unauthorized",
           "Unavailable", "WaitTimeout", "error_from_response"]


class FngateClientError(Exception):
    """Root of every error this client raises."""


class ConnectionFailed(FngateClientError):
    """The gateway could not be reached (refused, DNS, timeout, broken connection)."""


class BadResponse(FngateClientError):
    """The gateway answered something that is not the API's shape (a proxy's page, say)."""


class WaitTimeout(FngateClientError):
    """A wait (a job to finish, a build to end) ran past its timeout."""


class ApiError(FngateClientError):
    """The gateway answered with its error body: ``{"error": {code, message, details}}``."""

    def __init__(self, *, status: int, code: str, message: str,
                 details: dict[str, Any] | None = None, request_id: str | None = None,
                 headers: httpx.Headers | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details: dict[str, Any] = details or {}
        self.request_id = request_id
        self.headers = headers if headers is not None else httpx.Headers()


class InvalidRequest(ApiError):
    """400: the request (or the event, against the function's schema) was refused."""


class Unauthorized(ApiError):
    """401: no token, or one the gateway does not accept."""


class Forbidden(ApiError):
    """403: the token lacks the scope (``details.required_scope``)."""


class NotFound(ApiError):
    """404: no such function, version, trigger, project, job or session (or not yours)."""


class Conflict(ApiError):
    """409: a name taken, a version building or failed, a stopped project, …"""


class RateLimited(ApiError):
    """429: a rate, concurrency or quota limit; ``headers['Retry-After']`` says when."""


class Unavailable(ApiError):
    """503: the gateway's database or broker is unreachable (retried before raised)."""


_BY_STATUS: dict[int, type[ApiError]] = {
    400: InvalidRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound, 409: Conflict,
    429: RateLimited, 503: Unavailable,
}


def error_from_response(response: httpx.Response) -> ApiError | BadResponse:
    """The exception for an error ``response`` (status ≥ 400)."""
    try:
        body = response.json()
        error = body["error"]
        code, message = str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        text = response.text[:200].strip() or response.reason_phrase
        return BadResponse(f"HTTP {response.status_code} without the API's error body: {text}")
    details = error.get("details")
    klass = _BY_STATUS.get(response.status_code, ApiError)
    return klass(status=response.status_code, code=code, message=message,
                 details=details if isinstance(details, dict) else {},
                 request_id=body.get("request_id"), headers=response.headers)
