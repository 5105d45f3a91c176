"""A function's log lines: the newest that match a query, or a follow of them.

A follow gives the newest lines that match, then the lines printed so far by runs still
going on this replica, then every new line as functions print it: from this replica's
runs at once (:mod:`gateway.services.logstream`), from other replicas' runs when their
attempt ends (polled from ``job_logs``). It ends when ``until`` passes, or once the job
it is limited to has finished; its reader ends it otherwise by closing it. A follow holds
its live-line subscription only while it is being iterated.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass

from gateway.core.errors import RateLimited
from gateway.core.models import FunctionRecord
from gateway.schemas.logs import LogLine
from gateway.services.logstream import LiveLine, LogHub, LogSubscription
from gateway.store.jobs import JobStore
from gateway.store.logs import LogStore, StoredLine

__all__ = ["MAX_FOLLOWERS", "LogBatch", "LogQuery", "LogService", "live_line", "stored_line"]

#: Live followers of one function per replica: each holds a queue and polls PostgreSQL.
MAX_FOLLOWERS = 50

# Lines of other replicas' transactions that commit out of id order are caught by
# re-reading this many ids below the cursor (and skipping those already sent).
_LOOKBACK_IDS = 200

#: What a follow yields: lines to send (the first batch always, maybe empty), or None
#: after a quiet while, for the reader to keep its connection alive.
LogBatch = list[LogLine] | None


@dataclass(frozen=True, slots=True, kw_only=True)
class LogQuery:
    """Which lines of a function: printed in ``[since, until)``, of one job, how many of
    the newest."""

    function_id: int
    since: dt.datetime | None
    until: dt.datetime | None
    job_id: uuid.UUID | None
    limit: int

    def admits(self, timestamp: dt.datetime) -> bool:
        """Whether a line printed at ``timestamp`` is in the window."""
        return ((self.since is None or timestamp >= self.since)
                and (self.until is None or timestamp < self.until))


def stored_line(line: StoredLine) -> LogLine:
    """The API's LogLine of a stored line."""
    return LogLine(timestamp=line.timestamp, job_id=line.job_id, stream=line.stream,
                   message=line.message)


def live_line(item: LiveLine, moment: dt.datetime) -> LogLine:
    """The API's LogLine of a line of a run going on here, printed at ``moment``."""
    return LogLine(timestamp=moment, job_id=item.job_id, stream=item.line.stream,
                   message=item.line.message)


class LogService:
    """Reads a function's lines from ``store`` and follows them through ``hub``; a follow
    polls the store every ``poll_s`` and says it is quiet after ``keepalive_s``."""

    def __init__(self, *, store: LogStore, jobs: JobStore, hub: LogHub, poll_s: float,
                 keepalive_s: float) -> None:
        self._store = store
        self._jobs = jobs
        self._hub = hub
        self._poll_s = poll_s
        self._keepalive_s = keepalive_s

    async def latest(self, query: LogQuery) -> list[LogLine]:
        """The newest ``query.limit`` lines that match, oldest first."""
        lines = await self._store.latest(query.function_id, since=query.since,
                                         until=query.until, job_id=query.job_id,
                                         limit=query.limit)
        return [stored_line(line) for line in lines]

    def follow(self, function: FunctionRecord,
               query: LogQuery) -> AsyncGenerator[LogBatch, None]:
        """Follow the function's lines (module doc) once iterated. 429 ``RATE_LIMITED`` here,
        before any line, when it has :data:`MAX_FOLLOWERS` already on this replica (a cap
        checked when asked, so requests in flight together may pass it by a few).

        The follow subscribes to the live lines when first iterated and lets go however it
        ends; one never iterated holds nothing. Close what it returns when done with it.
        """
        if self._hub.subscribers(function.id) >= MAX_FOLLOWERS:
            raise RateLimited(
                f"function '{function.name}' already has {MAX_FOLLOWERS} log followers on"
                " this gateway; try again later", details={"max_followers": MAX_FOLLOWERS},
                headers={"Retry-After": "5"})
        return self._follow(function.id, query)

    async def _follow(self, function_id: int,
                      query: LogQuery) -> AsyncGenerator[LogBatch, None]:
        """The batches; closing the subscription however it ends (a reader gone included).

        Subscribing here rather than in :meth:`follow` loses no line: lines of runs still
        going come as the subscription's backlog, those of runs that ended meanwhile are
        stored, read as the backlog or by the polls.
        """
        subscription = self._hub.subscribe(
            function_id, None if query.job_id is None else str(query.job_id))
        try:
            async with aclosing(self._batches(subscription, query)) as batches:
                async for batch in batches:
                    yield batch
        finally:
            subscription.close()

    async def _batches(self, subscription: LogSubscription,
                       query: LogQuery) -> AsyncGenerator[LogBatch, None]:
        loop = asyncio.get_running_loop()
        cursor = start = await self._store.last_id(query.function_id)
        backlog = await self._store.latest(query.function_id, since=query.since,
                                           until=query.until, job_id=query.job_id,
                                           limit=query.limit, max_id=cursor)
        yield ([stored_line(line) for line in backlog
                if line.job_id not in subscription.live_jobs]
               + _live_lines(subscription.backlog, query))
        sent: set[int] = set()
        quiet_since = next_poll = loop.time()
        while True:
            now = loop.time()
            remaining = _until_remaining(query.until)
            if remaining is not None and remaining <= 0:
                return
            timeout = min(next_poll, quiet_since + self._keepalive_s) - now
            if remaining is not None:
                timeout = min(timeout, remaining)
            item = await subscription.get(timeout)
            if item is not None:
                lines = _live_lines([item, *subscription.drain()], query)
                if lines:
                    quiet_since = loop.time()
                    yield lines
            if loop.time() >= next_poll:
                done = query.job_id is not None and await self._job_finished(query.job_id)
                rows = await self._store.after(query.function_id,
                                               max(0, cursor - _LOOKBACK_IDS),
                                               job_id=query.job_id)
                cursor, lines = _stored_lines(rows, sent, cursor, start, subscription, query)
                next_poll = loop.time() + self._poll_s
                if lines:
                    quiet_since = loop.time()
                    yield lines
                if done:
                    # Live lines of a run here were queued before its job was stored.
                    yield _live_lines(subscription.drain(), query)
                    return
            if loop.time() - quiet_since >= self._keepalive_s:
                quiet_since = loop.time()
                yield None

    async def _job_finished(self, job_id: uuid.UUID) -> bool:
        job = await self._jobs.get(str(job_id))
        # An unknown (or pruned) job will print nothing more: the follow ends too.
        return job is None or job.status in ("success", "failed")


def _until_remaining(until: dt.datetime | None) -> float | None:
    if until is None:
        return None
    return (until - dt.datetime.now(dt.UTC)).total_seconds()


def _live_lines(items: list[LiveLine], query: LogQuery) -> list[LogLine]:
    # Filtered on the moment itself: a LogLine holds it as its text.
    moments = ((item, dt.datetime.fromtimestamp(item.line.timestamp, dt.UTC))
               for item in items)
    return [live_line(item, moment) for item, moment in moments if query.admits(moment)]


def _stored_lines(rows: list[StoredLine], sent: set[int], cursor: int, start: int,
                  subscription: LogSubscription,
                  query: LogQuery) -> tuple[int, list[LogLine]]:
    """Lines stored by other replicas that this follow has not sent; the new cursor.

    Ids up to ``start`` were the backlog's to send (or, past ``limit``, not to send).
    """
    out = []
    for row in rows:
        if row.id <= start or row.id in sent:
            continue
        sent.add(row.id)
        cursor = max(cursor, row.id)
        if row.job_id in subscription.live_jobs or not query.admits(row.timestamp):
            continue
        out.append(stored_line(row))
    floor = cursor - _LOOKBACK_IDS
    sent.difference_update([i for i in sent if i <= floor])
    return cursor, out
