"""Pruning of expired idempotency keys and long-ended sessions."""

from __future__ import annotations

import uuid

import asyncpg

from gateway.services.maintenance import prune_once
from gateway.store.pool import create_pool


async def test_prune_removes_only_what_has_ended(database_url: str) -> None:
    pool = await create_pool(database_url, min_size=1, max_size=2)
    try:
        conn: asyncpg.Connection
        async with pool.acquire() as conn:
            for age_h, key in ((25, "old"), (1, "new")):
                await conn.execute(
                    "INSERT INTO idempotency_keys (owner, function_id, key, request_hash, job_id,"
                    " created_at) VALUES ('o', 1, $1, 'h', $2,"
                    " now() - make_interval(hours => $3))", key, uuid.uuid4(), age_h)
            for age_h in (30, 1):
                await conn.execute(
                    "INSERT INTO sessions (id, owner, function_id, language_title, version,"
                    " timeout_ms, expires_at) VALUES ($1, 'o', 1, 'python-f', 1, 1000,"
                    " now() - make_interval(hours => $2))", uuid.uuid4(), age_h)
        assert await prune_once(pool) == {"idempotency_keys": 1, "sessions": 1}
        assert await pool.fetchval("SELECT key FROM idempotency_keys") == "new"
        assert await pool.fetchval("SELECT count(*) FROM sessions") == 1
    finally:
        await pool.close()
