"""``/api/v1/functions/{ref}/versions`` and ``…/rollback``: versions and activation.

Every activation (a new version with ``"activate": true`` that needs no build, an
explicit ``PUT …/versions/{version}/active``, a rollback) commits with its audit
event and a change notification, so every replica's next invocation uses the new
active version; invocations already running finish on theirs.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from auth import Principal, can_manage, has_scope
from auth.scopes import READ_FUNCTIONS, WRITE_FUNCTIONS
from gateway.api.context import Services, services_of
from gateway.api.responses import JSONResponse
from gateway.api.routes._body import read_json
from gateway.api.routes._lookup import function_not_found, load_function
from gateway.api.routes._methods import methods_route
from gateway.api.security import authenticate, require_scope
from gateway.core.errors import Forbidden, InvalidRequest
from gateway.core.models import FunctionRecord
from gateway.schemas.function_input import REFUSED_FIELDS, parse_function
from gateway.schemas.known_fields import reject_unknown
from gateway.services import audit
from gateway.store.functions import VersionChange, version_not_found

__all__ = ["routes"]

# What a version body may set; ``source_code`` (base64) stands in for ``code``.
_VERSION_FIELDS = ("code", "source_code", "handler", "dependencies")
# ``version``: the number the client expects the new version to get (seed 004 sends it).
_BODY_FIELDS = (*_VERSION_FIELDS, "activate", "version")
_REFUSED = {
    "runtime": "is not a field of a version: change it with PUT /api/v1/functions/{ref}",
    "image": REFUSED_FIELDS["image"],
}
_MAX_VERSION = 999_999_999


def _parse_version_body(body: Any, services: Services, runtime: str
                        ) -> tuple[VersionChange, bool, int | None]:
    if not isinstance(body, dict):
        raise InvalidRequest("the body must be a JSON object")
    reject_unknown(body, _BODY_FIELDS, refused=_REFUSED)
    activate = body.get("activate", False)
    if not isinstance(activate, bool):
        raise InvalidRequest("'activate' must be a boolean", details={"field": "activate"})
    expected = body.get("version")
    if expected is not None and (isinstance(expected, bool) or not isinstance(expected, int)
                                 or not 1 <= expected <= _MAX_VERSION):
        raise InvalidRequest("'version' must be a positive integer: the number the new "
                             "version is expected to get", details={"field": "version"})
    parsed = parse_function({k: body[k] for k in _VERSION_FIELDS if k in body},
                            services.settings, creating=False, current_runtime=runtime)
    return VersionChange(code=parsed.code, handler=parsed.handler,
                         dependencies=parsed.dependencies), activate, expected


def _require_read(principal: Principal) -> None:
    if not (has_scope(principal, READ_FUNCTIONS) or can_manage(principal)):
        raise Forbidden("this needs the 'read:functions' scope",
                        details={"required_scope": READ_FUNCTIONS})


def _render(function: FunctionRecord, principal: Principal) -> Any:
    return function.to_api(reveal_environment=can_manage(principal))


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


async def list_versions(request: Request) -> Response:
    principal = await authenticate(request)
    _require_read(principal)
    services = services_of(request)
    function = await load_function(services, request.path_params["ref"])
    versions = await services.functions.list_versions(function.id)
    return JSONResponse({"versions": [v.to_api() for v in versions]})


async def create_version(request: Request) -> Response:
    principal = await authenticate(request)
    require_scope(principal, WRITE_FUNCTIONS)
    services = services_of(request)
    ref = request.path_params["ref"]
    function = await load_function(services, ref)
    body = await read_json(request, empty={})
    change, activate, expected = _parse_version_body(body, services, function.runtime)

    added = await services.functions.add_version(
        function.id, change, activate=activate, expected_number=expected,
        also=audit.version_added(function.id, principal.subject, activate=activate))
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
    return JSONResponse(created.to_api(), status_code=201, headers={
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
        return JSONResponse(_render(current, principal))
    current = await _activated(services, function.id, ref, now)
    return JSONResponse(_render(current, principal))


async def activate_version(request: Request) -> Response:
    return await _activate(request, request.path_params["version"])


async def rollback(request: Request) -> Response:
    return await _activate(request, None)


routes = [
    methods_route("/api/v1/functions/{ref}/versions",
                  {"GET": list_versions, "POST": create_version}),
    methods_route("/api/v1/functions/{ref}/versions/{version}/active",
                  {"PUT": activate_version}),
    methods_route("/api/v1/functions/{ref}/rollback", {"POST": rollback}),
]
