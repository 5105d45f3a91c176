"""Repository for projects and the system (gateway-wide) environment and dependencies."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import asyncpg

from gateway.core.errors import Conflict
from gateway.core.quotas import Quotas
from gateway.core.secretbox import SecretBox
from gateway.store.functions import notify_change

__all__ = ["ProjectRecord", "ProjectStatus", "ProjectStore", "SYSTEM_ID"]

# The change announced for the system row: ``system:0``.
SYSTEM_ID = 0

ProjectStatus = Literal["running", "stopped"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ProjectRecord:
    """A project as stored, with the names of its functions."""

    id: int
    name: str
    description: str
    status: str
    environment: dict[str, str]
    dependencies: list[str]
    created_at: dt.datetime
    updated_at: dt.datetime
    functions: list[str] = field(default_factory=list)
    secret_names: list[str] = field(default_factory=list)
    quotas: Quotas = field(default_factory=Quotas)


def mask(environment: Mapping[str, str], *, reveal: bool) -> dict[str, str]:
    """Environment values as a caller may see them: ``"***"`` unless revealed."""
    return dict(environment) if reveal else {key: "***" for key in environment}


_SELECT = """
SELECT p.*, coalesce(array_agg(f.name ORDER BY f.name) FILTER (WHERE f.name IS NOT NULL),
                     '{}') AS function_names
FROM projects p LEFT JOIN functions f ON f.project = p.name
"""


def _record(row: Mapping[str, Any]) -> ProjectRecord:
    return ProjectRecord(
        id=row["id"], name=row["name"], description=row["description"], status=row["status"],
        environment=row["environment"], dependencies=row["dependencies"],
        created_at=row["created_at"], updated_at=row["updated_at"],
        functions=list(row["function_names"]), secret_names=list(row["secret_names"]),
        quotas=Quotas(max_functions=row["max_functions"],
                      max_concurrency=row["max_concurrency"],
                      max_memory_mb=row["max_memory_mb"]),
    )


class ProjectStore:
    """Projects and the system settings in PostgreSQL; every change is announced on
    ``fngate_changes`` (``project:<id>``, ``system:0``) in the transaction that makes it."""

    def __init__(self, pool: Any, *, box: SecretBox) -> None:
        self._pool = pool
        self._box = box

    async def list_all(self) -> list[ProjectRecord]:
        rows = await self._pool.fetch(_SELECT + " GROUP BY p.id ORDER BY p.name")
        return [_record(r) for r in rows]

    async def get(self, name: str) -> ProjectRecord | None:
        row = await self._pool.fetchrow(_SELECT + " WHERE p.name = $1 GROUP BY p.id", name)
        return None if row is None else _record(row)

    async def create(self, name: str, *, description: str, environment: dict[str, str],
                     dependencies: list[str], quotas: Quotas,
                     also: Callable[[Any], Awaitable[Any]] | None = None) -> ProjectRecord:
        """Insert a running project; 409 when the name is taken. ``also(conn)`` runs in
        the same transaction (its audit event)."""
        async with self._pool.acquire() as conn, conn.transaction():
            try:
                project_id = await conn.fetchval(
                    "INSERT INTO projects (name, description, environment, dependencies,"
                    " max_functions, max_concurrency, max_memory_mb)"
                    " VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                    name, description, environment, dependencies, quotas.max_functions,
                    quotas.max_concurrency, quotas.max_memory_mb)
            except asyncpg.UniqueViolationError as exc:
                raise Conflict(f"project '{name}' already exists") from exc
            if also is not None:
                await also(conn)
            await notify_change(conn, "project", project_id)
        created = await self.get(name)
        assert created is not None
        return created

    async def delete(self, name: str, *,
                     also: Callable[[Any], Awaitable[Any]] | None = None) -> bool:
        """Remove an empty project; 409 while it has functions. False when unknown.
        ``also(conn)`` runs in the same transaction when it was removed."""
        async with self._pool.acquire() as conn, conn.transaction():
            try:
                project_id = await conn.fetchval(
                    "DELETE FROM projects WHERE name = $1 RETURNING id", name)
            except asyncpg.ForeignKeyViolationError as exc:
                raise _has_functions(name) from exc
            if project_id is None:
                return False
            if also is not None:
                await also(conn)
            await notify_change(conn, "project", project_id)
        return True

    async def update(self, name: str, *, also: Callable[[Any], Awaitable[Any]] | None = None,
                     **values: Any) -> ProjectRecord | None:
        """Set ``status``, ``environment``, ``dependencies``, ``description`` or a quota
        (``max_functions``, ``max_concurrency``, ``max_memory_mb``); None when the project
        does not exist. ``also(conn)`` runs in the same transaction (its audit event)."""
        allowed = ("status", "environment", "dependencies", "description", "secrets",
                   "secret_names", "max_functions", "max_concurrency", "max_memory_mb")
        cols = [c for c in allowed if c in values]
        sets = [f"{c} = ${i + 2}" for i, c in enumerate(cols)]
        sets.append("updated_at = now()")
        async with self._pool.acquire() as conn, conn.transaction():
            project_id = await conn.fetchval(
                f"UPDATE projects SET {', '.join(sets)} WHERE name = $1 RETURNING id",
                name, *[values[c] for c in cols])
            if project_id is None:
                return None
            if also is not None:
                await also(conn)
            await notify_change(conn, "project", project_id)
        return await self.get(name)

    async def set_secrets(self, name: str, values: Mapping[str, str], *,
                          also: Callable[[Any], Awaitable[Any]] | None = None
                          ) -> ProjectRecord | None:
        """Replace the project's secrets whole (sealed); None when it does not exist."""
        return await self.update(name, secrets=self._box.seal(values),
                                 secret_names=sorted(values), also=also)

    async def system_secret_names(self) -> list[str]:
        """Names of the system's secrets."""
        names = await self._pool.fetchval(
            "SELECT secret_names FROM system_settings WHERE id = 0")
        return list(names or [])

    async def set_system_secrets(self, values: Mapping[str, str]) -> None:
        """Replace the system's secrets whole (sealed)."""
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO system_settings (id, secrets, secret_names) VALUES (0, $1, $2)"
                " ON CONFLICT (id) DO UPDATE SET secrets = $1, secret_names = $2,"
                " updated_at = now()",
                self._box.seal(values), sorted(values))
            await notify_change(conn, "system", SYSTEM_ID)

    async def system(self) -> tuple[dict[str, str], list[str]]:
        """The system environment and dependencies."""
        row = await self._pool.fetchrow(
            "SELECT environment, dependencies FROM system_settings WHERE id = 0")
        if row is None:
            return {}, []
        return dict(row["environment"]), list(row["dependencies"])

    async def set_system(self, *, environment: dict[str, str] | None = None,
                         dependencies: list[str] | None = None) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO system_settings (id, environment, dependencies)"
                " VALUES (0, coalesce($1, '{}'::jsonb), coalesce($2, '[]'::jsonb))"
                " ON CONFLICT (id) DO UPDATE SET"
                " environment = coalesce($1, system_settings.environment),"
                " dependencies = coalesce($2, system_settings.dependencies),"
                " updated_at = now()",
                environment, dependencies)
            await notify_change(conn, "system", SYSTEM_ID)

    async def function_ids(self, project: str | None = None) -> list[int]:
        """Ids of ``project``'s functions (of every function with None)."""
        rows = await self._pool.fetch(
            "SELECT id FROM functions WHERE $1::text IS NULL OR project = $1", project)
        return [int(r["id"]) for r in rows]

    async def stopped_function_ids(self) -> set[int]:
        """Ids of the functions whose project is stopped (their consumers pause)."""
        rows = await self._pool.fetch(
            "SELECT f.id FROM functions f JOIN projects p ON p.name = f.project"
            " WHERE p.status = 'stopped'")
        return {int(r["id"]) for r in rows}


def _has_functions(name: str) -> Conflict:
    return Conflict(f"project '{name}' still has functions; delete or move them first")

