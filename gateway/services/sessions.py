"""Initialize/execute sessions: starting one, finding it for its caller, running its pinned
version through the invocation service, and closing it.

A session pins its function's active version when it starts and lives a fixed time from
then (``ttl_s``). Only its owner sees it, or a caller with ``admin``; to anyone else it
does not exist. An execute counts once the invocation service admits it
(:meth:`~gateway.services.invocation.Invoker.invoke`'s ``on_admitted``), so a refused one
leaves no trace, and a session that is not retained closes with its first execute.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

from auth import ADMIN, Principal
from gateway.core.cache_directive import CacheDirective
from gateway.core.errors import Conflict, NotFound
from gateway.core.models import FunctionRecord, Invocation, Invoked
from gateway.schemas.sessions import InitializeRequest, SessionContext
from gateway.services.dispatcher import Dispatcher
from gateway.services.invocation import Invoker
from gateway.store.functions import FunctionStore, function_not_found
from gateway.store.sessions import SessionRecord, SessionStore

__all__ = ["Executed", "SessionService", "session_not_found"]

logger = logging.getLogger("fngate.sessions")

# A session's executes use the result cache as the function sets it unless told otherwise.
_SESSION_DEFAULT = CacheDirective(mode="default")


def session_not_found(session_id: str) -> NotFound:
    """The 404 for a session that is unknown, another caller's, or (on execute) ended."""
    return NotFound(f"session '{session_id}' does not exist or has ended",
                    code="SESSION_NOT_FOUND")


@dataclass(frozen=True, slots=True, kw_only=True)
class Executed:
    """What a session's execute came to: the invocation's answer, and how long it took
    (the run's duration; for a cache hit, the time spent answering it)."""

    session: SessionRecord
    invoked: Invoked
    execution_ms: int


class SessionService:
    """Sessions of a caller (``Principal``): its ``key`` owns them, ``admin`` sees all."""

    def __init__(self, *, store: SessionStore, functions: FunctionStore,
                 dispatcher: Dispatcher, invoker: Invoker, ttl_s: int,
                 max_timeout_ms: int) -> None:
        self._store = store
        self._functions = functions
        self._dispatcher = dispatcher
        self._invoker = invoker
        self._ttl_s = ttl_s
        self._max_timeout_ms = max_timeout_ms

    # -- initialize ----------------------------------------------------------------------

    async def function_titled(self, title: str, caller: Principal) -> FunctionRecord:
        """The function a session is started for: ``title`` is its name or language_title
        (case-insensitively), not an id; NotFound (``FUNCTION_NOT_FOUND``) otherwise, also
        when it is of a project the caller does not see."""
        function = await self._functions.get(title)
        if function is None or not caller.sees(function.project) \
                or title.lower() not in (function.language_title.lower(),
                                         function.name.lower()):
            raise function_not_found(title)
        return function

    async def initialize(self, function: FunctionRecord, body: InitializeRequest, *,
                         session_id: uuid.UUID, caller: Principal) -> SessionRecord:
        """Start session ``session_id`` pinned to the function's active version and warm a
        worker for it (best effort). Refuses (409) a function that cannot run. An id that
        exists is answered as it stands, without warming, when it is the caller's active
        session of this function; otherwise 409 ``CONFLICT``."""
        context = (body.context or SessionContext()).stored(self._max_timeout_ms)
        self._dispatcher.check_runnable(function)
        created, session = await self._store.create(
            session_id=session_id, owner=caller.key, function_id=function.id,
            language_title=function.language_title, version=int(function.active_version or 0),
            context=context, timeout_ms=int(context["timeout_ms"]),
            retain_session=bool(context.get("retain_session", True)), ttl_s=self._ttl_s,
        )
        if not created:
            _check_reinitialize(session, caller, function)
        else:
            await self._warm(function, session)
        return session

    async def _warm(self, function: FunctionRecord, session: SessionRecord) -> None:
        """Best effort: the session exists either way, and an execute starts a worker."""
        try:
            await self._dispatcher.warm(function)
        except Exception:
            logger.warning("warming a worker for a new session failed", exc_info=True,
                           extra={"session_id": session.id, "function": function.name})

    # -- execute -------------------------------------------------------------------------

    async def for_execute(self, session_id: str, caller: Principal) -> SessionRecord:
        """The caller's session as last read (cached: only what never changes in it is
        used before :meth:`execute` checks the rest); NotFound otherwise."""
        return await self._visible(await self._store.get_cached(session_id), session_id,
                                   caller)

    async def pinned_function(self, session: SessionRecord) -> FunctionRecord:
        """The session's function as it runs the pinned version; 409 ``CONFLICT`` when the
        function or that version's successful build is gone."""
        # Both cached: the function for a moment (dropped on any change), the built version
        # for good (its code never changes).
        function = await self._functions.get(str(session.function_id))
        version = None
        if function is not None:
            version = await self._functions.built_version(session.function_id,
                                                          session.version)
        if function is None or version is None:
            raise Conflict("the session's function version is no longer runnable",
                           details={"version": session.version})
        return function.pinned_to(version)

    async def execute(self, session_id: str, session: SessionRecord,
                      function: FunctionRecord, *, params: Any,
                      cache: CacheDirective | None, caller: Principal) -> Executed:
        """Run ``function`` (:meth:`pinned_function`) with ``params`` as the event, with the
        session's timeout and context; the result cache as the function sets it unless
        ``cache`` says otherwise. Once admitted the execute counts (a session that is not
        retained closes); a session expired or closed by then → NotFound, and nothing runs.
        A failed run is answered, not raised. ``session_id`` is the id as the caller
        wrote it (:meth:`for_execute`'s), which errors repeat."""
        invocation = Invocation(
            function=function, event=params, trigger="session",
            owner=session.owner, subject=caller.subject, timeout_ms=session.timeout_ms,
            context={k: v for k, v in session.context.items() if k not in ("timeout_ms",)},
            cache=cache or _SESSION_DEFAULT,
        )
        started = time.perf_counter()

        async def count_execute() -> None:  # once admitted: a refused execute is not counted
            if await self._store.begin_execute(session_id, session.owner) is None:
                raise session_not_found(session_id)

        invoked = await self._invoker.invoke(invocation, on_admitted=count_execute)
        if invoked.cache == "HIT":
            execution_ms: float | None = (time.perf_counter() - started) * 1000
        else:
            execution_ms = invoked.job.duration
        return Executed(session=session, invoked=invoked,
                        execution_ms=int(round(execution_ms or 0)))

    # -- reading and closing -------------------------------------------------------------

    async def get(self, session_id: str, caller: Principal) -> SessionRecord:
        """The caller's session as it stands (also once ended); NotFound otherwise."""
        return await self._visible(await self._store.get(session_id), session_id, caller)

    async def _visible(self, session: SessionRecord | None, session_id: str,
                       caller: Principal) -> SessionRecord:
        """``session`` when the caller may see it: its owner, or ``admin`` over its
        function's project (unqualified: any session)."""
        if session is None:
            raise session_not_found(session_id)
        if session.owner == caller.key or caller.can(ADMIN):
            return session
        where = caller.projects_for(ADMIN)
        if where and await self._functions.project_of(session.function_id) in where:
            return session
        raise session_not_found(session_id)

    async def close(self, session_id: str, caller: Principal) -> None:
        """Close the caller's session (closing an ended one changes nothing); NotFound
        otherwise."""
        await self.get(session_id, caller)
        await self._store.close(session_id)




def _check_reinitialize(session: SessionRecord, caller: Principal,
                        function: FunctionRecord) -> None:
    """Initializing an existing id returns it only for its owner, function, and while
    active."""
    if session.owner != caller.key:
        raise Conflict(f"session id '{session.id}' is taken by another caller")
    if session.function_id != function.id:
        raise Conflict(f"session '{session.id}' exists for {session.language_title}",
                       details={"language_title": session.language_title})
    if session.status != "active":
        raise Conflict(f"session '{session.id}' is {session.status}; initialize a new id",
                       details={"status": session.status})
