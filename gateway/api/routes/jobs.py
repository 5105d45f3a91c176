"""``/api/v1/jobs/{id}``, its logs, and a function's job list."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from auth.scopes import READ_FUNCTIONS, READ_JOBS, WRITE_FUNCTIONS
from gateway.api.context import services_of
from gateway.api.invocation import EXECUTE_SCOPES
from gateway.api.operations import Reply, operation, routes_of
from gateway.api.responses import JSONResponse
from gateway.api.routes._body import query_int
from gateway.api.routes._lookup import load_function
from gateway.api.security import authenticate
from gateway.core.errors import InvalidRequest
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


@operation(
    "GET", "/api/v1/jobs/{job_id}", operation_id="getJob", tag="jobs", summary="Get a job",
    description="Any valid token. " + _VISIBILITY,
    scopes=[], parameters=["job_id"], errors=[404],
    replies={200: Reply("The job.", Job)},
)
async def get_job(request: Request) -> Response:
    principal = await authenticate(request)
    job = await services_of(request).job_service.visible(request.path_params["job_id"],
                                                         principal)
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
    rows = await services_of(request).job_service.logs(request.path_params["job_id"],
                                                       principal)
    return JSONResponse(JobLogs(logs=[LogLine(**row) for row in rows]))


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
    services = services_of(request)
    services.job_service.check_may_list(principal)
    function = await load_function(services, request.path_params["ref"], principal)
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
    page = await services.job_service.page(function.id, principal, status=status,
                                           limit=limit, before=before,
                                           project=function.project)
    return JSONResponse(render_job_list(JobList(jobs=[job_view(j) for j in page.jobs],
                                                next_before=page.next_before)))


routes = routes_of(get_job, get_job_logs, list_function_jobs)
