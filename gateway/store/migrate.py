"""Plain SQL migrations: ordered, idempotent, recorded in ``schema_migrations``."""

from __future__ import annotations

import functools
import logging
from importlib import resources
from typing import Any

import asyncpg

__all__ = ["migrate", "migrations_applied", "pending_migrations", "MIGRATIONS_LOCK"]

logger = logging.getLogger("fngate.migrate")

# One replica migrates at a time; the others wait on this advisory lock.
MIGRATIONS_LOCK = 0x666E67617465


def _migration_files() -> list[tuple[str, str]]:
    folder = resources.files("gateway.store") / "migrations"
    names = sorted(p.name for p in folder.iterdir() if p.name.endswith(".sql"))
    return [(name.removesuffix(".sql"), (folder / name).read_text()) for name in names]


@functools.cache
def _migration_names() -> frozenset[str]:
    return frozenset(name for name, _ in _migration_files())


async def _applied(conn: Any) -> set[str]:
    await conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
    )
    rows = await conn.fetch("SELECT name FROM schema_migrations")
    return {r["name"] for r in rows}


async def pending_migrations(conn: Any) -> list[str]:
    """Names of migrations not yet applied."""
    done = await _applied(conn)
    return [name for name, _ in _migration_files() if name not in done]


async def migrations_applied(conn: Any) -> bool:
    """Whether every migration this code ships is recorded; read-only (unlike
    :func:`pending_migrations`, it creates nothing), so probes may call it often."""
    try:
        rows = await conn.fetch("SELECT name FROM schema_migrations")
    except asyncpg.UndefinedTableError:
        return False
    return _migration_names() <= {r["name"] for r in rows}


async def migrate(pool: Any) -> list[str]:
    """Apply every pending migration, each in its own transaction; return their names."""
    applied: list[str] = []
    async with pool.acquire() as conn:
        await conn.execute("SELECT pg_advisory_lock($1)", MIGRATIONS_LOCK)
        try:
            done = await _applied(conn)
            for name, sql in _migration_files():
                if name in done:
                    continue
                async with conn.transaction():
                    await conn.execute(sql)
                    await conn.execute("INSERT INTO schema_migrations (name) VALUES ($1)", name)
                logger.info("migration applied", extra={"migration": name})
                applied.append(name)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATIONS_LOCK)
    return applied
