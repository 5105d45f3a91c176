"""``/api/v1/functions/{ref}/triggers``: a function's HTTP, cron and queue triggers."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from auth.scopes import ADMIN, READ_FUNCTIONS, WRITE_FUNCTIONS
from gateway.api.context import services_of
from gateway.api.operations import Reply, operation, routes_of
from gateway.api.responses import JSONResponse
from gateway.api.routes._body import read_json
from gateway.api.routes._lookup import load_function, trigger_view
from gateway.api.security import CATALOG_READERS, authenticate
from gateway.core.identifiers import numeric_id
from gateway.schemas.triggers import Trigger, TriggerCreate, TriggerList, TriggerUpdate
from gateway.schemas.validation import parse
from gateway.services.triggers import trigger_not_found

__all__ = ["routes"]

_TRIGGERS = "/api/v1/functions/{ref}/triggers"
_TRIGGER = "/api/v1/functions/{ref}/triggers/{trigger_id}"
_READERS = [READ_FUNCTIONS, WRITE_FUNCTIONS, ADMIN]
_WRITERS = [WRITE_FUNCTIONS, ADMIN]
_READ_NOTE = "Needs `read:functions`, `write:functions` or `admin`."
_WRITE_NOTE = "Needs `write:functions` or `admin`."
_CHANGE_NOTE = (
    " A change takes effect on every replica within 5 s. A field of the wrong type or value "
    "→ 400 `INVALID_REQUEST` naming it in `details.field` (`type`, `enabled`, "
    "`config.path`, `config.schedule`, `config.prefetch`, …). `queue` triggers need a "
    "broker (`FNGATE_AMQP_URL`; 400 without one)."
)


def _trigger_id(request: Request) -> int:
    """The trigger id in the path; one no trigger can have is a 404 without a lookup."""
    raw = request.path_params["trigger_id"]
    trigger_id = numeric_id(raw)
    if trigger_id is None:
        raise trigger_not_found(raw)
    return trigger_id



@operation(
    "GET", _TRIGGERS, operation_id="listTriggers", tag="triggers",
    summary="A function's triggers", description=_READ_NOTE, scopes=_READERS,
    parameters=["ref"], errors=[404], replies={200: Reply("The triggers.", TriggerList)},
)
async def list_triggers(request: Request) -> Response:
    principal = await authenticate(request)
    services = services_of(request)
    function = await load_function(services, request.path_params["ref"], principal,
                                   *CATALOG_READERS)
    triggers = await services.trigger_service.for_function(function)
    return JSONResponse(TriggerList(triggers=[trigger_view(t) for t in triggers]))


@operation(
    "POST", _TRIGGERS, operation_id="createTrigger", tag="triggers", summary="Add a trigger",
    description=_WRITE_NOTE + " An HTTP trigger is served at `/fn<config.path>`; its path "
                "must be unique (409)." + _CHANGE_NOTE,
    scopes=_WRITERS, body=TriggerCreate, parameters=["ref"], errors=[404, 409],
    replies={201: Reply("Created.", Trigger)},
)
async def create_trigger(request: Request) -> Response:
    principal = await authenticate(request)
    services = services_of(request)
    # The function first: an unknown one is a 404 whatever the body.
    function = await load_function(services, request.path_params["ref"], principal,
                                   WRITE_FUNCTIONS)
    body = parse(TriggerCreate, await read_json(request), context={"settings": services.settings})
    trigger = await services.trigger_service.create(function, body, actor=principal)
    return JSONResponse(trigger_view(trigger), status_code=201)


@operation(
    "GET", _TRIGGER, operation_id="getTrigger", tag="triggers", summary="Get a trigger",
    description=_READ_NOTE, scopes=_READERS, parameters=["ref", "trigger_id"], errors=[404],
    replies={200: Reply("The trigger.", Trigger)},
)
async def get_trigger(request: Request) -> Response:
    principal = await authenticate(request)
    services = services_of(request)
    function = await load_function(services, request.path_params["ref"], principal,
                                   *CATALOG_READERS)
    trigger = await services.trigger_service.get(function, _trigger_id(request))
    return JSONResponse(trigger_view(trigger))


@operation(
    "PUT", _TRIGGER, operation_id="updateTrigger", tag="triggers", summary="Update a trigger",
    description=_WRITE_NOTE + _CHANGE_NOTE, scopes=_WRITERS, body=TriggerUpdate,
    parameters=["ref", "trigger_id"], errors=[404, 409],
    replies={200: Reply("The updated trigger.", Trigger)},
)
async def update_trigger(request: Request) -> Response:
    principal = await authenticate(request)
    services = services_of(request)
    function = await load_function(services, request.path_params["ref"], principal,
                                   WRITE_FUNCTIONS)
    # The body is checked over the stored trigger (an omitted field keeps its value).
    current = await services.trigger_service.get(function, _trigger_id(request))
    body = parse(TriggerUpdate, await read_json(request), context={"current": current})
    trigger = await services.trigger_service.update(current, body)
    return JSONResponse(trigger_view(trigger))


@operation(
    "DELETE", _TRIGGER, operation_id="deleteTrigger", tag="triggers",
    summary="Delete a trigger", description=_WRITE_NOTE, scopes=_WRITERS,
    parameters=["ref", "trigger_id"], errors=[404], replies={204: Reply("Deleted.")},
)
async def delete_trigger(request: Request) -> Response:
    principal = await authenticate(request)
    services = services_of(request)
    function = await load_function(services, request.path_params["ref"], principal,
                                   WRITE_FUNCTIONS)
    await services.trigger_service.delete(function, _trigger_id(request),
                                          actor=principal)
    return Response(status_code=204)


routes = routes_of(list_triggers, create_trigger, get_trigger, update_trigger, delete_trigger)
