"""The job claim takes, per function, no more jobs than it has free slots on this replica
(its max_concurrency less the slots in use here), oldest first, round-robin across
functions."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest

from gateway.store.jobs import JobStore
from gateway.store.pool import create_pool

GONE = 987654321  # a function id with no row: the function was deleted


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[Any]:
    pool = await create_pool(database_url, min_size=1, max_size=2)
    try:
        yield pool
    finally:
        await pool.close()


async def _function(pool: Any, name: str, max_concurrency: int) -> int:
    return int(await pool.fetchval(
        "INSERT INTO functions (name, runtime, timeout_ms, memory_mb, max_concurrency,"
        " min_warm, cache_ttl) VALUES ($1, 'python', 1000, 128, $2, 0, 0) RETURNING id",
        name, max_concurrency))


async def _pending(pool: Any, function_id: int, count: int) -> list[uuid.UUID]:
    """``count`` due pending jobs, the first the oldest."""
    ids = [uuid.uuid4() for _ in range(count)]
    for age, ident in enumerate(ids):
        await pool.execute(
            "INSERT INTO jobs (id, function_id, function_name, version, trigger, status,"
            " run_after) VALUES ($1, $2, 'f', 1, 'async', 'pending',"
            " now() - make_interval(secs => $3))",
            ident, function_id, 100.0 - age)
    return ids


def _by_function(claimed: list[Any]) -> Counter[int]:
    return Counter(job.function_id for job, _ in claimed)


async def test_the_claim_takes_only_jobs_whose_function_has_a_free_slot(pool: Any) -> None:
    jobs = JobStore(pool)
    narrow = await _function(pool, "narrow", 1)
    wide = await _function(pool, "wide", 3)
    narrow_jobs = await _pending(pool, narrow, 5)
    wide_jobs = await _pending(pool, wide, 5)
    await _pending(pool, GONE, 2)

    # Round-robin: a small claim takes each function's oldest before anyone's second.
    first = await jobs.claim(3, 30.0)
    assert _by_function(first) == {narrow: 1, wide: 1, GONE: 1}
    held = {narrow: 1, wide: 1}  # the runner now holds these at their gates
    assert {uuid.UUID(j.id) for j, _ in first} >= {narrow_jobs[0], wide_jobs[0]}
    for job, token in first:  # the lease and attempt a claim always wrote
        assert job.status == "running" and job.attempts == 1 and job.started_at is not None
        row = await pool.fetchrow("SELECT lease_token, lease_expires_at > now() AS live"
                                  " FROM jobs WHERE id = $1", uuid.UUID(job.id))
        assert str(row["lease_token"]) == token and row["live"]

    # With room for many more, narrow (1 slot, in use) gets none, wide its 2 free slots.
    second = await jobs.claim(32, 30.0, held)
    assert _by_function(second) == {wide: 2, GONE: 1}
    assert {uuid.UUID(j.id) for j, _ in second if j.function_id == wide} == set(wide_jobs[1:3])

    # Everything busy: nothing is claimed, however much room the runner has.
    assert await jobs.claim(32, 30.0, {narrow: 1, wide: 3}) == []
    # A slot falls free: narrow's next oldest, and only one.
    third = await jobs.claim(32, 30.0, {narrow: 0, wide: 3})
    assert [uuid.UUID(j.id) for j, _ in third] == [narrow_jobs[1]]
    # In-use counts above the limit (max_concurrency lowered) claim nothing either.
    assert await jobs.claim(32, 30.0, {narrow: 5, wide: 9}) == []
    pending = await pool.fetchval("SELECT count(*) FROM jobs WHERE status = 'pending'")
    assert pending == 3 + 2
