"""OpenAPI paths and schemas of function versions and rollback (package-private).

Merged into the document by :mod:`gateway.api.openapi`; built only from
:mod:`gateway.api._openapi_schemas` helpers so the two modules do not import each other.
The ``Version`` schema itself is in :mod:`gateway.api._openapi_schemas`.
"""

from __future__ import annotations

import functools
from typing import Any

from gateway.api._openapi_schemas import error_refs, json_content, operation, ref, schema_ref

__all__ = ["VERSION_PATHS", "VERSION_SCHEMAS"]

_READ = [{"bearerAuth": [s]} for s in ("read:functions", "write:functions", "admin")]
_WRITE = [{"bearerAuth": [s]} for s in ("write:functions", "admin")]
_READ_NOTE = "Needs `read:functions`, `write:functions` or `admin`. "
_WRITE_NOTE = "Needs `write:functions` or `admin`. "

_ACTIVATION_NOTE = (
    "An activation commits with its audit event and is announced to every replica: new "
    "invocations (on any replica, within the change listener's delay) run the newly active "
    "version, while invocations already running finish on the version they started with. "
    "Idle warm workers of the function are dropped and `function.deployed` is queued for "
    "webhook subscribers (`data.version`: the version now active). The function takes the "
    "version's runtime (409 `CONFLICT` if that would make its `language_title` ambiguous). "
    "An explicit activation or a rollback does not cancel a newer version that is still "
    "building and was made to be activated (by `PUT /api/v1/functions/{ref}` or with "
    "`\"activate\": true`): it becomes active when its build succeeds."
)

_VERSION_CREATE = {
    "type": "object",
    "description": (
        "Body of `POST /api/v1/functions/{ref}/versions`; an empty body is `{}`. Omitted "
        "fields keep the value of the newest version that did not fail its build (as "
        "`PUT /api/v1/functions/{ref}` merges), so `{}` copies it. `runtime` → 400 (change "
        "it with `PUT /api/v1/functions/{ref}`), `image` → 400 (custom images are not "
        "supported), and any other field → 400 `INVALID_REQUEST` naming it "
        "(`details.field`)."
    ),
    "properties": {
        "code": {"type": "string", "description": "Source text."},
        "source_code": {"type": "string", "contentEncoding": "base64",
                        "description": "Base64 of UTF-8 source, instead of `code` (both → "
                                       "400)."},
        "handler": {"type": "string",
                    "description": "Entry point name; `index.handler` / `main.handler` forms "
                                   "accepted (the part after the last dot is the name)."},
        "dependencies": {
            "type": "array", "maxItems": 100,
            "items": {"type": "string"},
            "description": "pip requirement specifiers (python) or npm `name@range` (nodejs), "
                           "checked against the function's runtime: names and version ranges "
                           "only; options, URLs, paths, or another runtime's syntax → 400. "
                           "With dependencies the version is `building` until its "
                           "background build ends.",
        },
        "activate": {
            "type": "boolean", "default": False,
            "description": "Make the new version active: at once when it needs no build, "
                           "else when its build succeeds (a failed build leaves the active "
                           "version as it is and records `build_failed`). `false`: it stays "
                           "inactive, even after its build, until `PUT …/versions/{version}/"
                           "active`.",
        },
        "version": {
            "type": "integer", "minimum": 1, "maximum": 999999999,
            "description": "Optional: the number the client expects the new version to get "
                           "(the Function Service document sends it). Versions are numbered "
                           "by the gateway (1, 2, …); when the next number is another, 409 "
                           "`CONFLICT` (`details.version`, `details.next_version`) and "
                           "nothing is added.",
        },
    },
    "not": {"required": ["code", "source_code"]},
    "additionalProperties": False,
}

VERSION_SCHEMAS: dict[str, Any] = {
    "VersionCreate": _VERSION_CREATE,
    "VersionList": {
        "type": "object",
        "properties": {"versions": {"type": "array", "items": schema_ref("Version"),
                                    "description": "Newest first."}},
        "required": ["versions"],
    },
}

_VERSION_NUMBER = {
    "name": "version", "in": "path", "required": True,
    "schema": {"type": "string", "pattern": "^[0-9]+$"},
    "description": "The version's number (`1`, `2`, …); an unknown number, or anything that "
                   "is not one, → 404 `VERSION_NOT_FOUND`.",
}


def _ok(description: str, schema: dict[str, Any], *extra_headers: str) -> dict[str, Any]:
    headers = {"X-Request-ID": ref("headers", "X-Request-ID")}
    for name in extra_headers:
        headers[name] = {"description": "Where the function's versions are listed.",
                         "schema": {"type": "string"}}
    return {"description": description, "headers": headers,
            "content": json_content(schema)}


_op = functools.partial(operation, "functions", body_required=False)


def _item(*parameters: dict[str, Any], **operations: dict[str, Any]) -> dict[str, Any]:
    return {"parameters": [ref("parameters", "X-Request-ID"), ref("parameters", "ref"),
                           *parameters], **operations}


VERSION_PATHS: dict[str, Any] = {
    "/api/v1/functions/{ref}/versions": _item(
        get=_op("listVersions", "List a function's versions",
                _READ_NOTE + "Every version, newest first, with its code, build status and "
                "log; `is_active` marks the active one as of this request.", _READ,
                {"200": _ok("The versions.", schema_ref("VersionList")),
                 **error_refs("401", "403", "404", "500")}),
        post=_op("createVersion", "Add a version",
                 _WRITE_NOTE + "A new version (the next number) merged over the newest one "
                 "that did not fail its build. With dependencies it is `building` and builds "
                 "in the background (its outcome lands in `build_status` / `build_log`). It "
                 "is not activated unless `activate` is `true`. Records a `deployed` event "
                 "(and `activated` when it became active at once). " + _ACTIVATION_NOTE,
                 _WRITE,
                 {"201": _ok("The new version as stored now (`building` while it builds).",
                             schema_ref("Version"), "Location"),
                  **error_refs("400", "401", "403", "404", "409", "413", "500")},
                 body="VersionCreate"),
    ),
    "/api/v1/functions/{ref}/versions/{version}/active": _item(
        _VERSION_NUMBER,
        put=_op("activateVersion", "Activate a version",
                _WRITE_NOTE + "Makes the version active, older or newer than the active one; "
                "no body is read. 409 `CONFLICT` while it is building or if its build failed "
                "(`details.build_status`). Activating the active version changes nothing and "
                "records nothing; otherwise an `activated` event is recorded. "
                + _ACTIVATION_NOTE, _WRITE,
                {"200": _ok("The function, now on that version.", schema_ref("Function")),
                 **error_refs("401", "403", "404", "409", "500")}),
    ),
    "/api/v1/functions/{ref}/rollback": _item(
        post=_op("rollbackFunction", "Roll back to the previous built version",
                 _WRITE_NOTE + "Activates the highest version below the active one whose "
                 "build succeeded (skipping failed and building ones); no body is read. "
                 "None → 409 `CONFLICT` (`details.active_version`). Records a `rolled_back` "
                 "event; a second rollback goes one further back. " + _ACTIVATION_NOTE,
                 _WRITE,
                 {"200": _ok("The function, now on the earlier version.",
                             schema_ref("Function")),
                  **error_refs("401", "403", "404", "409", "500")}),
    ),
}
