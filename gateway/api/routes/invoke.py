"""``/api/v1/functions/{ref}/invoke`` and ``/invoke-async``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from config import Settings
from gateway.api.context import services_of
from gateway.api.invocation import cache_directive, idempotency_key, invoke_mode, invoked_headers
from gateway.api.responses import JSONResponse
from gateway.api.routes._body import read_json
from gateway.api.routes._lookup import load_function
from gateway.api.routes.webhooks import refused_url
from gateway.api.security import authenticate, require_execute
from gateway.core.models import Invocation
from gateway.services.outbound import UrlRefused, check_url

__all__ = ["routes"]


async def _invoke(request: Request, *, force_async: bool) -> Response:
    principal = await authenticate(request)
    services = services_of(request)
    function = await load_function(services, request.path_params["ref"])
    require_execute(principal, function.language)
    # Read in this order, so a request with several faults gets the same 400 as ever.
    invocation = Invocation(
        function=function, event=await read_json(request, empty={}), trigger="invoke",
        owner=principal.key, subject=principal.subject,
        callback_url=await _callback_url(request, services.settings),
        idempotency_key=idempotency_key(request),
        cache=cache_directive(request),  # a malformed one is a 400 even when async
        mode="async" if force_async else invoke_mode(request),
    )
    invoked = await services.invoker.invoke(invocation)
    return JSONResponse(invoked.job.to_api(), status_code=202 if invoked.accepted else 200,
                        headers=invoked_headers(invoked))


async def _callback_url(request: Request, settings: Settings) -> str | None:
    """``X-Callback-URL`` checked (http(s), public unless allowed), or None."""
    raw = request.headers.get("x-callback-url")
    if raw is None:
        return None
    try:
        return await check_url(raw, allow_private=settings.allow_private_callbacks)
    except UrlRefused as exc:
        raise refused_url(exc, header="X-Callback-URL") from exc


async def invoke(request: Request) -> Response:
    return await _invoke(request, force_async=False)


async def invoke_async(request: Request) -> Response:
    return await _invoke(request, force_async=True)


routes = [
    Route("/api/v1/functions/{ref}/invoke", invoke, methods=["POST"]),
    Route("/api/v1/functions/{ref}/invoke-async", invoke_async, methods=["POST"]),
]
