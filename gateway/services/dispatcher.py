"""The one path from the invocation service to an executor.

The invocation service (:mod:`gateway.services.invocation`) hands over an admitted
:class:`Invocation`; the dispatcher records its :class:`Job` (bound to an idempotency
key, a cron fire or a queue message's key when it has one) and runs it through the one
execution pipeline (:mod:`gateway.services.execution`: the function's concurrency gate,
a worker within the worker budget, the run), settled by the strategy of its source
(:mod:`gateway.services.settlement`). Async jobs are run later, by a job runner,
through :meth:`Dispatcher.run_claimed`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import uuid
from collections.abc import Callable
from typing import Any

import orjson

from config import Settings
from executors import WorkerPools
from executors.models import ExecutionResult
from gateway.core.errors import Conflict, InvalidRuntime, NotFound, ProjectStopped
from gateway.core.models import CronFire, FunctionRecord, Invocation, Job
from gateway.services.concurrency import ConcurrencyGates
from gateway.services.execution import (
    Pipeline,
    Run,
    VersionCode,
    active_code,
    code_spec,
    job_error,
)
from gateway.services.leases import LeaseKeeper
from gateway.services.logstream import LogHub
from gateway.services.metrics import GatewayMetrics
from gateway.services.settlement import (
    HeldMessage,
    KeyedSync,
    LeasedJob,
    RetryPolicy,
    SyncRecord,
    finished_job,
    now,
)
from gateway.store.jobs import JobStore, NewJob, Outcome
from gateway.store.triggers import TriggerStore

__all__ = ["Dispatcher", "RetryPolicy", "VersionCode", "code_spec", "job_error"]

logger = logging.getLogger("fngate.dispatcher")


# What a runtime needs on the gateway's machine (deploy/system-packages.sh installs it).
_INSTALL = {
    "python": "a python3 the worker user can run",
    "nodejs": "node (Debian: nodejs)",
    "go": "a Go toolchain the build user can run (Debian: golang-1.19-go or golang-go)",
    "rust": "rustc and cargo the build user can run, and Debian's librust-serde-json-dev",
}


def request_hash(event: Any) -> str:
    """A stable digest of an event, to tell a reused idempotency key with another body."""
    return hashlib.sha256(orjson.dumps(event, option=orjson.OPT_SORT_KEYS)).hexdigest()


class Dispatcher:
    """Turns invocations into jobs and runs them through the execution pipeline."""

    def __init__(
        self,
        *,
        settings: Settings,
        jobs: JobStore,
        triggers: TriggerStore,
        pools: WorkerPools,
        leases: LeaseKeeper,
        retry: RetryPolicy | None = None,
        metrics: GatewayMetrics | None = None,
    ) -> None:
        self._settings = settings
        self._jobs = jobs
        self._triggers = triggers
        self._pools = pools
        self._leases = leases
        self.retry = retry or RetryPolicy()
        self.metrics = metrics or GatewayMetrics()
        self.gates = ConcurrencyGates()
        self.live_logs = LogHub()  # lines as they are printed, for followers
        self.on_finished: list[Callable[[Job], None]] = []
        self._pipeline = Pipeline(pools=pools, leases=leases, gates=self.gates,
                                  metrics=self.metrics, live_logs=self.live_logs)
        self._sync_record = SyncRecord(jobs, self._finished)  # holds nothing of a run

    # -- the check every invocation (and a session's warm-up) starts with -------------

    def check_runnable(self, function: FunctionRecord) -> None:
        """Refuse before any job exists: project stopped, not built, or runtime missing."""
        if function.project_stopped:
            raise ProjectStopped(
                f"project '{function.project}' of function '{function.name}' is stopped",
                details={"project": function.project})
        if function.active_version is None or function.build_status != "success":
            raise Conflict(
                f"function '{function.name}' has no runnable version"
                f" (status {function.status})",
                details={"status": function.status},
            )
        if not self._pools.available_runtimes().get(function.runtime, False):
            need = _INSTALL.get(function.runtime, function.runtime)
            raise InvalidRuntime(f"runtime '{function.runtime}' is not installed on this gateway"
                                 f" (it needs {need})", details={"runtime": function.runtime})

    def _new_job(self, inv: Invocation) -> NewJob:
        function = inv.function
        context = dict(inv.context)
        if inv.timeout_ms is not None:
            context["timeout_ms"] = inv.timeout_ms
        return NewJob(
            id=uuid.uuid4(),
            function_id=function.id,
            function_name=function.name,
            version=int(function.active_version or 0),
            trigger=inv.trigger,
            owner=inv.owner,
            subject=inv.subject,
            event=inv.event,
            context=context,
        )

    def _run_of(self, inv: Invocation, new: NewJob) -> Run:
        """The run of an invocation's job on its function's active version."""
        function = inv.function
        return Run(function=function, code=active_code(function), job=new,
                   timeout_ms=self._timeout_ms(function, inv.timeout_ms),
                   caller_waits=inv.trigger in _CALLER_WAITS_BOUNDED)

    # -- sync -------------------------------------------------------------------------

    async def run_now(self, inv: Invocation) -> tuple[Job, ExecutionResult | None]:
        """Run an admitted invocation now and return the finished job (and the raw result
        when it ran here).

        With an idempotency key seen before, returns that job as it stands, unrun; so
        does a run under the key whose lease was lost (a job runner took its job over).
        ``inv.callback_url`` is queued before the run (with the key's binding, in its
        transaction), so a failure to queue it fails the call before anything runs.
        """
        new = self._new_job(inv)
        if inv.idempotency_key is None:
            if inv.callback_url is not None:
                await self._jobs.add_callback(new.id, inv.callback_url)
            job, result = await self._pipeline.execute(self._run_of(inv, new),
                                                        self._sync_record)
        else:
            existing, token = await self._bind_key(inv, new, running=True)
            if existing is not None:
                return existing, None
            assert token
            try:
                job, result = await self._pipeline.execute(
                    self._run_of(inv, new),
                    KeyedSync(self._jobs, self._finished, key=inv.idempotency_key,
                              token=token))
            finally:
                self._leases.drop(token)
        assert job is not None
        return job, result

    async def record_cached(self, inv: Invocation, value: Any) -> Job:
        """Record a sync invocation answered from the result cache (no run)."""
        new = self._new_job(inv)
        if inv.callback_url is not None:
            await self._jobs.add_callback(new.id, inv.callback_url)
        at = now()
        outcome = Outcome(status="success", result=value, error=None, started_at=at,
                          finished_at=at, duration=0.0, cold_start=False, cached=True)
        await self._jobs.insert_finished(new, outcome, [], attempts=0)
        job = finished_job(new, outcome, attempts=0)
        self._finished(job)
        return job

    async def warm(self, function: FunctionRecord) -> bool:
        """Make sure a warm worker waits for ``function``'s active version (sessions)."""
        self.check_runnable(function)
        return await self._pipeline.warm(function)

    # -- async ------------------------------------------------------------------------

    async def enqueue(self, inv: Invocation) -> tuple[Job, bool]:
        """Record an admitted invocation as a pending job for the job runners.

        Returns the job and whether it is a duplicate: the job of an idempotency key seen
        before, or of a cron fire (``inv.fire``) another replica claimed, as it stands.
        ``inv.callback_url`` is written in the job's own transaction: no job is accepted
        whose callback was not queued.
        """
        new = self._new_job(inv)
        if inv.fire is not None:
            if not await self._triggers.claim_cron_fire(inv.fire.trigger_id,
                                                        inv.fire.scheduled_at, new):
                return await self._fired_job(inv.fire), True
        elif inv.idempotency_key is not None:
            existing, _ = await self._bind_key(inv, new, running=False)
            if existing is not None:
                return existing, True
        else:
            await self._jobs.insert_pending(new, callback_url=inv.callback_url)
        # Built here rather than read back: a job runner may already have claimed it.
        return Job(
            id=str(new.id), function_id=new.function_id, function_name=new.function_name,
            version=new.version, trigger=new.trigger, status="pending", owner=new.owner,
            subject=new.subject, result=None, error=None, timestamp=now(), started_at=None,
            finished_at=None, duration=None, cold_start=False, attempts=0, cached=False,
        ), False

    async def _fired_job(self, fire: CronFire) -> Job:
        job_id = await self._triggers.cron_fire_job(fire.trigger_id, fire.scheduled_at)
        job = None if job_id is None else await self._jobs.get(job_id)
        if job is None:
            raise NotFound("the job of this cron fire no longer exists", code="JOB_NOT_FOUND")
        return job

    async def run_claimed(self, job: Job, token: str, function: FunctionRecord | None,
                          version_code: VersionCode | None) -> None:
        """Run a job a job runner claimed, and record its outcome under its lease.

        The lease is marked settling before any write of the outcome, so a shutdown lets
        that write finish instead of handing the job back beside it; a lease lost while
        the job runs cancels the run here. The job runner holds and drops the lease.
        """
        if function is None or version_code is None:
            self._leases.settle(token)
            await self._jobs.fail_now(job.id, token, {
                "code": "FUNCTION_NOT_FOUND",
                "message": f"function '{job.function_name}' version {job.version} no longer exists",
                "details": {},
            })
            return
        new = NewJob(
            id=uuid.UUID(job.id), function_id=job.function_id,
            function_name=job.function_name, version=job.version, trigger=job.trigger,
            owner=job.owner, subject=job.subject, event=job.event, context=job.context,
        )
        # No await before the pipeline holds or queues at the gate: the job runner counts
        # this job as at the gate from this call on (JobRunner._in_use).
        await self._pipeline.execute(
            Run(function=function, code=version_code, job=new,
                timeout_ms=self._timeout_ms(function, job.context.get("timeout_ms"))),
            LeasedJob(self._jobs, self._finished, retry=self.retry, claimed=job,
                      token=token, max_retries=function.max_retries))

    # -- held (queue messages) ---------------------------------------------------------

    async def run_held(self, inv: Invocation) -> tuple[Job, bool]:
        """Run work whose source holds it until it ends (a queue message), to its final job.

        The job is recorded ``running`` under a lease the heartbeat renews, and run once:
        the source schedules a failed run's retries (``self.retry`` says when) without
        holding the work, and names the run in ``inv.attempt``, which the job records in
        ``attempts``. With ``inv.source_key``, a delivery of the same
        message finds its job: a finished one is returned unrun, a live one is waited for,
        and one whose runner was lost is taken over (each a duplicate, the second value).
        A first delivery (``inv.redelivered`` false) is a new message even when its key
        was seen before (a producer reusing ids, a message moved back from the DLQ): the
        finished job lets go of the key. A run whose lease is lost (another delivery took
        the job over) is cancelled here, and the job returned as it stands, a duplicate.
        """
        new = self._new_job(inv)
        while True:
            job_id, token, existing = await self._jobs.start_keyed(
                new, key=inv.source_key, lease_s=self._leases.lease_s,
                fresh=not inv.redelivered, attempt=inv.attempt)
            if token is not None:
                break
            assert existing is not None
            if existing.status in ("success", "failed"):
                return existing, True
            await asyncio.sleep(min(1.0, self._leases.heartbeat_s))
        new_row = job_id == str(new.id)
        if not new_row:
            new = dataclasses.replace(new, id=uuid.UUID(job_id))
        self._leases.hold(token)
        try:
            job, result = await self._pipeline.execute(
                self._run_of(inv, new),
                HeldMessage(self._jobs, self._finished, token=token, new_row=new_row,
                            attempt=inv.attempt))
        finally:
            self._leases.drop(token)
        assert job is not None
        return job, not new_row or result is None

    # -- internals --------------------------------------------------------------------

    def _timeout_ms(self, function: FunctionRecord, requested: Any) -> int:
        timeout = min(function.timeout_ms, self._settings.max_timeout_ms)
        if isinstance(requested, int) and requested > 0:
            timeout = min(timeout, requested)
        return timeout

    async def _bind_key(self, inv: Invocation, new: NewJob,
                        *, running: bool) -> tuple[Job | None, str | None]:
        assert inv.idempotency_key is not None
        digest = request_hash(inv.event)
        created, job_id, extra = await self._jobs.insert_idempotent(
            new, key=inv.idempotency_key, request_hash=digest,
            running_lease_s=self._leases.lease_s if running else None,
            callback_url=inv.callback_url,
        )
        if created:
            if running and extra:
                self._leases.hold(extra)
            return None, extra
        if extra != digest:
            raise Conflict("Idempotency-Key was already used with a different request body",
                           details={"job_id": job_id})
        job = await self._jobs.get(job_id)
        if job is None:
            raise NotFound("the job of this Idempotency-Key no longer exists",
                           code="JOB_NOT_FOUND")
        if inv.callback_url is not None:
            # The key's job (at most one callback each): a failure here fails the replay,
            # which is safe to repeat.
            await self._jobs.add_callback(job.id, inv.callback_url)
        return job, None

    def _finished(self, job: Job) -> None:
        self.metrics.job_finished(job)
        for callback in self.on_finished:
            try:
                callback(job)
            except Exception:  # a listener's fault must not fail the job
                logger.exception("job listener failed", extra={"job_id": job.id})


# Sync callers that get 429 CONCURRENCY_LIMIT when the wait queue is full.
_CALLER_WAITS_BOUNDED = frozenset({"invoke", "http"})
