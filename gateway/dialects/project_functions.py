"""The project-functions document (seed 003) under ``/compat/project-functions``.

Each endpoint authenticates and checks scopes as its native counterpart does, calls the
same service (projects, functions, the invocation service, statistics) and renders the
document's shape from :mod:`gateway.dialects.project_functions_models`. A function here
is an fngate function of that project (function names are unique across projects).
"""

from __future__ import annotations

import datetime as dt
import time

from starlette.requests import Request
from starlette.responses import Response

from auth import Principal
from auth.scopes import ADMIN, WRITE_FUNCTIONS
from gateway.api import probes
from gateway.api.context import services_of
from gateway.api.invocation import run_failed
from gateway.api.responses import JSONResponse
from gateway.api.routes._body import read_json
from gateway.api.routes._lookup import load_project, reach_project
from gateway.api.security import (
    CATALOG_READERS,
    authenticate,
    require_catalog_read,
    require_execute,
    require_scope,
)
from gateway.core.errors import FngateError
from gateway.core.jsoncodec import isoformat
from gateway.core.models import FunctionRecord
from gateway.core.version import VERSION
from gateway.dialects._translate import all_functions, run
from gateway.dialects.base import Dialect, prefixed
from gateway.dialects.project_functions_deploy import deploy_function, read_deploy_form
from gateway.dialects.project_functions_models import (
    PfError,
    PfFunctionList,
    PfHealth,
    PfLayer,
    PfListLayer,
    PfMessage,
    PfProjectChanged,
    PfProjectList,
    PfProjectState,
    PfStatus,
    deployed_view,
    error_view,
    function_detail,
    function_summary,
    invoked_view,
    project_detail,
    project_summary,
    uptime_text,
)
from gateway.store.functions import function_not_found
from gateway.store.projects import ProjectRecord, mask

__all__ = ["BASE", "dialect"]

BASE = "/compat/project-functions"

_HEALTH = {"ok": "healthy", "degraded": "degraded", "down": "unhealthy"}


def _error_body(exc: FngateError, request_id: str) -> PfError:
    return error_view(exc)


# -- the gateway -----------------------------------------------------------------------------

async def health(request: Request) -> Response:
    """Unauthenticated, as the native ``/health``: 503 when the database is down."""
    components = await probes.check_components(services_of(request))
    overall = components.overall
    body = PfHealth(status=_HEALTH[overall], version=VERSION,
                    timestamp=isoformat(dt.datetime.now(dt.UTC)))
    return JSONResponse(body, status_code=503 if overall == "down" else 200)


async def status(request: Request) -> Response:
    """Unauthenticated, as the native ``/status``."""
    services = services_of(request)
    functions, projects = await services.functions.totals()
    return JSONResponse(PfStatus(
        status="running", uptime=uptime_text(int(time.time() - services.started_at)),
        active_projects=projects, total_functions=functions,
        memory_usage=f"{probes.rss_bytes() // (1024 * 1024)}MB"))


# -- projects --------------------------------------------------------------------------------
# Every project route reaches its project as the native project routes do (load_project):
# 403 without the scope anywhere, 404 PROJECT_NOT_FOUND for a project the caller does not
# see, 403 without the scope there.

async def _project(request: Request, *scopes: str) -> tuple[Principal, ProjectRecord]:
    principal = await authenticate(request)
    return principal, await load_project(services_of(request),
                                         request.path_params["project_name"], principal,
                                         *scopes)


async def list_projects(request: Request) -> Response:
    principal = await authenticate(request)
    require_catalog_read(principal, somewhere=True)
    projects = await services_of(request).project_service.list_all()
    within = principal.projects_for(*CATALOG_READERS)
    return JSONResponse(PfProjectList(data=[project_summary(p) for p in projects
                                            if within is None or p.name in within]))


async def get_project(request: Request) -> Response:
    principal, project = await _project(request, *CATALOG_READERS)
    services = services_of(request)
    functions = await all_functions(services, principal, project.name)
    activity = await services.function_stats.activity([f.id for f in functions])
    return JSONResponse(project_detail(
        project, [function_summary(f, activity.get(f.id)) for f in functions],
        mask(project.environment, reveal=principal.can(ADMIN, project.name))))


async def _change_project(request: Request, *, start: bool) -> Response:
    principal, project = await _project(request, ADMIN)
    projects = services_of(request).project_service
    change = projects.start if start else projects.stop
    project = await change(project.name, actor=principal)
    changed = isoformat(project.updated_at)
    state = PfProjectState(name=project.name, status=project.status,
                           **({"start_time": changed} if start else {"stop_time": changed}))
    # Only its own time field: a start answers no ``stop_time``, as the document shows.
    return JSONResponse(PfProjectChanged(
        message="项目启动成功" if start else "项目停止成功", project=state).model_dump(
        exclude_none=True))


async def start_project(request: Request) -> Response:
    return await _change_project(request, start=True)


async def stop_project(request: Request) -> Response:
    return await _change_project(request, start=False)


async def project_env(request: Request) -> Response:
    principal, project = await _project(request, *CATALOG_READERS)
    return JSONResponse(PfLayer(data=mask(project.environment,
                                          reveal=principal.can(ADMIN, project.name))))


async def project_dependencies(request: Request) -> Response:
    _, project = await _project(request, *CATALOG_READERS)
    return JSONResponse(PfListLayer(data=list(project.dependencies)))


async def _system(request: Request) -> None:
    """What is system-wide needs the unqualified ``admin``: a tenant's is 403."""
    require_scope(await authenticate(request), ADMIN)


async def system_env(request: Request) -> Response:
    await _system(request)
    return JSONResponse(PfLayer(
        data=await services_of(request).project_service.system_environment()))


async def system_dependencies(request: Request) -> Response:
    await _system(request)
    return JSONResponse(PfListLayer(
        data=await services_of(request).project_service.system_dependencies()))


# -- functions -------------------------------------------------------------------------------

async def _function(request: Request, *scopes: str) -> tuple[Principal, FunctionRecord]:
    """The project's function named in the path: the project reached as above, then 404
    FUNCTION_NOT_FOUND for a name it has no function of (another project's included)."""
    principal, project = await _project(request, *scopes)
    name = request.path_params["function_name"]
    function = await services_of(request).functions.get(name)
    if function is None or function.project != project.name:
        raise function_not_found(name)
    return principal, function


async def deploy(request: Request) -> Response:
    """A deploy writes into the project of its path, checked as a native create checks its
    body's project: 403 without ``write:functions`` anywhere (before the form is read);
    then 404 for a project the caller does not see (as every path of it), 403 without
    ``write:functions`` there. The project need not exist yet: the create makes it."""
    principal = await authenticate(request)
    require_scope(principal, WRITE_FUNCTIONS, somewhere=True)
    # The form is read whole before the project is checked: an answer given before the
    # body has arrived makes the server close the connection under a client still sending.
    form = await read_deploy_form(request)
    project = request.path_params["project_name"]
    reach_project(principal, project, WRITE_FUNCTIONS)
    function = await deploy_function(services_of(request), project, principal, form)
    return JSONResponse(deployed_view(function))


async def list_functions(request: Request) -> Response:
    principal, project = await _project(request, *CATALOG_READERS)
    services = services_of(request)
    functions = await all_functions(services, principal, project.name)
    activity = await services.function_stats.activity([f.id for f in functions])
    return JSONResponse(PfFunctionList(
        functions=[function_summary(f, activity.get(f.id)) for f in functions]))


async def get_function(request: Request) -> Response:
    _, function = await _function(request, *CATALOG_READERS)
    activity = await services_of(request).function_stats.activity([function.id])
    return JSONResponse(function_detail(function, activity.get(function.id)))


async def delete_function(request: Request) -> Response:
    principal, function = await _function(request, WRITE_FUNCTIONS)
    await services_of(request).function_service.delete(function, actor=principal)
    return JSONResponse(PfMessage(message="Function deleted successfully"))


async def invoke(request: Request) -> Response:
    """Always a sync run (the document answers with the result); a failed run is the
    document's ``EXECUTION_ERROR`` with the native run-failure status (500, 504)."""
    principal, function = await _function(request)
    require_execute(principal, function.language, function.project)
    invoked = await run(request, services_of(request), principal, function,
                        await read_json(request, empty={}), "sync")
    job = invoked.job
    if job.status != "success":
        raise run_failed(job)
    return JSONResponse(invoked_view(job), headers={"X-Job-ID": job.id})


_ROUTES = {
    "/health": {"GET": health},
    "/status": {"GET": status},
    "/api/v1/projects": {"GET": list_projects},
    "/api/v1/projects/{project_name}": {"GET": get_project},
    "/api/v1/projects/{project_name}/start": {"POST": start_project},
    "/api/v1/projects/{project_name}/stop": {"POST": stop_project},
    "/api/v1/projects/{project_name}/env": {"GET": project_env},
    "/api/v1/projects/{project_name}/dependencies": {"GET": project_dependencies},
    "/api/v1/env/system": {"GET": system_env},
    "/api/v1/dependencies/system": {"GET": system_dependencies},
    "/api/v1/functions/{project_name}/deploy": {"POST": deploy},
    "/api/v1/functions/{project_name}": {"GET": list_functions},
    "/api/v1/functions/{project_name}/{function_name}": {"GET": get_function,
                                                         "DELETE": delete_function},
    "/api/v1/functions/{project_name}/{function_name}/invoke": {"POST": invoke},
}

dialect = Dialect(
    name="project-functions", base=BASE, routes=prefixed(BASE, _ROUTES),
    error_body=_error_body,
    execute=r"/api/v1/functions/[^/]+/[^/]+/invoke",
    unlimited=frozenset({"/health", "/status"}),
)
