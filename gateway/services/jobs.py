"""Reading jobs as a caller may see them: one job and its log lines, a function's page.

A job is visible to the caller that created it (same ``iss`` and ``sub``) and to holders
of ``read:jobs`` or ``admin``; to anyone else it does not exist. The jobs are written by
the dispatcher and the job runner.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from auth import Principal, can_manage, can_read_all_jobs, has_scope
from auth.scopes import EXECUTE_PREFIX, READ_FUNCTIONS
from gateway.core.errors import Forbidden, InvalidRequest, NotFound
from gateway.core.models import Job
from gateway.store.jobs import JobStore

__all__ = ["JobPage", "JobService"]


@dataclass(frozen=True, slots=True)
class JobPage:
    """A page of a function's jobs, newest first, and the ``before`` of the next one."""

    jobs: list[Job]
    next_before: str | None


class JobService:
    """The jobs a principal may see."""

    def __init__(self, *, store: JobStore) -> None:
        self._store = store

    async def visible(self, job_id: str, principal: Principal) -> Job:
        """The job, or NotFound (``JOB_NOT_FOUND``) when there is none or it is not the
        caller's to see."""
        job = await self._store.get(job_id)
        if job is None or not (job.owner == principal.key or can_read_all_jobs(principal)):
            raise NotFound(f"job '{job_id}' does not exist", code="JOB_NOT_FOUND")
        return job

    async def logs(self, job_id: str, principal: Principal) -> list[dict[str, Any]]:
        """What the visible job's run printed, in order."""
        job = await self.visible(job_id, principal)
        return await self._store.logs(job.id)

    @staticmethod
    def check_may_list(principal: Principal) -> None:
        """Forbidden unless ``principal`` may list a function's jobs: checked before the
        function is looked up, so a caller without the scope cannot probe names."""
        if not (has_scope(principal, READ_FUNCTIONS) or can_read_all_jobs(principal)
                or can_manage(principal)
                or any(s.startswith(EXECUTE_PREFIX) for s in principal.scopes)):
            raise Forbidden("listing a function's jobs needs 'read:functions', 'read:jobs' "
                            "or an execute scope", details={"required_scope": READ_FUNCTIONS})

    async def page(self, function_id: int, principal: Principal, *, status: str | None,
                   limit: int, before: str | None) -> JobPage:
        """The function's jobs the caller may see (all of them with ``read:jobs``, else its
        own), newest first, older than ``before``; a ``before`` that names no job of this
        function is a 400."""
        owner = None if can_read_all_jobs(principal) else principal.key
        jobs = await self._store.list_for_function(function_id, status=status, limit=limit,
                                                   before=before, owner=owner)
        if jobs is None:
            raise InvalidRequest("query parameter 'before' names no job of this function",
                                 details={"parameter": "before"})
        return JobPage(jobs=jobs, next_before=jobs[-1].id if len(jobs) == limit else None)
