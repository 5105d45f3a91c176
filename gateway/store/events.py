"""Repository for the audit events of functions (who changed what, and when).

Events are written on the connection of the change they describe, inside its
transaction, so a change and its record commit (or roll back) together. They
outlive their function: its ``deleted`` event is the last one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.core.events import EVENT_TYPES, EventType
from gateway.core.identifiers import numeric_id

__all__ = ["EVENT_TYPES", "EventRecord", "EventStore", "EventType"]


@dataclass(frozen=True, slots=True, kw_only=True)
class EventRecord:
    """One audit event as stored."""

    id: int
    function_id: int
    function_name: str
    type: EventType
    description: str
    metadata: dict[str, Any] = field(default_factory=dict)
    actor: str | None
    created_at: dt.datetime


def _record(row: Mapping[str, Any]) -> EventRecord:
    return EventRecord(
        id=row["id"], function_id=row["function_id"], function_name=row["function_name"],
        type=row["type"], description=row["description"], metadata=row["metadata"] or {},
        actor=row["actor"], created_at=row["created_at"],
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
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        """Write one event on ``conn``, inside the transaction of the change it records."""
        if type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {type!r}")
        await conn.execute(
            "INSERT INTO function_events (function_id, function_name, type, description,"
            " metadata, actor) VALUES ($1, $2, $3, $4, $5, $6)",
            function_id, function_name, type, description, dict(metadata or {}), actor,
        )

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
