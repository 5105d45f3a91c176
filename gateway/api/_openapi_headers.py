"""The response headers of the OpenAPI document (``components/headers``; package-private,
see :mod:`gateway.api.openapi`)."""

from __future__ import annotations

from typing import Any

from gateway.api._openapi_schemas import schema_ref

__all__ = ["HEADERS", "LIMIT_HEADERS"]

LIMIT_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
_LIMIT_NOTE = (
    " Sent on every response of a rate-limited route (every `/api/v1` route and HTTP "
    "triggers), errors included, while limits are on (`FNGATE_RATE_LIMITS` is not `off`); "
    "a 429 of a function's own `rate_limit` carries that limit's values."
)

HEADERS: dict[str, Any] = {
    "X-Request-ID": {
        "description": "The client's `X-Request-ID` when it sent a valid one (1–128 chars of "
                       "`[A-Za-z0-9._:-]`), otherwise a new UUID.",
        "required": True,
        "schema": {"type": "string"},
    },
    "X-Job-ID": {"description": "The job's id.", "required": True,
                 "schema": {"type": "string", "format": "uuid"}},
    "X-Function-Duration": {
        "description": "Run time in seconds with millisecond precision (e.g. `0.042`); only "
                       "once the job has finished.",
        "schema": {"type": "string", "pattern": "^[0-9]+\\.[0-9]{3}$"},
    },
    "X-Cold-Start": {"description": "Whether the run started a worker; only once finished.",
                     "schema": {"type": "string", "enum": ["true", "false"]}},
    "X-Function-Error": {"description": "The job's error code when the run failed.",
                         "schema": schema_ref("ErrorCode")},
    "Location": {"description": "`/api/v1/jobs/{id}` of the job.", "required": True,
                 "schema": {"type": "string"}},
    "FunctionLocation": {"description": "`/api/v1/functions/{name}` of the new function.",
                         "required": True, "schema": {"type": "string"}},
    "ProjectLocation": {"description": "`/api/v1/projects/{name}` of the new project.",
                        "required": True, "schema": {"type": "string"}},
    "VersionsLocation": {"description": "Where the function's versions are listed.",
                         "schema": {"type": "string"}},
    "Retry-After": {"description": "Seconds to wait before retrying: on a 429 until the "
                                   "limit's window frees a request (`1` for "
                                   "`CONCURRENCY_LIMIT`), on a 503 `5`.",
                    "schema": {"type": "integer", "minimum": 0}},
    "X-Cache": {"description": "The result cache's part in this answer: `HIT` (served from "
                               "the cache, no run), `MISS` (looked up, ran), `BYPASS` (ran "
                               "without reading the cache: `no-cache`, `max-age=0`, "
                               "`no-store`, or the function's `cache_ttl` is 0).",
                "schema": {"type": "string", "enum": ["HIT", "MISS", "BYPASS"]}},
    "Age": {"description": "On a cache hit: whole seconds since the result was stored.",
            "schema": {"type": "integer", "minimum": 0}},
    "X-RateLimit-Limit": {
        "description": "Requests allowed in the window of the limit that applies (the "
                       "caller's limit for the route class)." + _LIMIT_NOTE,
        "schema": {"type": "integer", "minimum": 0},
    },
    "X-RateLimit-Remaining": {
        "description": "Requests left in the current window." + _LIMIT_NOTE,
        "schema": {"type": "integer", "minimum": 0},
    },
    "X-RateLimit-Reset": {
        "description": "When the window frees a request, in epoch seconds." + _LIMIT_NOTE,
        "schema": {"type": "integer", "minimum": 0},
    },
    "WWW-Authenticate": {"description": "`Bearer realm=\"fngate\"`.",
                         "schema": {"type": "string"}},
    "Allow": {"description": "The methods the HTTP trigger accepts, comma-separated.",
              "schema": {"type": "string", "examples": ["GET, POST"]}},
}
