"""Claims pending jobs from PostgreSQL and runs them through the dispatcher.

The jobs are those the invocation service accepted (``/invoke-async``, async functions,
cron fires): admitted and recorded there, so only running them is left.

Woken by ``LISTEN fngate_jobs`` (:class:`JobListener`, reconnecting with backoff)
and, should a notification be missed, by a poll. Also hands expired leases (a replica
that died) back to ``pending``, and cancels a run here whose lease the heartbeat found
lost.

A claim takes only jobs whose function has a free slot here (its ``max_concurrency``
less what this replica's gate for it holds or is waited for, less the jobs claimed but
not yet at the gate), so a backlog of one narrow function never fills the runner while
other functions' jobs wait; a slot falling free wakes the runner.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter

import asyncpg

from gateway.core.models import Job
from gateway.services.concurrency import Gate
from gateway.services.dispatcher import Dispatcher, VersionCode
from gateway.services.job_listener import JobListener
from gateway.services.leases import LeaseKeeper
from gateway.store.functions import FunctionStore
from gateway.store.jobs import JobStore

__all__ = ["JobRunner", "SETTLE_WAIT_S"]

logger = logging.getLogger("fngate.jobs")

# How long a shutdown waits, after the grace, for outcomes already being written.
SETTLE_WAIT_S = 15.0


class JobRunner:
    """Runs up to ``capacity`` async jobs at once on this replica."""

    def __init__(
        self,
        *,
        dsn: str,
        jobs: JobStore,
        functions: FunctionStore,
        dispatcher: Dispatcher,
        leases: LeaseKeeper,
        capacity: int,
        poll_s: float,
        listener: JobListener | None = None,
    ) -> None:
        self._jobs = jobs
        self._functions = functions
        self._dispatcher = dispatcher
        self._leases = leases
        self._capacity = capacity
        self._poll_s = poll_s
        self._wake = asyncio.Event()
        self._tasks: dict[str, tuple[asyncio.Task[None], str]] = {}
        self._listener = listener or JobListener(dsn, self._wake.set)
        self._accepting = True
        # Per function id, the jobs claimed here that have not reached its gate yet.
        self._unstarted: Counter[int] = Counter()
        dispatcher.gates.on_free(self._slot_freed)

    @property
    def running(self) -> int:
        return len(self._tasks)

    def wake(self) -> None:
        self._wake.set()

    def _slot_freed(self, function_id: int, gate: Gate) -> None:
        """A slot of ``function_id``'s gate fell free. A claim can take a job of it now
        that it could not before only if every slot was in use here, this one included
        (in use: held, waited for, or claimed and not at the gate yet). Any other free
        leaves the runner asleep: waking it would run a claim beside every sync call
        that ends, on the event loop and in PostgreSQL, while that call answers."""
        if gate.active + gate.waiting + self._unstarted[function_id] + 1 >= gate.capacity:
            self._wake.set()

    async def run(self) -> None:
        """Claim and run jobs until cancelled."""
        last_reap = 0.0
        loop = asyncio.get_running_loop()
        listening = asyncio.create_task(self._listener.run(), name="job-listener")
        try:
            while True:
                if loop.time() - last_reap >= self._leases.heartbeat_s:
                    last_reap = loop.time()
                    await self._reap()
                free = self._capacity - len(self._tasks)
                # Cleared before the claim: a job announced while it runs wakes the next
                # wait at once instead of waiting for the poll.
                self._wake.clear()
                claimed: list[tuple[Job, str]] = []
                if free > 0 and self._accepting:
                    claimed = await self._claim(free)
                    for job, token in claimed:
                        self._start(job, token)
                if claimed and len(claimed) == free:
                    await asyncio.sleep(0)
                    continue
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a
                # cancellation that arrives as the event fires, and the loop never stops.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._poll_s):
                        await self._wake.wait()
        finally:
            listening.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listening

    async def drain(self, grace_s: float) -> None:
        """Stop claiming, let running jobs finish within ``grace_s``, hand back the rest.

        Each job is either settled or handed back, never both: a run still running after
        the grace is cancelled and released; one whose outcome is already being written
        (settling) is let finish writing, up to ``SETTLE_WAIT_S`` more, and not released,
        since a release committed first would make a finished job pending again.
        """
        self._accepting = False
        tasks = [t for t, _ in self._tasks.values()]
        if tasks:
            await asyncio.wait(tasks, timeout=grace_s)
        leftover = [(t, tok) for t, tok in self._tasks.values() if not t.done()]
        # Decided with no await in between: a task marks itself settling before its
        # first write, so a cancelled one is cancelled before it writes anything.
        settling = [t for t, tok in leftover if self._leases.is_settling(tok)]
        running = [(t, tok) for t, tok in leftover if not self._leases.is_settling(tok)]
        for task, _ in running:
            task.cancel()
        if running:
            await asyncio.gather(*(t for t, _ in running), return_exceptions=True)
            try:
                await self._jobs.release([tok for _, tok in running])
            except Exception:
                logger.exception("could not hand jobs back; their leases will expire")
        if settling:
            _, late = await asyncio.wait(settling, timeout=SETTLE_WAIT_S)
            if late:
                logger.warning("outcomes still being written at shutdown; their leases"
                               " will expire", extra={"jobs": len(late)})

    async def _claim(self, limit: int) -> list[tuple[Job, str]]:
        try:
            claimed = await self._jobs.claim(limit, self._leases.lease_s, self._in_use())
        except (OSError, asyncpg.PostgresError) as exc:
            logger.warning("claiming jobs failed", extra={"error": repr(exc)})
            return []
        return claimed

    def _in_use(self) -> dict[int, int]:
        """Per function id, the slots taken here: held, waited for, or claimed for."""
        in_use = Counter(self._dispatcher.gates.in_use())
        in_use.update(self._unstarted)
        return dict(in_use)

    def _at_gate(self, function_id: int) -> None:
        self._unstarted[function_id] -= 1
        if self._unstarted[function_id] <= 0:
            del self._unstarted[function_id]

    async def _reap(self) -> None:
        try:
            released = await self._jobs.release_expired()
        except (OSError, asyncpg.PostgresError) as exc:
            logger.warning("releasing expired leases failed", extra={"error": repr(exc)})
            return
        if released:
            logger.info("expired leases released", extra={"jobs": released})

    def _start(self, job: Job, token: str) -> None:
        task = asyncio.create_task(self._run_one(job, token), name=f"job-{job.id}")
        self._tasks[job.id] = (task, token)
        self._unstarted[job.function_id] += 1
        # Lost (reaped, maybe claimed by another replica): stop the run, whose outcome
        # would be refused anyway, so the worker is free and the job runs in one place.
        self._leases.hold(token, on_lost=lambda: self._lost(job.id, task))

    @staticmethod
    def _lost(job_id: str, task: asyncio.Task[None]) -> None:
        logger.warning("job lease lost; its run here is cancelled", extra={"job_id": job_id})
        task.cancel()

    async def _run_one(self, job: Job, token: str) -> None:
        unstarted = True
        try:
            # Cached by the store for a moment, and dropped on any change of it.
            function = await self._functions.get(str(job.function_id))
            version = None
            if function is not None:
                version = await self._version_code(job.function_id, job.version)
            # run_claimed reaches the gate (holds or waits on it, counted there by
            # in_use) before its first await: from here on the gate counts this job.
            self._at_gate(job.function_id)
            unstarted = False
            await self._dispatcher.run_claimed(job, token, function, version)
        except asyncio.CancelledError:
            raise
        except Exception:
            # The lease is left to expire, so another runner takes the job over.
            logger.exception("job run failed inside the gateway", extra={"job_id": job.id})
        finally:
            if unstarted:
                self._at_gate(job.function_id)
            self._leases.drop(token)
            self._tasks.pop(job.id, None)
            self._wake.set()

    async def _version_code(self, function_id: int, number: int) -> VersionCode | None:
        """The code of a built version (cached by the store: it never changes)."""
        record = await self._functions.built_version(function_id, number)
        if record is None:
            return None
        return (record.runtime, record.code, record.handler, list(record.dependencies),
                record.resolved_dependencies)
