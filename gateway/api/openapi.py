"""The OpenAPI 3.1 document of the routes this gateway serves today.

The document is plain data built once at import; :func:`build_openapi` hands
out a fresh copy with the version filled in. It describes what the code does,
including the choices API.md leaves open, so a change to a route's behaviour
belongs here too (``tests/unit/test_openapi.py`` checks that paths and methods
match ``gateway.api.routes.all_routes()``). Paths and component schemas are
written from the operations declared on the routes and their models
(:mod:`gateway.api.openapi_operations`); this module holds the shared headers,
parameters and responses, and assembles the document.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from starlette.routing import BaseRoute

from gateway.api._openapi_projects import PROJECT_TAG
from gateway.api._openapi_schemas import JSON as _JSON
from gateway.api._openapi_schemas import json_content as _json
from gateway.api._openapi_schemas import ref as _ref
from gateway.api._openapi_schemas import schema_ref as _schema
from gateway.api._openapi_webhooks import (
    CALLBACK_URL_DESCRIPTION,
    OUTGOING_WEBHOOKS,
    WEBHOOK_TAG,
)
from gateway.api.middleware.ratelimit import route_class
from gateway.api.openapi_operations import operation_paths
from gateway.api.operations import declared_operations
from gateway.schemas.errors import ERROR_CODES, Error, ParamError
from gateway.schemas.webhooks import WebhookDelivery

__all__ = ["build_openapi", "ERROR_CODES"]

_LIMIT_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
_LIMIT_NOTE = (
    " Sent on every response of a rate-limited route (every `/api/v1` route and HTTP "
    "triggers), errors included, while limits are on (`FNGATE_RATE_LIMITS` is not `off`); "
    "a 429 of a function's own `rate_limit` carries that limit's values."
)

# -- headers, parameters, responses -------------------------------------------------------

_HEADERS: dict[str, Any] = {
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
                         "schema": _schema("ErrorCode")},
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

_PARAMETERS: dict[str, Any] = {
    "ref": {
        "name": "ref", "in": "path", "required": True, "schema": {"type": "string"},
        "description": "The function's id (all digits), else its name, else its "
                       "`language_title` (`nodejs-calculator`); name and `language_title` "
                       "match case-insensitively (`myfunction` finds `myFunction`), as "
                       "names are unique that way.",
    },
    "job_id": {"name": "job_id", "in": "path", "required": True,
               "schema": {"type": "string", "format": "uuid"}, "description": "A job's id."},
    "request_id": {
        "name": "request_id", "in": "path", "required": True,
        "schema": {"type": "string", "format": "uuid"},
        "description": "A session's id (`request_id` of `POST /api/v1/initialize`); anything "
                       "that is not a known session's id → 404 `SESSION_NOT_FOUND`.",
    },
    "trigger_id": {
        "name": "trigger_id", "in": "path", "required": True,
        "schema": {"type": "string", "pattern": "^[0-9]{1,18}$"},
        "description": "A trigger's id; anything else, or a trigger of another function → "
                       "404 `TRIGGER_NOT_FOUND`.",
    },
    "fn_path": {
        "name": "path", "in": "path", "required": True, "schema": {"type": "string"},
        "description": "The rest of the URL path after `/fn/`, slashes included (an HTTP "
                       "trigger's `config.path` without its leading `/`; a trailing `/` is "
                       "ignored).",
    },
    "Language-Title": {
        "name": "Language-Title", "in": "header", "required": True,
        "schema": {"type": "string", "examples": ["nodejs-calculator"]},
        "description": "The function: its `language_title` (`<language>-<name>`) or its "
                       "name. Missing → 400 `INVALID_REQUEST` (`details.header`); no such "
                       "function → 404 `FUNCTION_NOT_FOUND`.",
    },
    "X-Cache-Control": {
        "name": "X-Cache-Control", "in": "header", "required": False,
        "schema": {"type": "string", "examples": ["no-cache", "no-store", "max-age=60"]},
        "description": "Exactly one of: `no-cache` (do not read the cache; run and store the "
                       "fresh result), `no-store` (neither read nor write), `max-age=N` "
                       "(serve a cached result at most N seconds old; store a fresh one with "
                       "TTL min(N, `cache_ttl`); `max-age=0` is `no-cache`), N a non-negative "
                       "integer. Case-insensitive, surrounding spaces ignored. Anything else "
                       "(lists, other directives, a value after `no-cache`, …) → 400 "
                       "`INVALID_REQUEST` with `details.header`.",
    },
    "SessionRequestID": {
        "name": "X-Request-ID", "in": "header", "required": False,
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$"},
        "description": "Echoed as usual; when it is a UUID it also becomes the session's id. "
                       "The same caller initializing an active id again for the same "
                       "function gets that session back as it stands; another caller, "
                       "another function, or a closed or expired session → 409 `CONFLICT`. "
                       "Otherwise the session gets a new UUID.",
    },
    "X-Request-ID": {
        "name": "X-Request-ID", "in": "header", "required": False,
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$"},
        "description": "Echoed in the response and error bodies; an invalid value is replaced "
                       "by a new UUID, not refused.",
    },
    "Idempotency-Key": {
        "name": "Idempotency-Key", "in": "header", "required": False,
        "schema": {"type": "string", "minLength": 1, "maxLength": 255},
        "description": "The same key from the same caller for the same function within 24 h "
                       "returns the first call's job (its current state, which may still be "
                       "pending or running) without running again; the same key with another "
                       "body → 409 `CONFLICT`. Outside 1–255 chars → 400.",
    },
    "Prefer": {
        "name": "Prefer", "in": "header", "required": False,
        "schema": {"type": "string", "examples": ["respond-async"]},
        "description": "`respond-async` asks for a 202 with a pending job. `?async=` wins "
                       "when both are given.",
    },
    "X-Callback-URL": {
        "name": "X-Callback-URL", "in": "header", "required": False,
        "schema": {"type": "string", "format": "uri", "maxLength": 2048},
        "description": CALLBACK_URL_DESCRIPTION,
    },
}

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
            "`details.parameter`), answered before routing and the token.", _LIMIT_HEADERS),
    "401": ("Unauthorized", "`UNAUTHORIZED`: no token, bad signature, expired, wrong "
            "issuer/audience.", ("WWW-Authenticate", *_LIMIT_HEADERS)),
    "403": ("Forbidden", "`FORBIDDEN`: a valid token without the needed scope "
            "(`details.required_scope`).", _LIMIT_HEADERS),
    "404": ("NotFound", "Unknown resource, or one the caller may not see "
            "(`FUNCTION_NOT_FOUND`, `JOB_NOT_FOUND`, `SESSION_NOT_FOUND`, "
            "`TRIGGER_NOT_FOUND`, `PROJECT_NOT_FOUND`, `VERSION_NOT_FOUND`, `NOT_FOUND`).",
            _LIMIT_HEADERS),
    "405": ("MethodNotAllowed", "A method the path does not serve (checked before the token).",
            ()),
    "409": ("Conflict", "`CONFLICT`: a name or HTTP trigger path taken, a name ambiguous, a "
            "function with no runnable version, activating a version that is building or "
            "failed its build, a rollback with no earlier built version, a session id taken "
            "by another caller, an idempotency key reused with another body; a project with "
            "functions deleted. "
            "`PROJECT_STOPPED`: running a function whose project is stopped.",
            _LIMIT_HEADERS),
    "413": ("PayloadTooLarge", "`PAYLOAD_TOO_LARGE`: the body is over the configured limit "
            "(`FNGATE_MAX_BODY_BYTES`, default 6 MiB).", _LIMIT_HEADERS),
    "429": ("TooManyRequests",
            "`RATE_LIMITED`: the caller's limit for the route class is used up "
            "(`details.route_class`, `limit`, `retry_after`), or the function's own "
            "`rate_limit` over all callers is (`details.scope: \"function\"`; on `/invoke`, "
            "`/invoke-async`, session executes and HTTP triggers). `CONCURRENCY_LIMIT` (sync "
            "`/invoke` and HTTP triggers only): the function is at `max_concurrency` and its "
            "wait queue (10 × `max_concurrency`, each waiting at most its timeout) is full "
            "(`details.max_concurrency`). Both set `Retry-After`.",
            ("Retry-After", *_LIMIT_HEADERS)),
    "500": ("InternalError", "`INTERNAL_ERROR`: a fault of the gateway itself; on session "
            "executes and HTTP triggers also a failed run (`RUNTIME_ERROR` …).",
            _LIMIT_HEADERS),
    "503": ("Unavailable", "`UNAVAILABLE`: the database (or broker) does not answer; any "
            "`/api/v1` route and HTTP trigger may answer so. `Retry-After: 5`.",
            ("Retry-After", *_LIMIT_HEADERS)),
    "504": ("Timeout", "`TIMEOUT`: the run passed its timeout and was killed (session "
            "executes and HTTP triggers; `/invoke` reports it in the job instead).",
            ("X-Job-ID", *_LIMIT_HEADERS)),
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
    return {name: _ref("headers", name) for name in ("X-Request-ID", *names)}


def _error_content(name: str) -> dict[str, Any]:
    content = _json(_schema("Error"))
    if name in _ERROR_EXAMPLES:
        content[_JSON]["examples"] = _ERROR_EXAMPLES[name]
    return content


_RESPONSES: dict[str, Any] = {
    name: {"description": description, "headers": _headers(*extra),
           "content": _error_content(name)}
    for name, description, extra in _ERROR_RESPONSES.values()
}


def _error(status: str) -> dict[str, Any]:
    return _ref("responses", _ERROR_RESPONSES[status][0])


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


_FN_METHODS = ("get", "post", "put", "patch", "delete")


def _limited(paths: dict[str, Any]) -> dict[str, Any]:
    """Mark rate-limited operations: their class, 429 and 503, X-RateLimit on each response;
    the errors of the others carry no X-RateLimit headers."""
    for path, item in paths.items():
        for method, operation in item.items():
            if method not in _FN_METHODS:
                continue
            # A template's {param} stands in for one path segment, as in a request.
            klass = route_class(method.upper(), path)
            if klass is None:
                _unlimited(operation["responses"])
                continue
            operation["x-rate-limit-class"] = klass
            responses = operation["responses"]
            responses.setdefault("429", _error("429"))
            responses.setdefault("503", _error("503"))
            for response in responses.values():
                if "$ref" not in response:
                    response["headers"].update(
                        {name: _ref("headers", name) for name in _LIMIT_HEADERS})
    return paths


def _unlimited(responses: dict[str, Any]) -> None:
    """The shared error responses of ``responses``, inlined without the X-RateLimit headers
    the rate limiter adds (an operation it does not see answers without them)."""
    for status, response in responses.items():
        if "$ref" in response:
            inlined = copy.deepcopy(_RESPONSES[response["$ref"].rsplit("/", 1)[1]])
            for name in _LIMIT_HEADERS:
                inlined["headers"].pop(name, None)
            responses[status] = inlined


_TARGET_REFUSED = {
    "description": "`INVALID_REQUEST`: a control character or bytes that are not UTF-8 in the "
                   "percent-decoded path or a query parameter (`details.in`: `path` or "
                   "`query`, with `details.parameter`), answered before routing.",
    "headers": _headers(), "content": _error_content("BadRequest"),
}


def _guarded(paths: dict[str, Any]) -> dict[str, Any]:
    """Every operation may answer the request-target guard's 400 (a control character or
    invalid UTF-8 in the path or a query parameter), whatever else it answers; it comes
    before the rate limiter, so an unlimited operation's 400 has no X-RateLimit headers."""
    for item in paths.values():
        for method, operation in item.items():
            if method in _FN_METHODS:
                limited = "x-rate-limit-class" in operation
                operation["responses"].setdefault(
                    "400", _error("400") if limited else copy.deepcopy(_TARGET_REFUSED))
    return paths


#: Models the document names outside an operation: the body of an outgoing webhook, and
#: the error body of the shared error responses (`ParamError` its `details.errors`).
_EXTRA_MODELS = (WebhookDelivery, Error, ParamError)

_INFO_DESCRIPTION = """\
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

_DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "fngate", "version": "", "description": _INFO_DESCRIPTION,
             "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"}},
    "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
    "tags": [
        {"name": "functions", "description": "The function catalog."},
        {"name": "invocation", "description": "Running functions."},
        {"name": "jobs", "description": "Invocation records and their logs."},
        {"name": "sessions", "description": "Initialize / execute sessions."},
        {"name": "triggers", "description": "Triggers of a function, and HTTP triggers."},
        {"name": "operations", "description": "Unauthenticated operator views."},
        {"name": "provider", "description": "Capabilities and health for platforms that "
                                            "schedule onto several providers."},
        {"name": "observability",
         "description": "A function's metrics, logs and audit events."},
        WEBHOOK_TAG,
        PROJECT_TAG,
    ],
    "paths": {},
    "webhooks": OUTGOING_WEBHOOKS,
    "components": {
        "schemas": {},
        "responses": _RESPONSES,
        "parameters": _PARAMETERS,
        "headers": _HEADERS,
        "securitySchemes": {
            "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                           "description": _SECURITY_DESCRIPTION},
            "metricsToken": {"type": "http", "scheme": "bearer",
                             "description": "The static `FNGATE_METRICS_TOKEN`, on `/metrics` "
                                            "only, when configured."},
        },
    },
}


def build_openapi(version: str, routes: Sequence[BaseRoute]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``routes`` with ``info.version`` set; a fresh copy each
    call. Its operations and component schemas are written from the operations declared
    on ``routes`` (:func:`gateway.api.operations.operation`) and their models."""
    document = copy.deepcopy(_DOCUMENT)
    document["info"]["version"] = version
    paths, schemas = operation_paths(declared_operations(routes), _EXTRA_MODELS)
    document["paths"] = _guarded(_limited(paths))
    document["components"]["schemas"] = schemas
    return document
