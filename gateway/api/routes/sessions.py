"""Sessions: ``/api/v1/initialize``, ``/api/v1/execute/{id}``, ``/api/v1/sessions/{id}``."""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from auth import ADMIN, Principal
from gateway.api.context import Services, services_of
from gateway.api.invocation import cache_directive, cache_headers, run_failed
from gateway.api.responses import JSONResponse
from gateway.api.routes._body import read_json
from gateway.api.routes._lookup import function_not_found
from gateway.api.routes._methods import methods_route
from gateway.api.security import authenticate, require_execute
from gateway.core.cache_directive import CacheDirective
from gateway.core.errors import Conflict, InvalidRequest, NotFound
from gateway.core.models import FunctionRecord, Invocation
from gateway.store.sessions import SessionRecord

__all__ = ["routes"]

logger = logging.getLogger("fngate.sessions")

_SESSION_DEFAULT = CacheDirective(mode="default")


def _session_not_found(session_id: str) -> NotFound:
    return NotFound(f"session '{session_id}' does not exist or has ended",
                    code="SESSION_NOT_FOUND")


_DEFAULT_TIMEOUT_MS = 30_000


def _context(body: Any, max_timeout_ms: int) -> dict[str, Any]:
    """The validated ``context``, ``timeout_ms`` filled in (at most ``max_timeout_ms``)."""
    if body is None:
        return {"timeout_ms": min(_DEFAULT_TIMEOUT_MS, max_timeout_ms)}
    if not isinstance(body, dict):
        raise InvalidRequest("the body must be a JSON object")
    context = body.get("context", {})
    if context is None:
        context = {}
    if not isinstance(context, dict):
        raise InvalidRequest("'context' must be an object", details={"field": "context"})
    for key in ("environment", "user_id"):
        if key in context and context[key] is not None and not isinstance(context[key], str):
            raise InvalidRequest(f"'context.{key}' must be a string",
                                 details={"field": f"context.{key}"})
    timeout = context.get("timeout_ms", min(_DEFAULT_TIMEOUT_MS, max_timeout_ms))
    if (isinstance(timeout, bool) or not isinstance(timeout, int)
            or not 0 < timeout <= max_timeout_ms):
        raise InvalidRequest(
            f"'context.timeout_ms' must be an integer between 1 and {max_timeout_ms}",
            details={"field": "context.timeout_ms"},
        )
    retain = context.get("retain_session", True)
    if not isinstance(retain, bool):
        raise InvalidRequest("'context.retain_session' must be a boolean",
                             details={"field": "context.retain_session"})
    return {**context, "timeout_ms": timeout}


def _session_id(request: Request) -> uuid.UUID:
    raw = request.headers.get("x-request-id")
    if raw:
        try:
            return uuid.UUID(raw)
        except ValueError:
            pass
    return uuid.uuid4()


def _visible(session: SessionRecord | None, principal: Principal) -> bool:
    return session is not None and (session.owner == principal.key or ADMIN in principal.scopes)


async def initialize(request: Request) -> Response:
    principal = await authenticate(request)
    title = request.headers.get("language-title")
    if not title:
        raise InvalidRequest("the Language-Title header is required",
                             details={"header": "Language-Title"})
    services = services_of(request)
    function = await services.functions.get(title)
    # A name or language_title (as refs, case-insensitively), not an id.
    if function is None or title.lower() not in (function.language_title.lower(),
                                                 function.name.lower()):
        raise function_not_found(title)
    require_execute(principal, function.language)
    context = _context(await read_json(request, empty=None), services.settings.max_timeout_ms)
    services.dispatcher.check_runnable(function)
    session_id = _session_id(request)
    created, session = await services.sessions.create(
        session_id=session_id, owner=principal.key, function_id=function.id,
        language_title=function.language_title, version=int(function.active_version or 0),
        context=context, timeout_ms=int(context["timeout_ms"]),
        retain_session=bool(context.get("retain_session", True)),
        ttl_s=services.settings.session_ttl_s,
    )
    if not created:
        _check_reinitialize(session, principal, function)
    else:
        await _warm(services, function, session)
    return JSONResponse({"request_id": session.id, "status": "initialized",
                         "expires_at": _iso(session)})


def _check_reinitialize(session: SessionRecord, principal: Principal,
                        function: FunctionRecord) -> None:
    """Initializing an existing id returns it only for its owner, function, and while active."""
    if session.owner != principal.key:
        raise Conflict(f"session id '{session.id}' is taken by another caller")
    if session.function_id != function.id:
        raise Conflict(f"session '{session.id}' exists for {session.language_title}",
                       details={"language_title": session.language_title})
    if session.status != "active":
        raise Conflict(f"session '{session.id}' is {session.status}; initialize a new id",
                       details={"status": session.status})


async def _warm(services: Services, function: FunctionRecord, session: SessionRecord) -> None:
    """Best effort: the session exists either way, and an execute starts a worker itself."""
    try:
        await services.dispatcher.warm(function)
    except Exception:
        logger.warning("warming a worker for a new session failed", exc_info=True,
                       extra={"session_id": session.id, "function": function.name})


def _iso(session: SessionRecord) -> str:
    return session.to_api()["expires_at"]  # type: ignore[no-any-return]


async def _pinned_function(services: Services, session: SessionRecord) -> FunctionRecord:
    # Both cached: the function for a moment (dropped on any change), the built version
    # for good (its code never changes).
    function = await services.functions.get(str(session.function_id))
    version = None
    if function is not None:
        version = await services.functions.built_version(session.function_id, session.version)
    if function is None or version is None:
        raise Conflict("the session's function version is no longer runnable",
                       details={"version": session.version})
    return function.pinned_to(version)


async def execute(request: Request) -> Response:
    session_id = request.path_params["request_id"]
    principal = await authenticate(request)
    services = services_of(request)
    # Cached: only what never changes is used before begin_execute checks the rest.
    session = await services.sessions.get_cached(session_id)
    if session is None or not _visible(session, principal):
        raise _session_not_found(session_id)
    body = await read_json(request, empty={})
    if not isinstance(body, dict):
        raise InvalidRequest("the body must be a JSON object with 'params'")
    directive = cache_directive(request) or _SESSION_DEFAULT
    function = await _pinned_function(services, session)
    require_execute(principal, function.language)
    invocation = Invocation(
        function=function, event=body.get("params", {}), trigger="session",
        owner=session.owner, subject=principal.subject, timeout_ms=session.timeout_ms,
        context={k: v for k, v in session.context.items() if k not in ("timeout_ms",)},
        cache=directive,
    )
    started = time.perf_counter()

    async def count_execute() -> None:  # once admitted: a refused execute is not counted
        if await services.sessions.begin_execute(session_id, session.owner) is None:
            raise _session_not_found(session_id)

    invoked = await services.invoker.invoke(invocation, on_admitted=count_execute)
    job = invoked.job
    if job.status != "success":
        raise run_failed(job)
    hit = invoked.cache == "HIT"
    execution_ms = (time.perf_counter() - started) * 1000 if hit else job.duration
    return JSONResponse({
        "request_id": session.id,
        "language_title": session.language_title,
        "execution_time": int(round(execution_ms or 0)),
        "cached": hit,
        "result": job.result,
    }, headers={**cache_headers(invoked), "X-Job-ID": job.id})


async def get_session(request: Request) -> Response:
    session_id = request.path_params["request_id"]
    principal = await authenticate(request)
    session = await services_of(request).sessions.get(session_id)
    if session is None or not _visible(session, principal):
        raise _session_not_found(session_id)
    return JSONResponse(session.to_api())


async def delete_session(request: Request) -> Response:
    session_id = request.path_params["request_id"]
    principal = await authenticate(request)
    services = services_of(request)
    session = await services.sessions.get(session_id)
    if session is None or not _visible(session, principal):
        raise _session_not_found(session_id)
    await services.sessions.close(session_id)
    return Response(status_code=204)


routes = [
    Route("/api/v1/initialize", initialize, methods=["POST"]),
    Route("/api/v1/execute/{request_id}", execute, methods=["POST"]),
    methods_route("/api/v1/sessions/{request_id}",
                  {"GET": get_session, "DELETE": delete_session}),
]
