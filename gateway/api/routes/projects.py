"""``/api/v1/projects`` and the system environment and dependencies.

Reading projects is part of the catalog (``read:functions``; environment values masked
unless the caller holds ``admin``); changing them, and anything of the system layer,
needs ``admin``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from auth import Principal
from auth.scopes import ADMIN, READ_FUNCTIONS, WRITE_FUNCTIONS
from gateway.api.context import services_of
from gateway.api.operations import Reply, operation, routes_of
from gateway.api.responses import JSONResponse
from gateway.api.routes._body import read_json
from gateway.api.routes._lookup import load_project
from gateway.api.security import (
    CATALOG_READERS,
    authenticate,
    require_catalog_read,
    require_scope,
)
from gateway.core.jsoncodec import isoformat
from gateway.schemas.projects import (
    DependenciesData,
    EnvironmentData,
    Project,
    ProjectCreate,
    ProjectList,
    ProjectUpdate,
    QuotasView,
)
from gateway.schemas.validation import parse
from gateway.services.projects import ProjectService
from gateway.store.projects import ProjectRecord, mask

__all__ = ["routes", "project_view"]

_READERS = [READ_FUNCTIONS, WRITE_FUNCTIONS, ADMIN]
_ADMIN_NOTE = "Needs `admin`, else 403 `FORBIDDEN` (`details.required_scope: \"admin\"`). "
_READ_NOTE = ("Needs `read:functions`, `write:functions` or `admin`; environment values are "
              "`\"***\"` unless the caller holds `admin`. ")
_ENV_PUT_NOTE = ("Applies to new runs at once on this replica and within seconds on the "
                 "others.")
_DEPENDENCIES_PUT_NOTE = (
    "The functions it changes are rebuilt in the background and keep serving with their "
    "current build until the new one is ready (see the tag's description); the same list "
    "again retries a failed rebuild.")
_NAME = {
    "name": "name", "in": "path", "required": True, "schema": {"type": "string"},
    "description": "The project's name; an unknown one → 404 `PROJECT_NOT_FOUND`.",
}



def _name(request: Request) -> str:
    name: str = request.path_params["name"]
    return name


def project_view(project: ProjectRecord, principal: Principal) -> Project:
    """The API's Project; only admin sees environment values (API.md's scope table)."""
    return Project.trusted(
        id=project.id, name=project.name, description=project.description,
        status=project.status, functions=list(project.functions),
        environment=mask(project.environment, reveal=principal.can(ADMIN, project.name)),
        dependencies=list(project.dependencies), secret_names=list(project.secret_names),
        quotas=QuotasView.trusted(max_functions=project.quotas.max_functions,
                                  max_concurrency=project.quotas.max_concurrency,
                                  max_memory_mb=project.quotas.max_memory_mb),
        created_at=isoformat(project.created_at), updated_at=isoformat(project.updated_at))


# -- projects ------------------------------------------------------------------------------

@operation(
    "GET", "/api/v1/projects", operation_id="listProjects", tag="projects",
    summary="List projects", description=_READ_NOTE + "By name.", scopes=_READERS,
    replies={200: Reply("The projects.", ProjectList)},
)
async def list_projects(request: Request) -> Response:
    principal = await authenticate(request)
    require_catalog_read(principal, somewhere=True)
    projects = await services_of(request).project_service.list_all()
    within = principal.projects_for(*CATALOG_READERS)
    return JSONResponse(ProjectList(projects=[project_view(p, principal) for p in projects
                                              if within is None or p.name in within]))


@operation(
    "POST", "/api/v1/projects", operation_id="createProject", tag="projects",
    summary="Create a project",
    description=_ADMIN_NOTE + "A new project is `running`. A name in use → 409 `CONFLICT`; a "
                "bad name, environment, dependency or quota → 400. `quotas` (operator-set) "
                "are enforced from then on: 429 `QUOTA_EXCEEDED`.",
    scopes=[ADMIN], body=ProjectCreate, errors=[409],
    replies={201: Reply("Created (values revealed).", Project,
                        headers=(("Location", "ProjectLocation"),))},
)
async def create_project(request: Request) -> Response:
    principal = await authenticate(request)
    require_scope(principal, ADMIN)
    body = parse(ProjectCreate, await read_json(request))
    project = await services_of(request).project_service.create(body, actor=principal)
    return JSONResponse(project_view(project, principal), status_code=201,
                        headers={"Location": f"/api/v1/projects/{project.name}"})


@operation(
    "GET", "/api/v1/projects/{name}", operation_id="getProject", tag="projects",
    summary="Get a project",
    description=_READ_NOTE + "With `status` and the names of its functions.",
    scopes=_READERS, parameters=[_NAME], errors=[404],
    replies={200: Reply("The project.", Project)},
)
async def get_project(request: Request) -> Response:
    principal = await authenticate(request)
    project = await load_project(services_of(request), _name(request), principal,
                                 *CATALOG_READERS)
    return JSONResponse(project_view(project, principal))


@operation(
    "PUT", "/api/v1/projects/{name}", operation_id="updateProject", tag="projects",
    summary="Update a project",
    description="Needs `admin@{name}` (or `admin`), else 403 `FORBIDDEN`. Changes the "
                "description and the quotas the body names (null: unlimited; the others "
                "kept). `quotas` needs the operator's unqualified `admin`: a project's own "
                "`admin@{name}` cannot change them (403, `details.required_scope: "
                "\"admin\"`). A lowered quota applies from then on: functions a project "
                "already has and runs already going are kept.",
    scopes=[ADMIN], body=ProjectUpdate, parameters=[_NAME], errors=[404],
    replies={200: Reply("The project.", Project)},
)
async def update_project(request: Request) -> Response:
    principal = await authenticate(request)
    services = services_of(request)
    await load_project(services, _name(request), principal, ADMIN)
    body = parse(ProjectUpdate, await read_json(request))
    if body.quotas is not None:
        require_scope(principal, ADMIN)  # the operator's, not the project's own admin
    project = await services.project_service.update(_name(request), body, actor=principal)
    return JSONResponse(project_view(project, principal))


@operation(
    "DELETE", "/api/v1/projects/{name}", operation_id="deleteProject", tag="projects",
    summary="Delete a project",
    description=_ADMIN_NOTE + "Only an empty one: while it has functions → 409 `CONFLICT`.",
    scopes=[ADMIN], parameters=[_NAME], errors=[404, 409], replies={204: Reply("Deleted.")},
)
async def delete_project(request: Request) -> Response:
    principal = await authenticate(request)
    require_scope(principal, ADMIN)
    await services_of(request).project_service.delete(_name(request), actor=principal)
    return Response(status_code=204)


@operation(
    "POST", "/api/v1/projects/{name}/start", operation_id="startProject", tag="projects",
    summary="Start a project",
    description=_ADMIN_NOTE + "Its functions run again, cron fires are claimed again and "
                "queue consumers resume. Starting a running project changes nothing.",
    scopes=[ADMIN], parameters=[_NAME], errors=[404],
    replies={200: Reply("The project.", Project)},
)
async def start_project(request: Request) -> Response:
    principal = await authenticate(request)
    services = services_of(request)
    await load_project(services, _name(request), principal, ADMIN)
    project = await services.project_service.start(_name(request), actor=principal)
    return JSONResponse(project_view(project, principal))


@operation(
    "POST", "/api/v1/projects/{name}/stop", operation_id="stopProject", tag="projects",
    summary="Stop a project",
    description=_ADMIN_NOTE + "Its functions answer 409 `PROJECT_STOPPED`, its cron fires "
                "are skipped, its queue consumers pause and its idle warm workers end. Jobs "
                "accepted before stay and run.",
    scopes=[ADMIN], parameters=[_NAME], errors=[404],
    replies={200: Reply("The project.", Project)},
)
async def stop_project(request: Request) -> Response:
    principal = await authenticate(request)
    services = services_of(request)
    await load_project(services, _name(request), principal, ADMIN)
    project = await services.project_service.stop(_name(request), actor=principal)
    return JSONResponse(project_view(project, principal))


# -- the layers: a project's, the system's ----------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class _Layer:
    """A layer (environment or dependencies) as its routes read and replace it: its body
    model, what of a project is shown (``reveal``: the values, else as the caller may see
    them), and the service's calls for the project's layer and the system's."""

    model: type[EnvironmentData] | type[DependenciesData]
    shown: Callable[[ProjectRecord, bool], Any]
    set_project: Callable[..., Awaitable[ProjectRecord]]  # (service, name, data, *, actor)
    system: Callable[[ProjectService], Awaitable[Any]]
    set_system: Callable[[ProjectService, Any], Awaitable[Any]]


_ENVIRONMENT = _Layer(
    model=EnvironmentData,
    shown=lambda project, reveal: mask(project.environment, reveal=reveal),
    set_project=ProjectService.set_environment, system=ProjectService.system_environment,
    set_system=ProjectService.set_system_environment,
)
_DEPENDENCIES = _Layer(
    model=DependenciesData, shown=lambda project, _: list(project.dependencies),
    set_project=ProjectService.set_dependencies, system=ProjectService.system_dependencies,
    set_system=ProjectService.set_system_dependencies,
)


async def _get_project_layer(request: Request, layer: _Layer) -> Response:
    principal = await authenticate(request)
    project = await load_project(services_of(request), _name(request), principal,
                                 *CATALOG_READERS)
    return JSONResponse(layer.model(data=layer.shown(project,
                                                     principal.can(ADMIN, project.name))))


async def _put_project_layer(request: Request, layer: _Layer) -> Response:
    principal = await authenticate(request)
    name, services = _name(request), services_of(request)
    projects = services.project_service
    await load_project(services, name, principal, ADMIN)  # a 404 whatever the body
    body = parse(layer.model, await read_json(request))
    project = await layer.set_project(projects, name, body.data, actor=principal)
    return JSONResponse(layer.model(data=layer.shown(project, True)))


async def _get_system_layer(request: Request, layer: _Layer) -> Response:
    principal = await authenticate(request)
    require_scope(principal, ADMIN)
    data = await layer.system(services_of(request).project_service)
    return JSONResponse(layer.model(data=data))


async def _put_system_layer(request: Request, layer: _Layer) -> Response:
    principal = await authenticate(request)
    require_scope(principal, ADMIN)
    body = parse(layer.model, await read_json(request))
    data = await layer.set_system(services_of(request).project_service, body.data)
    return JSONResponse(layer.model(data=data))


@operation(
    "GET", "/api/v1/projects/{name}/env", operation_id="getProjectEnvironment",
    tag="projects", summary="Project environment",
    description=_READ_NOTE + "The project's environment as `{\"data\": …}`.",
    scopes=_READERS, parameters=[_NAME], errors=[404],
    replies={200: Reply("The environment.", EnvironmentData)},
)
async def get_project_env(request: Request) -> Response:
    return await _get_project_layer(request, _ENVIRONMENT)


@operation(
    "PUT", "/api/v1/projects/{name}/env", operation_id="setProjectEnvironment",
    tag="projects", summary="Replace the project environment",
    description=_ADMIN_NOTE + "Replaces the project's environment whole; answers it as "
                "stored (values revealed). " + _ENV_PUT_NOTE,
    scopes=[ADMIN], body=EnvironmentData, parameters=[_NAME], errors=[404],
    replies={200: Reply("The environment as stored.", EnvironmentData)},
)
async def put_project_env(request: Request) -> Response:
    return await _put_project_layer(request, _ENVIRONMENT)


@operation(
    "GET", "/api/v1/projects/{name}/dependencies", operation_id="getProjectDependencies",
    tag="projects", summary="Project dependencies",
    description=_READ_NOTE + "The project's dependencies as `{\"data\": …}`.",
    scopes=_READERS, parameters=[_NAME], errors=[404],
    replies={200: Reply("The dependencies.", DependenciesData)},
)
async def get_project_dependencies(request: Request) -> Response:
    return await _get_project_layer(request, _DEPENDENCIES)


@operation(
    "PUT", "/api/v1/projects/{name}/dependencies", operation_id="setProjectDependencies",
    tag="projects", summary="Replace the project dependencies",
    description=_ADMIN_NOTE + "Replaces the project's dependencies whole; answers it as "
                "stored (values revealed). " + _DEPENDENCIES_PUT_NOTE,
    scopes=[ADMIN], body=DependenciesData, parameters=[_NAME], errors=[404],
    replies={200: Reply("The dependencies as stored.", DependenciesData)},
)
async def put_project_dependencies(request: Request) -> Response:
    return await _put_project_layer(request, _DEPENDENCIES)


_SYSTEM = "the system (every function's, beneath its project's)"


@operation(
    "GET", "/api/v1/env/system", operation_id="getSystemEnvironment", tag="projects",
    summary="System environment",
    description=_ADMIN_NOTE + "The system (every function's, beneath its project's) "
                "environment as `{\"data\": …}`.",
    scopes=[ADMIN], replies={200: Reply("The environment.", EnvironmentData)},
)
async def get_system_env(request: Request) -> Response:
    return await _get_system_layer(request, _ENVIRONMENT)


@operation(
    "PUT", "/api/v1/env/system", operation_id="setSystemEnvironment", tag="projects",
    summary="Replace the system environment",
    description=_ADMIN_NOTE + f"Replaces {_SYSTEM} environment whole; answers it as stored "
                "(values revealed). " + _ENV_PUT_NOTE,
    scopes=[ADMIN], body=EnvironmentData,
    replies={200: Reply("The environment as stored.", EnvironmentData)},
)
async def put_system_env(request: Request) -> Response:
    return await _put_system_layer(request, _ENVIRONMENT)


@operation(
    "GET", "/api/v1/dependencies/system", operation_id="getSystemDependencies",
    tag="projects", summary="System dependencies",
    description=_ADMIN_NOTE + "The system (every function's, beneath its project's) "
                "dependencies as `{\"data\": …}`.",
    scopes=[ADMIN], replies={200: Reply("The dependencies.", DependenciesData)},
)
async def get_system_dependencies(request: Request) -> Response:
    return await _get_system_layer(request, _DEPENDENCIES)


@operation(
    "PUT", "/api/v1/dependencies/system", operation_id="setSystemDependencies",
    tag="projects", summary="Replace the system dependencies",
    description=_ADMIN_NOTE + f"Replaces {_SYSTEM} dependencies whole; answers it as stored "
                "(values revealed). " + _DEPENDENCIES_PUT_NOTE,
    scopes=[ADMIN], body=DependenciesData,
    replies={200: Reply("The dependencies as stored.", DependenciesData)},
)
async def put_system_dependencies(request: Request) -> Response:
    return await _put_system_layer(request, _DEPENDENCIES)


routes = routes_of(
    list_projects, create_project, get_project, update_project, delete_project, start_project,
    stop_project,
    get_project_env, put_project_env, get_project_dependencies, put_project_dependencies,
    get_system_env, put_system_env, get_system_dependencies, put_system_dependencies,
)
