"""``/api/v1/functions/{ref}/versions`` and ``…/rollback``: versions and activation.

Every activation (a new version with ``"activate": true`` that needs no build, an
explicit ``PUT …/versions/{version}/active``, a rollback) commits with its audit
event and a change notification, so every replica's next invocation uses the new
active version; invocations already running finish on theirs.
"""

from __future__ import annotations

from pydantic import MISSING
from starlette.requests import Request
from starlette.responses import Response

from auth import Principal, can_manage, has_scope
from auth.scopes import READ_FUNCTIONS, WRITE_FUNCTIONS
from gateway.api.context import Services, services_of
from gateway.api.operations import Reply, operation, routes_of
from gateway.api.responses import JSONResponse
from gateway.api.routes._body import read_json
from gateway.api.routes._lookup import function_not_found, load_function, show_function
from gateway.api.routes.functions import READ_NOTE, READ_SCOPES, WRITE_NOTE, WRITE_SCOPES
from gateway.api.security import authenticate, require_scope
from gateway.core.errors import Forbidden
from gateway.core.models import FunctionRecord
from gateway.schemas.base import render
from gateway.schemas.function_view import Function
from gateway.schemas.validation import parse
from gateway.schemas.versions import Version, VersionCreate, VersionList, version_view
from gateway.services import audit
from gateway.store.functions import VersionChange, version_not_found

__all__ = ["routes"]

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

_VERSION_NUMBER = {
    "name": "version", "in": "path", "required": True,
    "schema": {"type": "string", "pattern": "^[0-9]+$"},
    "description": "The version's number (`1`, `2`, …); an unknown number, or anything that "
                   "is not one, → 404 `VERSION_NOT_FOUND`.",
}


def _require_read(principal: Principal) -> None:
    if not (has_scope(principal, READ_FUNCTIONS) or can_manage(principal)):
        raise Forbidden("this needs the 'read:functions' scope",
                        details={"required_scope": READ_FUNCTIONS})


async def _activated(services: Services, function_id: int, ref: str,
                     number: int) -> FunctionRecord:
    """After an activation committed: warm workers of the old version go, and
    ``function.deployed`` is queued, and the version is built for the dependency layers
    as they are now if they changed since it was built. Returns the function as it is now."""
    await services.pools.drop_function(function_id)
    await services.builds.follow_layers(function_id)
    function = await services.functions.get_by_id(function_id)
    if function is None:
        raise function_not_found(ref)
    await services.webhooks.function_event("function.deployed", function, version=number)
    return function


@operation(
    "GET", "/api/v1/functions/{ref}/versions", operation_id="listVersions", tag="functions",
    summary="List a function's versions",
    description=READ_NOTE + "Every version, newest first, with its code, build status and "
                "log; `is_active` marks the active one as of this request.",
    scopes=READ_SCOPES, parameters=["ref"], errors=[404],
    replies={200: Reply("The versions.", VersionList)},
)
async def list_versions(request: Request) -> Response:
    principal = await authenticate(request)
    _require_read(principal)
    services = services_of(request)
    function = await load_function(services, request.path_params["ref"])
    versions = await services.functions.list_versions(function.id)
    return JSONResponse(render(VersionList(versions=[version_view(v) for v in versions])))


@operation(
    "POST", "/api/v1/functions/{ref}/versions", operation_id="createVersion", tag="functions",
    summary="Add a version",
    description=WRITE_NOTE + "A new version (the next number) merged over the newest one that "
                "did not fail its build. With dependencies it is `building` and builds in the "
                "background (its outcome lands in `build_status` / `build_log`). It is not "
                "activated unless `activate` is `true`. Records a `deployed` event (and "
                "`activated` when it became active at once). " + _ACTIVATION_NOTE,
    scopes=WRITE_SCOPES, parameters=["ref"], body=VersionCreate, body_required=False,
    errors=[404, 409],
    replies={201: Reply("The new version as stored now (`building` while it builds).",
                        Version,
                        headers=(("Location", "VersionsLocation"),))},
)
async def create_version(request: Request) -> Response:
    principal = await authenticate(request)
    require_scope(principal, WRITE_FUNCTIONS)
    services = services_of(request)
    ref = request.path_params["ref"]
    function = await load_function(services, ref)
    body = parse(VersionCreate, await read_json(request, empty={}),
                 context={"settings": services.settings, "runtime": function.runtime})
    change = VersionChange(code=body.source,
                           handler=None if body.handler is MISSING else body.handler,
                           dependencies=body.dependencies)
    added = await services.functions.add_version(
        function.id, change, activate=body.activate, expected_number=body.version,
        also=audit.version_added(function.id, principal.subject, activate=body.activate))
    if added is None:
        raise function_not_found(ref)
    number, version, activated = added
    # Read before the build starts, so the answer says ``building`` when it built.
    created = await services.functions.get_version(function.id, number)
    if version.needs_build:
        services.builds.schedule(function.id, number, version.runtime, version.dependencies,
                                 actor=principal.subject)
    if activated:
        await _activated(services, function.id, ref, number)
    if created is None:  # deleted meanwhile
        raise function_not_found(ref)
    return JSONResponse(render(version_view(created)), status_code=201, headers={
        "Location": f"/api/v1/functions/{function.name}/versions"})


def _version_number(function: FunctionRecord, raw: str) -> int:
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 9):
        raise version_not_found(function.name, raw)
    return int(raw)


async def _activate(request: Request, version: str | None) -> Response:
    principal = await authenticate(request)
    require_scope(principal, WRITE_FUNCTIONS)
    services = services_of(request)
    ref = request.path_params["ref"]
    function = await load_function(services, ref)
    number = None if version is None else _version_number(function, version)
    result = await services.functions.activate_version(
        function.id, number,
        also=audit.version_activated(function.id, principal.subject, rollback=number is None))
    if result is None:
        raise function_not_found(ref)
    previous, now = result
    if previous == now:
        current = await services.functions.get_by_id(function.id)
        if current is None:
            raise function_not_found(ref)
    else:
        current = await _activated(services, function.id, ref, now)
    return JSONResponse(render(show_function(current, principal)))


@operation(
    "PUT", "/api/v1/functions/{ref}/versions/{version}/active", operation_id="activateVersion",
    tag="functions", summary="Activate a version",
    description=WRITE_NOTE + "Makes the version active, older or newer than the active one; "
                "no body is read. 409 `CONFLICT` while it is building or if its build failed "
                "(`details.build_status`). Activating the active version changes nothing and "
                "records nothing; otherwise an `activated` event is recorded. "
                + _ACTIVATION_NOTE,
    scopes=WRITE_SCOPES, parameters=["ref", _VERSION_NUMBER], errors=[404, 409],
    replies={200: Reply("The function, now on that version.", Function)},
)
async def activate_version(request: Request) -> Response:
    return await _activate(request, request.path_params["version"])


@operation(
    "POST", "/api/v1/functions/{ref}/rollback", operation_id="rollbackFunction",
    tag="functions", summary="Roll back to the previous built version",
    description=WRITE_NOTE + "Activates the highest version below the active one whose build "
                "succeeded (skipping failed and building ones); no body is read. None → 409 "
                "`CONFLICT` (`details.active_version`). Records a `rolled_back` event; a second "
                "rollback goes one further back. " + _ACTIVATION_NOTE,
    scopes=WRITE_SCOPES, parameters=["ref"], errors=[404, 409],
    replies={200: Reply("The function, now on the earlier version.", Function)},
)
async def rollback(request: Request) -> Response:
    return await _activate(request, None)


routes = routes_of(list_versions, create_version, activate_version, rollback)
