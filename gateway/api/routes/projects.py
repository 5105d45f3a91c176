"""``/api/v1/projects`` and the system environment and dependencies.

Reading projects is part of the catalog (``read:functions``; environment values masked
unless the caller holds ``write:functions`` or ``admin``); changing them, and anything of
the system layer, needs ``admin``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from auth import Principal, can_manage, has_scope
from auth.scopes import ADMIN, READ_FUNCTIONS
from gateway.api.context import Services, services_of
from gateway.api.responses import JSONResponse
from gateway.api.routes._body import read_json
from gateway.api.routes._methods import methods_route
from gateway.api.security import authenticate, require_scope
from gateway.core.errors import Forbidden, InvalidRequest, NotFound
from gateway.schemas.function_input import (
    ENV_KEY_RE,
    PROJECT_NAME_PATTERN,
    PROJECT_NAME_RE,
    dependency_pattern,
)
from gateway.schemas.known_fields import reject_unknown
from gateway.store.projects import ProjectRecord, mask

__all__ = ["routes", "project_not_found"]

MAX_DESCRIPTION = 4096
MAX_DEPENDENCIES = 100
MAX_VARIABLES = 1000
_CREATE_FIELDS = ("name", "description", "environment", "dependencies")
_CREATE_REFUSED = {
    "quotas": "are not supported by this gateway yet (no project quota is enforced)",
    "status": "is set with POST /api/v1/projects/{name}/start or /stop",
    **{key: "is set by the gateway and cannot be sent"
       for key in ("id", "functions", "created_at", "updated_at")},
}


def project_not_found(name: str) -> NotFound:
    return NotFound(f"project '{name}' does not exist", code="PROJECT_NOT_FOUND")


def _require_read(principal: Principal) -> None:
    if not (has_scope(principal, READ_FUNCTIONS) or can_manage(principal)):
        raise Forbidden("this needs the 'read:functions' scope",
                        details={"required_scope": READ_FUNCTIONS})


def _bad(field: str, message: str) -> InvalidRequest:
    return InvalidRequest(f"'{field}' {message}", details={"field": field})


def _environment(value: Any, field: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise _bad(field, "must be an object of strings")
    if len(value) > MAX_VARIABLES:
        raise _bad(field, f"may hold at most {MAX_VARIABLES} variables")
    for key, item in value.items():
        if not ENV_KEY_RE.fullmatch(key):
            raise _bad(field, f"has an invalid variable name '{key}'")
        if not isinstance(item, str):
            raise _bad(field, f"value of '{key}' must be a string")
    return dict(value)


def _dependencies(value: Any, field: str) -> list[str]:
    """Specifiers for either runtime: each applies to the runtimes whose syntax it fits."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _bad(field, "must be an array of strings")
    if len(value) > MAX_DEPENDENCIES:
        raise _bad(field, f"may list at most {MAX_DEPENDENCIES} packages")
    specs = [v.strip() for v in value]
    for spec in specs:
        if not (dependency_pattern("python").fullmatch(spec)
                or dependency_pattern("nodejs").fullmatch(spec)):
            raise _bad(field, f"has '{spec}': only package names and version ranges are "
                       "accepted (no options, URLs or paths)")
    return list(dict.fromkeys(specs))


async def _data(request: Request) -> Any:
    body = await read_json(request)
    if not isinstance(body, dict) or "data" not in body:
        raise InvalidRequest("the request body must be a JSON object with 'data'",
                             details={"field": "data"})
    reject_unknown(body, ("data",))
    return body["data"]


async def _load(services: Services, name: str) -> ProjectRecord:
    project = await services.projects.get(name) if PROJECT_NAME_RE.fullmatch(name) else None
    if project is None:
        raise project_not_found(name)
    return project


async def _changed(services: Services, project: ProjectRecord, field: str = "status") -> None:
    """Apply a change on this replica at once (others follow the NOTIFY within seconds):
    functions are re-read, queue consumers re-check; the project's warm workers go, except
    for a dependency change: its functions keep serving with their builds while the new
    set builds in the background, and each swaps when its build is ready."""
    services.functions.forget()
    services.queues.poke("project", project.id)
    if field == "dependencies":
        await services.builds.rebuild_changed(project=project.name)
        return
    for function_id in await services.projects.function_ids(project.name):
        await services.pools.drop_function(function_id)


def _render(project: ProjectRecord, principal: Principal) -> dict[str, Any]:
    # Projects are admin's (API.md's scope table): only admin sees their values.
    return project.to_api(reveal_environment=has_scope(principal, ADMIN))


async def list_projects(request: Request) -> Response:
    principal = await authenticate(request)
    _require_read(principal)
    projects = await services_of(request).projects.list_all()
    return JSONResponse({"projects": [_render(p, principal) for p in projects]})


async def create_project(request: Request) -> Response:
    principal = await authenticate(request)
    require_scope(principal, ADMIN)
    body = await read_json(request)
    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object")
    reject_unknown(body, _CREATE_FIELDS, refused=_CREATE_REFUSED)
    name = body.get("name")
    if not isinstance(name, str) or not PROJECT_NAME_RE.fullmatch(name):
        raise _bad("name", f"is required and must match {PROJECT_NAME_PATTERN}")
    description = body.get("description")
    if description is None:
        description = ""
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
        raise _bad("description", f"must be a string of at most {MAX_DESCRIPTION} characters")
    raw_env, raw_deps = body.get("environment"), body.get("dependencies")
    environment = _environment({} if raw_env is None else raw_env, "environment")
    dependencies = _dependencies([] if raw_deps is None else raw_deps, "dependencies")
    services = services_of(request)
    project = await services.projects.create(name, description=description,
                                             environment=environment,
                                             dependencies=dependencies)
    return JSONResponse(_render(project, principal), status_code=201,
                        headers={"Location": f"/api/v1/projects/{name}"})


async def get_project(request: Request) -> Response:
    principal = await authenticate(request)
    _require_read(principal)
    project = await _load(services_of(request), request.path_params["name"])
    return JSONResponse(_render(project, principal))


async def delete_project(request: Request) -> Response:
    principal = await authenticate(request)
    require_scope(principal, ADMIN)
    services = services_of(request)
    name = request.path_params["name"]
    if not PROJECT_NAME_RE.fullmatch(name) or not await services.projects.delete(name):
        raise project_not_found(name)
    services.functions.forget()
    return Response(status_code=204)


async def _set_status(request: Request, status: str) -> Response:
    principal = await authenticate(request)
    require_scope(principal, ADMIN)
    services = services_of(request)
    name = request.path_params["name"]
    project = await services.projects.update(name, status=status) \
        if PROJECT_NAME_RE.fullmatch(name) else None
    if project is None:
        raise project_not_found(name)
    await _changed(services, project)
    return JSONResponse(_render(project, principal))


async def start_project(request: Request) -> Response:
    return await _set_status(request, "running")


async def stop_project(request: Request) -> Response:
    return await _set_status(request, "stopped")


async def get_project_env(request: Request) -> Response:
    principal = await authenticate(request)
    _require_read(principal)
    project = await _load(services_of(request), request.path_params["name"])
    return JSONResponse({"data": mask(project.environment, reveal=has_scope(principal, ADMIN))})


async def _put_layer(request: Request, field: str,
                     parse: Callable[[Any, str], Any]) -> ProjectRecord:
    """Replace a project's ``environment`` or ``dependencies`` with the parsed ``data``."""
    principal = await authenticate(request)
    require_scope(principal, ADMIN)
    services = services_of(request)
    name = request.path_params["name"]
    await _load(services, name)
    data = await _data(request)
    project = await services.projects.update(name, **{field: parse(data, "data")})
    if project is None:
        raise project_not_found(name)
    await _changed(services, project, field)
    return project


async def put_project_env(request: Request) -> Response:
    project = await _put_layer(request, "environment", _environment)
    return JSONResponse({"data": dict(project.environment)})


async def get_project_dependencies(request: Request) -> Response:
    principal = await authenticate(request)
    _require_read(principal)
    project = await _load(services_of(request), request.path_params["name"])
    return JSONResponse({"data": list(project.dependencies)})


async def put_project_dependencies(request: Request) -> Response:
    project = await _put_layer(request, "dependencies", _dependencies)
    return JSONResponse({"data": list(project.dependencies)})


async def _system_changed(services: Services, field: str) -> None:
    """As :func:`_changed`, for every function."""
    services.functions.forget()
    if field == "dependencies":
        await services.builds.rebuild_changed()
        return
    for function_id in await services.projects.function_ids():
        await services.pools.drop_function(function_id)


async def get_system_env(request: Request) -> Response:
    principal = await authenticate(request)
    require_scope(principal, ADMIN)
    environment, _ = await services_of(request).projects.system()
    return JSONResponse({"data": environment})


async def _put_system_layer(request: Request, field: str,
                            parse: Callable[[Any, str], Any]) -> Response:
    """Replace the system ``environment`` or ``dependencies`` with the parsed ``data``."""
    principal = await authenticate(request)
    require_scope(principal, ADMIN)
    services = services_of(request)
    value = parse(await _data(request), "data")
    await services.projects.set_system(**{field: value})
    await _system_changed(services, field)
    return JSONResponse({"data": value})


async def put_system_env(request: Request) -> Response:
    return await _put_system_layer(request, "environment", _environment)


async def get_system_dependencies(request: Request) -> Response:
    principal = await authenticate(request)
    require_scope(principal, ADMIN)
    _, dependencies = await services_of(request).projects.system()
    return JSONResponse({"data": dependencies})


async def put_system_dependencies(request: Request) -> Response:
    return await _put_system_layer(request, "dependencies", _dependencies)


routes = [
    methods_route("/api/v1/projects", {"GET": list_projects, "POST": create_project}),
    methods_route("/api/v1/projects/{name}", {"GET": get_project, "DELETE": delete_project}),
    methods_route("/api/v1/projects/{name}/start", {"POST": start_project}),
    methods_route("/api/v1/projects/{name}/stop", {"POST": stop_project}),
    methods_route("/api/v1/projects/{name}/env", {"GET": get_project_env,
                                                  "PUT": put_project_env}),
    methods_route("/api/v1/projects/{name}/dependencies", {
        "GET": get_project_dependencies, "PUT": put_project_dependencies}),
    methods_route("/api/v1/env/system", {"GET": get_system_env, "PUT": put_system_env}),
    methods_route("/api/v1/dependencies/system", {
        "GET": get_system_dependencies, "PUT": put_system_dependencies}),
]
