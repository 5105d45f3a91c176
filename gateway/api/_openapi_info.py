"""The prose of the OpenAPI document: its description, tags and security schemes
(package-private, see :mod:`gateway.api.openapi`)."""

from __future__ import annotations

from typing import Any

from gateway.api._openapi_projects import PROJECT_TAG
from gateway.api._openapi_webhooks import WEBHOOK_TAG

__all__ = ["INFO_DESCRIPTION", "SECURITY_SCHEMES", "TAGS"]

INFO_DESCRIPTION = """\
fngate runs small functions behind one authenticated HTTP API. This document \
describes the routes this gateway serves now; `docs/api.md` in the repository is the \
prose reference.

Conventions: bodies are JSON (UTF-8), `snake_case`; timestamps RFC 3339 UTC with `Z`; \
durations are integer milliseconds unless named otherwise. A JSON request body (an event, \
`params`, an HTTP trigger's JSON body included) may nest arrays and objects at most 128 \
levels deep (`{"a": [1]}` is 2): deeper → 400 `INVALID_REQUEST` with \
`details.max_depth: 128`, before anything runs. Every response carries \
`X-Request-ID`. Errors share the `Error` body. Routing comes first: an unknown path is 404 \
and a method a path does not serve is 405 (`MethodNotAllowed`), both without looking at the \
token. A database outage answers 503 `UNAVAILABLE` with `Retry-After` on any `/api/v1` route.

Before routing (and so before the token and rate limits), a request whose percent-decoded \
path, or any percent-decoded query parameter name or value, holds a control character \
(Unicode `Cc`: U+0000–U+001F, U+007F–U+009F) or bytes that are not UTF-8 answers 400 \
`INVALID_REQUEST` (`details.in`: `path` or `query`, with `details.parameter`), on every path, \
routed or not. The query of an HTTP trigger (`/fn/…`) is the function's input: there only NUL \
and invalid UTF-8 are refused.

## Rate limits

Per caller, with a moving window: the caller is the verified token's `iss` + `sub`, else the \
client IP (the socket peer, or the right-most untrusted `X-Forwarded-For` address behind a \
proxy listed in `FNGATE_TRUSTED_PROXIES`). A request with a missing or invalid token counts \
against its IP's unauthenticated limit before it gets its 401. A route's class is the first \
that matches (each operation names it in `x-rate-limit-class`):

| class | routes | authenticated | unauthenticated |
|---|---|---|---|
| `execute` | `/api/v1/initialize`, `/api/v1/execute/*`, `/api/v1/sessions/*`, \
`…/invoke`, `…/invoke-async`, HTTP triggers (`/fn/*`) | 100/minute | 10/minute |
| `write` | any other `POST`, `PUT`, `DELETE` (and `PATCH`) under `/api/v1` | 100/hour | 10/minute |
| `read` | any other `GET` under `/api/v1` | 60/minute | 10/minute |
| none | `/health`, `/ready`, `/status`, `/metrics`, `/openapi.json`, `OPTIONS`, unknown \
paths (404) and wrong methods (405) | — | — |

The defaults change with `FNGATE_RATE_LIMITS` \
(`execute=100/minute|10/minute; read=60/minute|10/minute; write=100/hour|10/minute`, a class \
left out keeps its default) or `off`. Every response of a limited route carries \
`X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset` (epoch seconds); a \
refusal is 429 `RATE_LIMITED` with `Retry-After` (seconds). A function's own `rate_limit` \
(e.g. `1000/minute`, over all callers) is counted on `/invoke`, `/invoke-async`, session \
executes and HTTP triggers, and answers 429 `RATE_LIMITED` (`details.scope: "function"`) \
too. Counters live in memory, or in Redis when `FNGATE_REDIS_URL` is set so replicas share \
them; if Redis does not answer, limits fail open (requests pass, `/health` reports \
`rate_limiter: down`).

## CORS

Allowed origins come from `FNGATE_CORS_ORIGINS` (none by default; `*` allows any origin, \
without credentials). A preflight (`OPTIONS` with `Origin` and \
`Access-Control-Request-Method`) is answered before routing, authentication and rate limits, \
on any path: from an allowed origin 200 with `Access-Control-Allow-Origin`, \
`Access-Control-Allow-Methods: GET, POST, PUT, DELETE, OPTIONS`, \
`Access-Control-Allow-Headers: Content-Type, Authorization, Language-Title, X-Request-ID, \
X-Cache-Control, Idempotency-Key, Prefer, X-Callback-URL`, `Access-Control-Max-Age: 86400` \
(and `Access-Control-Allow-Credentials: true` unless the origin list is `*`); from any other \
origin 400 `INVALID_REQUEST` with no CORS headers. Other responses to an allowed origin \
expose `X-Request-ID, X-Job-ID, X-Cache, Age, X-Function-Duration, X-Cold-Start, \
X-Function-Error, Location, Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining, \
X-RateLimit-Reset`; a disallowed origin gets no CORS headers. Preflights are not listed as \
operations.

## Result cache

Session executes use the result cache by default and sync `/invoke` only when the request \
sends `X-Cache-Control`. Results are keyed by function, version, its environment, the \
canonical JSON of the params and, unless the function's `cache_scope` is `shared`, the \
caller; a function with `cache_ttl: 0` is never cached and only successful runs are stored. \
Responses say `X-Cache: HIT|MISS|BYPASS`, with `Age` on a hit."""

_SECURITY_DESCRIPTION = """\
`Authorization: Bearer <JWT>`. Claims: `sub` and `exp` required; `exp`, `nbf` and `iat` must \
be JSON numbers (a numeric string or a boolean → 401); `scope` (space-separated; a \
`scopes` or `scp` list is also read); `iss`/`aud` checked when configured. Algorithms are \
pinned by configuration (HS256, RS256 or ES256); `alg: none` is rejected.

| scope | grants |
|---|---|
| `read:functions` | the catalog: list/get functions, versions, triggers |
| `read:jobs` | every caller's jobs, job logs, function logs, metrics and events |
| `write:functions` | create/update/delete functions, versions, triggers; rollback \
(also grants reading the catalog, with environment values revealed) |
| `execute:all` | invoke any function, sessions for any function |
| `execute:<language>` (`execute:python`, `execute:nodejs`, …) | invoke / sessions for \
functions of that language |
| `admin` | everything: projects, system env and dependencies, webhooks, other subjects' \
jobs and sessions |

A caller sees the jobs it created (same `iss` and `sub`); `read:jobs` and `admin` see every \
job; others get 404, never 403. The scopes an operation accepts are listed in its `security` \
(alternatives) and its description."""

TAGS: list[dict[str, Any]] = [
    {"name": "functions", "description": "The function catalog."},
    {"name": "invocation", "description": "Running functions."},
    {"name": "jobs", "description": "Invocation records and their logs."},
    {"name": "sessions", "description": "Initialize / execute sessions."},
    {"name": "triggers", "description": "Triggers of a function, and HTTP triggers."},
    {"name": "operations", "description": "Unauthenticated operator views."},
    {"name": "provider", "description": "Capabilities and health for platforms that "
                                        "schedule onto several providers."},
    {"name": "observability", "description": "A function's metrics, logs and audit events."},
    WEBHOOK_TAG,
    PROJECT_TAG,
]

SECURITY_SCHEMES: dict[str, Any] = {
    "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                   "description": _SECURITY_DESCRIPTION},
    "metricsToken": {"type": "http", "scheme": "bearer",
                     "description": "The static `FNGATE_METRICS_TOKEN`, on `/metrics` only, "
                                    "when configured."},
}
