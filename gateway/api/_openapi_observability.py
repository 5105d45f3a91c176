"""OpenAPI paths and schemas of a function's metrics, logs and events (package-private).

Merged into the document by :mod:`gateway.api.openapi`; built only from
:mod:`gateway.api._openapi_schemas` helpers so the two modules do not import each other.
"""

from __future__ import annotations

from typing import Any

from gateway.api._openapi_schemas import (
    TIMESTAMP,
    error_refs,
    json_content,
    nullable,
    ref,
    schema_ref,
)

__all__ = ["OBSERVABILITY_PATHS", "OBSERVABILITY_SCHEMAS", "OBSERVABILITY_TAG"]

OBSERVABILITY_TAG = {"name": "observability",
                     "description": "A function's metrics, logs and audit events."}

_READ_JOBS = [{"bearerAuth": ["read:jobs"]}, {"bearerAuth": ["admin"]}]
_NUMBER_OR_NULL = {"type": ["number", "null"]}
_SCOPE_NOTE = ("Needs `read:jobs` or `admin`, else 403 `FORBIDDEN` "
               "(`details.required_scope: \"read:jobs\"`), checked before the function is "
               "looked up. ")
_TIME_NOTE = ("An RFC 3339 timestamp (`2024-05-01T12:00:00Z`; without an offset it is UTC) "
              "or a duration before now: a number and `ms`, `s`, `m`, `h` or `d` (`15m`, "
              "`24h`, `7d`). Anything else → 400 `INVALID_REQUEST` (`details.parameter`).")


def _ok(description: str, content: dict[str, Any]) -> dict[str, Any]:
    return {"description": description,
            "headers": {"X-Request-ID": ref("headers", "X-Request-ID")}, "content": content}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}


def _errors() -> dict[str, Any]:
    return error_refs("400", "401", "403", "404", "500")


def _path(**operations: dict[str, Any]) -> dict[str, Any]:
    return {"parameters": [ref("parameters", "X-Request-ID"), ref("parameters", "ref")],
            **operations}


_METRICS_DESCRIPTION = _SCOPE_NOTE + """\
Aggregated in PostgreSQL from the function's finished jobs (`success` or `failed`, \
every replica's, as long as retention keeps them) requested at or after `since` (all \
of them without it).

- `invocations`: finished jobs, cache hits included; `success_rate` = successful / total \
× 100 and `error_rate` = failed / total (both 0 with no invocations).
- `cold_starts`: jobs whose run started a worker; `cache_hits`: jobs answered from the \
result cache (no run).
- `duration` (ms, rounded to µs; `p50`/`p95`/`p99` interpolated with `percentile_cont`), \
`avg_execution_time` (= `duration.avg`), `cpu_usage` (mean CPU ms per run, user + system, \
measured by the worker with `getrusage` / `process.cpuUsage`) and `memory_usage` (the \
highest peak RSS in bytes a worker reported) cover the jobs that ran — cache hits did \
not; null when none ran.
- `concurrency`: `current` runs in flight on the replica that answers, `max` the \
function's `max_concurrency` (a per-replica limit).
- `gb_seconds` = Σ duration (s) × `memory_mb` / 1024 (the function's current \
`memory_mb`); `cost_estimate` (US dollars) = `gb_seconds` × `FNGATE_PRICE_PER_GB_S` + the \
runs × `FNGATE_PRICE_PER_REQUEST` (cache hits cost nothing).
- `since`: the window's start as applied, or null."""

_LOGS_DESCRIPTION = _SCOPE_NOTE + """\
Without `follow`: the newest `limit` lines that match, oldest first (like `tail`), as \
`{"logs": [LogLine…]}`. A line's `timestamp` is when the function printed it; lines are \
stored when their job's attempt ends and kept for `FNGATE_LOG_RETENTION_DAYS` (default 7) \
and, per function, the newest `FNGATE_LOG_RETENTION_MAX_LINES` (default 100000).

With `follow=true`: `text/event-stream`. First those lines, then the lines printed so far \
by runs still going on the replica that answers, then each new line as it is printed, one \
`data: <LogLine JSON>` event each. Lines of runs on this replica arrive as they are \
printed; lines of runs on other replicas arrive when their attempt ends (polled every \
second). A comment (`: keep-alive`) is sent after 15 s without lines. The stream ends when \
the client disconnects, when `until` passes, or — with `job_id` — once that job has \
finished and its lines were sent (an unknown `job_id` ends it at once). A follower too slow \
to read loses lines rather than slowing the function. At most 50 followers per function on \
one gateway: the next gets 429 `RATE_LIMITED` with `Retry-After`."""

_EVENTS_DESCRIPTION = _SCOPE_NOTE + """\
The function's audit trail, newest first: `created`, `updated` (`metadata.fields`: the \
fields the update sent), `deployed` (a new version: `metadata.version`, `metadata.status`; \
or a rebuild for new project or system dependencies: `metadata.rebuild`, \
`metadata.dependencies`), `activated` (a version became active when its build succeeded), \
`rolled_back`, `build_failed` (`metadata.build_log`: its end; `metadata.rebuild` when a \
rebuild failed and the version kept serving with its previous build), `trigger_added`, \
`trigger_removed` (`metadata.trigger_id`, `trigger_type`, `trigger_name`) and `deleted`. \
Each is recorded in the transaction of its change. `actor` is the `sub` of the token that \
made the change, null for what the gateway did on its own (a build resumed after a restart, \
a rebuild). A deleted \
function's trail stays readable by its id, or by its name while no function has that name."""

OBSERVABILITY_PATHS: dict[str, Any] = {
    "/api/v1/functions/{ref}/metrics": _path(get={
        "operationId": "getFunctionMetrics", "tags": ["observability"],
        "summary": "A function's invocation statistics",
        "description": _METRICS_DESCRIPTION, "security": _READ_JOBS,
        "parameters": [_query("since", {"type": "string"},
                              "Only jobs requested at or after this time. " + _TIME_NOTE)],
        "responses": {"200": _ok("The statistics.",
                                 json_content(schema_ref("FunctionMetrics"))), **_errors()},
    }),
    "/api/v1/functions/{ref}/logs": _path(get={
        "operationId": "getFunctionLogs", "tags": ["observability"],
        "summary": "A function's log lines, or a live stream of them",
        "description": _LOGS_DESCRIPTION, "security": _READ_JOBS,
        "parameters": [
            _query("since", {"type": "string"}, "Lines printed at or after. " + _TIME_NOTE),
            _query("until", {"type": "string"},
                   "Lines printed before (exclusive); must be later than `since` (400). "
                   "With `follow`, the stream ends when it passes. " + _TIME_NOTE),
            _query("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
                   "How many of the newest matching lines (with `follow`: of the backlog "
                   "sent first). Outside 1..1000 or not an integer → 400."),
            _query("job_id", {"type": "string", "format": "uuid"},
                   "Only this job's lines. Not a UUID → 400."),
            _query("follow", {"type": "boolean", "default": False},
                   "`true` streams Server-Sent Events. `true`/`false`/`1`/`0`; anything "
                   "else → 400."),
        ],
        "responses": {"200": _ok("The lines, or (with `follow=true`) the event stream.", {
            **json_content(schema_ref("FunctionLogs")),
            "text/event-stream": {
                "schema": {"type": "string",
                           "description": "`data: <LogLine as JSON>` events, and "
                                          "`: keep-alive` comments."},
                "x-event-data": schema_ref("LogLine"),
            },
        }), **_errors()},
    }),
    "/api/v1/functions/{ref}/events": _path(get={
        "operationId": "getFunctionEvents", "tags": ["observability"],
        "summary": "A function's audit events",
        "description": _EVENTS_DESCRIPTION, "security": _READ_JOBS,
        "parameters": [_query("limit", {"type": "integer", "minimum": 1, "maximum": 1000,
                                        "default": 100},
                              "How many of the newest events. Outside 1..1000 → 400.")],
        "responses": {"200": _ok("The events, newest first.",
                                 json_content(schema_ref("FunctionEvents"))), **_errors()},
    }),
}

_DURATIONS = {
    "type": "object",
    "description": "Milliseconds over the runs (cache hits excluded); null when none ran.",
    "properties": {k: _NUMBER_OR_NULL for k in ("min", "max", "avg", "p50", "p95", "p99")},
    "required": ["min", "max", "avg", "p50", "p95", "p99"],
}

_EVENT_TYPES = ["created", "updated", "deployed", "activated", "rolled_back", "build_failed",
                "trigger_added", "trigger_removed", "deleted"]

OBSERVABILITY_SCHEMAS: dict[str, Any] = {
    "FunctionMetrics": {
        "type": "object",
        "properties": {
            "invocations": {
                "type": "object",
                "properties": {"total": {"type": "integer", "minimum": 0},
                               "successful": {"type": "integer", "minimum": 0},
                               "failed": {"type": "integer", "minimum": 0}},
                "required": ["total", "successful", "failed"],
            },
            "success_rate": {"type": "number", "minimum": 0, "maximum": 100},
            "error_rate": {"type": "number", "minimum": 0, "maximum": 1},
            "cold_starts": {"type": "integer", "minimum": 0},
            "cache_hits": {"type": "integer", "minimum": 0},
            "avg_execution_time": {**_NUMBER_OR_NULL, "description": "ms; = `duration.avg`."},
            "duration": _DURATIONS,
            "cpu_usage": {**_NUMBER_OR_NULL, "description": "Mean CPU ms per run."},
            "memory_usage": {"type": ["integer", "null"],
                             "description": "Highest peak RSS of a run's worker, bytes."},
            "concurrency": {
                "type": "object",
                "properties": {"current": {"type": "integer", "minimum": 0},
                               "max": {"type": "integer", "minimum": 1}},
                "required": ["current", "max"],
            },
            "gb_seconds": {"type": "number", "minimum": 0},
            "cost_estimate": {"type": "number", "minimum": 0, "description": "US dollars."},
            "since": {**nullable(TIMESTAMP), "description": "The window's start, or null."},
        },
        "required": ["invocations", "success_rate", "error_rate", "cold_starts", "cache_hits",
                     "avg_execution_time", "duration", "cpu_usage", "memory_usage",
                     "concurrency", "gb_seconds", "cost_estimate", "since"],
    },
    "FunctionLogs": {
        "type": "object",
        "properties": {"logs": {"type": "array", "items": schema_ref("LogLine"),
                                "description": "Oldest first."}},
        "required": ["logs"],
    },
    "Event": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "type": {"type": "string", "enum": _EVENT_TYPES},
            "description": {"type": "string"},
            "metadata": {"type": "object"},
            "actor": {"type": ["string", "null"],
                      "description": "The token's `sub`; null for the gateway itself."},
            "created_at": TIMESTAMP,
        },
        "required": ["id", "type", "description", "metadata", "actor", "created_at"],
    },
    "FunctionEvents": {
        "type": "object",
        "properties": {"events": {"type": "array", "items": schema_ref("Event"),
                                  "description": "Newest first."}},
        "required": ["events"],
    },
}
