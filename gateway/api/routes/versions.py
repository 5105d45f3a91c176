"""``/api/v1/functions/{ref}/versions`` and ``…/rollback``: versions and activation.

Every activation (a new version with ``"activate": true`` that needs no build, an
explicit ``PUT …/versions/{version}/active``, a rollback) commits with its audit
event and a change notification, so every replica's next invocation uses the new
active version; invocations already running finish on theirs.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from auth.scopes import WRITE_FUNCTIONS
from gateway.api.context import services_of
from gateway.api.operations import Reply, operation, routes_of
from gateway.api.responses import JSONResponse
from gateway.api.routes._body import read_json
from gateway.api.routes._lookup import load_function, show_function
from gateway.api.routes.functions import READ_NOTE, READ_SCOPES, WRITE_NOTE, WRITE_SCOPES
from gateway.api.security import CATALOG_READERS, authenticate
from gateway.core.identifiers import numeric_id
from gateway.core.models import FunctionRecord
from gateway.schemas.function_view import Function
from gateway.schemas.validation import parse
from gateway.schemas.versions import Version, VersionCreate, VersionList, version_view
from gateway.store.functions import version_not_found

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
    services = services_of(request)
    function = await load_function(services, request.path_params["ref"], principal,
                                   *CATALOG_READERS)
    versions = await services.functions.list_versions(function.id)
    return JSONResponse(VersionList(versions=[version_view(v) for v in versions]))


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
    services = services_of(request)
    function = await load_function(services, request.path_params["ref"], principal,
                                   WRITE_FUNCTIONS)
    body = parse(VersionCreate, await read_json(request, empty={}),
                 context={"settings": services.settings, "runtime": function.runtime})
    created = await services.function_service.add_version(function, body,
                                                          actor=principal)
    return JSONResponse(version_view(created), status_code=201, headers={
        "Location": f"/api/v1/functions/{function.name}/versions"})


def _version_number(function: FunctionRecord, raw: str) -> int:
    number = numeric_id(raw, digits=9)  # versions are integers
    if number is None:
        raise version_not_found(function.name, raw)
    return number


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
    principal = await authenticate(request)
    services = services_of(request)
    function = await load_function(services, request.path_params["ref"], principal,
                                   WRITE_FUNCTIONS)
    number = _version_number(function, request.path_params["version"])
    activated = await services.function_service.activate_version(function, number,
                                                                 actor=principal)
    return JSONResponse(show_function(activated, principal))


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
    principal = await authenticate(request)
    services = services_of(request)
    function = await load_function(services, request.path_params["ref"], principal,
                                   WRITE_FUNCTIONS)
    rolled_back = await services.function_service.rollback(function, actor=principal)
    return JSONResponse(show_function(rolled_back, principal))


routes = routes_of(list_versions, create_version, activate_version, rollback)
