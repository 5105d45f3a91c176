"""Repository for the builds of serving versions: which set each active version serves
with, and the rebuilds that follow a project or system dependency change
(0012_version_builds.sql)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from gateway.store.functions import notify_change

__all__ = ["ServingVersion", "VersionBuildStore"]

# The active version of each function whose build succeeded, with the layers beneath it.
_SERVING = """
SELECT f.id AS function_id, f.name AS function_name, f.project, v.version, v.runtime,
       v.dependencies, v.resolved_dependencies, v.rebuild_dependencies, v.rebuild_status,
       coalesce(s.dependencies, '[]') || coalesce(p.dependencies, '[]') AS inherited
FROM functions f
JOIN function_versions v ON v.function_id = f.id AND v.version = f.active_version
LEFT JOIN projects p ON p.name = f.project
LEFT JOIN system_settings s ON s.id = 0
WHERE v.build_status = 'success'
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class ServingVersion:
    """An active, built version and what its dependencies are made of now."""

    function_id: int
    function_name: str
    version: int
    runtime: str
    dependencies: list[str]  # its own
    inherited: list[str]  # the system's, then its project's, as they are now
    resolved: list[str] | None  # what it serves with (None: not recorded)
    rebuild: list[str] | None  # the set a pending or failed rebuild installs
    rebuild_status: str | None  # 'building' | 'failed' | None


def _serving(row: Mapping[str, Any]) -> ServingVersion:
    return ServingVersion(
        function_id=row["function_id"], function_name=row["function_name"],
        version=row["version"], runtime=row["runtime"], dependencies=list(row["dependencies"]),
        inherited=list(row["inherited"]), resolved=row["resolved_dependencies"],
        rebuild=row["rebuild_dependencies"], rebuild_status=row["rebuild_status"],
    )


class VersionBuildStore:
    """Serving sets and rebuilds in PostgreSQL; every recorded outcome is announced as a
    change of its function (``function:<id>``) in the transaction that makes it."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool

    async def serving(self, *, project: str | None = None,
                      function_id: int | None = None) -> list[ServingVersion]:
        """The serving versions of ``project``'s functions, of one function, or of all."""
        rows = await self._pool.fetch(
            _SERVING + " AND ($1::text IS NULL OR f.project = $1)"
            " AND ($2::bigint IS NULL OR f.id = $2) ORDER BY f.id",
            project, function_id)
        return [_serving(r) for r in rows]

    async def begin_rebuild(self, function_id: int, version: int,
                            dependencies: list[str]) -> bool:
        """Mark a rebuild of ``version`` for ``dependencies`` as building (whatever was
        pending before is replaced); False when the version is no longer built."""
        async with self._pool.acquire() as conn, conn.transaction():
            status = await conn.execute(
                "UPDATE function_versions SET rebuild_dependencies = $3,"
                " rebuild_status = 'building', rebuild_log = NULL, rebuild_started_at = now()"
                " WHERE function_id = $1 AND version = $2 AND build_status = 'success'",
                function_id, version, dependencies)
            if not status.endswith(" 1"):
                return False
            await notify_change(conn, "function", function_id)
        return True

    async def drop_rebuild(self, function_id: int, version: int) -> None:
        """Forget a pending or failed rebuild (the layers are back to the serving set)."""
        async with self._pool.acquire() as conn, conn.transaction():
            status = await conn.execute(
                "UPDATE function_versions SET rebuild_dependencies = NULL,"
                " rebuild_status = NULL, rebuild_log = NULL, rebuild_started_at = NULL"
                " WHERE function_id = $1 AND version = $2 AND rebuild_status IS NOT NULL",
                function_id, version)
            if status.endswith(" 1"):
                await notify_change(conn, "function", function_id)

    async def finish_rebuild(
        self, function_id: int, version: int, dependencies: list[str], *, ok: bool,
        log: str, duration_ms: int,
        also: Callable[[Any], Awaitable[Any]] | None = None,
    ) -> bool:
        """Record a rebuild's outcome if it is still the one pending for ``version``.

        A success makes ``dependencies`` the serving set (with the build's log and
        duration) in one statement; a failure keeps the serving set and records the log.
        ``also(conn)`` runs in the same transaction when this call recorded the outcome.
        """
        where = (" WHERE function_id = $1 AND version = $2 AND rebuild_status = 'building'"
                 " AND rebuild_dependencies = $3::jsonb")
        if ok:
            sql = ("UPDATE function_versions SET resolved_dependencies = rebuild_dependencies,"
                   " build_log = $4, build_duration_ms = $5, build_finished_at = now(),"
                   " rebuild_dependencies = NULL, rebuild_status = NULL, rebuild_log = NULL,"
                   " rebuild_started_at = NULL" + where)
            args: tuple[Any, ...] = (function_id, version, dependencies, log, duration_ms)
        else:
            sql = "UPDATE function_versions SET rebuild_status = 'failed', rebuild_log = $4" + where
            args = (function_id, version, dependencies, log)
        async with self._pool.acquire() as conn, conn.transaction():
            status = await conn.execute(sql, *args)
            if not status.endswith(" 1"):
                return False
            if also is not None:
                await also(conn)
            await notify_change(conn, "function", function_id)
        return True
