"""How a run's outcome is recorded: one settlement strategy per kind of source.

The execution pipeline (:mod:`gateway.services.execution`) runs a job and hands its
outcome to the :class:`Settlement` its source chose; the strategy also says what a lost
lease means for the source and how to let go of the job when the run goes wrong.

- :class:`SyncRecord`: a sync call without an idempotency key (``/invoke``, a session's
  execute, an HTTP trigger): the finished job is written once, with its outcome.
- :class:`KeyedSync`: a sync call with an idempotency key: its job was written
  ``running`` under a lease when the key was bound, and is finished under it.
- :class:`LeasedJob`: an accepted job a job runner claimed (async invocations, cron
  fires): finished, or put back for a retry, under its lease.
- :class:`HeldMessage`: a queue message's job, run while the consumer holds the message:
  finished under its lease; the source schedules retries itself.

A run under a lease that is lost is cancelled by the pipeline, and its outcome never
written: the runner that took the job over records the truth.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable

import asyncpg

from executors.models import ExecutionResult
from gateway.core.answer_fence import current_fence
from gateway.core.errors import ConcurrencyLimit, NotFound
from gateway.core.models import Job
from gateway.store.jobs import JobStore, NewJob, Outcome

__all__ = ["HeldMessage", "KeyedSync", "LeasedJob", "RetryPolicy", "Settlement",
           "SyncRecord", "finished_job", "now"]

logger = logging.getLogger("fngate.dispatcher")

# Told of every job that reached its final state here (metrics, webhooks, listeners).
Finished = Callable[[Job], None]


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


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


class Settlement(ABC):
    """Records the outcome of one run for its source."""

    lease: str | None = None  # the lease token the run holds, if its job has one

    def __init__(self, jobs: JobStore, finished: Finished) -> None:
        self._jobs = jobs
        self._finished = finished

    @abstractmethod
    async def settle(self, job: NewJob, result: ExecutionResult,
                     outcome: Outcome) -> Job | None:
        """Record the run's outcome; the job as the source sees it now, or None."""

    async def lost(self, job: NewJob) -> Job | None:
        """The run's lease was lost and the run cancelled: its outcome is discarded."""
        raise AssertionError("a run without a lease cannot lose it")

    async def aborted(self, job: NewJob, exc: BaseException) -> None:
        """The pipeline failed with ``exc`` (raised on after this): let go of the job."""
        return None  # nothing to let go of unless the source holds something


class SyncRecord(Settlement):
    """A sync call without an idempotency key: one write of the finished job.

    Inside a request, the write is handed to the request's answer fence: the caller's
    answer is prepared while it commits, and starts only once it has. Listeners are told
    of the job once it is committed.
    """

    async def settle(self, job: NewJob, result: ExecutionResult, outcome: Outcome) -> Job:
        fence = current_fence()
        if fence is None or not _surely_storable(outcome):
            outcome = await _store_unless_unstorable(
                outcome, lambda o: self._jobs.insert_finished(job, o, result.logs))
            done = finished_job(job, outcome)
            self._finished(done)
            return done
        done = finished_job(job, outcome)
        write = self._jobs.submit_finished(job, outcome, result.logs)

        def committed(write: asyncio.Future[None]) -> None:
            if not write.cancelled() and write.exception() is None:
                self._finished(done)

        write.add_done_callback(committed)
        fence.add(write)
        # One turn of the loop: the writer sends the statement now, so its round trip
        # runs while the answer is prepared (not only once the answer waits for it).
        await asyncio.sleep(0)
        return done


class _UnderLease(Settlement):
    """A job recorded ``running`` under a lease, finished only while the lease holds."""

    lease: str

    def __init__(self, jobs: JobStore, finished: Finished, *, token: str) -> None:
        super().__init__(jobs, finished)
        self.lease = token

    async def _finish(self, job_id: str, result: ExecutionResult,
                      outcome: Outcome) -> tuple[Outcome, bool]:
        """The outcome as written, and whether the lease still held (else nothing was)."""
        stored = False

        async def finish(o: Outcome) -> None:
            nonlocal stored
            stored = await self._jobs.finish(job_id, self.lease, o, result.logs)

        return await _store_unless_unstorable(outcome, finish), stored

    async def lost(self, job: NewJob) -> Job | None:
        # Taken over elsewhere: the source gets the job as the taker left it.
        return await _as_it_stands(self._jobs, str(job.id))


class KeyedSync(_UnderLease):
    """A sync call whose idempotency key bound a ``running`` job under a lease; a lost
    lease answers the job as it stands, as a repeated key does."""

    def __init__(self, jobs: JobStore, finished: Finished, *, key: str, token: str) -> None:
        super().__init__(jobs, finished, token=token)
        self._key = key

    async def settle(self, job: NewJob, result: ExecutionResult, outcome: Outcome) -> Job:
        outcome, stored = await self._finish(str(job.id), result, outcome)
        if not stored:
            # Another runner took the job over: what it recorded is the truth.
            taken = await self._jobs.get(str(job.id))
            if taken is not None:
                return taken
        done = finished_job(job, outcome)
        self._finished(done)
        return done

    async def aborted(self, job: NewJob, exc: BaseException) -> None:
        if isinstance(exc, ConcurrencyLimit):
            # No run happened: the key is not spent, so a retry with it may run.
            await self._jobs.forget_idempotent(job, self._key)
        elif isinstance(exc, Exception):
            await self._jobs.fail_now(str(job.id), self.lease, _INTERNAL_ERROR)
        # Cancelled: the lease expires and a job runner takes the job over.


class LeasedJob(_UnderLease):
    """A job a job runner claimed: finished, or retried later, under its lease."""

    def __init__(self, jobs: JobStore, finished: Finished, *, retry: RetryPolicy,
                 claimed: Job, token: str, max_retries: int) -> None:
        super().__init__(jobs, finished, token=token)
        self._retry = retry
        self._claimed = claimed
        self._max_retries = max_retries

    async def settle(self, job: NewJob, result: ExecutionResult, outcome: Outcome) -> None:
        claimed = self._claimed
        if not result.ok:
            delay = self._retry.delay(failures=claimed.attempts - claimed.lost_leases,
                                      max_retries=self._max_retries)
            if delay is not None:
                assert outcome.error is not None
                await self._jobs.retry_later(claimed.id, self.lease, delay, outcome.error,
                                             result.logs)
                return
        outcome, stored = await self._finish(claimed.id, result, outcome)
        if stored:
            self._finished(dataclasses.replace(
                finished_job(job, outcome, attempts=claimed.attempts),
                timestamp=claimed.timestamp,
                started_at=claimed.started_at or outcome.started_at,
                lost_leases=claimed.lost_leases))
        else:
            logger.warning("lease lost before finishing; outcome discarded",
                           extra={"job_id": claimed.id})

    async def lost(self, job: NewJob) -> None:
        # Nothing waits for the job here: the runner that took it over records it. (On
        # any other failure the lease is left to expire: the job runner says so.)
        logger.warning("job lease lost; its run here was cancelled, its outcome discarded",
                       extra={"job_id": self._claimed.id})


class HeldMessage(_UnderLease):
    """A queue message's job, run while the consumer holds the message. A lost lease
    (another delivery took the job over) answers the job as it stands: the consumer sees
    it running there, and sends its message back, or finished."""

    def __init__(self, jobs: JobStore, finished: Finished, *, token: str, new_row: bool,
                 attempt: int) -> None:
        super().__init__(jobs, finished, token=token)
        self._new_row = new_row  # False: a job of an earlier delivery, taken over
        self._attempt = attempt

    async def settle(self, job: NewJob, result: ExecutionResult, outcome: Outcome) -> Job:
        outcome, stored = await self._finish(str(job.id), result, outcome)
        if stored and self._new_row:
            done = finished_job(job, outcome, attempts=self._attempt)  # as stored, no read
        else:
            done = await _as_it_stands(self._jobs, str(job.id))
        if stored:
            self._finished(done)
        return done

    async def aborted(self, job: NewJob, exc: BaseException) -> None:
        try:
            await asyncio.shield(self._jobs.abandon(str(job.id), self.lease, _REQUEUED))
        except Exception:
            logger.exception("letting go of queue job %s failed; its lease will expire",
                             job.id)


def finished_job(new: NewJob, outcome: Outcome, attempts: int = 1) -> Job:
    """The job ``new`` as it was written with ``outcome`` (no read back)."""
    return Job(
        id=str(new.id), function_id=new.function_id, function_name=new.function_name,
        version=new.version, trigger=new.trigger, status=outcome.status,  # type: ignore[arg-type]
        owner=new.owner, subject=new.subject, result=outcome.result, error=outcome.error,
        timestamp=outcome.started_at, started_at=outcome.started_at,
        finished_at=outcome.finished_at, duration=outcome.duration,
        cold_start=outcome.cold_start, attempts=attempts, cached=outcome.cached,
    )


async def _as_it_stands(jobs: JobStore, job_id: str) -> Job:
    job = await jobs.get(job_id)
    if job is None:
        raise NotFound("the job vanished while it ran", code="JOB_NOT_FOUND")
    return job


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


def _surely_storable(outcome: Outcome, budget: int = 4096) -> bool:
    """Whether the outcome's result and error hold no NUL character (which PostgreSQL
    cannot store), told by looking at most ``budget`` values: False when it holds one,
    or when it is too large to tell cheaply."""
    pending: list[object] = [outcome.result, outcome.error]
    while pending:
        budget -= 1
        if budget < 0:
            return False
        value = pending.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return False
        elif isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return True


def _unstorable(outcome: Outcome) -> Outcome:
    return dataclasses.replace(
        outcome, status="failed", result=None,
        error={"code": "RUNTIME_ERROR",
               "message": "the result contains characters that cannot be stored (NUL)",
               "details": {"type": "InvalidResult",
                           "message": "the result contains a NUL character"}},
    )


_REQUEUED = {"code": "RUNTIME_ERROR",
             "message": "the run was interrupted; its message went back to the queue",
             "details": {"type": "Requeued", "message": "run interrupted"}}

_INTERNAL_ERROR = {"code": "INTERNAL_ERROR", "message": "the gateway failed to run the job",
                   "details": {}}
