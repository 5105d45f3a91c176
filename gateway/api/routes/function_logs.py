"""``GET /api/v1/functions/{ref}/logs``: a function's log lines, or a live stream of them.

Without ``follow`` the answer is the newest ``limit`` lines that match, oldest
first (like ``tail``). With ``follow=true`` it is a ``text/event-stream``: those
lines, then the lines printed so far by runs still going on this replica, then
every new line as functions print it — from this replica's runs at once
(:mod:`gateway.services.logstream`), from other replicas' runs when their attempt ends
(polled from ``job_logs``). The stream ends when the client goes away, when
``until`` passes, or once the job named by ``job_id`` has finished.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from auth.scopes import ADMIN, READ_JOBS
from gateway.api.context import Services, services_of
from gateway.api.operations import Reply, Text, operation, routes_of
from gateway.api.responses import JSONResponse
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
from gateway.core.errors import InvalidRequest, RateLimited
from gateway.core.jsoncodec import dumps
from gateway.schemas.base import render
from gateway.schemas.logs import FunctionLogs, LogLine
from gateway.services.logstream import LiveLine, LogSubscription
from gateway.store.logs import LogStore, StoredLine

__all__ = ["routes"]

# Lines of other replicas' transactions that commit out of id order are caught by
# re-reading this many ids below the cursor (and skipping those already sent).
_LOOKBACK_IDS = 200
_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


@dataclass(frozen=True, slots=True, kw_only=True)
class _Filter:
    function_id: int
    since: dt.datetime | None
    until: dt.datetime | None
    job_id: uuid.UUID | None
    limit: int

    def admits(self, timestamp: dt.datetime) -> bool:
        return ((self.since is None or timestamp >= self.since)
                and (self.until is None or timestamp < self.until))


def _event(line: LogLine) -> bytes:
    return b"data: " + dumps(render(line)) + b"\n\n"


def _stored(line: StoredLine) -> LogLine:
    return LogLine(timestamp=line.timestamp, job_id=line.job_id, stream=line.stream,
                   message=line.message)


def _live(item: LiveLine, moment: dt.datetime) -> LogLine:
    return LogLine(timestamp=moment, job_id=item.job_id, stream=item.line.stream,
                   message=item.line.message)


# Live followers of one function per replica: each holds a queue and polls PostgreSQL.
MAX_FOLLOWERS = 50

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
    require_read_jobs(principal, "logs")
    services = services_of(request)
    function = await load_function(services, request.path_params["ref"])
    since, until = query_time(request, "since"), query_time(request, "until")
    if since is not None and until is not None and since >= until:
        raise InvalidRequest("query parameter 'until' must be later than 'since'",
                             details={"parameter": "until"})
    wanted = _Filter(function_id=function.id, since=since, until=until,
                     job_id=query_uuid(request, "job_id"),
                     limit=query_int(request, "limit", 100, 1, 1000))
    store = LogStore(services.pool)
    if not query_bool(request, "follow"):
        lines = await store.latest(function.id, since=since, until=until,
                                   job_id=wanted.job_id, limit=wanted.limit)
        return JSONResponse(render(FunctionLogs(logs=[_stored(line) for line in lines])))
    hub = services.dispatcher.live_logs
    if hub.subscribers(function.id) >= MAX_FOLLOWERS:
        raise RateLimited(
            f"function '{function.name}' already has {MAX_FOLLOWERS} log followers on this"
            " gateway; try again later", details={"max_followers": MAX_FOLLOWERS},
            headers={"Retry-After": "5"})
    subscription = services.dispatcher.live_logs.subscribe(
        function.id, None if wanted.job_id is None else str(wanted.job_id))
    return StreamingResponse(_follow(services, store, subscription, wanted),
                             media_type="text/event-stream", headers=_SSE_HEADERS)


async def _follow(services: Services, store: LogStore, subscription: LogSubscription,
                  wanted: _Filter) -> AsyncIterator[bytes]:
    """The event stream; closing the subscription however it ends (a client gone included)."""
    try:
        async for chunk in _stream(services, store, subscription, wanted):
            yield chunk
    finally:
        subscription.close()


async def _stream(services: Services, store: LogStore, subscription: LogSubscription,
                  wanted: _Filter) -> AsyncIterator[bytes]:
    settings = services.settings
    loop = asyncio.get_running_loop()
    cursor = start = await store.last_id(wanted.function_id)
    backlog = await store.latest(wanted.function_id, since=wanted.since, until=wanted.until,
                                 job_id=wanted.job_id, limit=wanted.limit, max_id=cursor)
    chunk = b"".join(_event(_stored(line)) for line in backlog
                     if line.job_id not in subscription.live_jobs)
    chunk += _live_events(subscription.backlog, wanted)
    yield chunk or b": following\n\n"  # sends the headers at once
    sent: set[int] = set()
    quiet_since = next_poll = loop.time()
    while True:
        now = loop.time()
        remaining = _until_remaining(wanted.until)
        if remaining is not None and remaining <= 0:
            return
        timeout = min(next_poll, quiet_since + settings.log_follow_keepalive_s) - now
        if remaining is not None:
            timeout = min(timeout, remaining)
        item = await subscription.get(timeout)
        if item is not None:
            chunk = _live_events([item, *subscription.drain()], wanted)
            if chunk:
                quiet_since = loop.time()
                yield chunk
        if loop.time() >= next_poll:
            done = wanted.job_id is not None and await _job_finished(services, wanted.job_id)
            rows = await store.after(wanted.function_id, max(0, cursor - _LOOKBACK_IDS),
                                     job_id=wanted.job_id)
            cursor, chunk = _stored_events(rows, sent, cursor, start, subscription, wanted)
            next_poll = loop.time() + settings.log_follow_poll_s
            if chunk:
                quiet_since = loop.time()
                yield chunk
            if done:
                # Live lines of a run here were queued before its job was stored.
                yield _live_events(subscription.drain(), wanted)
                return
        if loop.time() - quiet_since >= settings.log_follow_keepalive_s:
            quiet_since = loop.time()
            yield b": keep-alive\n\n"


def _until_remaining(until: dt.datetime | None) -> float | None:
    if until is None:
        return None
    return (until - dt.datetime.now(dt.UTC)).total_seconds()


def _live_events(items: list[LiveLine], wanted: _Filter) -> bytes:
    out = []
    for item in items:
        moment = dt.datetime.fromtimestamp(item.line.timestamp, dt.UTC)
        if wanted.admits(moment):
            out.append(_event(_live(item, moment)))
    return b"".join(out)


def _stored_events(rows: list[StoredLine], sent: set[int], cursor: int, start: int,
                   subscription: LogSubscription, wanted: _Filter) -> tuple[int, bytes]:
    """Lines stored by other replicas that this stream has not sent; the new cursor.

    Ids up to ``start`` were the backlog's to send (or, past ``limit``, not to send).
    """
    out = []
    for row in rows:
        if row.id <= start or row.id in sent:
            continue
        sent.add(row.id)
        cursor = max(cursor, row.id)
        if row.job_id in subscription.live_jobs or not wanted.admits(row.timestamp):
            continue
        out.append(_event(_stored(row)))
    floor = cursor - _LOOKBACK_IDS
    sent.difference_update([i for i in sent if i <= floor])
    return cursor, b"".join(out)


async def _job_finished(services: Services, job_id: uuid.UUID) -> bool:
    job = await services.jobs.get(str(job_id))
    # An unknown (or pruned) job will print nothing more: the stream ends too.
    return job is None or job.status in ("success", "failed")


routes = routes_of(function_logs)
