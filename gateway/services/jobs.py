"""Reading jobs as a caller may see them: one job and its log lines, a function's page.

A job is visible to the caller that created it (same ``iss`` and ``sub``) and to holders
of ``read:jobs`` or ``admin`` over its function's project (unqualified: over every
project, also once the function is gone); to anyone else it does not exist. The jobs are written by
the dispatcher and the job runner.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from auth import Principal, can_read_all_jobs
from auth.scopes import EXECUTE_PREFIX, READ_FUNCTIONS, READ_JOBS, WRITE_FUNCTIONS
from gateway.core.errors import Forbidden, InvalidRequest, NotFound
from gateway.core.models import Job
from gateway.store.functions import FunctionStore
from gateway.store.jobs import JobStore

__all__ = ["JobPage", "JobService"]


@dataclass(frozen=True, slots=True)
class JobPage:
    """A page of a function's jobs, newest first, and the ``before`` of the next one."""

    jobs: list[Job]
    next_before: str | None


class JobService:
    """The jobs a principal may see."""

    def __init__(self, *, store: JobStore, functions: FunctionStore) -> None:
        self._store = store
        self._functions = functions

    async def visible(self, job_id: str, principal: Principal) -> Job:
        """The job, or NotFound (``JOB_NOT_FOUND``) when there is none or it is not the
        caller's to see."""
        job = await self._store.get(job_id)
        if job is None or not (job.owner == principal.key or await self._reads(principal, job)):
            raise NotFound(f"job '{job_id}' does not exist", code="JOB_NOT_FOUND")
        return job

    async def _reads(self, principal: Principal, job: Job) -> bool:
        """Whether ``principal`` reads every caller's jobs of ``job``'s project."""
        where = principal.projects_for(READ_JOBS)
        if not where:
            return where is None  # unqualified: every project; none named: no project
        return await self._functions.project_of(job.function_id) in where

    async def logs(self, job_id: str, principal: Principal) -> list[dict[str, Any]]:
        """What the visible job's run printed, in order."""
        job = await self.visible(job_id, principal)
        return await self._store.logs(job.id)

    @staticmethod
    def check_may_list(principal: Principal) -> None:
        """Forbidden unless ``principal`` may list a function's jobs: checked before the
        function is looked up, so a caller without the scope cannot probe names."""
        if not (principal.projects_for(READ_FUNCTIONS, READ_JOBS, WRITE_FUNCTIONS) != frozenset()
                or any(s.startswith(EXECUTE_PREFIX) for s in principal.scopes)):
            raise Forbidden("listing a function's jobs needs 'read:functions', 'read:jobs' "
                            "or an execute scope", details={"required_scope": READ_FUNCTIONS})

    async def page(self, function_id: int, principal: Principal, *, status: str | None,
                   limit: int, before: str | None, project: str | None = None) -> JobPage:
        """The function's jobs the caller may see (all of them with ``read:jobs`` over its
        ``project``, else its own), newest first, older than ``before``; a ``before`` that
        names no job of this function is a 400."""
        owner = None if can_read_all_jobs(principal, project) else principal.key
        jobs = await self._store.list_for_function(function_id, status=status, limit=limit,
                                                   before=before, owner=owner)
        if jobs is None:
            raise InvalidRequest("query parameter 'before' names no job of this function",
                                 details={"parameter": "before"})
        return JobPage(jobs=jobs, next_before=jobs[-1].id if len(jobs) == limit else None)
