"""``/api/v1/jobs/{id}``, its logs, and a function's job list."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from auth import Principal, can_manage, can_read_all_jobs, has_scope
from auth.scopes import EXECUTE_PREFIX, READ_FUNCTIONS, READ_JOBS, WRITE_FUNCTIONS
from gateway.api.context import services_of
from gateway.api.invocation import EXECUTE_SCOPES
from gateway.api.operations import Reply, operation, routes_of
from gateway.api.responses import JSONResponse
from gateway.api.routes._body import query_int
from gateway.api.routes._lookup import load_function
from gateway.api.security import authenticate
from gateway.core.errors import Forbidden, InvalidRequest, NotFound
from gateway.core.models import Job as JobRecord
from gateway.schemas.jobs import (
    JOB_STATUSES,
    Job,
    JobList,
    JobLogs,
    job_view,
    render_job,
    render_job_list,
)
from gateway.schemas.logs import LogLine

__all__ = ["routes"]

_VISIBILITY = ("A job the caller did not create is 404 `JOB_NOT_FOUND` unless it has "
               "`read:jobs` or `admin`.")

_LIST_PARAMETERS: list[str | dict[str, Any]] = [
    "ref",
    {"name": "status", "in": "query", "required": False,
     "schema": {"type": "string", "enum": list(JOB_STATUSES)},
     "description": "Only jobs in this status."},
    {"name": "limit", "in": "query", "required": False,
     "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50},
     "description": "Page size."},
    {"name": "before", "in": "query", "required": False,
     "schema": {"type": "string", "format": "uuid"},
     "description": "A job id (`next_before` of the previous page): only older jobs. Not a "
                    "UUID, or naming no job of this function → 400 (`details.parameter`)."},
]


async def _visible_job(request: Request, principal: Principal) -> JobRecord:
    job_id = request.path_params["job_id"]
    job = await services_of(request).jobs.get(job_id)
    if job is None or not (job.owner == principal.key or can_read_all_jobs(principal)):
        raise NotFound(f"job '{job_id}' does not exist", code="JOB_NOT_FOUND")
    return job


@operation(
    "GET", "/api/v1/jobs/{job_id}", operation_id="getJob", tag="jobs", summary="Get a job",
    description="Any valid token. " + _VISIBILITY,
    scopes=[], parameters=["job_id"], errors=[404],
    replies={200: Reply("The job.", Job)},
)
async def get_job(request: Request) -> Response:
    principal = await authenticate(request)
    job = await _visible_job(request, principal)
    return JSONResponse(render_job(job))


@operation(
    "GET", "/api/v1/jobs/{job_id}/logs", operation_id="getJobLogs", tag="jobs",
    summary="A job's logs",
    description="Any valid token, with the same visibility as `GET /api/v1/jobs/{job_id}`. "
                "What the function printed, in order.",
    scopes=[], parameters=["job_id"], errors=[404],
    replies={200: Reply("The job's log lines.", JobLogs)},
)
async def get_job_logs(request: Request) -> Response:
    principal = await authenticate(request)
    job = await _visible_job(request, principal)
    rows = await services_of(request).jobs.logs(job.id)
    return JSONResponse(JobLogs(logs=[LogLine(**row) for row in rows]))


def _may_list_jobs(principal: Principal) -> bool:
    return (
        has_scope(principal, READ_FUNCTIONS)
        or can_read_all_jobs(principal)
        or can_manage(principal)
        or any(s.startswith(EXECUTE_PREFIX) for s in principal.scopes)
    )


@operation(
    "GET", "/api/v1/functions/{ref}/jobs", operation_id="listFunctionJobs", tag="jobs",
    summary="A function's jobs",
    description="Needs `read:functions`, `read:jobs`, `write:functions`, `admin` or any "
                "`execute:*` scope, else 403 (checked before the function is looked up). "
                "Callers without `read:jobs` or `admin` see only the jobs they created (same "
                "`iss` and `sub`). Newest first. A `before` that is not a job id of this "
                "function → 400.",
    scopes=[READ_FUNCTIONS, READ_JOBS, WRITE_FUNCTIONS, *EXECUTE_SCOPES],
    parameters=_LIST_PARAMETERS, errors=[400, 404],
    replies={200: Reply("A page of jobs.", JobList)},
)
async def list_function_jobs(request: Request) -> Response:
    principal = await authenticate(request)
    if not _may_list_jobs(principal):
        # Checked before the function is looked up, so no scope cannot probe names.
        raise Forbidden("listing a function's jobs needs 'read:functions', 'read:jobs' or an"
                        " execute scope", details={"required_scope": READ_FUNCTIONS})
    services = services_of(request)
    function = await load_function(services, request.path_params["ref"])
    status = request.query_params.get("status") or None
    if status is not None and status not in JOB_STATUSES:
        raise InvalidRequest(
            f"query parameter 'status' must be one of {', '.join(JOB_STATUSES)}",
            details={"parameter": "status"})
    limit = query_int(request, "limit", 50, 1, 500)
    before = request.query_params.get("before") or None
    if before is not None:
        try:
            uuid.UUID(before)
        except ValueError as exc:
            raise InvalidRequest("query parameter 'before' must be a job id",
                                 details={"parameter": "before"}) from exc
    owner = None if can_read_all_jobs(principal) else principal.key
    jobs = await services.jobs.list_for_function(
        function.id, status=status, limit=limit, before=before, owner=owner
    )
    if jobs is None:
        raise InvalidRequest("query parameter 'before' names no job of this function",
                             details={"parameter": "before"})
    next_before = jobs[-1].id if len(jobs) == limit else None
    page = JobList(jobs=[job_view(j) for j in jobs], next_before=next_before)
    return JSONResponse(render_job_list(page))


routes = routes_of(get_job, get_job_logs, list_function_jobs)
