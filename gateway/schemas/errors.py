"""Wire models of the API's error body: ``{"error": {"code", "message", "details"},
"request_id"}``, and the codes an error (or a failed job) carries."""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import ConfigDict, Field
from typing_extensions import TypeAliasType

from gateway.schemas.base import ResponseModel

__all__ = ["ERROR_CODES", "Error", "ErrorCode", "ErrorObject", "ParamError"]

ErrorCode = TypeAliasType("ErrorCode", Annotated[
    Literal[
        "INVALID_REQUEST", "INVALID_PARAMS", "INVALID_RUNTIME", "UNAUTHORIZED", "FORBIDDEN",
        "NOT_FOUND", "FUNCTION_NOT_FOUND", "VERSION_NOT_FOUND", "TRIGGER_NOT_FOUND",
        "PROJECT_NOT_FOUND", "JOB_NOT_FOUND", "SESSION_NOT_FOUND", "CONFLICT",
        "PROJECT_STOPPED", "PAYLOAD_TOO_LARGE", "RATE_LIMITED", "CONCURRENCY_LIMIT",
        "RUNTIME_ERROR", "INTERNAL_ERROR", "BUILD_FAILED", "QUOTA_EXCEEDED", "UNAVAILABLE",
        "TIMEOUT",
    ],
    Field(description="Every error code of API.md, as `Error.error.code` and `Job.error.code` "
                      "carry them."),
])

#: The codes of :data:`ErrorCode`, in the contract's order.
ERROR_CODES: tuple[str, ...] = get_args(get_args(ErrorCode.__value__)[0])


class ParamError(ResponseModel):
    """One problem with the request, as `details.errors` lists them: a failure of `params`
    against the function's `schema.params` (`INVALID_PARAMS`, paths such as `$.operation`),
    or a field of the request body (`INVALID_REQUEST`, paths such as
    `triggers[0].config.path`)."""

    path: str = Field(
        examples=["$", "$.operation", "$.values[0]", "triggers[0].config.path"],
        description="Where: for `params`, `$` is the root, `.name` a property, `[i]` an array "
                    "item; for a request body, the field's path (empty for the body itself).",
    )
    message: str


class ErrorObject(ResponseModel):
    """What went wrong: a code, a sentence, and details that depend on the code."""

    code: ErrorCode
    message: str
    details: dict[str, Any] = Field(
        description="Code-specific: `required_scope` (403), `field`, `parameter` or `header` "
                    "(400), `errors` (`INVALID_PARAMS`, and a request body that fails "
                    "validation: `[{path, message}]`), `limit`, `retry_after` and "
                    "`route_class` or `scope: \"function\"` (`RATE_LIMITED`), "
                    "`max_concurrency` (`CONCURRENCY_LIMIT`), `type`, `message`, "
                    "`stack_trace`, `line`, `column` (`RUNTIME_ERROR`)…",
        # The details are rendered as the error carries them, so the field stays a plain
        # object; this names the shape of its one structured key.
        json_schema_extra={"properties": {"errors": {
            "type": "array", "items": {"$ref": "#/components/schemas/ParamError"},
            "description": "Every problem, at most 20 (`INVALID_PARAMS`: sorted by path; a "
                           "request body: in order, `field` naming the first one's path).",
        }}},
    )


_ERROR_EXAMPLE: dict[str, Any] = {"error": {"code": "FUNCTION_NOT_FOUND",
                            "message": "function 'calc' does not exist", "details": {}},
                  "request_id": "f8c3de3d-1fea-4d7c-a8b0-29f63c4c3454"}


class Error(ResponseModel):
    """The body of every error response. A request that fails validation answers 400 with
    `details.errors`: `[{path, message}]`, one entry per problem (`ParamError`), and
    `details.field`: the first one's path."""

    model_config = ConfigDict(json_schema_extra={"examples": [_ERROR_EXAMPLE]})

    error: ErrorObject
    request_id: str = Field(
        description="The request's `X-Request-ID`; on `/api/v1/execute/{request_id}` and "
                    "`/api/v1/sessions/{request_id}` the session id from the path instead "
                    "(not on a 413 refused by its `Content-Length`, a 429 of the per-client "
                    "limit, a 503 or an unexpected 500: those carry the `X-Request-ID`).",
    )

