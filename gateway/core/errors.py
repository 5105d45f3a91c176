"""The error tree of the API: each error carries its code and HTTP status (rendered by
:mod:`gateway.api.errors`)."""

from __future__ import annotations

from typing import Any

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
    "QuotaExceeded",
    "RateLimited",
    "RunFailed",
    "RuntimeLost",
    "Unauthorized",
    "Unavailable",
    "project_not_found",
]


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


class RuntimeLost(InvalidRuntime):
    """``INVALID_RUNTIME`` once a run has begun: the runtime passed the runnable check and
    then was not there to run it (a queue message counts it as a handling failure)."""


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


class QuotaExceeded(FngateError):
    """A project quota is used up (``details``: ``project``, ``quota``, ``limit``, ``current``)."""

    code, status = "QUOTA_EXCEEDED", 429


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


def project_not_found(name: object) -> NotFound:
    """The 404 for a project that does not exist."""
    return NotFound(f"project '{name}' does not exist", code="PROJECT_NOT_FOUND")
