"""Repository for triggers and cron fire claims.

A cron fire row ``(trigger_id, scheduled_time)`` is the claim that makes a fire run once.
Two paths claim a scheduled second: a regular fire, for a time at most a minute old
(``triggers.cron.MISFIRE_GRACE_S``), and a ``run_once`` catch-up, for the latest time
after the trigger's newest claimed one (:meth:`TriggerStore.last_cron_fire`). So a row is
needed for a minute or so, and the newest of each trigger for as long as the trigger
lives: :meth:`TriggerStore.prune_cron_fires` deletes older ones and never that one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg

from gateway.core.errors import Conflict
from gateway.store.functions import notify_change
from gateway.store.jobs import JobStore, NewJob

__all__ = ["TriggerRecord", "TriggerStore"]


@dataclass(frozen=True, slots=True, kw_only=True)
class TriggerRecord:
    """One trigger as stored."""

    id: int
    function_id: int
    name: str | None
    type: str
    enabled: bool
    config: dict[str, Any]
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> TriggerRecord:
        return cls(
            id=row["id"], function_id=row["function_id"], name=row["name"], type=row["type"],
            enabled=row["enabled"], config=row["config"] or {}, created_at=row["created_at"],
            updated_at=row["updated_at"],
        )


class TriggerStore:
    """Triggers in PostgreSQL; every change is announced on ``fngate_changes``."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool

    async def create(self, function_id: int, *, name: str | None, type: str, enabled: bool,
                     config: dict[str, Any], http_path: str | None,
                     also: Callable[[Any, TriggerRecord], Awaitable[Any]] | None = None,
                     ) -> TriggerRecord:
        """Insert a trigger; ``also(conn, trigger)`` runs in the same transaction."""
        async with self._pool.acquire() as conn, conn.transaction():
            trigger = await self.insert_on(conn, function_id, name=name, type=type,
                                           enabled=enabled, config=config, http_path=http_path)
            if also is not None:
                await also(conn, trigger)
            return trigger

    @staticmethod
    async def insert_on(conn: Any, function_id: int, *, name: str | None, type: str,
                        enabled: bool, config: dict[str, Any],
                        http_path: str | None) -> TriggerRecord:
        """Insert a trigger on ``conn``, inside the caller's transaction, and announce it."""
        try:
            row = await conn.fetchrow(
                "INSERT INTO triggers (function_id, name, type, enabled, config, http_path)"
                " VALUES ($1, $2, $3, $4, $5, $6) RETURNING *",
                function_id, name, type, enabled, config, http_path,
            )
        except asyncpg.UniqueViolationError as exc:
            raise _path_taken(http_path) from exc
        except asyncpg.ForeignKeyViolationError as exc:
            raise Conflict("the function was deleted") from exc
        await _announce(conn, row["id"])
        return TriggerRecord.from_row(row)

    async def update(self, trigger_id: int, function_id: int, *, name: str | None,
                     enabled: bool, config: dict[str, Any],
                     http_path: str | None) -> TriggerRecord | None:
        async with self._pool.acquire() as conn, conn.transaction():
            try:
                row = await conn.fetchrow(
                    "UPDATE triggers SET name = $3, enabled = $4, config = $5, http_path = $6,"
                    " updated_at = now() WHERE id = $1 AND function_id = $2 RETURNING *",
                    trigger_id, function_id, name, enabled, config, http_path,
                )
            except asyncpg.UniqueViolationError as exc:
                raise _path_taken(http_path) from exc
            if row is not None:
                await _announce(conn, trigger_id)
        return None if row is None else TriggerRecord.from_row(row)

    async def delete(self, trigger_id: int, function_id: int, *,
                     also: Callable[[Any], Awaitable[Any]] | None = None) -> bool:
        """Delete a trigger; ``also(conn)`` runs in the same transaction if it existed."""
        async with self._pool.acquire() as conn, conn.transaction():
            status = await conn.execute(
                "DELETE FROM triggers WHERE id = $1 AND function_id = $2", trigger_id, function_id
            )
            if also is not None and status.endswith(" 1"):
                await also(conn)
            await _announce(conn, trigger_id)
        return bool(status.endswith(" 1"))

    async def get(self, trigger_id: int, function_id: int) -> TriggerRecord | None:
        row = await self._pool.fetchrow(
            "SELECT * FROM triggers WHERE id = $1 AND function_id = $2", trigger_id, function_id
        )
        return None if row is None else TriggerRecord.from_row(row)

    async def for_function(self, function_id: int) -> list[TriggerRecord]:
        rows = await self._pool.fetch(
            "SELECT * FROM triggers WHERE function_id = $1 ORDER BY id", function_id
        )
        return [TriggerRecord.from_row(r) for r in rows]

    async def enabled_of_type(self, type: str) -> list[TriggerRecord]:
        """Every enabled trigger of ``type`` (what a replica loads at start and on change)."""
        rows = await self._pool.fetch(
            "SELECT * FROM triggers WHERE type = $1 AND enabled ORDER BY id", type
        )
        return [TriggerRecord.from_row(r) for r in rows]

    async def by_http_path(self, path: str) -> TriggerRecord | None:
        row = await self._pool.fetchrow(
            "SELECT * FROM triggers WHERE http_path = $1 AND type = 'http'", path
        )
        return None if row is None else TriggerRecord.from_row(row)

    async def claim_cron_fire(self, trigger_id: int, scheduled_time: dt.datetime,
                              job: NewJob) -> bool:
        """Claim one scheduled time and insert its pending job, atomically.

        Exactly one replica wins per ``(trigger, scheduled_time)``; the others get False
        and have nothing to run. The job then runs like any async job (lease, take-over).
        """
        async with self._pool.acquire() as conn, conn.transaction():
            won = await conn.fetchval(
                "INSERT INTO cron_fires (trigger_id, scheduled_time, job_id)"
                " VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING true",
                trigger_id, scheduled_time, job.id,
            )
            if not won:
                return False
            await JobStore.insert_pending_on(conn, job)
        return True

    async def cron_fire_job(self, trigger_id: int, scheduled_time: dt.datetime) -> str | None:
        """The id of the job a claimed scheduled time inserted (a lost claim's winner)."""
        value = await self._pool.fetchval(
            "SELECT job_id FROM cron_fires WHERE trigger_id = $1 AND scheduled_time = $2",
            trigger_id, scheduled_time,
        )
        return None if value is None else str(value)

    async def prune_cron_fires(self, *, max_age_s: float, batch_size: int = 1000) -> int:
        """Delete cron fires scheduled more than ``max_age_s`` ago, in batches, except the
        newest of each existing trigger; return how many went. Rows another transaction
        holds are skipped (the next round takes them)."""
        deleted = 0
        async with self._pool.acquire() as conn:
            for trigger_id, below in await conn.fetch(_FIRE_CUTS, float(max_age_s)):
                while True:
                    count = await conn.fetchval(_DELETE_FIRES, trigger_id, below, batch_size)
                    deleted += count
                    if count < batch_size:
                        break
        return deleted

    async def last_cron_fire(self, trigger_id: int) -> dt.datetime | None:
        """The latest scheduled time claimed for a trigger (for misfire handling)."""
        value: dt.datetime | None = await self._pool.fetchval(
            "SELECT max(scheduled_time) FROM cron_fires WHERE trigger_id = $1", trigger_id
        )
        return value


# Per trigger with fires: the scheduled time below which its fires go ($1: the age in
# seconds); the newest fire of a trigger that still exists stays (the catch-up's memory).
# A skip scan over the primary key: one probe per trigger, not a scan of every fire.
_FIRE_CUTS = """
WITH RECURSIVE ids AS (
  (SELECT trigger_id FROM cron_fires ORDER BY trigger_id LIMIT 1)
  UNION ALL
  SELECT (SELECT f.trigger_id FROM cron_fires f WHERE f.trigger_id > ids.trigger_id
          ORDER BY f.trigger_id LIMIT 1)
  FROM ids WHERE ids.trigger_id IS NOT NULL)
SELECT ids.trigger_id, CASE
  WHEN EXISTS (SELECT 1 FROM triggers t WHERE t.id = ids.trigger_id)
  THEN least(cut.at, (SELECT max(scheduled_time) FROM cron_fires f
                      WHERE f.trigger_id = ids.trigger_id))
  ELSE cut.at END AS below
FROM ids, (SELECT now() - make_interval(secs => $1) AS at) cut
WHERE ids.trigger_id IS NOT NULL
"""

# $1: the trigger; $2: delete its fires scheduled before this; $3: the batch size.
_DELETE_FIRES = """
WITH batch AS (
  SELECT scheduled_time FROM cron_fires WHERE trigger_id = $1 AND scheduled_time < $2
  ORDER BY scheduled_time LIMIT $3 FOR UPDATE SKIP LOCKED),
gone AS (DELETE FROM cron_fires f USING batch b
         WHERE f.trigger_id = $1 AND f.scheduled_time = b.scheduled_time RETURNING 1)
SELECT count(*) FROM gone
"""


def _path_taken(http_path: str | None) -> Conflict:
    return Conflict(f"another trigger already serves the path '{http_path}'",
                    details={"path": http_path})


async def _announce(conn: Any, trigger_id: int) -> None:
    """``NOTIFY fngate_changes`` (delivered when the caller's transaction commits)."""
    await notify_change(conn, "trigger", trigger_id)
