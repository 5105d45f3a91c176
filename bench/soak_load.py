"""The soak scenario's load and its watcher: steady sync, async and queue traffic, each
event with a unique id the functions echo, and a sampler of the gateway every few seconds.

Everything runs on one event loop (``asyncio.run(Soak(...).run())``). Finished jobs are
read straight from the gateway's database every sample and remembered by job id, so the
exactly-once check still sees jobs that retention has deleted since.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aio_pika
import asyncpg
import httpx

from bench.scenarios._common import rss_kb

__all__ = ["Sample", "Soak", "SoakPlan", "SoakTally"]

# The id every soak event carries; the functions echo the event, the job keeps it.
_UID = r"soak-[a-z]+-[0-9a-f]{16}"
_FINISHED = f"""
SELECT id, trigger, status, attempts, substring(event::text from '{_UID}') AS uid,
       event->>'scheduled_at' AS scheduled_at
FROM jobs WHERE status IN ('success', 'failed') AND finished_at >= $1
"""
_UNFINISHED = "SELECT count(*) FROM jobs WHERE status IN ('pending', 'running')"


@dataclass(frozen=True, slots=True, kw_only=True)
class SoakPlan:
    """What to send, how fast, for how long, to which functions and queue."""

    base_url: str
    token: str
    dsn: str
    gateway_pid: int
    functions: tuple[str, ...]
    duration_s: float
    sample_every_s: float
    sync_per_s: float
    async_per_s: float
    queue_per_s: float
    queue: str | None
    amqp_url: str


@dataclass(frozen=True, slots=True)
class Sample:
    """One look at the gateway: seconds since the load began and what was seen."""

    t: float
    jobs_rows: int
    rss_kb: int
    live_workers: int
    max_workers: int


@dataclass(slots=True)
class SoakTally:
    """What was sent and what came back."""

    samples: list[Sample] = field(default_factory=list)
    sync_statuses: Counter[str] = field(default_factory=Counter)
    sync_failed: int = 0
    async_sent: set[str] = field(default_factory=set)
    async_refused: Counter[str] = field(default_factory=Counter)
    queue_sent: set[str] = field(default_factory=set)
    # job id -> (trigger, status, attempts, uid, scheduled_at), kept after retention.
    finished: dict[str, tuple[str, str, int, str | None, str | None]] = field(
        default_factory=dict)
    drained: bool = False

    def jobs_per_uid(self) -> Counter[str]:
        return Counter(uid for _, _, _, uid, _ in self.finished.values() if uid)

    def cron_fires(self) -> Counter[str]:
        return Counter(at for trig, _, _, _, at in self.finished.values()
                       if trig == "cron" and at)


class Soak:
    """Drive the plan's load for its duration, sampling as it goes, then wait for the
    backlog to finish (at most ``drain_s``)."""

    def __init__(self, plan: SoakPlan, drain_s: float = 120.0) -> None:
        self.plan = plan
        self.drain_s = drain_s
        self.tally = SoakTally()
        self._since = 0.0
        self._names = itertools.cycle(plan.functions)

    async def run(self) -> SoakTally:
        p = self.plan
        async with (httpx.AsyncClient(base_url=p.base_url, timeout=120,
                                      headers={"Authorization": f"Bearer {p.token}"}) as http,
                    asyncpg.create_pool(p.dsn, min_size=1, max_size=2) as db):
            self._since = time.time()
            start = time.monotonic()
            end = start + p.duration_s
            drivers = [self._steady(p.sync_per_s, end, lambda: self._sync(http)),
                       self._steady(p.async_per_s, end, lambda: self._async(http))]
            connection = None
            if p.queue is not None:
                connection = await aio_pika.connect(p.amqp_url)
                channel = await connection.channel()
                drivers.append(self._steady(p.queue_per_s, end,
                                            lambda: self._publish(channel)))
            sampler = asyncio.create_task(self._sample_until(http, db, start, end))
            try:
                await asyncio.gather(*drivers)
            finally:
                if connection is not None:
                    await connection.close()
            await sampler
            await self._drain(db)
            self.tally.samples.append(await self._sample(http, db, start))
        return self.tally

    async def _steady(self, per_s: float, end: float, send: Any) -> None:
        """``send()`` ``per_s`` times a second until ``end``, at most 16 in flight."""
        if per_s <= 0:
            return
        gap = 1 / per_s
        slots = asyncio.Semaphore(16)
        tasks: set[asyncio.Task[None]] = set()
        due = time.monotonic()

        async def one() -> None:
            try:
                await send()
            finally:
                slots.release()

        while due < end:
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            await slots.acquire()
            task = asyncio.create_task(one())
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            due += gap
        await asyncio.gather(*tasks)

    def _event(self, kind: str) -> tuple[str, dict[str, Any]]:
        uid = f"soak-{kind}-{uuid.uuid4().hex[:16]}"
        return uid, {"body": {"uid": uid, "pad": "x" * 64}}

    async def _sync(self, http: httpx.AsyncClient) -> None:
        _, event = self._event("sync")
        try:
            r = await http.post(f"/api/v1/functions/{next(self._names)}/invoke", json=event)
        except httpx.HTTPError as exc:
            self.tally.sync_statuses[type(exc).__name__] += 1
            return
        self.tally.sync_statuses[str(r.status_code)] += 1
        if r.status_code == 200 and r.json().get("status") != "success":
            self.tally.sync_failed += 1

    async def _async(self, http: httpx.AsyncClient) -> None:
        uid, event = self._event("async")
        try:
            r = await http.post(f"/api/v1/functions/{next(self._names)}/invoke-async",
                                json=event)
        except httpx.HTTPError as exc:
            self.tally.async_refused[type(exc).__name__] += 1
            return
        if r.status_code == 202:
            self.tally.async_sent.add(uid)
        else:
            self.tally.async_refused[str(r.status_code)] += 1

    async def _publish(self, channel: aio_pika.abc.AbstractChannel) -> None:
        assert self.plan.queue is not None
        uid, event = self._event("queue")
        await channel.default_exchange.publish(
            aio_pika.Message(json.dumps(event["body"]).encode(),
                             delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
            routing_key=self.plan.queue)
        self.tally.queue_sent.add(uid)

    async def _collect(self, db: asyncpg.Pool) -> None:
        # Overlap the last read by a minute: a job may finish with an older timestamp.
        since = self._since
        self._since = time.time()
        rows = await db.fetch(_FINISHED, _from_epoch(since - 60))
        for row in rows:
            self.tally.finished[str(row["id"])] = (
                row["trigger"], row["status"], row["attempts"], row["uid"], row["scheduled_at"])

    async def _sample(self, http: httpx.AsyncClient, db: asyncpg.Pool, start: float) -> Sample:
        await self._collect(db)
        rows = await db.fetchval("SELECT count(*) FROM jobs")
        status = (await http.get("/status")).raise_for_status().json()
        return Sample(t=round(time.monotonic() - start, 1), jobs_rows=int(rows),
                      rss_kb=rss_kb(self.plan.gateway_pid),
                      live_workers=int(status["live_workers"]),
                      max_workers=int(status["max_workers"]))

    async def _sample_until(self, http: httpx.AsyncClient, db: asyncpg.Pool, start: float,
                            end: float) -> None:
        while time.monotonic() < end:
            self.tally.samples.append(await self._sample(http, db, start))
            await asyncio.sleep(min(self.plan.sample_every_s, max(0.0, end - time.monotonic())))

    async def _drain(self, db: asyncpg.Pool) -> None:
        """Wait until every async and queue event has a finished job and nothing is
        pending or running, or ``drain_s`` passed."""
        deadline = time.monotonic() + self.drain_s
        expected = self.tally.async_sent | self.tally.queue_sent
        while time.monotonic() < deadline:
            await self._collect(db)
            seen = set(self.tally.jobs_per_uid())
            if expected <= seen and not await db.fetchval(_UNFINISHED):
                self.tally.drained = True
                return
            await asyncio.sleep(1)


def _from_epoch(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)
