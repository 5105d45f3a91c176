"""Sessions: ``/api/v1/initialize``, ``/api/v1/execute/{id}``, ``/api/v1/sessions/{id}``."""

from __future__ import annotations

import logging
import time
import uuid

from starlette.requests import Request
from starlette.responses import Response

from auth import ADMIN, Principal
from gateway.api.context import Services, services_of
from gateway.api.invocation import EXECUTE_SCOPES, cache_directive, cache_headers, run_failed
from gateway.api.operations import Reply, operation, routes_of
from gateway.api.responses import JSONResponse
from gateway.api.routes._body import read_json
from gateway.api.routes._lookup import function_not_found
from gateway.api.security import authenticate, require_execute
from gateway.core.cache_directive import CacheDirective
from gateway.core.errors import Conflict, InvalidRequest, NotFound
from gateway.core.models import FunctionRecord, Invocation
from gateway.schemas.base import render
from gateway.schemas.errors import Error
from gateway.schemas.results import render_with_result
from gateway.schemas.sessions import (
    ExecuteRequest,
    ExecuteResponse,
    InitializeRequest,
    InitializeResponse,
    Session,
    SessionContext,
)
from gateway.schemas.validation import parse
from gateway.store.sessions import SessionRecord

__all__ = ["routes", "session_view"]

logger = logging.getLogger("fngate.sessions")

_SESSION_DEFAULT = CacheDirective(mode="default")

_ERRORS_NOTE = " Error bodies carry the session id as `request_id` (see `Error`)."


def _session_not_found(session_id: str) -> NotFound:
    return NotFound(f"session '{session_id}' does not exist or has ended",
                    code="SESSION_NOT_FOUND")


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


@operation(
    "POST", "/api/v1/initialize", operation_id="initializeSession", tag="sessions",
    summary="Start a session",
    description="Needs `execute:all`, `execute:<language>` of the function or `admin` (403, "
                "checked once the function is found). Pins the function's active version and "
                "warms a worker for it (best effort: a failure is logged, the session still "
                "returned); the session lives `FNGATE_SESSION_TTL_S` (default 7200 s) from "
                "creation, and an execute is not tied to one worker. 409 `CONFLICT` while the "
                "function has no successfully built version, or when the session id is "
                "another caller's, another function's, closed or expired; 400 "
                "`INVALID_RUNTIME` when its runtime is not installed here. Repeating an "
                "active id (`X-Request-ID`) as the same caller for the same function returns "
                "that session as it stands — `status: \"initialized\"` and its `expires_at` — "
                "without warming again.",
    scopes=EXECUTE_SCOPES, body=InitializeRequest, body_required=False,
    parameters=["Language-Title", "SessionRequestID"], errors=[404, 409],
    replies={200: Reply("The session.", InitializeResponse)},
)
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
    settings = services.settings
    raw = await read_json(request, empty={})
    body = parse(InitializeRequest, {} if raw is None else raw,  # null: no body, as ever
                 context={"settings": settings})
    context = (body.context or SessionContext()).stored(settings.max_timeout_ms)
    services.dispatcher.check_runnable(function)
    session_id = _session_id(request)
    created, session = await services.sessions.create(
        session_id=session_id, owner=principal.key, function_id=function.id,
        language_title=function.language_title, version=int(function.active_version or 0),
        context=context, timeout_ms=int(context["timeout_ms"]),
        retain_session=bool(context.get("retain_session", True)),
        ttl_s=settings.session_ttl_s,
    )
    if not created:
        _check_reinitialize(session, principal, function)
    else:
        await _warm(services, function, session)
    return JSONResponse(render(InitializeResponse(request_id=session.id,
                                                  expires_at=session.expires_at)))


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


@operation(
    "POST", "/api/v1/execute/{request_id}", operation_id="executeSession", tag="sessions",
    summary="Run the session's function",
    description="Runs the session's pinned version with `params` as the event and answers "
                "with the result; a failed run is an error status here (500 `RUNTIME_ERROR`, "
                "or the run's other error code such as `INTERNAL_ERROR`; 504 `TIMEOUT`), with "
                "`X-Job-ID`. Checked in order: the session is the caller's (`admin`: any) "
                "else 404 `SESSION_NOT_FOUND`; the body and `X-Cache-Control` (400); the "
                "pinned version still runnable (409 `CONFLICT`); the caller's execute scope "
                "for the function (403); the function's `rate_limit` (429 `RATE_LIMITED`); "
                "`params` against `schema.params` (400 `INVALID_PARAMS`, `details.errors`); "
                "the session still active, else 404 `SESSION_NOT_FOUND` (expired or closed). "
                "From there the execute counts, also when served from the cache, and a "
                "session with `retain_session: false` closes. The result cache is used by "
                "default (the function's `cache_ttl` and `cache_scope`); `X-Cache-Control` "
                "changes that per request. Session work waits for a free slot rather than "
                "failing with `CONCURRENCY_LIMIT`." + _ERRORS_NOTE,
    scopes=EXECUTE_SCOPES, body=ExecuteRequest, body_required=False,
    parameters=["request_id", "X-Cache-Control"], errors=[404, 409, 429, 504],
    replies={
        200: Reply("The result. `X-Cache` always; `Age` on a hit; `X-Job-ID` always (a hit "
                   "is recorded as a `cached` job, so function metrics count it).",
                   ExecuteResponse, headers=("X-Cache", "Age", "X-Job-ID")),
        500: Reply("`RUNTIME_ERROR`: the run failed (`details.type` the exception's class, "
                   "`WorkerCrashed`, `OutOfMemory`, `ResultTooLarge`, `InvalidResult`, "
                   "`WorkerLost`; also `message`, `stack_trace`, `line`, `column` where "
                   "known), with `X-Job-ID`; or `INTERNAL_ERROR`.", Error,
                   headers=("X-Job-ID",)),
    },
)
async def execute(request: Request) -> Response:
    session_id = request.path_params["request_id"]
    principal = await authenticate(request)
    services = services_of(request)
    # Cached: only what never changes is used before begin_execute checks the rest.
    session = await services.sessions.get_cached(session_id)
    if session is None or not _visible(session, principal):
        raise _session_not_found(session_id)
    body = parse(ExecuteRequest, await read_json(request, empty={}))
    directive = cache_directive(request) or _SESSION_DEFAULT
    function = await _pinned_function(services, session)
    require_execute(principal, function.language)
    invocation = Invocation(
        function=function, event=body.params, trigger="session",
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
    answer = ExecuteResponse(request_id=session.id, language_title=session.language_title,
                             execution_time=int(round(execution_ms or 0)), cached=hit,
                             result=job.result)
    return JSONResponse(render_with_result(answer),
                        headers={**cache_headers(invoked), "X-Job-ID": job.id})


@operation(
    "GET", "/api/v1/sessions/{request_id}", operation_id="getSession", tag="sessions",
    summary="A session's state",
    description="Any valid token; a session of another caller is 404 `SESSION_NOT_FOUND` "
                "unless the caller has `admin`. 200 also once it has expired or closed."
                + _ERRORS_NOTE,
    scopes=[], parameters=["request_id"], errors=[404],
    replies={200: Reply("The session.", Session)},
)
async def get_session(request: Request) -> Response:
    session_id = request.path_params["request_id"]
    principal = await authenticate(request)
    session = await services_of(request).sessions.get(session_id)
    if session is None or not _visible(session, principal):
        raise _session_not_found(session_id)
    return JSONResponse(render(session_view(session)))


@operation(
    "DELETE", "/api/v1/sessions/{request_id}", operation_id="deleteSession", tag="sessions",
    summary="Close a session",
    description="Any valid token, with the visibility of `GET`. Closes it (it stays readable "
                "with `status: closed`); closing an ended session is 204 too." + _ERRORS_NOTE,
    scopes=[], parameters=["request_id"], errors=[404],
    replies={204: Reply("Closed.")},
)
async def delete_session(request: Request) -> Response:
    session_id = request.path_params["request_id"]
    principal = await authenticate(request)
    services = services_of(request)
    session = await services.sessions.get(session_id)
    if session is None or not _visible(session, principal):
        raise _session_not_found(session_id)
    await services.sessions.close(session_id)
    return Response(status_code=204)


def session_view(session: SessionRecord) -> Session:
    """The API's Session: its state, not its owner, function or context."""
    return Session(request_id=session.id, language_title=session.language_title,
                   status=session.status, created_at=session.created_at,
                   expires_at=session.expires_at, execution_count=session.execution_count,
                   last_executed_at=session.last_executed_at)


routes = routes_of(initialize, execute, get_session, delete_session)
