"""The Function Service document (seed 004) under ``/api/v1/workspaces/{workspaceId}``.

A workspace is an fngate project. Each endpoint authenticates and checks scopes as its
native counterpart does, translates the document's body into the native model, calls the
same service (functions, versions, triggers) and renders the document's shape
(:mod:`gateway.dialects.function_service_models`). Invocation, monitoring and provider
routes are in :mod:`gateway.dialects.function_service_runs`.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from auth import Principal
from auth.scopes import WRITE_FUNCTIONS
from gateway.api.context import Services, services_of
from gateway.api.operations import Endpoint
from gateway.api.responses import JSONResponse
from gateway.api.routes._body import read_json
from gateway.api.security import CATALOG_READERS, authenticate
from gateway.core.errors import FngateError, InvalidRequest
from gateway.core.identifiers import PROJECT_NAME_RE
from gateway.core.models import FunctionRecord
from gateway.dialects import _translate
from gateway.dialects._translate import all_functions
from gateway.dialects.base import Dialect, prefixed
from gateway.dialects.function_service_lookup import enter_workspace, load_workspace_function
from gateway.dialects.function_service_models import (
    FsError,
    FsFunctionCreate,
    FsFunctionList,
    FsFunctionUpdate,
    FsMessage,
    FsTriggerBody,
    FsTriggerList,
    FsVersionCreate,
    FsVersionList,
    error_view,
    function_view,
    parse_id,
    summary_view,
    trigger_view,
    version_summary,
    version_view,
)
from gateway.dialects.function_service_runs import RUN_ROUTES
from gateway.schemas.triggers import TriggerCreate, TriggerUpdate
from gateway.schemas.validation import parse
from gateway.schemas.versions import VersionCreate
from gateway.services.triggers import trigger_not_found
from gateway.store.functions import version_not_found

__all__ = ["BASE", "dialect"]

BASE = "/api/v1/workspaces/{workspaceId}"


def _error_body(exc: FngateError, request_id: str) -> FsError:
    return error_view(exc)


def _context(services: Services, runtime: str | None = None) -> dict[str, Any]:
    return {"settings": services.settings, "runtime": runtime}


async def _readable(request: Request, principal: Principal) -> FunctionRecord:
    """The path's function, for a caller reading the catalog of its workspace."""
    return await load_workspace_function(request, principal, *CATALOG_READERS)


async def _writable(request: Request, principal: Principal) -> FunctionRecord:
    """The path's function, for a caller writing functions of its workspace."""
    return await load_workspace_function(request, principal, WRITE_FUNCTIONS)


# -- functions -------------------------------------------------------------------------------

async def create_function(request: Request) -> Response:
    principal = await authenticate(request)
    services = services_of(request)
    workspace = enter_workspace(request, principal, WRITE_FUNCTIONS)
    if not PROJECT_NAME_RE.fullmatch(workspace):
        raise InvalidRequest(f"workspace id '{workspace}' is not a project name: lower-case "
                             "letters, digits and '-', starting with a letter",
                             details={"parameter": "workspaceId"})
    sent = parse(FsFunctionCreate, await read_json(request))
    created = await _translate.create_function(services, principal, sent.native(workspace))
    return JSONResponse(function_view(created), status_code=201)


async def list_functions(request: Request) -> Response:
    principal = await authenticate(request)
    workspace = enter_workspace(request, principal, *CATALOG_READERS)
    project = request.query_params.get("project_id")
    if project not in (None, "", workspace):
        raise InvalidRequest(f"project_id '{project}' is not this workspace: a workspace is "
                             "one project here, so project_id is its id",
                             details={"parameter": "project_id"})
    functions = await all_functions(services_of(request), principal, workspace)
    return JSONResponse(FsFunctionList(functions=[summary_view(f) for f in functions]))


async def get_function(request: Request) -> Response:
    return JSONResponse(function_view(await _readable(request, await authenticate(request))))


async def update_function(request: Request) -> Response:
    principal = await authenticate(request)
    services = services_of(request)
    current = await _writable(request, principal)
    sent = parse(FsFunctionUpdate, await read_json(request))
    function = await _translate.update_function(services, principal, current,
                                                sent.native())
    return JSONResponse(function_view(function))


async def delete_function(request: Request) -> Response:
    principal = await authenticate(request)
    function = await _writable(request, principal)
    await services_of(request).function_service.delete(function, actor=principal)
    return Response(status_code=204)


# -- versions --------------------------------------------------------------------------------

async def create_version(request: Request) -> Response:
    principal = await authenticate(request)
    services = services_of(request)
    function = await _writable(request, principal)
    sent = parse(FsVersionCreate, await read_json(request, empty={}))
    body = parse(VersionCreate, sent.native(), context=_context(services, function.runtime))
    version = await services.function_service.add_version(function, body,
                                                          actor=principal)
    return JSONResponse(version_view(version, function), status_code=201)


async def list_versions(request: Request) -> Response:
    function = await _readable(request, await authenticate(request))
    versions = await services_of(request).functions.list_versions(function.id)
    return JSONResponse(FsVersionList(versions=[version_summary(v) for v in versions]))


async def activate_version(request: Request) -> Response:
    principal = await authenticate(request)
    services = services_of(request)
    function = await _writable(request, principal)
    raw = request.path_params["versionId"]
    version_id = parse_id("ver", raw)
    versions = await services.functions.list_versions(function.id)
    number = next((v.version for v in versions if v.id == version_id), None)
    if number is None:
        raise version_not_found(function.name, raw)
    await services.function_service.activate_version(function, number,
                                                     actor=principal)
    return JSONResponse(FsMessage(message="Version activated successfully"))


async def rollback(request: Request) -> Response:
    principal = await authenticate(request)
    function = await _writable(request, principal)
    await services_of(request).function_service.rollback(function, actor=principal)
    return JSONResponse(FsMessage(message="Rollback successful"))


# -- triggers --------------------------------------------------------------------------------

def _trigger_id(request: Request) -> int:
    raw = request.path_params["triggerId"]
    number = parse_id("trg", raw)
    if number is None:
        raise trigger_not_found(raw)
    return number


async def create_trigger(request: Request) -> Response:
    principal = await authenticate(request)
    services = services_of(request)
    function = await _writable(request, principal)
    sent = parse(FsTriggerBody, await read_json(request))
    body = parse(TriggerCreate, sent.native(), context={"settings": services.settings})
    trigger = await services.trigger_service.create(function, body, actor=principal)
    return JSONResponse(trigger_view(trigger, function), status_code=201)


async def list_triggers(request: Request) -> Response:
    function = await _readable(request, await authenticate(request))
    triggers = await services_of(request).trigger_service.for_function(function)
    return JSONResponse(FsTriggerList(triggers=[trigger_view(t, function) for t in triggers]))


async def update_trigger(request: Request) -> Response:
    principal = await authenticate(request)
    services = services_of(request)
    function = await _writable(request, principal)
    current = await services.trigger_service.get(function, _trigger_id(request))
    sent = parse(FsTriggerBody, await read_json(request))
    body = parse(TriggerUpdate, sent.native(), context={"current": current})
    trigger = await services.trigger_service.update(current, body)
    return JSONResponse(trigger_view(trigger, function))


async def delete_trigger(request: Request) -> Response:
    principal = await authenticate(request)
    function = await _writable(request, principal)
    await services_of(request).trigger_service.delete(function, _trigger_id(request),
                                                      actor=principal)
    return Response(status_code=204)


# The run and provider paths first: ``/functions/invocations/{id}`` and
# ``/functions/provider/…`` are not functions.
_ROUTES: dict[str, dict[str, Endpoint]] = {
    **RUN_ROUTES,
    "/functions": {"GET": list_functions, "POST": create_function},
    "/functions/{functionId}": {"GET": get_function, "PUT": update_function,
                                "DELETE": delete_function},
    "/functions/{functionId}/versions": {"GET": list_versions, "POST": create_version},
    "/functions/{functionId}/versions/{versionId}/active": {"PUT": activate_version},
    "/functions/{functionId}/rollback": {"POST": rollback},
    "/functions/{functionId}/triggers": {"GET": list_triggers, "POST": create_trigger},
    "/functions/{functionId}/triggers/{triggerId}": {"PUT": update_trigger,
                                                     "DELETE": delete_trigger},
}

dialect = Dialect(
    name="function-service", base=BASE, routes=prefixed(BASE, _ROUTES),
    error_body=_error_body, execute=r"/functions/[^/]+/invoke(?:-async)?",
)
