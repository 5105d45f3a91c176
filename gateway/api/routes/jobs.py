"""``/api/v1/jobs/{id}``, its logs, and a function's job list."""

from __future__ import annotations

import uuid

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from auth import Principal, can_manage, can_read_all_jobs, has_scope
from auth.scopes import EXECUTE_PREFIX, READ_FUNCTIONS
from gateway.api.context import services_of
from gateway.api.responses import JSONResponse
from gateway.api.routes._body import query_int
from gateway.api.routes._lookup import load_function
from gateway.api.security import authenticate
from gateway.core.errors import Forbidden, InvalidRequest, NotFound
from gateway.core.jsoncodec import isoformat
from gateway.core.models import Job

__all__ = ["routes"]

_STATUSES = ("pending", "running", "success", "failed")


async def _visible_job(request: Request, principal: Principal) -> Job:
    job_id = request.path_params["job_id"]
    job = await services_of(request).jobs.get(job_id)
    if job is None or not (job.owner == principal.key or can_read_all_jobs(principal)):
        raise NotFound(f"job '{job_id}' does not exist", code="JOB_NOT_FOUND")
    return job


async def get_job(request: Request) -> Response:
    principal = await authenticate(request)
    job = await _visible_job(request, principal)
    return JSONResponse(job.to_api())


async def get_job_logs(request: Request) -> Response:
    principal = await authenticate(request)
    job = await _visible_job(request, principal)
    rows = await services_of(request).jobs.logs(job.id)
    return JSONResponse({"logs": [
        {"timestamp": isoformat(r["timestamp"]), "job_id": str(r["job_id"]),
         "stream": r["stream"], "message": r["message"]}
        for r in rows
    ]})


def _may_list_jobs(principal: Principal) -> bool:
    return (
        has_scope(principal, READ_FUNCTIONS)
        or can_read_all_jobs(principal)
        or can_manage(principal)
        or any(s.startswith(EXECUTE_PREFIX) for s in principal.scopes)
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
    if status is not None and status not in _STATUSES:
        raise InvalidRequest(f"query parameter 'status' must be one of {', '.join(_STATUSES)}",
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
    return JSONResponse({"jobs": [j.to_api() for j in jobs], "next_before": next_before})


routes = [
    Route("/api/v1/jobs/{job_id}", get_job, methods=["GET"]),
    Route("/api/v1/jobs/{job_id}/logs", get_job_logs, methods=["GET"]),
    Route("/api/v1/functions/{ref}/jobs", list_function_jobs, methods=["GET"]),
]
