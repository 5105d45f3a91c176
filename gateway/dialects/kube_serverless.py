"""The Kube-Serverless document under ``/compat/kube-serverless/api/v1``: bare arrays,
functions by name with ``status.state``, runtimes in its spelling (``nodejs18``,
``python39``, ``go119``), invoke answering the function's own result, camelCase metrics,
its ``/health`` and ``/ready``, and ``{"error": "…"}`` bodies, over the native services
(``docs/compat.md`` lists every mapping)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from auth.scopes import WRITE_FUNCTIONS
from gateway.api import probes
from gateway.api.context import services_of
from gateway.api.invocation import job_headers, run_failed
from gateway.api.responses import JSONResponse
from gateway.api.security import authenticate, require_catalog_read, require_scope
from gateway.core.errors import FngateError, InvalidRequest, InvalidRuntime
from gateway.core.jsoncodec import isoformat
from gateway.core.models import FunctionRecord
from gateway.dialects import _translate as translate
from gateway.dialects.base import Dialect, prefixed
from gateway.dialects.kube_serverless_schemas import (
    KubeCreated,
    KubeCreatedStatus,
    KubeError,
    KubeFunction,
    KubeFunctionBody,
    KubeFunctionStatus,
    KubeHealth,
    KubeMetrics,
    KubeReady,
    State,
)
from gateway.schemas.function_input import RUNTIMES
from triggers.http import build_event

__all__ = ["BASE", "dialect"]

BASE = "/compat/kube-serverless/api/v1"

#: The document's runtime names and fngate's runtime families, both ways.
_FAMILY = {"nodejs18": "nodejs", "python39": "python", "go119": "go"}
_NAME = {family: name for name, family in _FAMILY.items()}
#: The file each family's handler lives in, as the document writes ``file.export``.
_HANDLER_FILE = {"nodejs": "index", "python": "handler"}
_STATE: dict[str, State] = {"success": "running", "building": "deploying", "failed": "failed"}


def _family(runtime: str) -> str:
    """fngate's runtime family of one of the document's runtime names, or 400."""
    supported = [_NAME[f] for f in RUNTIMES if f in _NAME]
    family = _FAMILY.get(runtime)
    if family is None:
        raise InvalidRuntime(f"unknown runtime '{runtime}': use one of "
                             f"{', '.join(supported)}", details={"supported": supported})
    if family not in RUNTIMES:
        raise InvalidRuntime(f"runtime '{runtime}' is not supported by this gateway",
                             details={"supported": supported})
    return family


def _native(body: KubeFunctionBody) -> dict[str, Any]:
    """The native function body of the document's (``minReplicas``/``maxReplicas`` are
    native aliases of ``min_warm``/``max_concurrency``; triggers have the same shape)."""
    data = body.model_dump(exclude_none=True)
    if "runtime" in data:
        data["runtime"] = _family(data["runtime"])
    return data


def _handler(function: FunctionRecord) -> str:
    file = _HANDLER_FILE.get(function.runtime)
    return f"{file}.{function.handler}" if file else function.handler


def _view(request: Request, function: FunctionRecord, *, with_code: bool) -> KubeFunction:
    pools = services_of(request).pools
    return KubeFunction(
        name=function.name, runtime=_NAME.get(function.runtime, function.runtime),
        handler=_handler(function), code=function.code if with_code else None,
        minReplicas=function.min_warm, maxReplicas=function.max_concurrency,
        status=KubeFunctionStatus(
            state=_STATE.get(function.build_status, "deploying"),
            replicas=pools.warm_workers_of(function.id),
            endpoint=f"{BASE}/functions/{function.name}/invoke",
            lastDeployment=isoformat(function.updated_at)))


async def list_functions(request: Request) -> Response:
    principal = await authenticate(request)
    require_catalog_read(principal, somewhere=True)
    functions = await translate.all_functions(services_of(request), principal)
    return JSONResponse([_view(request, f, with_code=False).model_dump(exclude_none=True)
                         for f in functions])


async def create(request: Request) -> Response:
    principal = await authenticate(request)
    require_scope(principal, WRITE_FUNCTIONS, somewhere=True)
    body = await translate.read_body(request, KubeFunctionBody)
    function = await translate.create_function(services_of(request), principal, {
        **_native(body), "project": translate.home_project(principal)})
    return JSONResponse(KubeCreated(
        name=function.name, runtime=_NAME.get(function.runtime, function.runtime),
        handler=_handler(function),
        status=KubeCreatedStatus(state=_STATE.get(function.build_status, "deploying"))),
        status_code=201)


async def get_function(request: Request) -> Response:
    _, _, function = await translate.function_to_read(request, "name")
    return JSONResponse(_view(request, function, with_code=True))


async def update(request: Request) -> Response:
    principal, services, current = await translate.function_to_write(request, "name")
    body = await translate.read_body(request, KubeFunctionBody)
    if body.triggers is not None:
        raise InvalidRequest(
            "triggers are set when the function is created; change them under "
            f"/api/v1/functions/{current.name}/triggers", details={"field": "triggers"})
    function = await translate.update_function(services, principal, current, _native(body))
    return JSONResponse(_view(request, function, with_code=True))


async def delete(request: Request) -> Response:
    await translate.delete_function(request, "name")
    return Response(status_code=204)


async def invoke(request: Request) -> Response:
    """Runs the function with the document's event object and answers its result as it
    is (200), with ``X-Function-Duration`` (seconds) and ``X-Cold-Start``; a failed run is
    500 (504 for a timeout) with the run's message."""
    principal, services, function = await translate.function_to_run(request, "name")
    event = build_event(request, await request.body(), request.url.path[len(BASE):],
                        strip_auth=True)
    job = (await translate.run(request, services, principal, function, event, "sync")).job
    if job.status == "failed":
        raise run_failed(job)
    return JSONResponse(job.result, headers=job_headers(job))


async def metrics(request: Request) -> Response:
    stats = await translate.function_metrics(request, "name")
    return JSONResponse(KubeMetrics(
        invocations=stats.invocations.total, coldStarts=stats.cold_starts,
        avgDuration=round((stats.avg_execution_time or 0.0) / 1000, 6),
        errorRate=stats.error_rate, costEstimate=stats.cost_estimate))


async def health(request: Request) -> Response:
    """``healthy`` (fngate ``ok``), ``degraded``, or ``unhealthy`` with 503 (``down``)."""
    overall = (await probes.check_components(services_of(request))).overall
    if overall == "down":
        return JSONResponse(KubeHealth(status="unhealthy"), status_code=503)
    return JSONResponse(KubeHealth(status="healthy" if overall == "ok" else "degraded"))


async def ready(request: Request) -> Response:
    if await probes.ready(services_of(request)):
        return JSONResponse(KubeReady(status="ready"))
    return JSONResponse(KubeReady(status="not_ready"), status_code=503)


def error_body(exc: FngateError, request_id: str) -> KubeError:
    """``{"error": "<message>"}``; an internal error reads as the document's example."""
    if exc.code == "INTERNAL_ERROR":
        return KubeError(error=f"Internal server error: {exc.message}")
    return KubeError(error=exc.message)


dialect = Dialect(
    name="kube-serverless", base=BASE, error_body=error_body,
    execute=r"/functions/[^/]+/invoke", unlimited=frozenset({"/health", "/ready"}),
    routes=prefixed(BASE, {
        "/functions": {"GET": list_functions, "POST": create},
        "/functions/{name}": {"GET": get_function, "PUT": update, "DELETE": delete},
        "/functions/{name}/invoke": {"POST": invoke},
        "/functions/{name}/metrics": {"GET": metrics},
        "/health": {"GET": health},
        "/ready": {"GET": ready},
    }),
)
