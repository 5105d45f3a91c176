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


def ok_response(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """A success response with ``X-Request-ID`` and, when given, a JSON body."""
    response: dict[str, Any] = {"description": description,
                                "headers": {"X-Request-ID": ref("headers", "X-Request-ID")}}
    if schema is not None:
        response["content"] = json_content(schema)
    return response


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"oneOf": [schema, {"type": "null"}]}


TIMESTAMP = {"type": "string", "format": "date-time",
             "description": "RFC 3339 in UTC with a `Z` suffix, millisecond precision."}

# -- schemas ------------------------------------------------------------------------------

_JOB = {
    "type": "object",
    "description": "One invocation's record.",
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "function_id": {"type": "integer"},
        "function_name": {"type": "string"},
        "version": {"type": "integer"},
        "trigger": {"type": "string", "enum": ["http", "invoke", "session", "cron", "queue"]},
        "status": {"type": "string", "enum": ["pending", "running", "success", "failed"]},
        "result": {"description": "The function's return value (any JSON), or null."},
        "error": {**nullable(schema_ref("ErrorObject")),
                  "description": "Set when `status` is `failed`: `RUNTIME_ERROR` (with "
                                 "`details.type`: the exception's class, `WorkerCrashed`, "
                                 "`OutOfMemory`, `ResultTooLarge`, `InvalidResult`, "
                                 "`WorkerLost`), `TIMEOUT`, …"},
        "timestamp": {**TIMESTAMP, "description": "When the job was requested."},
        "started_at": nullable(TIMESTAMP),
        "finished_at": nullable(TIMESTAMP),
        "duration": {"type": ["integer", "null"], "minimum": 0,
                     "description": "Run time in integer milliseconds; null until finished."},
        "cold_start": {"type": "boolean"},
        "attempts": {"type": "integer", "minimum": 0},
        "cached": {"type": "boolean",
                   "description": "True for a sync `/invoke` answered from the result cache: "
                                  "the job is recorded without a run (`attempts` 0, "
                                  "`duration` 0, `cold_start` false)."},
    },
    "required": ["id", "function_id", "function_name", "version", "trigger", "status",
                 "result", "error", "timestamp", "started_at", "finished_at", "duration",
                 "cold_start", "attempts", "cached"],
}

_JOB_LIST = {
    "type": "object",
    "properties": {
        "jobs": {"type": "array", "items": schema_ref("Job"), "description": "Newest first."},
        "next_before": {"type": ["string", "null"], "format": "uuid",
                        "description": "Pass as `before` for the next page; null on the last."},
    },
    "required": ["jobs", "next_before"],
}

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

# -- triggers -----------------------------------------------------------------------------

_HTTP_TRIGGER_CONFIG = {
    "type": "object",
    "title": "http",
    "properties": {
        "path": {"type": "string", "pattern": "^/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$",
                 "examples": ["/hello"],
                 "description": "Served at `/fn<path>`; unique across triggers (409); a "
                                "trailing `/` is dropped; no `//`."},
        "methods": {"type": "array", "minItems": 1, "default": ["GET", "POST"],
                    "items": {"type": "string",
                              "enum": ["GET", "POST", "PUT", "PATCH", "DELETE"]},
                    "description": "Case-insensitive on input, stored upper-case. A single "
                                   "`method` string is accepted too."},
        "public": {"type": "boolean", "default": False,
                   "description": "True: callable without a token."},
    },
    "required": ["path"],
}

_CRON_TRIGGER_CONFIG = {
    "type": "object",
    "title": "cron",
    "properties": {
        "schedule": {"type": "string", "examples": ["*/5 * * * *"],
                     "description": "A cron expression (an optional sixth leading field is "
                                    "seconds); `cron` is accepted as an alias. Invalid → 400."},
        "timezone": {"type": "string", "default": "UTC",
                     "description": "An IANA name; unknown → 400."},
        "payload": {"default": {}, "description": "Part of the event of each fire."},
        "misfire": {"type": "string", "enum": ["run_once", "skip"], "default": "run_once"},
    },
    "required": ["schedule"],
}

_QUEUE_TRIGGER_CONFIG = {
    "type": "object",
    "title": "queue",
    "description": "Consumed from RabbitMQ (`FNGATE_AMQP_URL`; without it → 400) by every "
                   "replica. The queue is declared durable (an existing one is used as it "
                   "is). A message is acknowledged only after its job finished: success → "
                   "ack; failure after `max_retries` (retried in place, with backoff) → "
                   "copied to `<queue>.dlq` with `x-fngate-error-code`, `x-fngate-error` and "
                   "`x-fngate-job-id` headers, then acknowledged. A message with `reply_to` "
                   "gets the finished Job (JSON) with its `correlation_id` first. A message's "
                   "`message_id` keys its job: a redelivery finds the job instead of running "
                   "it twice. The event: `{trigger: \"queue\", queue, routing_key, message_id, "
                   "correlation_id, redelivered, headers, body}` (`body` parsed as JSON when it "
                   "is JSON, else text, else base64 with `isBase64Encoded: true`).",
    "properties": {
        "queue": {"type": "string", "pattern": "^[A-Za-z0-9_.:/@-]{1,240}$",
                  "examples": ["orders"],
                  "description": "Not `amq.*`, not ending in `.dlq`."},
        "exchange": {"type": "string", "default": "",
                     "description": "When set, the queue is bound to it (declared as a "
                                    "durable topic exchange if it does not exist)."},
        "routing_key": {"type": "string", "default": "",
                        "description": "The binding key; empty → the queue's name. Needs "
                                       "`exchange`."},
        "prefetch": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 10,
                     "description": "Unacknowledged messages per replica."},
        "dead_letter": {"type": "boolean", "default": True,
                        "description": "False: a failed message is rejected without requeue "
                                       "(the queue's own dead-letter policy applies)."},
    },
    "required": ["queue"],
}

_TRIGGER = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "function_id": {"type": "integer"},
        "name": {"type": ["string", "null"]},
        "type": {"type": "string", "enum": ["http", "cron", "queue"]},
        "enabled": {"type": "boolean"},
        "config": {"oneOf": [schema_ref("HttpTriggerConfig"),
                             schema_ref("CronTriggerConfig"),
                             schema_ref("QueueTriggerConfig")],
                   "description": "As normalized on input (defaults filled in)."},
        "created_at": TIMESTAMP,
        "updated_at": TIMESTAMP,
        "next_run_at": {**nullable(TIMESTAMP),
                        "description": "Cron triggers only: the next fire (UTC); null while "
                                       "disabled."},
    },
    "required": ["id", "function_id", "name", "type", "enabled", "config", "created_at",
                 "updated_at"],
}

_TRIGGER_INPUT_PROPERTIES: dict[str, Any] = {
    "type": {"type": "string", "enum": ["http", "cron", "schedule", "queue"],
             "description": "`schedule` is an alias of `cron`. `queue` needs a broker "
                            "(`FNGATE_AMQP_URL`); without one → 400 saying so."},
    "name": {"type": ["string", "null"], "maxLength": 200},
    "enabled": {"type": "boolean", "default": True},
    "config": {"oneOf": [schema_ref("HttpTriggerConfig"), schema_ref("CronTriggerConfig"),
                         schema_ref("QueueTriggerConfig")]},
}

_TRIGGER_CREATE = {
    "type": "object",
    "description": "Body of `POST /api/v1/functions/{ref}/triggers`.",
    "properties": _TRIGGER_INPUT_PROPERTIES,
    "required": ["type"],
}

_TRIGGER_UPDATE = {
    "type": "object",
    "description": "Body of `PUT …/triggers/{trigger_id}`: merged over the trigger (`name`, "
                   "`enabled`, `config` keep their value when omitted; a given `config` "
                   "replaces the whole config). `type` cannot change (400).",
    "properties": _TRIGGER_INPUT_PROPERTIES,
}

SCHEMAS: dict[str, Any] = {
    "Job": _JOB,
    "JobList": _JOB_LIST,
    "JobLogs": {
        "type": "object",
        "properties": {"logs": {"type": "array", "items": schema_ref("LogLine")}},
        "required": ["logs"],
    },
    "InitializeRequest": _INITIALIZE_REQUEST,
    "InitializeResponse": _INITIALIZE_RESPONSE,
    "ExecuteRequest": _EXECUTE_REQUEST,
    "ExecuteResponse": _EXECUTE_RESPONSE,
    "Session": _SESSION,
    "Trigger": _TRIGGER,
    "TriggerCreate": _TRIGGER_CREATE,
    "TriggerUpdate": _TRIGGER_UPDATE,
    "TriggerList": {
        "type": "object",
        "properties": {"triggers": {"type": "array", "items": schema_ref("Trigger")}},
        "required": ["triggers"],
    },
    "HttpTriggerConfig": _HTTP_TRIGGER_CONFIG,
    "CronTriggerConfig": _CRON_TRIGGER_CONFIG,
    "QueueTriggerConfig": _QUEUE_TRIGGER_CONFIG,
}
