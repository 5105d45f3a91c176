"""OpenAPI paths and schemas of projects and the system layer (package-private).

Merged into the document by :mod:`gateway.api.openapi`; built only from
:mod:`gateway.api._openapi_schemas` helpers so the two modules do not import each other.
"""

from __future__ import annotations

import functools
from typing import Any

from gateway.api._openapi_schemas import (
    TIMESTAMP,
    error_refs,
    ok_response,
    operation,
    ref,
    schema_ref,
)

__all__ = ["PROJECT_PATHS", "PROJECT_SCHEMAS", "PROJECT_TAG"]

_NAME_PATTERN = "^[a-z][a-z0-9-]{0,62}$"
_ENV_NAME = {"pattern": "^[A-Za-z_][A-Za-z0-9_]{0,127}$"}

PROJECT_TAG = {
    "name": "projects",
    "description": (
        "Projects group functions and layer environment and dependencies beneath them. A "
        "function runs with the system environment, overridden by its project's, overridden "
        "by its own `environment` — and nothing of the gateway's own environment (no "
        "`FNGATE_*`, no secrets, no database URL). Its dependencies are the union of the "
        "system's, its project's and its own; where two layers name the same package the "
        "nearer one's specifier wins, and a system or project entry applies to the functions "
        "whose runtime's syntax accepts it (`lodash@^4` only to Node.js, `requests>=2` only "
        "to Python, a bare name to both). A version's background build installs that union "
        "and records it on the version (`resolved_dependencies`): every run installs that "
        "recorded set. A project or system dependency change rebuilds the affected "
        "functions in the background (one build per distinct set): each keeps serving with "
        "its current build until its new one is ready, then swaps (a `deployed` event with "
        "`metadata.rebuild`); a failed rebuild leaves it serving with the previous build and "
        "records a `build_failed` event. The version's `rebuild` shows the state. An "
        "environment change applies on every replica within seconds (warm workers of the "
        "old environment are dropped).\n\n"
        "The project `default` exists from the start. Creating or moving a function into a "
        "project that does not exist creates that project (running, empty environment), as "
        "a function's `project` has always been free text; `PROJECT_NOT_FOUND` is the answer "
        "of the project routes. A stopped project's functions answer 409 `PROJECT_STOPPED` "
        "on `/invoke`, `/invoke-async`, `/initialize`, `/execute` and HTTP triggers; its "
        "cron fires are skipped (counted as `skipped` in `fngate_cron_fires_total`) and its "
        "queue consumers pause (messages stay in the queue). Jobs accepted before the stop "
        "still run. `start` resumes all of it.\n\n"
        "Reading projects is part of the catalog (`read:functions`, `write:functions` or "
        "`admin`; environment values are `\"***\"` unless the caller holds "
        "`admin`); creating, deleting, starting, stopping and changing "
        "them, and everything under `/api/v1/env/system` and `/api/v1/dependencies/system`, "
        "needs `admin`."
    ),
}

_ADMIN = [{"bearerAuth": ["admin"]}]
_READ = [{"bearerAuth": [s]} for s in ("read:functions", "write:functions", "admin")]
_ADMIN_NOTE = "Needs `admin`, else 403 `FORBIDDEN` (`details.required_scope: \"admin\"`). "
_READ_NOTE = ("Needs `read:functions`, `write:functions` or `admin`; environment values are "
              "`\"***\"` unless the caller holds `admin`. ")

_ENVIRONMENT = {"type": "object", "additionalProperties": {"type": "string"},
                "propertyNames": _ENV_NAME, "maxProperties": 1000}
_DEPENDENCIES = {
    "type": "array", "maxItems": 100,
    "items": {"type": "string", "description": "A pip requirement (`requests>=2,<3`) or an "
                                               "npm spec (`lodash@^4`): names and version "
                                               "ranges only; options, URLs, paths → 400."},
    "description": "Duplicates are dropped.",
}

_PROJECT = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string", "pattern": _NAME_PATTERN},
        "description": {"type": "string"},
        "status": {"type": "string", "enum": ["running", "stopped"]},
        "functions": {"type": "array", "items": {"type": "string"},
                      "description": "Names of the project's functions, sorted."},
        "environment": {**_ENVIRONMENT, "description": "Values masked (`\"***\"`) unless the "
                                                       "caller holds `admin`."},
        "dependencies": {"type": "array", "items": {"type": "string"}},
        "created_at": TIMESTAMP,
        "updated_at": TIMESTAMP,
    },
    "required": ["id", "name", "description", "status", "functions", "environment",
                 "dependencies", "created_at", "updated_at"],
}

_PROJECT_CREATE = {
    "type": "object",
    "description": "Body of `POST /api/v1/projects`. Any other field → 400 "
                   "`INVALID_REQUEST` naming it (`details.field`); `quotas` is refused: no "
                   "project quota is enforced yet.",
    "properties": {
        "name": {"type": "string", "pattern": _NAME_PATTERN},
        "description": {"type": "string", "maxLength": 4096, "default": ""},
        "environment": {**_ENVIRONMENT, "default": {}},
        "dependencies": {**_DEPENDENCIES, "default": []},
    },
    "required": ["name"],
    "additionalProperties": False,
}

PROJECT_SCHEMAS: dict[str, Any] = {
    "Project": _PROJECT,
    "ProjectCreate": _PROJECT_CREATE,
    "ProjectList": {
        "type": "object",
        "properties": {"projects": {"type": "array", "items": schema_ref("Project")}},
        "required": ["projects"],
    },
    "EnvironmentData": {
        "type": "object", "properties": {"data": _ENVIRONMENT}, "required": ["data"],
        "additionalProperties": False,
        "description": "An environment layer; `PUT` replaces it whole.",
    },
    "DependenciesData": {
        "type": "object", "properties": {"data": _DEPENDENCIES}, "required": ["data"],
        "additionalProperties": False,
        "description": "A dependency layer; `PUT` replaces it whole.",
    },
}

_PROJECT_NAME = {
    "name": "name", "in": "path", "required": True, "schema": {"type": "string"},
    "description": "The project's name; an unknown one → 404 `PROJECT_NOT_FOUND`.",
}


_op = functools.partial(operation, "projects")


def _item(*parameters: dict[str, Any], **operations: dict[str, Any]) -> dict[str, Any]:
    return {"parameters": [ref("parameters", "X-Request-ID"), *parameters], **operations}


def _layer(kind: str, schema: str, *, project: bool) -> dict[str, Any]:
    """GET and PUT of one environment or dependency layer."""
    what = "environment" if kind == "env" else "dependencies"
    owner = "Project" if project else "System"
    where = "the project's" if project else "the system (every function's, beneath its " \
        "project's)"
    read_note = _READ_NOTE if project else _ADMIN_NOTE
    missing = ("404",) if project else ()
    get = _op(f"get{owner}{what.capitalize()}", f"{owner} {what}",
              read_note + f"{where[0].upper() + where[1:]} {what} as `{{\"data\": …}}`.",
              _READ if project else _ADMIN,
              {"200": ok_response(f"The {what}.", schema_ref(schema)),
               **error_refs("401", "403", *missing, "500")})
    put = _op(f"set{owner}{what.capitalize()}", f"Replace the {owner.lower()} {what}",
              _ADMIN_NOTE + f"Replaces {where} {what} whole; answers it as stored "
              "(values revealed). " + (
                  "Applies to new runs at once on this replica and within seconds on the "
                  "others." if kind == "env" else
                  "The functions it changes are rebuilt in the background and keep serving "
                  "with their current build until the new one is ready (see the tag's "
                  "description); the same list again retries a failed rebuild."),
              _ADMIN,
              {"200": ok_response(f"The {what} as stored.", schema_ref(schema)),
               **error_refs("400", "401", "403", *missing, "413", "500")}, body=schema)
    return {"get": get, "put": put}


PROJECT_PATHS: dict[str, Any] = {
    "/api/v1/projects": _item(
        get=_op("listProjects", "List projects", _READ_NOTE + "By name.", _READ,
                {"200": ok_response("The projects.", schema_ref("ProjectList")),
                 **error_refs("401", "403", "500")}),
        post=_op("createProject", "Create a project",
                 _ADMIN_NOTE + "A new project is `running`. A name in use → 409 `CONFLICT`; a "
                 "bad name, environment or dependency → 400.", _ADMIN,
                 {"201": ok_response("Created (values revealed).", schema_ref("Project")),
                  **error_refs("400", "401", "403", "409", "413", "500")}, body="ProjectCreate"),
    ),
    "/api/v1/projects/{name}": _item(
        _PROJECT_NAME,
        get=_op("getProject", "Get a project", _READ_NOTE + "With `status` and the names of "
                "its functions.", _READ,
                {"200": ok_response("The project.", schema_ref("Project")),
                 **error_refs("401", "403", "404", "500")}),
        delete=_op("deleteProject", "Delete a project",
                   _ADMIN_NOTE + "Only an empty one: while it has functions → 409 "
                   "`CONFLICT`.", _ADMIN,
                   {"204": ok_response("Deleted.", None),
                    **error_refs("401", "403", "404", "409", "500")}),
    ),
    "/api/v1/projects/{name}/start": _item(
        _PROJECT_NAME,
        post=_op("startProject", "Start a project",
                 _ADMIN_NOTE + "Its functions run again, cron fires are claimed again and "
                 "queue consumers resume. Starting a running project changes nothing.", _ADMIN,
                 {"200": ok_response("The project.", schema_ref("Project")),
                  **error_refs("401", "403", "404", "500")}),
    ),
    "/api/v1/projects/{name}/stop": _item(
        _PROJECT_NAME,
        post=_op("stopProject", "Stop a project",
                 _ADMIN_NOTE + "Its functions answer 409 `PROJECT_STOPPED`, its cron fires "
                 "are skipped, its queue consumers pause and its idle warm workers end. Jobs "
                 "accepted before stay and run.", _ADMIN,
                 {"200": ok_response("The project.", schema_ref("Project")),
                  **error_refs("401", "403", "404", "500")}),
    ),
    "/api/v1/projects/{name}/env": _item(
        _PROJECT_NAME, **_layer("env", "EnvironmentData", project=True)),
    "/api/v1/projects/{name}/dependencies": _item(
        _PROJECT_NAME, **_layer("dependencies", "DependenciesData", project=True)),
    "/api/v1/env/system": _item(**_layer("env", "EnvironmentData", project=False)),
    "/api/v1/dependencies/system": _item(
        **_layer("dependencies", "DependenciesData", project=False)),
}
