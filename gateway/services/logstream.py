"""Live log lines of the runs on this replica, for ``GET …/logs?follow=true``.

Lines reach ``job_logs`` only when a run ends; a follower wants them as they are
printed. The dispatcher opens :meth:`LogHub.run` around each run and hands its
publisher to the executor, which calls it for every line as it arrives. Followers
:meth:`~LogHub.subscribe` per function: they get the lines printed so far by runs
still going (the backlog) and then every new one. Lines of other replicas are
read from ``job_logs`` by the follower itself.

Publishing never blocks and never fails the run: a follower whose queue is full
loses lines (counted in ``dropped``), a slow client must not slow a function.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from executors.models import LogLine

__all__ = ["LiveLine", "LogHub", "LogSubscription"]

_QUEUE_SIZE = 2000


@dataclass(frozen=True, slots=True)
class LiveLine:
    """A line of a run, with the job it belongs to."""

    job_id: str
    line: LogLine


@dataclass(slots=True)
class _Run:
    function_id: int
    lines: list[LogLine] = field(default_factory=list)


class LogSubscription:
    """One follower's view of a function's live lines; close it when the client goes."""

    def __init__(self, hub: LogHub, function_id: int, job_id: str | None,
                 backlog: list[LiveLine], queue_size: int) -> None:
        self._hub = hub
        self.function_id = function_id
        self.job_id = job_id
        self.backlog = backlog
        #: Jobs whose lines this follower gets live (their stored copies are skipped).
        self.live_jobs: set[str] = {item.job_id for item in backlog}
        self.dropped = 0
        self._queue: asyncio.Queue[LiveLine] = asyncio.Queue(queue_size)

    def offer(self, item: LiveLine) -> None:
        if self.job_id is not None and item.job_id != self.job_id:
            return
        self.live_jobs.add(item.job_id)
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            self.dropped += 1

    async def get(self, timeout_s: float) -> LiveLine | None:
        """The next live line, or None when none arrives within ``timeout_s``."""
        try:
            async with asyncio.timeout(max(0.0, timeout_s)):
                return await self._queue.get()
        except TimeoutError:
            return None

    def drain(self) -> list[LiveLine]:
        """Every line queued now, without waiting."""
        items = []
        while not self._queue.empty():
            items.append(self._queue.get_nowait())
        return items

    def close(self) -> None:
        self._hub._unsubscribe(self)


class LogHub:
    """In-process publish/subscribe of log lines, per function."""

    def __init__(self, *, queue_size: int = _QUEUE_SIZE) -> None:
        self._queue_size = queue_size
        self._subscribers: dict[int, set[LogSubscription]] = {}
        self._runs: dict[str, _Run] = {}

    @contextlib.contextmanager
    def run(self, function_id: int, job_id: str) -> Iterator[Callable[[LogLine], None]]:
        """Announce a run while the block lasts; yields the publisher of its lines."""
        run = _Run(function_id)
        self._runs[job_id] = run

        def publish(line: LogLine) -> None:
            run.lines.append(line)
            subscribers = self._subscribers.get(function_id)
            if subscribers:
                item = LiveLine(job_id, line)
                for subscription in subscribers:
                    subscription.offer(item)

        try:
            yield publish
        finally:
            if self._runs.get(job_id) is run:
                del self._runs[job_id]

    def subscribe(self, function_id: int, job_id: str | None = None) -> LogSubscription:
        """Follow ``function_id`` (only ``job_id`` when given), from the running runs' lines."""
        backlog = [
            LiveLine(jid, line)
            for jid, run in list(self._runs.items())
            if run.function_id == function_id and (job_id is None or jid == job_id)
            for line in run.lines
        ]
        backlog.sort(key=lambda item: item.line.timestamp)
        subscription = LogSubscription(self, function_id, job_id, backlog, self._queue_size)
        self._subscribers.setdefault(function_id, set()).add(subscription)
        return subscription

    def subscribers(self, function_id: int) -> int:
        return len(self._subscribers.get(function_id, ()))

    def _unsubscribe(self, subscription: LogSubscription) -> None:
        subscribers = self._subscribers.get(subscription.function_id)
        if subscribers is not None:
            subscribers.discard(subscription)
            if not subscribers:
                del self._subscribers[subscription.function_id]
