"""Reading a function's audit trail, also once the function is deleted.

A deleted function's events stay readable by its id, or by its name while no live
function has that name (its ``deleted`` event comes first). The events are written by
:mod:`gateway.services.audit`.
"""

from __future__ import annotations

from gateway.store.events import EventRecord, EventStore
from gateway.store.functions import FunctionStore, function_not_found

__all__ = ["AuditTrail"]


class AuditTrail:
    """The audit events of live and deleted functions."""

    def __init__(self, *, events: EventStore, functions: FunctionStore) -> None:
        self._events = events
        self._functions = functions

    async def function_of(self, ref: str) -> tuple[int, str | None]:
        """The id of the function ``ref`` names, a live one first, else a deleted one, with
        its project (None for a deleted one); NotFound (``FUNCTION_NOT_FOUND``) when
        neither."""
        function = await self._functions.get(ref)
        if function is not None:
            return function.id, function.project
        function_id = await self._events.deleted_function_id(ref)
        if function_id is None:
            raise function_not_found(ref)
        return function_id, None

    async def project_events(self, project: str, *, limit: int) -> list[EventRecord]:
        """The newest ``limit`` events of ``project`` and its functions, newest first."""
        return await self._events.for_project(project, limit=limit)

    async def events(self, function_id: int, *, limit: int) -> list[EventRecord]:
        """The newest ``limit`` events of the function, newest first."""
        return await self._events.for_function(function_id, limit=limit)
