"""The Function Service's invocation, monitoring and provider routes: the same invocation
service, job service, log service, statistics, audit trail and provider checks as the
native routes, in the document's shapes."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from auth import Principal
from gateway.api.context import Services, services_of
from gateway.api.invocation import cache_directive, idempotency_key, run_failed
from gateway.api.operations import Endpoint
from gateway.api.responses import JSONResponse
from gateway.api.routes._body import query_int, read_json
from gateway.api.routes._observe import query_bool, query_time, require_read_jobs
from gateway.api.routes.function_logs import follow_response
from gateway.api.routes.provider import capabilities_of, serving_problem
from gateway.api.security import authenticate, require_execute
from gateway.core.errors import InvalidRequest, NotFound
from gateway.core.models import FunctionRecord, Invocation, Job
from gateway.dialects.function_service_invoke import (
    FsAccepted,
    FsInvocationList,
    FsInvokeRequest,
    invocation_view,
    invoke_event,
    invoke_result,
)
from gateway.dialects.function_service_lookup import enter_workspace, load_workspace_function
from gateway.dialects.function_service_models import TRIGGER_TYPES, runtime_name
from gateway.dialects.function_service_observe import (
    FS_METRICS,
    RESOLUTIONS,
    FsEvents,
    FsHealthy,
    FsLogs,
    FsUnhealthy,
    capabilities_view,
    event_view,
    log_view,
    metrics_view,
)
from gateway.schemas.validation import parse
from gateway.services.logs import LogQuery

__all__ = ["RUN_ROUTES"]

_NATIVE_TRIGGER_NAMES = {native: own for own, native in TRIGGER_TYPES.items()}


# -- invocation ------------------------------------------------------------------------------

async def _invoke(request: Request, *, mode: str) -> tuple[Principal, Job, bool]:
    principal = await authenticate(request)
    services = services_of(request)
    function = await load_workspace_function(request, principal)
    require_execute(principal, function.language, function.project)
    sent = parse(FsInvokeRequest, await read_json(request, empty={}))
    # The event is an HTTP envelope, as an HTTP trigger's: not checked against
    # ``schema.params``, and the job's trigger says ``http``.
    invoked = await services.invoker.invoke(Invocation(
        function=function, event=invoke_event(sent), trigger="http", owner=principal.key,
        subject=principal.subject, idempotency_key=idempotency_key(request),
        cache=cache_directive(request) if mode == "sync" else None,
        mode="sync" if mode == "sync" else "async"))
    return principal, invoked.job, invoked.accepted


async def invoke(request: Request) -> Response:
    """Sync: the function's answer; a failed run is the document's ``INVOCATION_FAILED``
    with the native run-failure status (500, 504 for a timeout)."""
    _, job, _ = await _invoke(request, mode="sync")
    if job.status == "failed":
        raise run_failed(job)
    if job.status != "success":  # an Idempotency-Key's first job, still running
        return JSONResponse(FsAccepted(invocation_id=f"inv-{job.id}"), status_code=202)
    return JSONResponse(invoke_result(job), headers={"X-Job-ID": job.id})


async def invoke_async(request: Request) -> Response:
    _, job, _ = await _invoke(request, mode="async")
    return JSONResponse(FsAccepted(invocation_id=f"inv-{job.id}"), status_code=202,
                        headers={"X-Job-ID": job.id})


async def get_invocation(request: Request) -> Response:
    """Visible as the native job is (its caller, ``read:jobs``, ``admin``), and only in the
    workspace of its function."""
    principal = await authenticate(request)
    services = services_of(request)
    workspace = enter_workspace(request, principal)
    raw = request.path_params["invocationId"]
    job_id = raw[4:] if raw.startswith("inv-") else ""
    try:
        job = await services.job_service.visible(job_id, principal) if job_id else None
    except NotFound:
        job = None
    if job is None or not await _in_workspace(services, job, workspace):
        raise NotFound(f"invocation '{raw}' does not exist", code="INVOCATION_NOT_FOUND")
    return JSONResponse(invocation_view(job, workspace))


async def _in_workspace(services: Services, job: Job, workspace: str) -> bool:
    function = await services.functions.get_by_id(job.function_id)
    return function is not None and function.project == workspace


async def list_invocations(request: Request) -> Response:
    principal = await authenticate(request)
    services = services_of(request)
    services.job_service.check_may_list(principal)
    function = await load_workspace_function(request, principal)
    page = await services.job_service.page(function.id, principal, status=None,
                                           limit=query_int(request, "limit", 50, 1, 500),
                                           before=None)
    return JSONResponse(FsInvocationList(
        invocations=[invocation_view(job, function.project) for job in page.jobs]))


# -- monitoring ------------------------------------------------------------------------------

async def _observed(request: Request, principal: Principal, what: str) -> FunctionRecord:
    """The path's function whose ``what`` (logs, metrics, events) the caller reads, checked
    as the native routes check it: ``read:jobs`` somewhere before any lookup (403), 404 for
    a workspace it does not see, ``read:jobs`` over the workspace (403)."""
    require_read_jobs(principal, what, somewhere=True)
    function = await load_workspace_function(request, principal)
    require_read_jobs(principal, what, function.project)
    return function


async def logs(request: Request) -> Response:
    principal = await authenticate(request)
    services = services_of(request)
    function = await _observed(request, principal, "logs")
    if query_bool(request, "previous"):
        raise InvalidRequest("'previous' is not supported: log lines are kept per run, not "
                             "per version; bound them with 'since' and 'until'",
                             details={"parameter": "previous"})
    since, until = query_time(request, "since"), query_time(request, "until")
    if since is not None and until is not None and since >= until:
        raise InvalidRequest("query parameter 'until' must be later than 'since'",
                             details={"parameter": "until"})
    query = LogQuery(function_id=function.id, since=since, until=until, job_id=None,
                     limit=query_int(request, "limit", 100, 1, 1000))
    if not query_bool(request, "follow"):
        lines = await services.log_service.latest(query)
        return JSONResponse(FsLogs(logs=[log_view(line) for line in lines]))
    return follow_response(services.log_service.follow(function, query),
                           lambda line: log_view(line).model_dump())


async def metrics(request: Request) -> Response:
    principal = await authenticate(request)
    services = services_of(request)
    function = await _observed(request, principal, "metrics")
    resolution = request.query_params.get("resolution")
    if resolution not in (None, "", *RESOLUTIONS):
        raise InvalidRequest(f"query parameter 'resolution' must be one of "
                             f"{', '.join(RESOLUTIONS)}", details={"parameter": "resolution"})
    wanted = set(request.query_params.getlist("metrics[]"))
    unknown = wanted - set(FS_METRICS)
    if unknown:
        raise InvalidRequest(f"unknown metric '{sorted(unknown)[0]}': one of "
                             f"{', '.join(FS_METRICS)}", details={"parameter": "metrics[]"})
    start, end = query_time(request, "start"), query_time(request, "end")
    if start is not None and end is not None and start >= end:
        raise InvalidRequest("query parameter 'end' must be later than 'start'",
                             details={"parameter": "end"})
    stats = await services.function_stats.metrics(function, since=start, until=end)
    return JSONResponse(metrics_view(stats, wanted))


async def events(request: Request) -> Response:
    function = await _observed(request, await authenticate(request), "events")
    records = await services_of(request).audit_trail.events(
        function.id, limit=query_int(request, "limit", 100, 1, 1000))
    return JSONResponse(FsEvents(events=[event_view(e) for e in records]))


# -- provider --------------------------------------------------------------------------------

async def provider_capabilities(request: Request) -> Response:
    enter_workspace(request, await authenticate(request))
    native = capabilities_of(services_of(request))
    return JSONResponse(capabilities_view(
        native, [runtime_name(r) for r in native.supported_runtimes],
        [_NATIVE_TRIGGER_NAMES.get(t, t) for t in native.supported_trigger_types]))


async def provider_health(request: Request) -> Response:
    enter_workspace(request, await authenticate(request))
    problem = await serving_problem(services_of(request))
    if problem is None:
        return JSONResponse(FsHealthy())
    return JSONResponse(FsUnhealthy(details=problem.message), status_code=503,
                        headers=problem.headers)


RUN_ROUTES: dict[str, dict[str, Endpoint]] = {
    "/functions/provider/capabilities": {"GET": provider_capabilities},
    "/functions/provider/health": {"GET": provider_health},
    "/functions/invocations/{invocationId}": {"GET": get_invocation},
    "/functions/{functionId}/invoke": {"POST": invoke},
    "/functions/{functionId}/invoke-async": {"POST": invoke_async},
    "/functions/{functionId}/invocations": {"GET": list_invocations},
    "/functions/{functionId}/logs": {"GET": logs},
    "/functions/{functionId}/metrics": {"GET": metrics},
    "/functions/{functionId}/events": {"GET": events},
}
