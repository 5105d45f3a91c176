"""Repository for the audit events of functions and projects (who changed what, and when).

Events are written on the connection of the change they describe, inside its
transaction, so a change and its record commit (or roll back) together. They
outlive their function: its ``deleted`` event is the last one. Each names its project:
a function's event the function's project at the time (a move is recorded in the project
it moved to, ``metadata.from_project`` naming the one it left, and shows in both trails),
a project's own event that project.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.core.events import (
    EVENT_TYPES,
    PROJECT_EVENT_TYPES,
    AuditEventType,
    EventType,
    ProjectEventType,
)
from gateway.core.identifiers import numeric_id

__all__ = ["EVENT_TYPES", "EventRecord", "EventStore", "EventType"]


@dataclass(frozen=True, slots=True, kw_only=True)
class EventRecord:
    """One audit event as stored; a project's own event has no function."""

    id: int
    function_id: int | None
    function_name: str | None
    type: AuditEventType
    description: str
    metadata: dict[str, Any] = field(default_factory=dict)
    actor: str | None
    created_at: dt.datetime
    actor_issuer: str | None = None
    project: str | None = None


def _record(row: Mapping[str, Any]) -> EventRecord:
    return EventRecord(
        id=row["id"], function_id=row["function_id"], function_name=row["function_name"],
        type=row["type"], description=row["description"], metadata=row["metadata"] or {},
        actor=row["actor"], created_at=row["created_at"], actor_issuer=row["actor_issuer"],
        project=row["project"],
    )


class EventStore:
    """Audit events in PostgreSQL."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool

    @staticmethod
    async def record_on(
        conn: Any,
        *,
        function_id: int,
        function_name: str,
        type: EventType,
        description: str,
        actor: str | None,
        actor_issuer: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        project: str | None = None,
    ) -> None:
        """Write one event of a function on ``conn``, inside the transaction of the change
        it records; its project is ``project``, else the function's as the transaction
        sees it (after a move: the new one)."""
        if type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {type!r}")
        await conn.execute(
            "INSERT INTO function_events (function_id, function_name, type, description,"
            " metadata, actor, actor_issuer, project) VALUES ($1, $2, $3, $4, $5, $6, $7,"
            " coalesce($8, (SELECT project FROM functions WHERE id = $1)))",
            function_id, function_name, type, description, dict(metadata or {}), actor,
            actor_issuer, project,
        )

    @staticmethod
    async def record_project_on(
        conn: Any,
        *,
        project: str,
        type: ProjectEventType,
        description: str,
        actor: str | None,
        actor_issuer: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        """Write one event of ``project`` itself on ``conn`` (in its change's transaction)."""
        if type not in PROJECT_EVENT_TYPES:
            raise ValueError(f"unknown project event type {type!r}")
        await conn.execute(
            "INSERT INTO function_events (type, description, metadata, actor, actor_issuer,"
            " project) VALUES ($1, $2, $3, $4, $5, $6)",
            type, description, dict(metadata or {}), actor, actor_issuer, project,
        )

    async def for_project(self, project: str, *, limit: int) -> list[EventRecord]:
        """The newest ``limit`` events of a project (its own and its functions', with
        those of functions that moved out of it), newest first."""
        rows = await self._pool.fetch(
            "SELECT * FROM (SELECT * FROM (SELECT * FROM function_events WHERE project = $1"
            " ORDER BY id DESC LIMIT $2) own UNION"
            " SELECT * FROM (SELECT * FROM function_events"
            " WHERE metadata ? 'from_project' AND metadata ->> 'from_project' = $1"
            " ORDER BY id DESC LIMIT $2) moved) e ORDER BY id DESC LIMIT $2",
            project, limit,
        )
        return [_record(r) for r in rows]

    async def for_function(self, function_id: int, *, limit: int) -> list[EventRecord]:
        """The newest ``limit`` events of a function, newest first."""
        rows = await self._pool.fetch(
            "SELECT * FROM function_events WHERE function_id = $1 ORDER BY id DESC LIMIT $2",
            function_id, limit,
        )
        return [_record(r) for r in rows]

    async def deleted_function_id(self, ref: str) -> int | None:
        """The id of a deleted function ``ref`` names (its id, else its latest name), if any.

        Lets a deleted function's history stay readable: a live function always wins,
        since callers try this only when ``ref`` resolves to none.
        """
        function_id = numeric_id(ref)
        if function_id is not None:
            found = await self._pool.fetchval(
                "SELECT function_id FROM function_events WHERE function_id = $1"
                " AND type = 'deleted' LIMIT 1", function_id)
            if found is not None:
                return int(found)
        found = await self._pool.fetchval(
            "SELECT function_id FROM function_events WHERE function_name = $1"
            " AND type = 'deleted' ORDER BY id DESC LIMIT 1", ref)
        return None if found is None else int(found)
