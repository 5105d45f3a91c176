"""``/api/v1/functions/{ref}/triggers``: create, list, update and delete triggers."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from auth import Principal, can_manage, has_scope
from auth.scopes import READ_FUNCTIONS, WRITE_FUNCTIONS
from gateway.api.context import services_of
from gateway.api.responses import JSONResponse
from gateway.api.routes._body import read_json
from gateway.api.routes._lookup import load_function, render_trigger
from gateway.api.routes._methods import methods_route
from gateway.api.security import authenticate, require_scope
from gateway.core.errors import Forbidden, NotFound
from gateway.core.models import FunctionRecord
from gateway.schemas.trigger_input import parse_trigger
from gateway.services import audit
from gateway.store.triggers import TriggerRecord

__all__ = ["routes", "render_trigger"]


def _trigger_id(request: Request) -> int:
    raw = request.path_params["trigger_id"]
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 18):
        raise NotFound(f"trigger '{raw}' does not exist", code="TRIGGER_NOT_FOUND")
    return int(raw)


def _require_read(principal: Principal) -> None:
    if not (has_scope(principal, READ_FUNCTIONS) or can_manage(principal)):
        raise Forbidden("this needs the 'read:functions' scope",
                        details={"required_scope": READ_FUNCTIONS})


async def list_triggers(request: Request) -> Response:
    principal = await authenticate(request)
    _require_read(principal)
    services = services_of(request)
    function = await load_function(services, request.path_params["ref"])
    triggers = await services.triggers.for_function(function.id)
    return JSONResponse({"triggers": [render_trigger(t) for t in triggers]})


async def create_trigger(request: Request) -> Response:
    principal = await authenticate(request)
    require_scope(principal, WRITE_FUNCTIONS)
    services = services_of(request)
    function = await load_function(services, request.path_params["ref"])
    parsed = parse_trigger(await read_json(request), services.settings)
    trigger = await services.triggers.create(
        function.id, name=parsed.name, type=parsed.type, enabled=parsed.enabled,
        config=parsed.config, http_path=parsed.http_path,
        also=audit.trigger_added(function.id, function.name, principal.subject),
    )
    return JSONResponse(render_trigger(trigger), status_code=201)


async def _current_of(request: Request) -> tuple[FunctionRecord, TriggerRecord]:
    services = services_of(request)
    function = await load_function(services, request.path_params["ref"])
    trigger = await services.triggers.get(_trigger_id(request), function.id)
    if trigger is None:
        raise NotFound(f"trigger '{request.path_params['trigger_id']}' does not exist",
                       code="TRIGGER_NOT_FOUND")
    return function, trigger


async def _current(request: Request) -> tuple[int, TriggerRecord]:
    function, trigger = await _current_of(request)
    return function.id, trigger


async def get_trigger(request: Request) -> Response:
    principal = await authenticate(request)
    _require_read(principal)
    _, trigger = await _current(request)
    return JSONResponse(render_trigger(trigger))


async def update_trigger(request: Request) -> Response:
    principal = await authenticate(request)
    require_scope(principal, WRITE_FUNCTIONS)
    services = services_of(request)
    function_id, current = await _current(request)
    body = await read_json(request)
    if isinstance(body, dict):
        merged = {"name": current.name, "enabled": current.enabled,
                  "config": current.config, **body}
    else:
        merged = body
    parsed = parse_trigger(merged, services.settings, current_type=current.type)
    trigger = await services.triggers.update(
        current.id, function_id, name=parsed.name, enabled=parsed.enabled,
        config=parsed.config, http_path=parsed.http_path,
    )
    if trigger is None:
        raise NotFound(f"trigger '{current.id}' does not exist", code="TRIGGER_NOT_FOUND")
    return JSONResponse(render_trigger(trigger))


async def delete_trigger(request: Request) -> Response:
    principal = await authenticate(request)
    require_scope(principal, WRITE_FUNCTIONS)
    services = services_of(request)
    function, current = await _current_of(request)
    await services.triggers.delete(
        current.id, function.id,
        also=audit.trigger_removed(function.id, function.name, current, principal.subject))
    return Response(status_code=204)


routes = [
    methods_route("/api/v1/functions/{ref}/triggers",
                  {"GET": list_triggers, "POST": create_trigger}),
    methods_route("/api/v1/functions/{ref}/triggers/{trigger_id}",
                  {"GET": get_trigger, "PUT": update_trigger, "DELETE": delete_trigger}),
]
