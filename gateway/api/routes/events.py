"""``GET /api/v1/functions/{ref}/events``: a function's audit trail, newest first.

A deleted function's trail stays readable by its id, or by its name while no live
function has that name (its ``deleted`` event comes first).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.api.context import services_of
from gateway.api.responses import JSONResponse
from gateway.api.routes._body import query_int
from gateway.api.routes._lookup import function_not_found
from gateway.api.routes._observe import require_read_jobs
from gateway.api.security import authenticate
from gateway.store.events import EventStore

__all__ = ["routes"]


async def function_events(request: Request) -> Response:
    principal = await authenticate(request)
    require_read_jobs(principal, "events")
    services = services_of(request)
    ref = request.path_params["ref"]
    events = EventStore(services.pool)
    function = await services.functions.get(ref)
    function_id = function.id if function is not None else await events.deleted_function_id(ref)
    if function_id is None:
        raise function_not_found(ref)
    limit = query_int(request, "limit", 100, 1, 1000)
    records = await events.for_function(function_id, limit=limit)
    return JSONResponse({"events": [e.to_api() for e in records]})


routes = [Route("/api/v1/functions/{ref}/events", function_events, methods=["GET"])]
