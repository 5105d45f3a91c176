"""The one execution pipeline: a concurrency slot, a worker, the run, its settlement.

Every run of a function goes through :meth:`Pipeline.execute`, which only the dispatcher
(:mod:`gateway.services.dispatcher`) calls, whatever brought the run: a sync call
(``/invoke``, a session's execute, an HTTP trigger), a job a job runner claimed (async
invocations, cron fires) or a queue message. The invocation service admitted it before
(runnable, rate limit, params); here it

1. takes a slot of the function's concurrency gate, first come first served. A caller
   that waits (``invoke``, ``http``: :attr:`Run.caller_waits`) waits at most its timeout,
   behind at most ``10 × max_concurrency`` others, else 429 ``CONCURRENCY_LIMIT``; other
   work waits as long as it takes. Then, when the function's project has a
   ``max_concurrency`` quota, a slot of the project's gate (this replica's count): a
   caller that waits gets one at once or 429 ``QUOTA_EXCEEDED``; other work waits;
2. takes a worker within this replica's worker budget (``executors/budget.py``): a caller
   that waits gets what is left of its timeout, else 429 ``CONCURRENCY_LIMIT``;
3. runs the job in the worker (building its dependencies or binary here first if this
   replica has no build of them, :mod:`gateway.services.artifacts`);
4. hands the outcome to the source's :class:`~gateway.services.settlement.Settlement`,
   which records it (a sync record, a leased job, a held queue message).

A run under a lease is watched while it runs: when the heartbeat finds the lease lost
(another runner took the job over), the run is cancelled here, its outcome discarded,
and the settlement says what the source gets instead. From the end of the run on, the
lease is marked settling: its write is let finish, and refused by the token if lost.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

from executors import BuildQueued, CapacityExhausted, RuntimeUnavailable, WorkerPools, pool
from executors.models import CallContext, CodeSpec, ExecutionResult
from gateway.core.errors import ConcurrencyLimit, RuntimeLost
from gateway.core.models import FunctionRecord, Job
from gateway.core.quotas import quota_exceeded
from gateway.services.artifacts import Built, built_for_run
from gateway.services.concurrency import ConcurrencyGates, Gate, GateFull
from gateway.services.leases import LeaseKeeper, LeaseLost
from gateway.services.logstream import LogHub
from gateway.services.metrics import GatewayMetrics
from gateway.services.settlement import Settlement, now
from gateway.store.jobs import NewJob, Outcome

__all__ = ["Pipeline", "Run", "VersionCode", "active_code", "code_spec", "job_error"]

# (runtime, code, handler, own dependencies, the recorded set it serves with or None)
# of the version a run uses.
VersionCode = tuple[str, str, str, list[str], list[str] | None]



@dataclass(slots=True, kw_only=True)
class Run:
    """One run of one job: what the pipeline needs, nothing of where it came from.

    Not frozen, though never changed: one is made per run, and a frozen dataclass's
    ``__init__`` costs three times as much (1.8 µs against 0.5 µs here).
    """

    function: FunctionRecord
    code: VersionCode
    job: NewJob  # its event is the run's event
    timeout_ms: int
    # A caller waits for the answer: slot and worker waits are bounded by the timeout.
    caller_waits: bool = False


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


def active_code(function: FunctionRecord) -> VersionCode:
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


class Pipeline:
    """Slot, worker, run, settlement: the one way a run reaches a worker."""

    def __init__(self, *, pools: WorkerPools, leases: LeaseKeeper, gates: ConcurrencyGates,
                 metrics: GatewayMetrics, live_logs: LogHub) -> None:
        self._pools = pools
        self._leases = leases
        self._gates = gates
        self._metrics = metrics
        self._live_logs = live_logs

    async def execute(self, run: Run, settlement: Settlement
                      ) -> tuple[Job | None, ExecutionResult | None]:
        """Run ``run`` and settle it: the settled job (None when the settlement keeps none
        for its source) and the raw result (None when the run's lease was lost and its
        outcome discarded).

        Raises 429 ``CONCURRENCY_LIMIT`` when a waiting caller got no slot or no worker in
        time; whatever goes wrong is first told to ``settlement.aborted``.

        No await comes before the gate is held or waited for: a job runner counts a job
        as at its gate from this call on.
        """
        token = settlement.lease
        try:
            if token is None:
                result, started, finished = await self._run_gated(run)
            else:
                try:
                    with self._leases.watch(token):
                        result, started, finished = await self._run_gated(run)
                        self._leases.settle(token)  # no await since the run ended
                except LeaseLost:
                    return await settlement.lost(run.job), None
            outcome = _outcome(result, started, finished)
            return await settlement.settle(run.job, result, outcome), result
        except BaseException as exc:
            await settlement.aborted(run.job, exc)
            raise

    async def _run_gated(self, run: Run) -> tuple[ExecutionResult, dt.datetime, dt.datetime]:
        function = run.function
        gate = self._gates.gate(function.id, function.max_concurrency)
        # A caller that waits gets its timeout, at most, for a slot and then a worker.
        deadline = time.monotonic() + run.timeout_ms / 1000 if run.caller_waits else None
        try:
            if deadline is not None:
                await gate.acquire(max_waiters=10 * function.max_concurrency,
                                   timeout_s=run.timeout_ms / 1000)
            else:  # async, cron, queue and session work waits instead of failing
                await gate.acquire()
        except GateFull as exc:
            raise ConcurrencyLimit(
                f"function '{function.name}' is at max_concurrency"
                f" ({function.max_concurrency}) and its wait queue is full",
                details={"max_concurrency": function.max_concurrency},
                headers={"Retry-After": "1"},
            ) from exc
        try:
            quota = await self._project_slot(run)
            try:
                wait_s = None if deadline is None else max(0.0, deadline - time.monotonic())
                return await self._run(run, wait_s=wait_s)
            finally:
                if quota is not None:
                    quota.release()
        except CapacityExhausted as exc:
            raise self.at_worker_cap(function, exc) from exc
        finally:
            gate.release()

    async def _project_slot(self, run: Run) -> Gate | None:
        """A slot of the function's project's concurrency quota (None: it has none). A
        caller that waits gets one at once or 429 ``QUOTA_EXCEEDED``; other work waits
        for one as long as it takes."""
        function = run.function
        limit = function.project_max_concurrency
        if limit is None:
            return None
        gate = self._gates.project_gate(function.project, limit)
        if not run.caller_waits:
            await gate.acquire()
        elif not gate.try_acquire():
            raise quota_exceeded(function.project, "max_concurrency", limit, gate.active,
                                 action=f"running function '{function.name}' now")
        return gate

    async def warm(self, function: FunctionRecord) -> bool:
        """Make sure a warm worker waits for ``function``'s active version (sessions). At
        the worker cap it waits up to ``WARM_WAIT_S`` for a slot to build what the version
        needs and again for a worker, then 429 ``CONCURRENCY_LIMIT``."""
        try:
            built = await built_for_run(self._pools, function.runtime, function.code,
                                        function.handler,
                                        _installs(function, active_code(function)),
                                        slot_wait_s=pool.WARM_WAIT_S)
        except CapacityExhausted as exc:
            raise self.at_worker_cap(function, exc) from exc
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
            raise self.at_worker_cap(function, exc) from exc
        if cold:
            self._metrics.cold_start_observed(spec.runtime, time.perf_counter() - began)
        return cold

    def at_worker_cap(self, function: FunctionRecord, exc: CapacityExhausted
                      ) -> ConcurrencyLimit:
        """A sync call (or a session's warm-up) got no worker, or no slot to rebuild what
        it runs, in time: the replica is at FNGATE_MAX_WORKERS with every worker busy."""
        budget = self._pools.budget
        if isinstance(exc, BuildQueued):
            return ConcurrencyLimit(
                f"every worker process of this gateway is busy (FNGATE_MAX_WORKERS"
                f" {budget.limit}); none came free in time to rebuild function"
                f" '{function.name}' on this replica (the build stays queued)",
                details={"max_workers": budget.limit, "waiting_for": "build"},
                headers={"Retry-After": "1"},
            )
        share = budget.shares.get(function.runtime)
        if share is not None and budget.at_share(function.runtime):
            return ConcurrencyLimit(
                f"every {function.runtime} worker process of this gateway is busy"
                f" (FNGATE_MAX_WORKERS_PER_RUNTIME {function.runtime}={share}); no worker"
                f" came free for function '{function.name}' in time",
                details={"max_workers": budget.limit, "runtime": function.runtime,
                         "runtime_max_workers": share},
                headers={"Retry-After": "1"},
            )
        return ConcurrencyLimit(
            f"every worker process of this gateway is busy (FNGATE_MAX_WORKERS {budget.limit});"
            f" no worker came free for function '{function.name}' in time",
            details={"max_workers": budget.limit},
            headers={"Retry-After": "1"},
        )

    async def _run(self, run: Run, *, wait_s: float | None
                   ) -> tuple[ExecutionResult, dt.datetime, dt.datetime]:
        """Run the job in a worker. At the worker cap, waits ``wait_s`` for one (None: as
        long as it takes), then :class:`CapacityExhausted`."""
        started = now()
        function, job, timeout_ms = run.function, run.job, run.timeout_ms
        runtime, code, handler, _own, _resolved = run.code
        deadline = None if wait_s is None else time.monotonic() + wait_s
        # A replica without this version's build rebuilds it; a waiting caller bounds the
        # build's wait for a worker slot by its own (a deploy's build waits as long as it
        # takes).
        built = await built_for_run(self._pools, runtime, code, handler,
                                    _installs(function, run.code), slot_wait_s=wait_s)
        if deadline is not None:
            wait_s = max(0.0, deadline - time.monotonic())
        if built.error is not None:
            failed = ExecutionResult(failure="RUNTIME_ERROR", error=built.error)
            return failed, started, now()
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
            with self._metrics.inflight(function.name), \
                    self._live_logs.run(function.id, str(job.id)) as on_log:
                result = await self._pools.run(spec, job.event, ctx, timeout_ms=timeout_ms,
                                               on_log=on_log, wait_s=wait_s)
        except RuntimeUnavailable as exc:
            raise RuntimeLost(str(exc)) from exc
        if result.cold_start and result.ok:
            # The worker times the call alone; the rest of the wait was the cold start.
            overhead = time.perf_counter() - handed_over - result.duration_ms / 1000
            self._metrics.cold_start_observed(runtime, max(0.0, overhead))
        return result, started, now()
