"""What every dialect does the same way on its way to the services: reach a function as the
native route that does the same work reaches it (the same checks of the caller's scopes
over the function's project), read a body as the document's model, turn it into the native
function body and hand it to the :class:`~gateway.services.functions.FunctionService`,
list the catalog the caller may read, and run a function through the one
:class:`~gateway.services.invocation.Invoker`."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel
from starlette.requests import Request

from auth import Principal
from auth.scopes import WRITE_FUNCTIONS
from gateway.api.context import Services, services_of
from gateway.api.invocation import cache_directive, idempotency_key
from gateway.api.routes._body import read_json
from gateway.api.routes._lookup import load_function
from gateway.api.routes._observe import require_read_jobs
from gateway.api.security import (
    CATALOG_READERS,
    authenticate,
    require_execute,
    require_scope,
)
from gateway.core.models import FunctionRecord, Invocation, Invoked, InvokeMode
from gateway.schemas.function_metrics import FunctionMetrics
from gateway.schemas.functions import FunctionCreate, FunctionUpdate
from gateway.schemas.validation import parse

__all__ = ["all_functions", "create_function", "delete_function", "function_metrics",
           "function_to_read", "function_to_run", "function_to_write", "home_project",
           "read_body", "run", "update_function"]

M = TypeVar("M", bound=BaseModel)

_PAGE = 100
#: Where the native create puts a function that names no project.
DEFAULT_PROJECT: str = FunctionCreate.model_fields["project"].default


async def read_body(request: Request, model: type[M]) -> M:
    """The JSON body as the document's ``model``, or the 400 every route answers."""
    return parse(model, await read_json(request))


async def function_to_read(request: Request, param: str
                           ) -> tuple[Principal, Services, FunctionRecord]:
    """The caller and the function the path parameter ``param`` names, reached as
    ``GET /api/v1/functions/{ref}`` reaches it: 403 without a catalog scope anywhere, 404
    for none or one of a project the caller does not see, 403 without one there."""
    principal = await authenticate(request)
    services = services_of(request)
    return principal, services, await load_function(
        services, request.path_params[param], principal, *CATALOG_READERS)


async def function_to_write(request: Request, param: str
                            ) -> tuple[Principal, Services, FunctionRecord]:
    """As :func:`function_to_read`, with ``write:functions`` over the function's project."""
    principal = await authenticate(request)
    services = services_of(request)
    return principal, services, await load_function(
        services, request.path_params[param], principal, WRITE_FUNCTIONS)


async def function_to_run(request: Request, param: str
                          ) -> tuple[Principal, Services, FunctionRecord]:
    """As ``POST /api/v1/functions/{ref}/invoke`` reaches the function: 404 unless the
    caller sees its project, 403 without an execute scope for its language there."""
    principal = await authenticate(request)
    services = services_of(request)
    function = await load_function(services, request.path_params[param], principal)
    require_execute(principal, function.language, function.project)
    return principal, services, function


async def delete_function(request: Request, param: str) -> None:
    """Delete the function ``param`` names, as ``DELETE /api/v1/functions/{ref}`` does."""
    principal, services, function = await function_to_write(request, param)
    await services.function_service.delete(function, actor=principal)


async def function_metrics(request: Request, param: str) -> FunctionMetrics:
    """The native statistics of the function ``param`` names, over all its jobs, checked
    as ``GET /api/v1/functions/{ref}/metrics`` checks its caller (``read:jobs`` somewhere
    before the lookup, 404 for a project it does not see, ``read:jobs`` there)."""
    principal = await authenticate(request)
    require_read_jobs(principal, "metrics", somewhere=True)
    services = services_of(request)
    function = await load_function(services, request.path_params[param], principal)
    require_read_jobs(principal, "metrics", function.project)
    return await services.function_stats.metrics(function, since=None)


def home_project(principal: Principal) -> str:
    """Where a document without projects (the Function API, Kube-Serverless) creates a
    function: the caller's only project when it may write functions in exactly one (a
    tenant's token), else ``default`` (the operator's; a token writing in several projects
    but not ``default`` is then refused there with 403, as the native create would)."""
    where = principal.projects_for(WRITE_FUNCTIONS)
    if where is not None and len(where) == 1:
        return next(iter(where))
    return DEFAULT_PROJECT


async def create_function(services: Services, principal: Principal,
                          body: dict[str, Any]) -> FunctionRecord:
    """Create from a native create body (the document's fields translated): validated as
    ``POST /api/v1/functions`` validates it, refused (403) unless the caller may write
    functions in its project, created by the same service."""
    native = parse(FunctionCreate, body, context={"settings": services.settings,
                                                  "runtime": None})
    require_scope(principal, WRITE_FUNCTIONS, native.project)
    created = await services.function_service.create(native, actor=principal)
    return created.function


async def update_function(services: Services, principal: Principal, current: FunctionRecord,
                          body: dict[str, Any]) -> FunctionRecord:
    """Update from a native update body, as ``PUT /api/v1/functions/{ref}`` does (no
    document's body moves a function to another project: none carries ``project``)."""
    native = parse(FunctionUpdate, body, context={"settings": services.settings,
                                                  "runtime": current.runtime})
    return await services.function_service.update(current, native, actor=principal)


async def all_functions(services: Services, principal: Principal, project: str | None = None
                        ) -> list[FunctionRecord]:
    """Every function the caller may read the catalog of (of ``project`` when given), by id
    (the documents list without pages), read a page at a time."""
    within = principal.projects_for(*CATALOG_READERS)
    functions: list[FunctionRecord] = []
    page = 1
    while True:
        total, rows = await services.functions.list_page(
            project=project, language=None, labels={}, page=page, per_page=_PAGE,
            within=within)
        functions.extend(rows)
        if not rows or len(functions) >= total:
            return functions
        page += 1


async def run(request: Request, services: Services, principal: Principal,
              function: FunctionRecord, event: Any, mode: InvokeMode) -> Invoked:
    """Invoke ``function`` with ``event`` as ``POST /api/v1/functions/{ref}/invoke`` does
    (``Idempotency-Key`` and ``X-Cache-Control`` honoured the same way)."""
    return await services.invoker.invoke(Invocation(
        function=function, event=event, trigger="invoke", owner=principal.key,
        subject=principal.subject, idempotency_key=idempotency_key(request),
        cache=cache_directive(request), mode=mode,
    ))
