"""Wire models of jobs: the record of one invocation, a function's page of them, a job's
log lines, and the event ``/invoke`` takes."""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import Field, RootModel

from gateway.core.jsoncodec import isoformat
from gateway.core.models import Job as JobRecord
from gateway.schemas.base import ResponseModel, Timestamp, UuidText
from gateway.schemas.errors import ErrorObject
from gateway.schemas.logs import LogLine
from gateway.schemas.results import render_with_result

__all__ = ["JOB_STATUSES", "InvokeEvent", "Job", "JobList", "JobLogs", "UuidText",
           "job_view", "render_job", "render_job_list"]


JobStatus = Literal["pending", "running", "success", "failed"]

#: The statuses a job may be in, in the order it goes through them.
JOB_STATUSES: tuple[str, ...] = get_args(JobStatus)


class InvokeEvent(RootModel[Any]):
    """The event: any JSON, nested at most 128 levels deep (deeper → 400 `INVALID_REQUEST`,
    `details.max_depth`). An empty body is `{}`; a body that is not JSON → 400. When the
    function has `schema.params`, the event must satisfy it: else 400 `INVALID_PARAMS` with
    `details.errors` (`[{path, message}]`), the same check and answer as `/execute`, made
    before any job exists (async and idempotent calls too). HTTP-trigger, cron and queue
    events are the gateway's envelopes and are not checked."""


class Job(ResponseModel):
    """One invocation's record."""

    id: UuidText
    function_id: int
    function_name: str
    version: int
    trigger: Literal["http", "invoke", "session", "cron", "queue"]
    status: JobStatus
    # Any JSON, never validated: a result may be megabytes.
    result: Any = Field(description="The function's return value (any JSON), or null.")
    error: ErrorObject | None = Field(
        description="Set when `status` is `failed`: `RUNTIME_ERROR` (with `details.type`: "
                    "the exception's class, `WorkerCrashed`, `OutOfMemory`, `ResultTooLarge`, "
                    "`InvalidResult`, `WorkerLost`), `TIMEOUT`, …")
    timestamp: Timestamp = Field(description="When the job was requested.")
    started_at: Timestamp | None
    finished_at: Timestamp | None
    duration: int | None = Field(ge=0, description="Run time in integer milliseconds; null "
                                                   "until finished.")
    cold_start: bool
    attempts: int = Field(ge=0)
    cached: bool = Field(description="True for a sync `/invoke` answered from the result "
                                     "cache: the job is recorded without a run (`attempts` "
                                     "0, `duration` 0, `cold_start` false).")


class JobList(ResponseModel):
    """A page of a function's jobs."""

    jobs: list[Job] = Field(description="Newest first.")
    next_before: UuidText | None = Field(description="Pass as `before` for the next page; "
                                                     "null on the last.")


class JobLogs(ResponseModel):
    """A job's log lines."""

    logs: list[LogLine] = Field(description="What the function printed, in order.")


def job_view(job: JobRecord) -> Job:
    """The API's Job of a stored job (its owner, event and context are not shown)."""
    error = job.error
    return Job.trusted(
        id=job.id, function_id=job.function_id, function_name=job.function_name,
        version=job.version, trigger=job.trigger, status=job.status, result=job.result,
        error=None if error is None else _error_object(error),
        timestamp=isoformat(job.timestamp), started_at=isoformat(job.started_at),
        finished_at=isoformat(job.finished_at),
        duration=None if job.duration is None else int(round(job.duration)),
        cold_start=job.cold_start, attempts=job.attempts, cached=job.cached,
    )


def _error_object(error: dict[str, Any]) -> ErrorObject:
    """A stored job's error as it was recorded, not checked again: one odd row (a code
    this version does not know, no details) must not fail every read of it."""
    return ErrorObject.trusted(code=error.get("code", "RUNTIME_ERROR"),
                                       message=str(error.get("message", "")),
                                       details=error.get("details") or {})


def render_job(job: JobRecord) -> dict[str, Any]:
    """The JSON body of a stored job: ``render(job_view(job))``, its result as it is."""
    return render_with_result(job_view(job))


def render_job_list(page: JobList) -> dict[str, Any]:
    """``render(page)``, each job's result as it is."""
    body = page.model_dump(by_alias=True, exclude=_JOBS)
    return {"jobs": [render_with_result(job) for job in page.jobs], **body}


_JOBS = {"jobs"}
