"""Component schemas of the OpenAPI document (package-private; see :mod:`gateway.api.openapi`).

Plain data built once at import. The names without a leading underscore are
what :mod:`gateway.api.openapi` assembles the document from.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ERROR_CODES",
    "JSON",
    "JSON_FORM_FIELDS",
    "MULTIPART",
    "SCHEMAS",
    "TIMESTAMP",
    "json_content",
    "nullable",
    "ref",
    "schema_ref",
]

JSON = "application/json"
MULTIPART = "multipart/form-data"
#: A function's name (gateway.function_input.NAME_PATTERN) and a project's.
_FUNCTION_NAME_PATTERN = "^[A-Za-z][A-Za-z0-9_-]{0,63}$"
_NAME_PATTERN = "^[a-z][a-z0-9-]{0,62}$"

#: Every error code of API.md, as ``Error.error.code`` and ``Job.error.code`` carry them.
ERROR_CODES = (
    "INVALID_REQUEST", "INVALID_PARAMS", "INVALID_RUNTIME", "UNAUTHORIZED", "FORBIDDEN",
    "NOT_FOUND", "FUNCTION_NOT_FOUND", "VERSION_NOT_FOUND", "TRIGGER_NOT_FOUND",
    "PROJECT_NOT_FOUND", "JOB_NOT_FOUND", "SESSION_NOT_FOUND", "CONFLICT", "PROJECT_STOPPED",
    "PAYLOAD_TOO_LARGE", "RATE_LIMITED", "CONCURRENCY_LIMIT", "RUNTIME_ERROR",
    "INTERNAL_ERROR", "BUILD_FAILED", "UNAVAILABLE", "TIMEOUT",
)


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

_STR_MAP = {"type": "object", "additionalProperties": {"type": "string"}}

_SCHEMA_PAIR = {
    "type": "object",
    "description": "JSON Schemas (draft 2020-12) of the params and the result; each is checked "
                   "to be a valid schema on input.",
    "properties": {
        "params": {"type": ["object", "boolean"]},
        "result": {"type": ["object", "boolean"]},
    },
    "additionalProperties": False,
}

_EXAMPLE = {
    "type": "object",
    "description": "`{\"description\", \"request\": {\"params\"}, \"response\": {\"result\"}}`.",
    "properties": {
        "description": {"type": "string"},
        "request": {"type": "object", "properties": {"params": {}}},
        "response": {"type": "object", "properties": {"result": {}}},
    },
}

# The forms gateway/quantities.py accepts.
_CPU_PATTERN = r"^(\d{1,9}m|\d{1,9}(\.\d{1,9})?|\.\d{1,9})$"
_MEMORY_PATTERN = r"^(\d{1,12}(\.\d{1,9})?|\.\d{1,9})(Ki|Mi|Gi|Ti|k|K|M|G|T)$"

_RUNTIME_OUT = {"type": "string", "enum": ["python", "nodejs"],
                "description": "Runtime family, stored normalized."}

# Input fields shared by create and update, with the limits of gateway/function_input.py.
_INPUT_FIELDS: dict[str, Any] = {
    "name": {"type": "string", "pattern": _FUNCTION_NAME_PATTERN,
             "examples": ["myFunction", "my-function", "image_resize"],
             "description": "Lambda's set: a letter, then letters, digits, `_` and `-` (64 at "
                            "most). Unique case-insensitively (`myFunction` and `MyFunction` "
                            "are one name → 409 `CONFLICT`); the case sent is kept (`title`, "
                            "`language_title` = `python-myFunction`). On update, a different "
                            "name renames the function (a change of case too). A name equal to "
                            "another function's `language_title`, case-insensitively, → 409 "
                            "`CONFLICT`."},
    "runtime": {
        "type": "string", "examples": ["python", "python3.11", "nodejs", "node", "nodejs18"],
        "description": "`python` or `nodejs`, case-insensitive. Aliases (`py`, `python3`, "
                       "`python3.11`, `python39`, `node`, `nodejs18`, `nodejs18.x`, …) are "
                       "normalized to the family. `go`/`rust` or anything else → 400 "
                       "`INVALID_RUNTIME`. On update, a change creates a new version.",
    },
    "code": {"type": "string",
             "description": "Source text. Exactly one of `code` and `source_code`."},
    "source_code": {"type": "string", "contentEncoding": "base64",
                    "description": "The source as base64 of UTF-8 text, instead of `code`."},
    "handler": {
        "type": "string", "minLength": 1, "pattern": "^(?:.*\\.)?[A-Za-z_$][A-Za-z0-9_$]*$",
        "default": "handler",
        "description": "Entry point name. `index.handler` / `main.handler` forms are accepted: "
                       "the part after the last dot is stored.",
    },
    "dependencies": {
        "type": ["array", "null"], "items": {"type": "string"}, "maxItems": 100,
        "description": "pip requirement specifiers (python, e.g. `six==1.16.0`) or npm "
                       "`name@range` (nodejs). Names and version ranges only: options, URLs "
                       "and paths → 400. Python packages install from wheels only and npm "
                       "packages without install scripts, so installing runs no package code. "
                       "A version with dependencies is `building` until its background build "
                       "ends; the build is cached per replica by what it installs.",
    },
    "triggers": {
        "type": ["array", "null"], "maxItems": 20, "items": schema_ref("TriggerCreate"),
        "description": "Create only: triggers created in the same transaction as the "
                       "function (all or nothing: an invalid entry → 400 naming it, e.g. "
                       "`details.field` = `triggers[1].config.path`; a path in use → 409 and "
                       "no function). The 201 body then lists them under `triggers`. On "
                       "update → 400: manage them under `/api/v1/functions/{ref}/triggers`.",
    },
    "project": {"type": "string", "pattern": _NAME_PATTERN, "default": "default",
                "description": "A project that does not exist is created with the function "
                               "(running, empty environment); see the `projects` tag."},
    "execution_type": {"type": "string", "enum": ["sync", "async"], "default": "sync",
                       "description": "How `/invoke` answers by default; `?async=` and "
                                      "`Prefer: respond-async` override it per request."},
    "description": {"type": "string", "default": ""},
    "environment": {
        **_STR_MAP, "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]{0,127}$"},
        "default": {},
        "description": "Variables of the function's workers.",
    },
    "labels": {**_STR_MAP, "default": {}},
    "timeout_ms": {
        "type": "integer", "minimum": 1, "maximum": 300000, "default": 30000,
        "description": "Over the configured cap (`FNGATE_MAX_TIMEOUT_MS`, default 300000, the "
                       "`maximum` shown) → 400 `INVALID_REQUEST`; never clamped.",
    },
    "memory_mb": {
        "type": "integer", "minimum": 16, "maximum": 2048, "default": 256,
        "description": "Limit on the worker's resident memory; over it the worker is killed "
                       "(`OutOfMemory`). Outside 16..cap (`FNGATE_MAX_MEMORY_MB`, default 2048, "
                       "the `maximum` shown) → 400 `INVALID_REQUEST`; never clamped. Input alias "
                       "`resources.memory`.",
    },
    "network": {
        "type": "string", "enum": ["egress", "none"], "default": "egress",
        "description": "The worker's network. `egress`: public addresses only (loopback, the "
                       "gateway's own addresses, private, CGNAT, link-local and multicast "
                       "ranges are refused, unless the operator allows named destinations); "
                       "`none`: no network at all. Anything else → 400 `INVALID_REQUEST`.",
    },
    "ephemeral_storage_mb": {
        "type": "integer", "minimum": 16, "maximum": 10240, "default": 512,
        "description": "MiB: the size cap of each private writable filesystem of the sandbox "
                       "(`/tmp`, the working directory, `/dev/shm`); they are memory-backed, so "
                       "what is written there counts against `memory_mb`. Outside 16..cap "
                       "(`FNGATE_MAX_EPHEMERAL_STORAGE_MB`, default 10240, the `maximum` "
                       "shown) → 400 `INVALID_REQUEST`; never clamped.",
    },
    "cpu_millis": {
        "type": "integer", "minimum": 10, "maximum": 64000, "default": 1000,
        "description": "The worker's CPU quota in thousandths of a core (a cgroup CPU quota; "
                       "1000 = one core). Input alias `resources.cpu`.",
    },
    "resources": {
        "type": ["object", "null"],
        "description": "Kubernetes-style aliases of `cpu_millis` and `memory_mb`, as in "
                       "`{\"cpu\": \"100m\", \"memory\": \"256Mi\"}`. Given together with "
                       "the field it aliases, the two must agree (else 400). Other keys → 400 "
                       "naming them (`details.field` = `resources.<key>`).",
        "properties": {
            "cpu": {
                "oneOf": [{"type": "string", "pattern": _CPU_PATTERN}, {"type": "number"}],
                "examples": ["100m", "0.5", 0.5, "2"],
                "description": "`<n>m` millicores, or cores as a number or decimal text "
                               "(`\"0.5\"` = 500m); whole millicores only, 10m..64000m.",
            },
            "memory": {
                "type": "string", "pattern": _MEMORY_PATTERN,
                "examples": ["256Mi", "1Gi", "512M"],
                "description": "A quantity with a unit: `Ki`, `Mi`, `Gi`, `Ti` (powers of "
                               "1024) or `k`/`K`, `M`, `G`, `T` (powers of 1000); rounded up "
                               "to whole MiB, within `memory_mb`'s bounds.",
            },
        },
        "additionalProperties": False,
    },
    "max_concurrency": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 10,
                        "description": "Concurrent executions on one gateway."},
    "min_warm": {"type": "integer", "minimum": 0, "maximum": 100, "default": 0,
                 "description": "Warm workers kept when idle; must not exceed "
                                "`max_concurrency` (400)."},
    "cache_ttl": {"type": "integer", "minimum": 0, "maximum": 2592000, "default": 3600,
                  "description": "Seconds: the result cache's TTL and the cap on "
                                 "`X-Cache-Control: max-age`; 0 disables the result cache."},
    "cache_scope": {"type": "string", "enum": ["caller", "shared"], "default": "caller",
                    "description": "`caller`: cached results are reused only for the same "
                                   "caller (`iss` + `sub`); `shared`: across callers."},
    "max_retries": {"type": "integer", "minimum": 0, "maximum": 20, "default": 0},
    "rate_limit": {"type": ["string", "null"], "default": None, "examples": ["1000/minute"],
                   "description": "A rate such as `1000/minute`, over all callers, counted on "
                                  "`/invoke`, `/invoke-async`, session executes and HTTP "
                                  "triggers (moving window); used up → 429 `RATE_LIMITED`. "
                                  "Not a rate → 400."},
    "schema": {**nullable(_SCHEMA_PAIR), "default": None},
    "examples": {"type": "array", "items": _EXAMPLE, "default": []},
    "maxReplicas": {"type": "integer", "minimum": 1, "maximum": 1000, "deprecated": True,
                    "description": "Input alias of `max_concurrency`."},
    "minReplicas": {"type": "integer", "minimum": 0, "maximum": 100, "deprecated": True,
                    "description": "Input alias of `min_warm`."},
}

_INPUT_NOTES = (
    " Any other field → 400 `INVALID_REQUEST` naming it (`unknown field '<name>'`, "
    "`details.field`): `image` is refused (custom images are not supported), `secrets` too "
    "(not supported yet), and the fields only responses carry (`id`, `language`, `title`, "
    "`language_title`, `endpoint`, `status`, `active_version`, `secret_names`, "
    "`created_at`, `updated_at`) cannot be sent. `triggers` are accepted on create only; "
    "`timeout_ms`, "
    "`memory_mb`, `ephemeral_storage_mb` and `cpu_millis` out of range are 400s, not clamped."
)

_FUNCTION_CREATE = {
    "type": "object",
    "description": "Body of `POST /api/v1/functions`. Required: `name`, `runtime`, and one of "
                   "`code` or `source_code`; omitted fields take their defaults." + _INPUT_NOTES,
    "properties": _INPUT_FIELDS,
    "required": ["name", "runtime"],
    "oneOf": [{"required": ["code"]}, {"required": ["source_code"]}],
    "additionalProperties": False,
}

_FUNCTION_UPDATE = {
    "type": "object",
    "description": "Body of `PUT /api/v1/functions/{ref}`: every field optional, omitted fields "
                   "keep their value. A change to `code`/`source_code`, `handler`, `runtime` or "
                   "`dependencies` creates a new version and activates it: at once when it "
                   "needs no build, else when its build succeeds (a failed build leaves the "
                   "previous version active); other fields change in place. `code` and "
                   "`source_code` together → 400."
                   + _INPUT_NOTES,
    "properties": _INPUT_FIELDS,
    "not": {"required": ["code", "source_code"]},
    "additionalProperties": False,
}

JSON_FORM_FIELDS = ("environment", "labels", "schema", "examples", "dependencies", "triggers",
                    "resources")

_FUNCTION_FORM = {
    "type": "object",
    "description": "The `multipart/form-data` form of a create or update body. `code` (and "
                   "`requirements`) may be uploaded files of UTF-8 text; the other fields are "
                   "form fields: integers as decimal text, and `environment`, `labels`, `schema`, "
                   "`examples`, `dependencies`, `triggers`, `resources` as JSON text. The same "
                   "rules as the JSON body apply after decoding." + _INPUT_NOTES,
    "properties": {
        **_INPUT_FIELDS,
        "code": {"type": "string", "contentMediaType": "text/plain",
                 "description": "The source, as an uploaded file or a text field."},
        "requirements": {
            "type": "string", "contentMediaType": "text/plain",
            "description": "A requirements file (an upload or a text field): one specifier a "
                           "line, `#` comments skipped; it becomes `dependencies` (both → "
                           "400).",
        },
    },
    "additionalProperties": False,
}

_FUNCTION_REQUIRED = [
    "id", "name", "project", "runtime", "language", "title", "language_title", "endpoint",
    "handler", "execution_type", "description", "environment", "dependencies", "timeout_ms",
    "memory_mb", "network", "ephemeral_storage_mb", "cpu_millis", "resources",
    "max_concurrency", "min_warm", "cache_ttl", "cache_scope", "max_retries", "rate_limit",
    "schema", "examples", "labels", "status", "active_version", "created_at", "updated_at",
]

_FUNCTION = {
    "type": "object",
    "description": "A function with its active version. `code` is omitted in list responses.",
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string", "pattern": _FUNCTION_NAME_PATTERN},
        "project": {"type": "string"},
        "runtime": _RUNTIME_OUT,
        "language": {**_RUNTIME_OUT, "description": "The runtime family (same as `runtime`)."},
        "title": {"type": "string", "description": "The name."},
        "language_title": {"type": "string", "examples": ["nodejs-calculator"],
                           "description": "`<language>-<name>`."},
        "code": {"type": "string", "description": "Source text; omitted in list responses."},
        "endpoint": {"type": "string", "examples": ["/api/v1/functions/calculator/invoke"]},
        "handler": {"type": "string"},
        "execution_type": {"type": "string", "enum": ["sync", "async"]},
        "description": {"type": "string"},
        "environment": {**_STR_MAP,
                        "description": "Values are shown only to `write:functions`/`admin`; "
                                       "other callers see `\"***\"`."},
        "dependencies": {"type": "array", "items": {"type": "string"}},
        "timeout_ms": {"type": "integer"},
        "memory_mb": {"type": "integer"},
        "network": {"type": "string", "enum": ["egress", "none"]},
        "ephemeral_storage_mb": {"type": "integer"},
        "cpu_millis": {"type": "integer", "description": "Thousandths of a core."},
        "resources": {
            "type": "object",
            "description": "`cpu_millis` and `memory_mb` as Kubernetes quantities.",
            "properties": {
                "cpu": {"type": "string", "examples": ["1000m"],
                        "description": "`<cpu_millis>m`."},
                "memory": {"type": "string", "examples": ["256Mi"],
                           "description": "`<memory_mb>Mi`."},
            },
            "required": ["cpu", "memory"],
        },
        "max_concurrency": {"type": "integer"},
        "min_warm": {"type": "integer"},
        "cache_ttl": {"type": "integer", "description": "Seconds."},
        "cache_scope": {"type": "string", "enum": ["caller", "shared"]},
        "max_retries": {"type": "integer"},
        "rate_limit": {"type": ["string", "null"]},
        "schema": nullable(_SCHEMA_PAIR),
        "examples": {"type": "array", "items": _EXAMPLE},
        "labels": _STR_MAP,
        "status": {"type": "string", "enum": ["building", "ready", "failed"],
                   "description": "Of the active version."},
        "active_version": {"type": ["integer", "null"]},
        "created_at": TIMESTAMP,
        "updated_at": TIMESTAMP,
    },
    "required": _FUNCTION_REQUIRED,
}

_FUNCTION_LIST = {
    "type": "object",
    "properties": {
        "total": {"type": "integer", "minimum": 0},
        "page": {"type": "integer", "minimum": 1},
        "per_page": {"type": "integer", "minimum": 1, "maximum": 100},
        "functions": {"type": "array", "items": schema_ref("Function"),
                      "description": "Without `code`."},
    },
    "required": ["total", "page", "per_page", "functions"],
}

_VERSION = {
    "type": "object",
    "description": "One version of a function's code (`/api/v1/functions/{ref}/versions`).",
    "properties": {
        "id": {"type": "integer"},
        "function_id": {"type": "integer"},
        "version": {"type": "integer", "minimum": 1},
        "code": {"type": "string"},
        "handler": {"type": "string"},
        "dependencies": {"type": "array", "items": {"type": "string"}},
        "build_status": {"type": "string", "enum": ["building", "success", "failed"]},
        "build_log": {"type": "string",
                      "description": "Of the build that made the set it runs with (its "
                                     "first build or latest successful rebuild), or of its "
                                     "failed build."},
        "build_duration_ms": {"type": ["integer", "null"], "minimum": 0,
                              "description": "How long that build took; null before any "
                                             "build of this version ended."},
        "build_finished_at": {**TIMESTAMP, "type": ["string", "null"],
                              "description": "When that build ended; null before."},
        "resolved_dependencies": {
            "type": ["array", "null"], "items": {"type": "string"},
            "description": "The set every run of this version installs: the system's, its "
                           "project's and its own dependencies, layered, as of its last "
                           "successful build. Null when nothing recorded it yet (no "
                           "dependencies of its own while a layer beneath has some): it "
                           "then runs with the layers as they are."},
        "rebuild": {
            "type": ["object", "null"],
            "description": "A rebuild after a project or system dependency change; null "
                           "when none is pending. While `building`, the version keeps "
                           "serving with `resolved_dependencies`; `failed`: it still does, "
                           "`build_log` says why (a `build_failed` event was recorded).",
            "properties": {
                "status": {"type": "string", "enum": ["building", "failed"]},
                "dependencies": {"type": "array", "items": {"type": "string"},
                                 "description": "The layered set being built."},
                "build_log": {"type": ["string", "null"]},
                "started_at": {**TIMESTAMP, "type": ["string", "null"]},
            },
            "required": ["status", "dependencies", "build_log", "started_at"],
        },
        "is_active": {"type": "boolean"},
        "created_at": TIMESTAMP,
    },
    "required": ["id", "function_id", "version", "code", "handler", "dependencies",
                 "build_status", "build_log", "build_duration_ms", "build_finished_at",
                 "resolved_dependencies", "rebuild", "is_active", "created_at"],
}

_ERROR_OBJECT = {
    "type": "object",
    "properties": {
        "code": schema_ref("ErrorCode"),
        "message": {"type": "string"},
        "details": {
            "type": "object",
            "description": "Code-specific: `required_scope` (403), `field`, `parameter` or "
                           "`header` (400), `errors` (`INVALID_PARAMS`), `limit`, "
                           "`retry_after` and `route_class` or `scope: \"function\"` "
                           "(`RATE_LIMITED`), `max_concurrency` (`CONCURRENCY_LIMIT`), `type`, "
                           "`message`, `stack_trace`, `line`, `column` (`RUNTIME_ERROR`)…",
            "properties": {
                "errors": {"type": "array", "items": schema_ref("ParamError"),
                           "description": "`INVALID_PARAMS`: every failure, sorted by path."},
            },
        },
    },
    "required": ["code", "message", "details"],
}

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

_LOG_LINE = {
    "type": "object",
    "properties": {
        "timestamp": TIMESTAMP,
        "job_id": {"type": "string", "format": "uuid"},
        "stream": {"type": "string", "enum": ["stdout", "stderr"]},
        "message": {"type": "string"},
    },
    "required": ["timestamp", "job_id", "stream", "message"],
}

_COMPONENT_STATE = {"type": "string", "enum": ["ok", "down", "disabled"]}
_RUNTIME_STATE = {**_COMPONENT_STATE,
                  "description": "`disabled`: not installed on this machine; `down`: its "
                                 "workers fail to start."}

_ISOLATION = {
    "type": "string", "enum": ["namespaces", "process"],
    "description": "`namespaces`: every worker in its own bubblewrap sandbox; `process`: "
                   "plain processes, set explicitly with `FNGATE_SANDBOX=process`.",
}

_HEALTH = {
    "type": "object",
    "properties": {
        "status": {"type": "string", "enum": ["ok", "degraded", "down"],
                   "description": "`down` when the database is down; `degraded` when the "
                                  "broker, the scheduler, the rate limiter's storage or a "
                                  "runtime is down."},
        "version": {"type": "string"},
        "components": {
            "type": "object",
            "properties": {
                "database": _COMPONENT_STATE,
                "broker": {**_COMPONENT_STATE,
                           "description": "The queue consumers' connection; `disabled` "
                                          "without `FNGATE_AMQP_URL`."},
                "scheduler": _COMPONENT_STATE,
                "rate_limiter": {**_COMPONENT_STATE,
                                 "description": "`disabled` when limits are `off`; `down` "
                                                "while Redis does not answer (limits fail "
                                                "open)."},
                "sandbox": {**_COMPONENT_STATE,
                            "description": "`down` when the worker sandbox cannot be set up "
                                           "here: no worker starts (see `sandbox.error`)."},
                "runtimes": {
                    "type": "object",
                    "properties": {"python": _RUNTIME_STATE, "nodejs": _RUNTIME_STATE},
                    "additionalProperties": _RUNTIME_STATE,
                },
            },
            "required": ["database", "broker", "scheduler", "rate_limiter", "sandbox",
                         "runtimes"],
        },
        "isolation": _ISOLATION,
        "sandbox": {
            "type": "object",
            "description": "What the worker sandbox applies on this replica "
                           "(docs/isolation.md).",
            "properties": {
                "isolation": _ISOLATION,
                "status": {"type": "string", "enum": ["ok", "down"]},
                "error": {"type": ["string", "null"],
                          "description": "Why no worker can start, when `status` is `down`."},
                "network_egress": {"type": "string",
                                   "description": "`filtered`, or why `network: egress` "
                                                  "functions cannot run here."},
                "per_worker_uid": {"type": "boolean",
                                   "description": "Each worker has a uid of its own (root)."},
                "cpu_quota": {"type": "boolean",
                              "description": "CPU quotas are enforced (cgroup cpu)."},
                "memory_limit": {"type": "string", "enum": ["cgroup", "rss-watchdog"]},
                "freezer": {"type": "boolean",
                            "description": "Idle workers are frozen (cgroup freezer)."},
            },
            "required": ["isolation", "status", "error", "network_egress", "per_worker_uid",
                         "cpu_quota", "memory_limit", "freezer"],
        },
    },
    "required": ["status", "version", "components", "isolation", "sandbox"],
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

_PARAM_ERROR = {
    "type": "object",
    "description": "One failure of `params` against the function's `schema.params`.",
    "properties": {
        "path": {"type": "string", "examples": ["$", "$.operation", "$.values[0]"],
                 "description": "Where in `params`: `$` is the root, `.name` a property, "
                                "`[i]` an array item."},
        "message": {"type": "string"},
    },
    "required": ["path", "message"],
}

_CAPABILITIES = {
    "type": "object",
    "description": "What this gateway really offers, as configured and found on its machine.",
    "properties": {
        "name": {"type": "string", "const": "fngate"},
        "version": {"type": "string"},
        "supported_runtimes": {"type": "array", "items": {"type": "string"},
                               "description": "Runtimes installed on this machine.",
                               "examples": [["python", "nodejs"]]},
        "supported_trigger_types": {
            "type": "array", "items": {"type": "string", "enum": ["http", "cron", "queue"]},
            "description": "`queue` only when a broker is configured (`FNGATE_AMQP_URL`)."},
        "supports_async": {"type": "boolean", "const": True},
        "supports_versioning": {"type": "boolean", "const": True},
        "max_timeout_ms": {"type": "integer", "description": "`FNGATE_MAX_TIMEOUT_MS`."},
        "max_memory_mb": {"type": "integer", "description": "`FNGATE_MAX_MEMORY_MB`."},
        "max_payload_bytes": {"type": "integer", "description": "`FNGATE_MAX_BODY_BYTES`."},
        "typical_cold_start_ms": {
            "type": ["integer", "null"], "minimum": 0,
            "description": "The median of the last 100 cold starts measured on this replica "
                           "(the time handing a worker the function's code added to a "
                           "successful run, or warming a session's worker); null before "
                           "the first."},
        "isolation": _ISOLATION,
        "network_policies": {
            "type": "array", "items": {"type": "string", "enum": ["egress", "none"]},
            "description": "The `network` values functions can run with here (`egress` is "
                           "unfiltered in `process` isolation)."},
    },
    "required": ["name", "version", "supported_runtimes", "supported_trigger_types",
                 "supports_async", "supports_versioning", "max_timeout_ms", "max_memory_mb",
                 "max_payload_bytes", "typical_cold_start_ms", "isolation",
                 "network_policies"],
}

SCHEMAS: dict[str, Any] = {
    "Function": _FUNCTION,
    "FunctionCreate": _FUNCTION_CREATE,
    "FunctionUpdate": _FUNCTION_UPDATE,
    "FunctionForm": _FUNCTION_FORM,
    "FunctionList": _FUNCTION_LIST,
    "Version": _VERSION,
    "Job": _JOB,
    "JobList": _JOB_LIST,
    "LogLine": _LOG_LINE,
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
    "ParamError": _PARAM_ERROR,
    "ErrorCode": {"type": "string", "enum": list(ERROR_CODES)},
    "ErrorObject": _ERROR_OBJECT,
    "Error": {
        "type": "object",
        "description": "The body of every error response.",
        "properties": {
            "error": schema_ref("ErrorObject"),
            "request_id": {"type": "string",
                           "description": "The request's `X-Request-ID`; on "
                                          "`/api/v1/execute/{request_id}` and "
                                          "`/api/v1/sessions/{request_id}` the session id "
                                          "from the path instead (not on a 413 refused by "
                                          "its `Content-Length`, a 429 of the per-client "
                                          "limit, a 503 or an unexpected 500: those carry "
                                          "the `X-Request-ID`)."},
        },
        "required": ["error", "request_id"],
        "examples": [{"error": {"code": "FUNCTION_NOT_FOUND",
                                "message": "function 'calc' does not exist", "details": {}},
                      "request_id": "f8c3de3d-1fea-4d7c-a8b0-29f63c4c3454"}],
    },
    "Health": _HEALTH,
    "Capabilities": _CAPABILITIES,
    "ProviderHealth": {
        "type": "object",
        "properties": {"status": {"type": "string", "const": "healthy"}},
        "required": ["status"],
    },
    "Ready": {
        "type": "object",
        "properties": {"status": {"type": "string", "enum": ["ready", "not_ready"]}},
        "required": ["status"],
    },
    "Status": {
        "type": "object",
        "properties": {
            "status": {"type": "string", "const": "running"},
            "isolation": _ISOLATION,
            "uptime_seconds": {"type": "integer", "minimum": 0},
            "active_projects": {"type": "integer", "minimum": 0,
                                "description": "Running (not stopped) projects that have"
                                               " at least one function."},
            "total_functions": {"type": "integer", "minimum": 0},
            "warm_workers": {"type": "integer", "minimum": 0},
            "memory_usage_bytes": {"type": "integer", "minimum": 0,
                                   "description": "The gateway process's resident memory."},
        },
        "required": ["status", "isolation", "uptime_seconds", "active_projects",
                     "total_functions", "warm_workers", "memory_usage_bytes"],
    },
}
