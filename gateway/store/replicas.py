"""Repository for the cross-replica clean-up outbox: running replicas and their
``function_cleanups`` rows (migration 0017).

A replica registers before it serves and beats while it runs; one that has not been seen
for :data:`REPLICA_STALE_S` is forgotten with its rows (it died without unregistering).
:func:`write_cleanup` runs inside the transaction that deletes or renames a function, so
the rows exist exactly when the change does.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any, Literal

__all__ = ["REPLICA_STALE_S", "FunctionCleanupRow", "ReplicaStore", "write_cleanup"]

#: A replica unseen this long is gone; its rows go with it (a live one that comes back
#: re-registers and sweeps everything it holds instead).
REPLICA_STALE_S = 3600.0

CleanupKind = Literal["deleted", "renamed"]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class FunctionCleanupRow:
    """One replica's share of a change: function ``function_id`` was deleted (everything
    of it goes) or renamed (its old name ``function_name``'s metric series go)."""

    id: int
    function_id: int
    function_name: str
    kind: CleanupKind


async def write_cleanup(conn: Any, function_id: int, function_name: str,
                        kind: CleanupKind) -> None:
    """A row for every registered replica, in the caller's transaction."""
    await conn.execute(
        "INSERT INTO function_cleanups (replica_id, function_id, function_name, kind)"
        " SELECT id, $1, $2, $3 FROM replicas",
        function_id, function_name, kind)


class ReplicaStore:
    """One replica's registration and its clean-up rows."""

    def __init__(self, pool: Any, replica_id: uuid.UUID) -> None:
        self._pool = pool
        self.replica_id = replica_id

    async def register(self) -> None:
        """Be counted in every change from now on (before serving anything)."""
        await self._pool.execute(
            "INSERT INTO replicas (id) VALUES ($1) ON CONFLICT (id) DO UPDATE SET seen_at = now()",
            self.replica_id)

    async def beat(self) -> bool:
        """Mark this replica alive and forget replicas gone stale; False when this one had
        been forgotten itself (its rows are lost: the caller sweeps everything)."""
        async with self._pool.acquire() as conn, conn.transaction():
            known = await conn.fetchval(
                "UPDATE replicas SET seen_at = now() WHERE id = $1 RETURNING true",
                self.replica_id)
            if not known:
                await conn.execute("INSERT INTO replicas (id) VALUES ($1)", self.replica_id)
            await conn.execute(
                "DELETE FROM replicas WHERE seen_at < now() - make_interval(secs => $1)",
                REPLICA_STALE_S)
        return bool(known)

    async def unregister(self) -> None:
        """Leave at shutdown: this replica's rows go too (its workers end with it)."""
        await self._pool.execute("DELETE FROM replicas WHERE id = $1", self.replica_id)

    async def pending(self, limit: int = 500) -> list[FunctionCleanupRow]:
        """This replica's rows not yet done, oldest first."""
        rows = await self._pool.fetch(
            "SELECT id, function_id, function_name, kind FROM function_cleanups"
            " WHERE replica_id = $1 ORDER BY id LIMIT $2", self.replica_id, limit)
        return [FunctionCleanupRow(id=int(r["id"]), function_id=int(r["function_id"]),
                                   function_name=r["function_name"], kind=r["kind"])
                for r in rows]

    async def done(self, ids: list[int]) -> None:
        """Rows whose clean-up this replica has done."""
        await self._pool.execute(
            "DELETE FROM function_cleanups WHERE replica_id = $1 AND id = ANY($2::bigint[])",
            self.replica_id, ids)
