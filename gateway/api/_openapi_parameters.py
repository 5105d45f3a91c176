"""The shared parameters of the OpenAPI document (``components/parameters``: path ids,
request headers; package-private, see :mod:`gateway.api.openapi`)."""

from __future__ import annotations

from typing import Any

from gateway.api._openapi_webhooks import CALLBACK_URL_DESCRIPTION
from gateway.api.middleware.request_id import REQUEST_ID_PATTERN
from gateway.core.identifiers import ID_PATTERN

__all__ = ["PARAMETERS"]

PARAMETERS: dict[str, Any] = {
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
        "schema": {"type": "string", "pattern": ID_PATTERN},
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
        "schema": {"type": "string", "pattern": REQUEST_ID_PATTERN},
        "description": "Echoed as usual; when it is a UUID it also becomes the session's id. "
                       "The same caller initializing an active id again for the same "
                       "function gets that session back as it stands; another caller, "
                       "another function, or a closed or expired session → 409 `CONFLICT`. "
                       "Otherwise the session gets a new UUID.",
    },
    "X-Request-ID": {
        "name": "X-Request-ID", "in": "header", "required": False,
        "schema": {"type": "string", "pattern": REQUEST_ID_PATTERN},
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
