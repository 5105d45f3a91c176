"""What every dialect does the same way on its way to the services: read a body as the
document's model, turn it into the native function body and hand it to the
:class:`~gateway.services.functions.FunctionService`, list the whole catalog, and run a
function through the one :class:`~gateway.services.invocation.Invoker`."""

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
from gateway.api.security import authenticate, require_scope
from gateway.core.models import FunctionRecord, Invocation, Invoked, InvokeMode
from gateway.schemas.function_metrics import FunctionMetrics
from gateway.schemas.functions import FunctionCreate, FunctionUpdate
from gateway.schemas.validation import parse

__all__ = ["all_functions", "create_function", "delete_function", "function_metrics",
           "function_to_write", "read_body", "run", "update_function"]

M = TypeVar("M", bound=BaseModel)

_PAGE = 100


async def read_body(request: Request, model: type[M]) -> M:
    """The JSON body as the document's ``model``, or the 400 every route answers."""
    return parse(model, await read_json(request))


async def function_to_write(request: Request, param: str
                            ) -> tuple[Principal, Services, FunctionRecord]:
    """The caller, who must hold ``write:functions`` (403 before any lookup), and the
    function the path parameter ``param`` names (404)."""
    principal = await authenticate(request)
    require_scope(principal, WRITE_FUNCTIONS)
    services = services_of(request)
    return principal, services, await load_function(services, request.path_params[param])


async def delete_function(request: Request, param: str) -> None:
    """Delete the function ``param`` names, as ``DELETE /api/v1/functions/{ref}`` does."""
    principal, services, function = await function_to_write(request, param)
    await services.function_service.delete(function, actor=principal.subject)


async def function_metrics(request: Request, param: str) -> FunctionMetrics:
    """The native statistics of the function ``param`` names, over all its jobs, checked
    as ``GET /api/v1/functions/{ref}/metrics`` checks its caller (``read:jobs``)."""
    require_read_jobs(await authenticate(request), "metrics")
    services = services_of(request)
    function = await load_function(services, request.path_params[param])
    return await services.function_stats.metrics(function, since=None)


async def create_function(services: Services, principal: Principal,
                          body: dict[str, Any]) -> FunctionRecord:
    """Create from a native create body (the document's fields translated): validated as
    ``POST /api/v1/functions`` validates it, created by the same service."""
    native = parse(FunctionCreate, body, context={"settings": services.settings,
                                                  "runtime": None})
    created = await services.function_service.create(native, actor=principal.subject)
    return created.function


async def update_function(services: Services, principal: Principal, current: FunctionRecord,
                          body: dict[str, Any]) -> FunctionRecord:
    """Update from a native update body, as ``PUT /api/v1/functions/{ref}`` does."""
    native = parse(FunctionUpdate, body, context={"settings": services.settings,
                                                  "runtime": current.runtime})
    return await services.function_service.update(current, native, actor=principal.subject)


async def all_functions(services: Services, project: str | None = None
                        ) -> list[FunctionRecord]:
    """Every function (of ``project`` when given), by id (the documents list without
    pages), read a page at a time."""
    functions: list[FunctionRecord] = []
    page = 1
    while True:
        total, rows = await services.functions.list_page(
            project=project, language=None, labels={}, page=page, per_page=_PAGE)
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
