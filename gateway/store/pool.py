"""The asyncpg connection pool, with jsonb handled by orjson."""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson

__all__ = ["create_pool", "init_connection"]


def _encode_json(value: Any) -> str:
    return orjson.dumps(value).decode()


async def init_connection(conn: Any) -> None:
    """Make jsonb and json columns take and give Python values."""
    for name in ("jsonb", "json"):
        await conn.set_type_codec(
            name, schema="pg_catalog", encoder=_encode_json, decoder=orjson.loads, format="text"
        )


async def _keep_session(conn: Any) -> None:
    """Release without asyncpg's reset query (a round trip on every release).

    asyncpg still rolls back an open transaction. Pooled connections never keep session
    state: no SET, LISTEN (listeners have connections of their own) or advisory lock
    outliving its ``finally``.
    """


async def create_pool(dsn: str, *, min_size: int = 2, max_size: int = 10,
                      wait_for_flush: bool = True) -> Any:
    """Open a pool against ``dsn``; raises ``OSError``/``asyncpg`` errors when unreachable.

    ``wait_for_flush=False``: its commits return before the WAL reaches the disk
    (``synchronous_commit=off``), for writes whose loss in a crash of PostgreSQL itself
    (the last fraction of a second) loses nothing anyone was promised. Still atomic, and
    visible to every other session at once."""
    settings = None if wait_for_flush else {"synchronous_commit": "off"}
    return await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, init=init_connection, command_timeout=60,
        reset=_keep_session, server_settings=settings,
    )
