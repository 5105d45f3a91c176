"""The shared error responses of the OpenAPI document (``components/responses``), with
their headers and examples (package-private, see :mod:`gateway.api.openapi`)."""

from __future__ import annotations

from typing import Any

from gateway.api._openapi_headers import LIMIT_HEADERS
from gateway.api._openapi_schemas import JSON, json_content, ref, schema_ref

__all__ = ["RESPONSES", "TARGET_REFUSED", "error"]

_ERROR_RESPONSES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    # 405 is answered by routing, before the rate limiter; every other error of a routed
    # request to a limited route carries the X-RateLimit headers.
    "400": ("BadRequest", "Invalid request: malformed JSON, JSON nested more than 128 levels "
            "deep, an unknown field, wrong types, an unknown enum value, "
            "a value out of range, a malformed `X-Cache-Control`, params failing the "
            "function's schema (`INVALID_PARAMS`), an unsupported runtime "
            "(`INVALID_RUNTIME`), or a feature not available yet. On every operation: a "
            "control character or bytes that are not UTF-8 in the percent-decoded path or a "
            "query parameter (`INVALID_REQUEST`, `details.in`: `path` or `query`, with "
            "`details.parameter`), answered before routing and the token.", LIMIT_HEADERS),
    "401": ("Unauthorized", "`UNAUTHORIZED`: no token, bad signature, expired, wrong "
            "issuer/audience.", ("WWW-Authenticate", *LIMIT_HEADERS)),
    "403": ("Forbidden", "`FORBIDDEN`: a valid token without the needed scope "
            "(`details.required_scope`).", LIMIT_HEADERS),
    "404": ("NotFound", "Unknown resource, or one the caller may not see "
            "(`FUNCTION_NOT_FOUND`, `JOB_NOT_FOUND`, `SESSION_NOT_FOUND`, "
            "`TRIGGER_NOT_FOUND`, `PROJECT_NOT_FOUND`, `VERSION_NOT_FOUND`, `NOT_FOUND`).",
            LIMIT_HEADERS),
    "405": ("MethodNotAllowed", "A method the path does not serve (checked before the token).",
            ()),
    "409": ("Conflict", "`CONFLICT`: a name or HTTP trigger path taken, a name ambiguous, a "
            "function with no runnable version, activating a version that is building or "
            "failed its build, a rollback with no earlier built version, a session id taken "
            "by another caller, an idempotency key reused with another body; a project with "
            "functions deleted. "
            "`PROJECT_STOPPED`: running a function whose project is stopped.",
            LIMIT_HEADERS),
    "413": ("PayloadTooLarge", "`PAYLOAD_TOO_LARGE`: the body is over the configured limit "
            "(`FNGATE_MAX_BODY_BYTES`, default 6 MiB).", LIMIT_HEADERS),
    "429": ("TooManyRequests",
            "`RATE_LIMITED`: the caller's limit for the route class is used up "
            "(`details.route_class`, `limit`, `retry_after`), or the function's own "
            "`rate_limit` over all callers is (`details.scope: \"function\"`; on `/invoke`, "
            "`/invoke-async`, session executes and HTTP triggers). `CONCURRENCY_LIMIT` (sync "
            "`/invoke` and HTTP triggers only): the function is at `max_concurrency` and its "
            "wait queue (10 × `max_concurrency`, each waiting at most its timeout) is full "
            "(`details.max_concurrency`). Both set `Retry-After`. `QUOTA_EXCEEDED`: a "
            "quota of the function's project is used up (`details.project`, `quota`, "
            "`limit`, `current`): `max_functions` on a create or a move into it, "
            "`max_memory_mb` on a create, update or move, `max_concurrency` on a sync "
            "`/invoke` or HTTP trigger (with `Retry-After`).",
            ("Retry-After", *LIMIT_HEADERS)),
    "500": ("InternalError", "`INTERNAL_ERROR`: a fault of the gateway itself; on session "
            "executes and HTTP triggers also a failed run (`RUNTIME_ERROR` …).",
            LIMIT_HEADERS),
    "503": ("Unavailable", "`UNAVAILABLE`: the database (or broker) does not answer; any "
            "`/api/v1` route and HTTP trigger may answer so. `Retry-After: 5`.",
            ("Retry-After", *LIMIT_HEADERS)),
    "504": ("Timeout", "`TIMEOUT`: the run passed its timeout and was killed (session "
            "executes and HTTP triggers; `/invoke` reports it in the job instead).",
            ("X-Job-ID", *LIMIT_HEADERS)),
}

_ERROR_EXAMPLES: dict[str, dict[str, Any]] = {
    "TooManyRequests": {
        "rateLimited": {"summary": "RATE_LIMITED", "value": {
            "error": {"code": "RATE_LIMITED",
                      "message": "rate limit of 100 execute requests exceeded; retry in 12 s",
                      "details": {"limit": 100, "route_class": "execute",
                                  "retry_after": 12}},
            "request_id": "f8c3de3d-1fea-4d7c-a8b0-29f63c4c3454"}},
        "concurrencyLimit": {"summary": "CONCURRENCY_LIMIT", "value": {
            "error": {"code": "CONCURRENCY_LIMIT",
                      "message": "function 'calc' is at max_concurrency (10) and its wait "
                                 "queue is full",
                      "details": {"max_concurrency": 10}},
            "request_id": "f8c3de3d-1fea-4d7c-a8b0-29f63c4c3454"}},
        "quotaExceeded": {"summary": "QUOTA_EXCEEDED", "value": {
            "error": {"code": "QUOTA_EXCEEDED",
                      "message": "project 'billing' allows 20 functions (max_functions) and "
                                 "has 20: creating function 'invoice' would go over its "
                                 "quota",
                      "details": {"project": "billing", "quota": "max_functions",
                                  "limit": 20, "current": 20}},
            "request_id": "f8c3de3d-1fea-4d7c-a8b0-29f63c4c3454"}},
    },
    "BadRequest": {
        "invalidParams": {"summary": "INVALID_PARAMS", "value": {
            "error": {"code": "INVALID_PARAMS",
                      "message": "params do not match the function's schema (1 error(s))",
                      "details": {"errors": [{"path": "$.operation", "message":
                                              "'pow' is not one of ['add', 'subtract', "
                                              "'multiply', 'divide']"}]}},
            "request_id": "3b2f7c52-5d0e-4d43-9a56-0d7b1c1f0a9e"}},
    },
}


def _headers(*names: str) -> dict[str, Any]:
    return {name: ref("headers", name) for name in ("X-Request-ID", *names)}


def _error_content(name: str) -> dict[str, Any]:
    content = json_content(schema_ref("Error"))
    if name in _ERROR_EXAMPLES:
        content[JSON]["examples"] = _ERROR_EXAMPLES[name]
    return content


RESPONSES: dict[str, Any] = {
    name: {"description": description, "headers": _headers(*extra),
           "content": _error_content(name)}
    for name, description, extra in _ERROR_RESPONSES.values()
}


def error(status: int | str) -> dict[str, Any]:
    """The ``$ref`` of the shared error response of ``status`` (``404`` → ``NotFound``)."""
    return ref("responses", _ERROR_RESPONSES[str(status)][0])


#: The request-target guard's 400, answered before routing (and the rate limiter).
TARGET_REFUSED = {
    "description": "`INVALID_REQUEST`: a control character or bytes that are not UTF-8 in the "
                   "percent-decoded path or a query parameter (`details.in`: `path` or "
                   "`query`, with `details.parameter`), answered before routing.",
    "headers": _headers(), "content": _error_content("BadRequest"),
}

