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

SCHEMAS: dict[str, Any] = {}
