"""``GET /api/v1/functions/{ref}/logs``: a function's log lines, or a live stream of them.

Without ``follow`` the answer is the newest ``limit`` lines that match, oldest
first (like ``tail``). With ``follow=true`` it is a ``text/event-stream``: those
lines, then the lines printed so far by runs still going on this replica, then
every new line as functions print it (:mod:`gateway.services.logs` reads and follows
them). The stream ends when the client goes away, when ``until`` passes, or once the job
named by ``job_id`` has finished.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from auth.scopes import ADMIN, READ_JOBS
from gateway.api.context import services_of
from gateway.api.operations import Reply, Text, operation, routes_of
from gateway.api.responses import ClosingStreamingResponse, JSONResponse
from gateway.api.routes._body import query_int
from gateway.api.routes._lookup import load_function
from gateway.api.routes._observe import (
    READ_JOBS_NOTE,
    query_bool,
    query_time,
    query_uuid,
    require_read_jobs,
    time_parameter,
)
from gateway.api.security import authenticate
from gateway.core.errors import InvalidRequest
from gateway.core.jsoncodec import dumps
from gateway.schemas.base import render
from gateway.schemas.logs import FunctionLogs, LogLine
from gateway.services.logs import MAX_FOLLOWERS, LogBatch, LogQuery

__all__ = ["follow_response", "routes"]

_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


_DESCRIPTION = READ_JOBS_NOTE + f"""\
Without `follow`: the newest `limit` lines that match, oldest first (like `tail`), as \
`{{"logs": [LogLine…]}}`. A line's `timestamp` is when the function printed it; lines are \
stored when their job's attempt ends and kept for `FNGATE_LOG_RETENTION_DAYS` (default 7) \
and, per function, the newest `FNGATE_LOG_RETENTION_MAX_LINES` (default 100000).

With `follow=true`: `text/event-stream`. First those lines, then the lines printed so far \
by runs still going on the replica that answers, then each new line as it is printed, one \
`data: <LogLine JSON>` event each. Lines of runs on this replica arrive as they are \
printed; lines of runs on other replicas arrive when their attempt ends (polled every \
second). A comment (`: keep-alive`) is sent after 15 s without lines. The stream ends when \
the client disconnects, when `until` passes, or — with `job_id` — once that job has \
finished and its lines were sent (an unknown `job_id` ends it at once). A follower too slow \
to read loses lines rather than slowing the function. At most {MAX_FOLLOWERS} followers per \
function on one gateway: the next gets 429 `RATE_LIMITED` with `Retry-After`."""

_PARAMETERS: list[str | dict[str, Any]] = [
    "ref",
    time_parameter("since", "Lines printed at or after."),
    time_parameter("until", "Lines printed before (exclusive); must be later than `since` "
                            "(400). With `follow`, the stream ends when it passes."),
    {"name": "limit", "in": "query", "required": False,
     "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
     "description": "How many of the newest matching lines (with `follow`: of the backlog "
                    "sent first). Outside 1..1000 or not an integer → 400."},
    {"name": "job_id", "in": "query", "required": False,
     "schema": {"type": "string", "format": "uuid"},
     "description": "Only this job's lines. Not a UUID → 400."},
    {"name": "follow", "in": "query", "required": False,
     "schema": {"type": "boolean", "default": False},
     "description": "`true` streams Server-Sent Events. `true`/`false`/`1`/`0`; anything "
                    "else → 400."},
]


@operation(
    "GET", "/api/v1/functions/{ref}/logs", operation_id="getFunctionLogs",
    tag="observability", summary="A function's log lines, or a live stream of them",
    description=_DESCRIPTION, scopes=[READ_JOBS, ADMIN], parameters=_PARAMETERS,
    errors=[400, 404],
    replies={200: Reply(
        "The lines, or (with `follow=true`) the event stream.", FunctionLogs,
        text=Text("text/event-stream",
                  "`data: <LogLine as JSON>` events, and `: keep-alive` comments.",
                  events=LogLine),
    )},
)
async def function_logs(request: Request) -> Response:
    principal = await authenticate(request)
    require_read_jobs(principal, "logs", somewhere=True)
    services = services_of(request)
    function = await load_function(services, request.path_params["ref"], principal)
    require_read_jobs(principal, "logs", function.project)
    since, until = query_time(request, "since"), query_time(request, "until")
    if since is not None and until is not None and since >= until:
        raise InvalidRequest("query parameter 'until' must be later than 'since'",
                             details={"parameter": "until"})
    query = LogQuery(function_id=function.id, since=since, until=until,
                     job_id=query_uuid(request, "job_id"),
                     limit=query_int(request, "limit", 100, 1, 1000))
    if not query_bool(request, "follow"):
        lines = await services.log_service.latest(query)
        return JSONResponse(FunctionLogs(logs=lines))
    return follow_response(services.log_service.follow(function, query))


def follow_response(batches: AsyncGenerator[LogBatch, None],
                    shown: Callable[[LogLine], Any] = render) -> Response:
    """A follow as a ``text/event-stream`` response, each line as ``shown`` renders it;
    closed however the response ends, so the follow lets go of its subscription."""
    return ClosingStreamingResponse(_events(batches, shown), media_type="text/event-stream",
                                    headers=_SSE_HEADERS)


async def _events(batches: AsyncGenerator[LogBatch, None],
                  shown: Callable[[LogLine], Any]) -> AsyncGenerator[bytes, None]:
    """The follow as Server-Sent Events: a ``data:`` event per line, ``: keep-alive`` when
    it is quiet; the first chunk at once (``: following`` when it has no lines), so the
    headers go out. Closing it (the client gone) closes the follow."""
    first = True
    async with aclosing(batches) as follow:
        async for batch in follow:
            if batch is None:
                yield b": keep-alive\n\n"
            else:
                chunk = b"".join(b"data: " + dumps(shown(line)) + b"\n\n" for line in batch)
                yield chunk or (b": following\n\n" if first else b"")
            first = False


routes = routes_of(function_logs)
