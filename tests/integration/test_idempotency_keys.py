"""Idempotency keys against a real PostgreSQL: a second request with a key finds the job the
key is bound to, even when another connection removes the binding while it looks."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg

from gateway.store.jobs import JobStore, NewJob
from tests.conftest import wait_for

_READ = "SELECT job_id, request_hash FROM idempotency_keys"


class _Conn:
    """A real connection whose read of a key's binding runs ``before_read`` first."""

    def __init__(self, conn: Any, before_read: Callable[[], Awaitable[None]]) -> None:
        self._conn = conn
        self._before_read = before_read

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    async def fetchrow(self, query: str, *args: Any) -> Any:
        if query.startswith(_READ):
            await self._before_read()
        return await self._conn.fetchrow(query, *args)


class _Pool(_Conn):
    """The pool, handing out connections that run the same hook."""

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[_Conn]:
        async with self._conn.acquire() as conn:
            yield _Conn(conn, self._before_read)


def _job() -> NewJob:
    return NewJob(id=uuid.uuid4(), function_id=1, function_name="f", version=1,
                  trigger="http", owner="alice", subject="alice", event={}, context={})


async def test_binding_removed_while_a_retry_reads_it_still_answers_the_bound_job(
    pool: Any, database_url: str,
) -> None:
    first = _job()
    created, job_id, _ = await JobStore(pool).insert_idempotent(
        first, key="k", request_hash="h1", running_lease_s=None)
    assert created and job_id == str(first.id)

    other = await asyncpg.connect(database_url)
    deleting: list[asyncio.Task[Any]] = []

    async def remove_binding() -> None:
        # Another connection (pruning, or a request forgetting its binding) deletes the key
        # between the conflict and the read. Proceed once it is done or waits on our lock.
        if deleting:
            return
        deleting.append(asyncio.create_task(other.execute(
            "DELETE FROM idempotency_keys WHERE key = 'k'")))
        pid = other.get_server_pid()

        async def done_or_blocked() -> bool:
            if deleting[0].done():
                return True
            waiting = await pool.fetchval(
                "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $1", pid)
            return bool(waiting)

        await wait_for(done_or_blocked)

    try:
        created, job_id, stored = await JobStore(_Pool(pool, remove_binding)).insert_idempotent(
            _job(), key="k", request_hash="h2", running_lease_s=None)
        assert deleting, "the read of the binding was never reached"
        await asyncio.wait_for(deleting[0], 10)
    finally:
        await other.close()
    assert (created, job_id, stored) == (False, str(first.id), "h1")
