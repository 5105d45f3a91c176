"""Component schemas of the OpenAPI document (package-private; see :mod:`gateway.api.openapi`).

Plain data built once at import. The names without a leading underscore are
what :mod:`gateway.api.openapi` assembles the document from.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "JSON",
    "SCHEMAS",
    "TIMESTAMP",
    "json_content",
    "nullable",
    "ref",
    "schema_ref",
]

JSON = "application/json"

def ref(section: str, name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/{section}/{name}"}


def schema_ref(name: str) -> dict[str, Any]:
    return ref("schemas", name)


def json_content(schema: dict[str, Any]) -> dict[str, Any]:
    return {JSON: {"schema": schema}}


# The shared error responses (components/responses, built in openapi.py) by status.
RESPONSE_NAMES = {
    "400": "BadRequest", "401": "Unauthorized", "403": "Forbidden", "404": "NotFound",
    "405": "MethodNotAllowed", "409": "Conflict", "413": "PayloadTooLarge",
    "429": "TooManyRequests", "500": "InternalError", "503": "Unavailable", "504": "Timeout",
}


def operation(tag: str, operation_id: str, summary: str, description: str,
              security: list[Any], responses: dict[str, Any], body: str | None = None, *,
              body_required: bool = True) -> dict[str, Any]:
    """One operation object under ``tag``; ``body`` names its JSON request schema."""
    op: dict[str, Any] = {"operationId": operation_id, "tags": [tag],
                          "summary": summary, "description": description,
                          "security": security, "responses": responses}
    if body is not None:
        op["requestBody"] = {"required": body_required, "content": json_content(schema_ref(body))}
    return op


def error_refs(*statuses: str) -> dict[str, Any]:
    """``{status: $ref}`` to the shared error responses, for an operation's responses."""
    return {status: ref("responses", RESPONSE_NAMES[status]) for status in statuses}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"oneOf": [schema, {"type": "null"}]}


TIMESTAMP = {"type": "string", "format": "date-time",
             "description": "RFC 3339 in UTC with a `Z` suffix, millisecond precision."}

# -- schemas ------------------------------------------------------------------------------

# -- sessions -----------------------------------------------------------------------------

_SESSION_ID = {"type": "string", "format": "uuid", "description": "The session's id."}

_INITIALIZE_REQUEST = {
    "type": "object",
    "description": "Body of `POST /api/v1/initialize`; every field optional, an empty body "
                   "is `{}`. Other top-level fields are ignored.",
    "properties": {
        "context": {
            "type": ["object", "null"],
            "description": "Kept with the session and handed to the function's `context` on "
                           "every execute (untrusted, as the client sent it), except "
                           "`timeout_ms`. Other keys are kept too.",
            "properties": {
                "environment": {"type": ["string", "null"], "examples": ["production"],
                                "description": "A free-form label; sets no variables."},
                "user_id": {"type": ["string", "null"]},
                "timeout_ms": {
                    "type": "integer", "minimum": 1, "default": 30000,
                    "description": "Timeout of each execute; the function's `timeout_ms` "
                                   "still bounds it, so the shorter wins. Default 30000 (or "
                                   "`FNGATE_MAX_TIMEOUT_MS` when lower); not an integer "
                                   "between 1 and `FNGATE_MAX_TIMEOUT_MS` → 400.",
                },
                "retain_session": {"type": "boolean", "default": True,
                                   "description": "False: the session closes after its first "
                                                  "execute."},
            },
            "additionalProperties": True,
        },
    },
}

_INITIALIZE_RESPONSE = {
    "type": "object",
    "properties": {
        "request_id": _SESSION_ID,
        "status": {"type": "string", "const": "initialized"},
        "expires_at": {**TIMESTAMP, "description": "Creation + the session TTL "
                                                   "(`FNGATE_SESSION_TTL_S`, default 2 h)."},
    },
    "required": ["request_id", "status", "expires_at"],
}

_EXECUTE_REQUEST = {
    "type": "object",
    "description": "Body of `POST /api/v1/execute/{request_id}`; an empty body is `{}`. A body "
                   "that is not a JSON object → 400 `INVALID_REQUEST`. Other fields are ignored.",
    "properties": {
        "params": {"default": {},
                   "description": "The event the function receives (any JSON), checked "
                                  "against the function's `schema.params` → 400 "
                                  "`INVALID_PARAMS`."},
    },
}

_EXECUTE_RESPONSE = {
    "type": "object",
    "properties": {
        "request_id": _SESSION_ID,
        "language_title": {"type": "string", "examples": ["nodejs-calculator"]},
        "execution_time": {"type": "integer", "minimum": 0,
                           "description": "Milliseconds: the run's duration, or on a cache hit "
                                          "the time taken to answer."},
        "cached": {"type": "boolean", "description": "Whether the result came from the cache."},
        "result": {"description": "The function's return value (any JSON)."},
    },
    "required": ["request_id", "language_title", "execution_time", "cached", "result"],
}

_SESSION = {
    "type": "object",
    "properties": {
        "request_id": _SESSION_ID,
        "language_title": {"type": "string"},
        "status": {"type": "string", "enum": ["active", "expired", "closed"],
                   "description": "`closed` by `DELETE` or after the one execute of a "
                                  "session with `retain_session: false`; `expired` once "
                                  "`expires_at` has passed."},
        "created_at": TIMESTAMP,
        "expires_at": TIMESTAMP,
        "execution_count": {"type": "integer", "minimum": 0},
        "last_executed_at": nullable(TIMESTAMP),
    },
    "required": ["request_id", "language_title", "status", "created_at", "expires_at",
                 "execution_count", "last_executed_at"],
}


SCHEMAS: dict[str, Any] = {
    "InitializeRequest": _INITIALIZE_REQUEST,
    "InitializeResponse": _INITIALIZE_RESPONSE,
    "ExecuteRequest": _EXECUTE_REQUEST,
    "ExecuteResponse": _EXECUTE_RESPONSE,
    "Session": _SESSION,
}
