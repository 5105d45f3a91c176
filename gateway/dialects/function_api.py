"""The Function API document under ``/compat/function-api``: its envelope
(``{"success": true, "data": …}``), numeric function ids, ``{function_id}`` replies and its
Job, over the native services (``docs/compat.md`` lists every mapping)."""

from __future__ import annotations

import math

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from auth.scopes import WRITE_FUNCTIONS
from gateway.api.context import services_of
from gateway.api.invocation import job_headers
from gateway.api.responses import JSONResponse
from gateway.api.routes._body import read_json
from gateway.api.routes._lookup import load_function
from gateway.api.security import authenticate, require_catalog_read, require_scope
from gateway.core.errors import FngateError
from gateway.core.jsoncodec import isoformat
from gateway.core.models import FunctionRecord, Job
from gateway.dialects import _translate as translate
from gateway.dialects.base import Dialect, prefixed
from gateway.dialects.function_api_schemas import (
    FunctionApiCreate,
    FunctionApiDone,
    FunctionApiEnvelope,
    FunctionApiError,
    FunctionApiErrorObject,
    FunctionApiFunction,
    FunctionApiFunctionId,
    FunctionApiFunctionList,
    FunctionApiInvocations,
    FunctionApiJob,
    FunctionApiJobList,
    FunctionApiMetrics,
    FunctionApiUpdate,
)
from gateway.schemas.function_metrics import FunctionMetrics

__all__ = ["BASE", "dialect"]

BASE = "/compat/function-api"
#: A function's jobs: as many as the native job list gives in one page.
_JOBS_LISTED = 500
_MIB = 1024 * 1024


def _ok(data: BaseModel, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(FunctionApiEnvelope(data=data), status_code=status, headers=headers)


def _function(function: FunctionRecord) -> FunctionApiFunction:
    return FunctionApiFunction(
        id=function.id, name=function.name, runtime=function.runtime, code=function.code,
        execution_type="async" if function.execution_type == "async" else "sync",
        created_at=isoformat(function.created_at), updated_at=isoformat(function.updated_at))


def _job(job: Job) -> FunctionApiJob:
    return FunctionApiJob(id=job.id, function_id=job.function_id, status=job.status,
                          result=job.result, timestamp=isoformat(job.timestamp),
                          duration=job.duration)


def _metrics(stats: FunctionMetrics) -> FunctionApiMetrics:
    """The native statistics in the document's units: milliseconds, percent, megabytes."""
    avg = stats.avg_execution_time
    cpu = (stats.cpu_usage / avg * 100) if stats.cpu_usage is not None and avg else 0.0
    memory = math.ceil(stats.memory_usage / _MIB) if stats.memory_usage else 0
    return FunctionApiMetrics(
        invocations=FunctionApiInvocations(**stats.invocations.model_dump()),
        success_rate=stats.success_rate, avg_execution_time=f"{round(avg or 0)}ms",
        cpu_usage=f"{round(cpu)}%", memory_usage=f"{memory}MB")


async def list_functions(request: Request) -> Response:
    principal = await authenticate(request)
    require_catalog_read(principal, somewhere=True)
    functions = await translate.all_functions(services_of(request), principal)
    return _ok(FunctionApiFunctionList(functions=[_function(f) for f in functions]))


async def create(request: Request) -> Response:
    principal = await authenticate(request)
    require_scope(principal, WRITE_FUNCTIONS, somewhere=True)
    body = await translate.read_body(request, FunctionApiCreate)
    function = await translate.create_function(services_of(request), principal, {
        **body.model_dump(), "project": translate.home_project(principal)})
    return _ok(FunctionApiFunctionId(function_id=function.id), status=201)


async def get_function(request: Request) -> Response:
    _, _, function = await translate.function_to_read(request, "function_id")
    return _ok(_function(function))


async def update(request: Request) -> Response:
    principal, services, current = await translate.function_to_write(request, "function_id")
    body = await translate.read_body(request, FunctionApiUpdate)
    function = await translate.update_function(services, principal, current,
                                     body.model_dump(exclude_none=True))
    return _ok(FunctionApiFunctionId(function_id=function.id))


async def delete(request: Request) -> Response:
    await translate.delete_function(request, "function_id")
    return JSONResponse(FunctionApiDone())


async def metrics(request: Request) -> Response:
    return _ok(_metrics(await translate.function_metrics(request, "function_id")))


async def invoke(request: Request) -> Response:
    """The body is the event; the function's ``execution_type`` decides: a sync function
    answers its finished job (200), an async one its pending job (202)."""
    principal, services, function = await translate.function_to_run(request, "function_id")
    event = await read_json(request, empty={})
    invoked = await translate.run(request, services, principal, function, event, "auto")
    return _ok(_job(invoked.job), status=202 if invoked.accepted else 200,
               headers=job_headers(invoked.job))


async def get_job(request: Request) -> Response:
    principal = await authenticate(request)
    job = await services_of(request).job_service.visible(request.path_params["id"], principal)
    return _ok(_job(job))


async def list_jobs(request: Request) -> Response:
    principal = await authenticate(request)
    services = services_of(request)
    services.job_service.check_may_list(principal)
    function = await load_function(services, request.path_params["function_id"], principal)
    page = await services.job_service.page(function.id, principal, status=None,
                                           limit=_JOBS_LISTED, before=None)
    return _ok(FunctionApiJobList(jobs=[_job(j) for j in page.jobs]))


def error_body(exc: FngateError, request_id: str) -> FunctionApiError:
    """``{"success": false, "error": {code, message, details}}`` with fngate's code."""
    return FunctionApiError(error=FunctionApiErrorObject(
        code=exc.code, message=exc.message, details=dict(exc.details)))


dialect = Dialect(
    name="function-api", base=BASE, error_body=error_body,
    execute=r"/functions/[^/]+/invoke",
    routes=prefixed(BASE, {
        "/functions": {"GET": list_functions, "POST": create},
        "/functions/{function_id}": {"GET": get_function, "PUT": update, "DELETE": delete},
        "/functions/{function_id}/metrics": {"GET": metrics},
        "/functions/{function_id}/invoke": {"POST": invoke},
        "/jobs/{id}": {"GET": get_job},
        "/functions/{function_id}/jobs": {"GET": list_jobs},
    }),
)
