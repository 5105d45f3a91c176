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
from starlette.routing import Route

from gateway.api.context import Services, services_of
from gateway.api.responses import JSONResponse
from gateway.api.routes._body import query_int
from gateway.api.routes._lookup import load_function
from gateway.api.routes._observe import query_bool, query_time, query_uuid, require_read_jobs
from gateway.api.security import authenticate
from gateway.core.errors import InvalidRequest, RateLimited
from gateway.core.jsoncodec import dumps, isoformat
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


def _event(line: dict[str, Any]) -> bytes:
    return b"data: " + dumps(line) + b"\n\n"


def _live(item: LiveLine) -> tuple[dt.datetime, dict[str, Any]]:
    timestamp = dt.datetime.fromtimestamp(item.line.timestamp, dt.UTC)
    return timestamp, {"timestamp": isoformat(timestamp), "job_id": item.job_id,
                       "stream": item.line.stream, "message": item.line.message}


# Live followers of one function per replica: each holds a queue and polls PostgreSQL.
MAX_FOLLOWERS = 50


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
        return JSONResponse({"logs": [line.to_api() for line in lines]})
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
    chunk = b"".join(_event(line.to_api()) for line in backlog
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
        timestamp, line = _live(item)
        if wanted.admits(timestamp):
            out.append(_event(line))
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
        out.append(_event(row.to_api()))
    floor = cursor - _LOOKBACK_IDS
    sent.difference_update([i for i in sent if i <= floor])
    return cursor, b"".join(out)


async def _job_finished(services: Services, job_id: uuid.UUID) -> bool:
    job = await services.jobs.get(str(job_id))
    # An unknown (or pruned) job will print nothing more: the stream ends too.
    return job is None or job.status in ("success", "failed")


routes = [Route("/api/v1/functions/{ref}/logs", function_logs, methods=["GET"])]
