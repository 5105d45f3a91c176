"""The one path from the invocation service to an executor.

The invocation service (:mod:`gateway.services.invocation`) hands over an admitted
:class:`Invocation`; the dispatcher records its :class:`Job` (bound to an idempotency
key, a cron fire or a queue message's key when it has one), applies the function's
concurrency and retries, and runs it in a worker. Async jobs are run later, by a job
runner, through :meth:`Dispatcher.run_claimed`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import hashlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import orjson

from config import Settings
from executors import CapacityExhausted, RuntimeUnavailable, WorkerPools
from executors.models import CallContext, CodeSpec, ExecutionResult
from gateway.core.errors import (
    ConcurrencyLimit,
    Conflict,
    InvalidRuntime,
    NotFound,
    ProjectStopped,
    RuntimeLost,
)
from gateway.core.models import CronFire, FunctionRecord, Invocation, Job
from gateway.services.artifacts import Built, built_for_run
from gateway.services.concurrency import ConcurrencyGates, GateFull
from gateway.services.leases import LeaseKeeper
from gateway.services.logstream import LogHub
from gateway.services.metrics import GatewayMetrics
from gateway.store.jobs import JobStore, NewJob, Outcome
from gateway.store.triggers import TriggerStore

__all__ = ["Dispatcher", "RetryPolicy", "VersionCode", "code_spec", "job_error"]

# (runtime, code, handler, own dependencies, the recorded set it serves with or None)
# of the version a run uses.
VersionCode = tuple[str, str, str, list[str], list[str] | None]

logger = logging.getLogger("fngate.dispatcher")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


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


def code_spec(function: FunctionRecord, *, version: int, runtime: str, code: str,
              handler: str, built: Built | None = None) -> CodeSpec:
    """What a worker needs to run one version of ``function`` (``built``: its dependencies
    or binary, :func:`gateway.services.artifacts.built_for_run`)."""
    built = built or Built()
    return CodeSpec(
        function_id=function.id,
        function_name=function.name,
        version=version,
        runtime=runtime,  # type: ignore[arg-type]
        code=code,
        handler=handler,
        environment=function.run_environment,  # system → project → function
        memory_mb=function.memory_mb,
        min_warm=function.min_warm,
        dependencies_path=built.dependencies_path,
        binary_path=built.binary_path,
        network=function.network,
        ephemeral_storage_mb=function.ephemeral_storage_mb,
        cpu_millis=function.cpu_millis,
    )


def _active_code(function: FunctionRecord) -> VersionCode:
    """The code of ``function``'s active version (or of the version it is pinned to)."""
    return (function.runtime, function.code, function.handler, list(function.dependencies),
            function.resolved_dependencies)


def _installs(function: FunctionRecord, version_code: VersionCode) -> list[str]:
    """The dependency set a run installs: the one recorded for the version (layers changed
    since are rebuilt in the background, gateway/services/builds.py), else the layers as now."""
    runtime, _code, _handler, own, resolved = version_code
    if resolved is not None:
        return list(resolved)
    return function.run_dependencies(runtime, own)


def job_error(result: ExecutionResult) -> dict[str, Any]:
    """The job's ``error`` for a failed run."""
    assert result.failure is not None and result.error is not None
    message = result.error.message
    if result.failure == "TIMEOUT":
        message = message or "the function ran past its timeout and was killed"
    return {"code": result.failure, "message": message, "details": result.error.as_details()}


class RetryPolicy:
    """Exponential backoff for a function's own failures (not for lost leases)."""

    def __init__(self, base_s: float = 1.0, cap_s: float = 300.0) -> None:
        self.base_s = base_s
        self.cap_s = cap_s

    def delay(self, *, failures: int, max_retries: int) -> float | None:
        """Seconds to wait before the next try, or None when the job is out of tries."""
        if failures > max_retries:
            return None
        return float(min(self.cap_s, self.base_s * 2 ** (failures - 1)))


class Dispatcher:
    """Turns invocations into jobs and runs them through the worker pools."""

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

    # -- sync -------------------------------------------------------------------------

    async def run_now(self, inv: Invocation) -> tuple[Job, ExecutionResult | None]:
        """Run an admitted invocation now and return the finished job (and the raw result
        when it ran here).

        With an idempotency key seen before, returns that job as it stands, unrun.
        ``inv.callback_url`` is queued before the run (with the key's binding, in its
        transaction), so a failure to queue it fails the call before anything runs.
        """
        new = self._new_job(inv)
        if inv.idempotency_key is None:
            if inv.callback_url is not None:
                await self._jobs.add_callback(new.id, inv.callback_url)
            return await self._invoke_now(inv, new, None)
        existing, token = await self._bind_key(inv, new, running=True)
        if existing is not None:
            return existing, None
        assert token
        try:
            return await self._invoke_now(inv, new, token)
        except ConcurrencyLimit:
            # No run happened: the key is not spent, so a retry with it may run.
            await self._jobs.forget_idempotent(new, inv.idempotency_key)
            raise
        except asyncio.CancelledError:
            raise  # the lease expires and a job runner takes the job over
        except Exception:
            await self._jobs.fail_now(str(new.id), token, _INTERNAL_ERROR)
            raise
        finally:
            self._leases.drop(token)

    async def _invoke_now(self, inv: Invocation, new: NewJob,
                          token: str | None) -> tuple[Job, ExecutionResult]:
        function = inv.function
        gate = self.gates.gate(function.id, function.max_concurrency)
        timeout_ms = self._timeout_ms(function, inv.timeout_ms)
        # A caller that waits gets its timeout, at most, for a slot and then a worker.
        deadline = (time.monotonic() + timeout_ms / 1000
                    if inv.trigger in _CALLER_WAITS_BOUNDED else None)
        try:
            if deadline is not None:
                await gate.acquire(
                    max_waiters=10 * function.max_concurrency, timeout_s=timeout_ms / 1000
                )
            else:  # session work waits instead of failing
                await gate.acquire()
        except GateFull as exc:
            raise ConcurrencyLimit(
                f"function '{function.name}' is at max_concurrency"
                f" ({function.max_concurrency}) and its wait queue is full",
                details={"max_concurrency": function.max_concurrency},
                headers={"Retry-After": "1"},
            ) from exc
        try:
            wait_s = None if deadline is None else max(0.0, deadline - time.monotonic())
            result, started, finished = await self._run(
                function, _active_code(function), new, inv.event, timeout_ms, wait_s=wait_s)
        except CapacityExhausted as exc:
            raise self._at_worker_cap(function) from exc
        finally:
            gate.release()
        outcome = _outcome(result, started, finished)
        if token is None:
            outcome = await self._store_unless_unstorable(
                outcome, lambda o: self._jobs.insert_finished(new, o, result.logs))
        else:
            stored = False
            self._leases.settle(token)

            async def finish(o: Outcome) -> None:
                nonlocal stored
                stored = await self._jobs.finish(str(new.id), token, o, result.logs)

            outcome = await self._store_unless_unstorable(outcome, finish)
            if not stored:
                # Another runner took the job over: what it recorded is the truth.
                taken = await self._jobs.get(str(new.id))
                if taken is not None:
                    return taken, result
        job = _finished_job(new, outcome)
        self._finished(job)
        return job, result

    async def record_cached(self, inv: Invocation, value: Any) -> Job:
        """Record a sync invocation answered from the result cache (no run)."""
        new = self._new_job(inv)
        if inv.callback_url is not None:
            await self._jobs.add_callback(new.id, inv.callback_url)
        now = _now()
        outcome = Outcome(status="success", result=value, error=None, started_at=now,
                          finished_at=now, duration=0.0, cold_start=False, cached=True)
        await self._jobs.insert_finished(new, outcome, [], attempts=0)
        job = _finished_job(new, outcome, attempts=0)
        self._finished(job)
        return job

    @staticmethod
    async def _store_unless_unstorable(
        outcome: Outcome, store: Callable[[Outcome], Awaitable[None]]
    ) -> Outcome:
        """Store the outcome; a result PostgreSQL cannot hold (a NUL character) fails the run."""
        try:
            await store(outcome)
        except asyncpg.UntranslatableCharacterError:
            outcome = _unstorable(outcome)
            await store(outcome)
        return outcome

    async def warm(self, function: FunctionRecord) -> bool:
        """Make sure a warm worker waits for ``function``'s active version (sessions)."""
        self.check_runnable(function)
        built = await built_for_run(self._pools, function.runtime, function.code,
                                    function.handler, _installs(function, _active_code(function)))
        if built.error is not None:
            return False
        spec = code_spec(function, version=int(function.active_version or 0),
                         runtime=function.runtime, code=function.code,
                         handler=function.handler, built=built)
        began = time.perf_counter()
        try:
            cold = await self._pools.warm(spec)
        except RuntimeUnavailable as exc:
            raise RuntimeLost(str(exc)) from exc
        except CapacityExhausted as exc:
            raise self._at_worker_cap(function) from exc
        if cold:
            self.metrics.cold_start_observed(spec.runtime, time.perf_counter() - began)
        return cold

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
            subject=new.subject, result=None, error=None, timestamp=_now(), started_at=None,
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
        that write finish instead of handing the job back beside it.
        """
        if function is None or version_code is None:
            self._leases.settle(token)
            await self._jobs.fail_now(job.id, token, {
                "code": "FUNCTION_NOT_FOUND",
                "message": f"function '{job.function_name}' version {job.version} no longer exists",
                "details": {},
            })
            return
        timeout_ms = self._timeout_ms(function, job.context.get("timeout_ms"))
        # No await before the gate holds or queues this job: the job runner counts it
        # as at the gate from this call on (JobRunner._in_use).
        gate = self.gates.gate(function.id, function.max_concurrency)
        await gate.acquire()  # async work waits instead of failing
        try:
            new = NewJob(
                id=uuid.UUID(job.id), function_id=job.function_id,
                function_name=job.function_name, version=job.version, trigger=job.trigger,
                owner=job.owner, subject=job.subject, event=job.event, context=job.context,
            )
            result, started, finished = await self._run(function, version_code, new, job.event,
                                                        timeout_ms)
        finally:
            gate.release()
        self._leases.settle(token)
        outcome = _outcome(result, started, finished)
        if not result.ok:
            failures = job.attempts - job.lost_leases
            delay = self.retry.delay(failures=failures, max_retries=function.max_retries)
            if delay is not None:
                assert outcome.error is not None
                await self._jobs.retry_later(job.id, token, delay, outcome.error, result.logs)
                return
        stored = False

        async def finish(o: Outcome) -> None:
            nonlocal stored
            stored = await self._jobs.finish(job.id, token, o, result.logs)

        outcome = await self._store_unless_unstorable(outcome, finish)
        if stored:
            self._finished(dataclasses.replace(
                _finished_job(new, outcome, attempts=job.attempts),
                timestamp=job.timestamp, started_at=job.started_at or outcome.started_at,
                lost_leases=job.lost_leases))
        else:
            logger.warning("lease lost before finishing; outcome discarded",
                           extra={"job_id": job.id})

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
        finished job lets go of the key.
        """
        function = inv.function
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
        self._leases.hold(token)
        try:
            job = await self._run_held(function, new, job_id, token, inv.timeout_ms,
                                       inv.attempt)
            return job, job_id != str(new.id)
        except BaseException:
            try:
                await asyncio.shield(self._jobs.abandon(job_id, token, _REQUEUED))
            except Exception:
                logger.exception("letting go of queue job %s failed; its lease will expire",
                                 job_id)
            raise
        finally:
            self._leases.drop(token)

    async def _run_held(self, function: FunctionRecord, new: NewJob, job_id: str, token: str,
                        requested_timeout_ms: int | None, attempt: int) -> Job:
        if job_id != str(new.id):
            new = dataclasses.replace(new, id=uuid.UUID(job_id))
        code = _active_code(function)
        timeout_ms = self._timeout_ms(function, requested_timeout_ms)
        gate = self.gates.gate(function.id, function.max_concurrency)
        await gate.acquire()  # queue work waits instead of failing
        try:
            result, started, finished = await self._run(function, code, new, new.event,
                                                        timeout_ms)
        finally:
            gate.release()
        outcome = _outcome(result, started, finished)
        stored = False
        self._leases.settle(token)

        async def finish(o: Outcome) -> None:
            nonlocal stored
            stored = await self._jobs.finish(job_id, token, o, result.logs)

        outcome = await self._store_unless_unstorable(outcome, finish)
        if stored and job_id == str(new.id):
            # A new row: as stored, no read.
            job: Job | None = _finished_job(new, outcome, attempts=attempt)
        else:
            job = await self._jobs.get(job_id)
        if job is None:
            raise NotFound("the job vanished while it ran", code="JOB_NOT_FOUND")
        if stored:
            self._finished(job)
        return job

    # -- internals --------------------------------------------------------------------

    def _at_worker_cap(self, function: FunctionRecord) -> ConcurrencyLimit:
        """A sync call (or a session's warm-up) got no worker in time: the replica is at
        FNGATE_MAX_WORKERS with every worker busy."""
        limit = self._pools.budget.limit
        return ConcurrencyLimit(
            f"every worker process of this gateway is busy (FNGATE_MAX_WORKERS {limit});"
            f" no worker came free for function '{function.name}' in time",
            details={"max_workers": limit},
            headers={"Retry-After": "1"},
        )

    def _timeout_ms(self, function: FunctionRecord, requested: Any) -> int:
        timeout = min(function.timeout_ms, self._settings.max_timeout_ms)
        if isinstance(requested, int) and requested > 0:
            timeout = min(timeout, requested)
        return timeout

    async def _run(self, function: FunctionRecord, version_code: VersionCode, job: NewJob,
                   event: Any, timeout_ms: int, *, wait_s: float | None = None
                   ) -> tuple[ExecutionResult, dt.datetime, dt.datetime]:
        """Run the job in a worker. At the worker cap, waits ``wait_s`` for one (None: as
        long as it takes: async, queue and session work waits instead of failing), then
        :class:`CapacityExhausted`."""
        started = _now()
        runtime, code, handler, _own, _resolved = version_code
        built = await built_for_run(self._pools, runtime, code, handler,
                                    _installs(function, version_code))
        if built.error is not None:
            failed = ExecutionResult(failure="RUNTIME_ERROR", error=built.error)
            return failed, started, _now()
        spec = code_spec(function, version=job.version, runtime=runtime, code=code,
                         handler=handler, built=built)
        ctx = CallContext(
            job_id=str(job.id),
            function_name=job.function_name,
            version=job.version,
            trigger=job.trigger,
            deadline_ms=int(time.time() * 1000) + timeout_ms,
            sub=job.subject,
            extra={k: v for k, v in job.context.items() if k != "timeout_ms"},
        )
        handed_over = time.perf_counter()
        try:
            with self.metrics.inflight(function.name), \
                    self.live_logs.run(function.id, str(job.id)) as on_log:
                result = await self._pools.run(spec, event, ctx, timeout_ms=timeout_ms,
                                               on_log=on_log, wait_s=wait_s)
        except RuntimeUnavailable as exc:
            raise RuntimeLost(str(exc)) from exc
        if result.cold_start and result.ok:
            # The worker times the call alone; the rest of the wait was the cold start.
            overhead = time.perf_counter() - handed_over - result.duration_ms / 1000
            self.metrics.cold_start_observed(runtime, max(0.0, overhead))
        return result, started, _now()

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

_REQUEUED = {"code": "RUNTIME_ERROR",
             "message": "the run was interrupted; its message went back to the queue",
             "details": {"type": "Requeued", "message": "run interrupted"}}

_INTERNAL_ERROR = {"code": "INTERNAL_ERROR", "message": "the gateway failed to run the job",
                   "details": {}}


def _finished_job(new: NewJob, outcome: Outcome, attempts: int = 1) -> Job:
    return Job(
        id=str(new.id), function_id=new.function_id, function_name=new.function_name,
        version=new.version, trigger=new.trigger, status=outcome.status,  # type: ignore[arg-type]
        owner=new.owner, subject=new.subject, result=outcome.result, error=outcome.error,
        timestamp=outcome.started_at, started_at=outcome.started_at,
        finished_at=outcome.finished_at, duration=outcome.duration,
        cold_start=outcome.cold_start, attempts=attempts, cached=outcome.cached,
    )


def _unstorable(outcome: Outcome) -> Outcome:
    return dataclasses.replace(
        outcome, status="failed", result=None,
        error={"code": "RUNTIME_ERROR",
               "message": "the result contains characters that cannot be stored (NUL)",
               "details": {"type": "InvalidResult",
                           "message": "the result contains a NUL character"}},
    )


def _outcome(result: ExecutionResult, started: dt.datetime, finished: dt.datetime) -> Outcome:
    return Outcome(
        status="success" if result.ok else "failed",
        result=result.result if result.ok else None,
        error=None if result.ok else job_error(result),
        started_at=started,
        finished_at=finished,
        duration=result.duration_ms,
        cold_start=result.cold_start,
        cpu_ms=result.cpu_ms,
        max_rss_bytes=result.max_rss_bytes,
    )
