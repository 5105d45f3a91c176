"""Cron triggers: an APScheduler 3 job per enabled cron trigger, on every replica.

Every replica schedules every enabled trigger. Each fire is an async invocation of the
invocation service (``Invoker.invoke``) carrying its exact scheduled time: the service
admits it and records its pending job with the fire's claim, in one transaction
(``TriggerStore.claim_cron_fire``). One replica wins, and its job runs through the job
runner (lease, heartbeat, take-over, retries). The set of triggers is re-read every
``reload_s`` and diffed by ``(id, updated_at)``, so a change applies everywhere within
seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any, Literal

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from gateway.core.errors import Conflict, InvalidRuntime, ProjectStopped
from gateway.core.jsoncodec import isoformat
from gateway.core.models import CronFire, Invocation
from gateway.services.invocation import Invoker
from gateway.services.metrics import GatewayMetrics
from gateway.store.functions import FunctionStore
from gateway.store.triggers import TriggerRecord, TriggerStore
from triggers.cron_schedule import (
    CronSchedule,
    TriggerConfigError,
    latest_fire_between,
    next_run_at,
    parse_cron_config,
    schedule_of,
)

__all__ = [
    "CronService",
    "TriggerConfigError",
    "next_run_at",
    "parse_cron_config",
]

logger = logging.getLogger("fngate.cron")

# A fire APScheduler could not start within this long (a stalled loop) is dropped;
# coalescing makes the next one count.
MISFIRE_GRACE_S = 60
# Reload failures in a row after which the scheduler reports itself down.
_FAILURES_DOWN = 3


@dataclass(frozen=True, slots=True, kw_only=True)
class _Loaded:
    trigger: TriggerRecord
    schedule: CronSchedule | None  # None: the stored config is invalid, nothing scheduled


def _job_id(trigger_id: int) -> str:
    return f"cron-{trigger_id}"


class CronService:
    """Schedules enabled cron triggers and claims each fire exactly once across replicas."""

    def __init__(self, *, triggers: TriggerStore, functions: FunctionStore, invoker: Invoker,
                 reload_s: float = 2.0, metrics: GatewayMetrics | None = None) -> None:
        self._triggers = triggers
        self._functions = functions
        self._invoker = invoker
        self._metrics = metrics or GatewayMetrics()
        self._reload_s = reload_s
        self._scheduler: AsyncIOScheduler | None = None
        self._loaded: dict[int, _Loaded] = {}
        self._poller: asyncio.Task[None] | None = None
        self._side: set[asyncio.Task[Any]] = set()
        self._reload_lock = asyncio.Lock()
        self._poked = asyncio.Event()
        self._failures = 0

    # -- lifecycle ----------------------------------------------------------------

    async def start(self) -> None:
        """Start the scheduler in the running loop, load every enabled trigger, poll."""
        self._scheduler = AsyncIOScheduler(timezone=dt.UTC)
        self._scheduler.start()
        try:
            await self.reload()
        except Exception:
            # The poll retries; a database blip at start-up must not stop the gateway.
            logger.exception("loading cron triggers failed; retrying")
        self._poller = asyncio.create_task(self._poll(), name="cron-reload")

    async def close(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        pending = list(self._side)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        self._loaded.clear()

    def status(self) -> Literal["ok", "down"]:
        """``down`` when the scheduler stopped, the reload loop died, or reloads keep failing."""
        if self._scheduler is None or not self._scheduler.running:
            return "down"
        if self._poller is None or self._poller.done():
            return "down"
        return "down" if self._failures >= _FAILURES_DOWN else "ok"

    def scheduled_ids(self) -> set[int]:
        """Ids of the triggers this replica has scheduled (for tests and diagnostics)."""
        return {tid for tid, loaded in self._loaded.items() if loaded.schedule is not None}

    def poke(self, kind: str, _ident: int | None, _sender: int | None = None) -> None:
        """A change subscriber: reload now when a trigger (or anything unknown) changed."""
        if kind in ("trigger", "function", "*"):
            self._poked.set()

    async def _poll(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._reload_s):
                    await self._poked.wait()
            self._poked.clear()
            try:
                await self.reload()
            except Exception as exc:
                self._failures += 1
                logger.warning("reloading cron triggers failed", extra={"error": repr(exc)})

    # -- reload -------------------------------------------------------------------

    async def reload(self) -> None:
        """Apply the enabled cron triggers as stored: add, replace and remove jobs."""
        async with self._reload_lock:
            records = await self._triggers.enabled_of_type("cron")
            self._failures = 0
            current = {r.id: r for r in records}
            for trigger_id in list(self._loaded):
                if trigger_id not in current:
                    self._unschedule(trigger_id)
                    logger.info("cron trigger %s unscheduled", trigger_id)
            for record in records:
                loaded = self._loaded.get(record.id)
                if loaded is not None and loaded.trigger.updated_at == record.updated_at:
                    continue
                await self._load(record)

    def _unschedule(self, trigger_id: int) -> None:
        self._loaded.pop(trigger_id, None)
        if self._scheduler is not None and self._scheduler.get_job(_job_id(trigger_id)):
            self._scheduler.remove_job(_job_id(trigger_id))

    async def _load(self, record: TriggerRecord) -> None:
        try:
            schedule = schedule_of(record.config)
        except TriggerConfigError as exc:
            logger.error("cron trigger %s has an invalid config, not scheduled: %s",
                         record.id, exc)
            self._unschedule(record.id)
            self._loaded[record.id] = _Loaded(trigger=record, schedule=None)
            return
        assert self._scheduler is not None
        self._scheduler.add_job(
            self._fire, trigger=schedule.trigger, args=[record.id], id=_job_id(record.id),
            name=f"cron trigger {record.id}", replace_existing=True, coalesce=True,
            max_instances=1, misfire_grace_time=MISFIRE_GRACE_S,
        )
        self._loaded[record.id] = _Loaded(trigger=record, schedule=schedule)
        logger.info("cron trigger %s scheduled: %s (%s)", record.id, schedule.expression,
                    schedule.timezone)
        if schedule.misfire == "run_once":
            task = asyncio.create_task(self._catch_up(record, schedule),
                                       name=f"cron-catch-up-{record.id}")
            self._side.add(task)
            task.add_done_callback(self._side.discard)

    async def _catch_up(self, record: TriggerRecord, schedule: CronSchedule) -> None:
        """Fire once for the latest time missed since the trigger changed or last fired."""
        try:
            since = max(record.created_at, record.updated_at)
            last = await self._triggers.last_cron_fire(record.id)
            if last is not None:
                since = max(since, last)
            missed = latest_fire_between(schedule.trigger, since, dt.datetime.now(dt.UTC))
            if missed is not None:
                logger.info("cron trigger %s missed %s; running it once", record.id,
                            isoformat(missed))
                await self._claim(record, schedule, missed)
        except Exception:
            logger.exception("cron catch-up for trigger %s failed", record.id)

    # -- firing -------------------------------------------------------------------

    async def _fire(self, trigger_id: int) -> None:
        """APScheduler's job: claim the scheduled time that just came due."""
        loaded = self._loaded.get(trigger_id)
        if loaded is None or loaded.schedule is None:
            return
        now = dt.datetime.now(dt.UTC)
        scheduled = latest_fire_between(
            loaded.schedule.trigger, now - dt.timedelta(seconds=MISFIRE_GRACE_S + 1), now)
        if scheduled is None:
            return
        try:
            await self._claim(loaded.trigger, loaded.schedule, scheduled)
        except Exception:
            logger.exception("cron trigger %s: claiming %s failed", trigger_id,
                             isoformat(scheduled))

    async def _claim(self, record: TriggerRecord, schedule: CronSchedule,
                     scheduled: dt.datetime) -> bool:
        function = await self._functions.get_by_id(record.function_id)
        if function is None:
            return False
        event = {"trigger": "cron", "schedule": schedule.expression,
                 "scheduled_at": isoformat(scheduled), "payload": schedule.payload}
        try:
            invoked = await self._invoker.invoke(Invocation(
                function=function, event=event, trigger="cron", mode="async",
                fire=CronFire(trigger_id=record.id, scheduled_at=scheduled),
            ))
        except ProjectStopped:
            logger.info("cron trigger %s skipped at %s: project '%s' is stopped", record.id,
                        isoformat(scheduled), function.project)
            self._metrics.cron_fire(function.name, "skipped")
            return False
        except (Conflict, InvalidRuntime) as exc:  # not runnable (here): nothing claimed
            logger.warning("cron trigger %s skipped at %s: %s", record.id,
                           isoformat(scheduled), exc)
            self._metrics.cron_fire(function.name, "skipped")
            return False
        won = not invoked.duplicate
        self._metrics.cron_fire(function.name, "won" if won else "lost")
        if won:
            logger.info("cron trigger %s fired for %s: job %s", record.id,
                        isoformat(scheduled), invoked.job.id)
        return won
