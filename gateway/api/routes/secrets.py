"""Secrets of a project and of the system: write-only layers beneath a function's own.

Values are sealed at rest and delivered only into the sandbox of a function's workers;
every route here answers names only.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from auth.scopes import ADMIN, READ_FUNCTIONS, WRITE_FUNCTIONS
from gateway.api.context import services_of
from gateway.api.operations import Reply, operation, routes_of
from gateway.api.responses import JSONResponse
from gateway.api.routes._body import read_json
from gateway.api.routes._lookup import load_project
from gateway.api.security import CATALOG_READERS, authenticate, require_scope
from gateway.schemas.projects import SecretNames, SecretsData
from gateway.schemas.validation import parse

__all__ = ["routes"]

_ADMIN_NOTE = "Needs `admin`, else 403 `FORBIDDEN` (`details.required_scope: \"admin\"`). "
_PUT_NOTE = ("Values are sealed at rest, never returned by any route, and layered after the "
             "plain variables into the environment of every function beneath (system, "
             "project, then the function's own); they apply to new runs at once on this "
             "replica and within seconds on the others. Answers the names.")
_NAME = {
    "name": "name", "in": "path", "required": True, "schema": {"type": "string"},
    "description": "The project's name; an unknown one → 404 `PROJECT_NOT_FOUND`.",
}


@operation(
    "GET", "/api/v1/projects/{name}/secrets", operation_id="getProjectSecrets",
    tag="projects", summary="Project secret names",
    description="Needs `read:functions`, `write:functions` or `admin`. The names of the "
                "project's secrets; values are never returned.",
    scopes=[READ_FUNCTIONS, WRITE_FUNCTIONS, ADMIN], parameters=[_NAME], errors=[404],
    replies={200: Reply("The names.", SecretNames)},
)
async def get_project_secrets(request: Request) -> Response:
    project = await load_project(services_of(request), request.path_params["name"],
                                 await authenticate(request), *CATALOG_READERS)
    return JSONResponse(SecretNames(names=list(project.secret_names)))


@operation(
    "PUT", "/api/v1/projects/{name}/secrets", operation_id="setProjectSecrets",
    tag="projects", summary="Replace the project secrets",
    description=_ADMIN_NOTE + "Replaces the project's secrets whole (`{\"data\": {}}` "
                "removes them). " + _PUT_NOTE,
    scopes=[ADMIN], body=SecretsData, parameters=[_NAME], errors=[404],
    replies={200: Reply("The names as stored.", SecretNames)},
)
async def put_project_secrets(request: Request) -> Response:
    services, name = services_of(request), request.path_params["name"]
    projects = services.project_service
    # An unknown project is a 404 whatever the body.
    principal = await authenticate(request)
    await load_project(services, name, principal, ADMIN)
    body = parse(SecretsData, await read_json(request))
    project = await projects.set_secrets(name, body.data, actor=principal)
    return JSONResponse(SecretNames(names=list(project.secret_names)))


@operation(
    "GET", "/api/v1/secrets/system", operation_id="getSystemSecrets", tag="projects",
    summary="System secret names",
    description=_ADMIN_NOTE + "The names of the system's secrets (every function's, beneath "
                "its project's); values are never returned.",
    scopes=[ADMIN], replies={200: Reply("The names.", SecretNames)},
)
async def get_system_secrets(request: Request) -> Response:
    require_scope(await authenticate(request), ADMIN)
    names = await services_of(request).project_service.system_secret_names()
    return JSONResponse(SecretNames(names=names))


@operation(
    "PUT", "/api/v1/secrets/system", operation_id="setSystemSecrets", tag="projects",
    summary="Replace the system secrets",
    description=_ADMIN_NOTE + "Replaces the system's secrets whole. " + _PUT_NOTE,
    scopes=[ADMIN], body=SecretsData,
    replies={200: Reply("The names as stored.", SecretNames)},
)
async def put_system_secrets(request: Request) -> Response:
    require_scope(await authenticate(request), ADMIN)
    body = parse(SecretsData, await read_json(request))
    names = await services_of(request).project_service.set_system_secrets(body.data)
    return JSONResponse(SecretNames(names=names))


routes = routes_of(get_project_secrets, put_project_secrets, get_system_secrets,
                   put_system_secrets)
