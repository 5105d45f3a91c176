"""Group commit of job rows against a real PostgreSQL: concurrent starts and finishes of
queue jobs share statements, and each caller still gets its own row's answer."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from executors.models import LogLine
from gateway.store.jobs import JobStore, NewJob, Outcome
from gateway.store.pool import create_pool


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[JobStore]:
    pool = await create_pool(database_url, min_size=1, max_size=4)
    try:
        yield JobStore(pool)
    finally:
        await pool.close()


def _job(n: int) -> NewJob:
    return NewJob(id=uuid.uuid4(), function_id=1, function_name="f", version=1,
                  trigger="queue", owner="", subject=None, event={"n": n}, context={})


def _spy(writer: Any) -> list[int]:
    sizes: list[int] = []
    real = writer._write_many

    async def counting(rows: list[Any]) -> Any:
        sizes.append(len(rows))
        return await real(rows)

    writer._write_many = counting
    return sizes


def _outcome(n: int) -> Outcome:
    now = dt.datetime.now(dt.UTC)
    return Outcome(status="success", result={"n": n}, error=None, started_at=now,
                   finished_at=now, duration=1.0, cold_start=False)


async def test_concurrent_keyed_starts_insert_once_per_key(store: JobStore) -> None:
    sizes = _spy(store._starts)
    await store.start_keyed(_job(0), key="k-old", lease_s=30)
    jobs = [_job(n) for n in range(12)]
    # Keys: six new ones twice each, except that one of them already has a running job.
    keys = [f"k{n // 2}" if n != 11 else "k-old" for n in range(12)]
    started = await asyncio.gather(*(store.start_keyed(job, key=key, lease_s=30)
                                     for job, key in zip(jobs, keys, strict=True)))
    assert max(sizes) > 1, sizes
    by_key: dict[str, list[tuple[str, str | None]]] = {}
    for (job_id, token, _), key in zip(started, keys, strict=True):
        by_key.setdefault(key, []).append((job_id, token))
    for key, runs in by_key.items():
        tokens = [token for _, token in runs if token is not None]
        if key == "k-old":
            assert tokens == []  # a live lease elsewhere: nobody takes it over
        else:
            assert len(tokens) == 1  # exactly one delivery runs it
            assert len({job_id for job_id, _ in runs}) == 1  # the others find that job


async def test_concurrent_finishes_keep_each_lease_and_its_logs(store: JobStore) -> None:
    sizes = _spy(store._finishes)
    jobs = [_job(n) for n in range(8)]
    starts = [await store.start_keyed(job, key=None, lease_s=30) for job in jobs]
    tokens = [token for _, token, _ in starts]
    tokens[3] = str(uuid.uuid4())  # this runner lost its lease: its outcome is refused
    logs = [LogLine(stream="stdout", message=f"line {n}", timestamp=1.7e9) for n in range(8)]
    await store.finish(starts[0][0], str(starts[0][1]), _outcome(0), [logs[0]])
    stored = await asyncio.gather(*(
        store.finish(job_id, str(token), _outcome(n), [logs[n]] if n % 2 else [])
        for n, ((job_id, _, _), token) in enumerate(zip(starts, tokens, strict=True))
        if n > 0))
    assert max(sizes) > 1, sizes
    assert stored == [n != 3 for n in range(1, 8)]
    for n, (job_id, _, _) in enumerate(starts):
        job = await store.get(job_id)
        assert job is not None
        if n == 3:
            assert job.status == "running" and job.result is None
            continue
        assert job.status == "success" and job.result == {"n": n}
        lines = [line["message"] for line in
                 await store._pool.fetch("SELECT message FROM job_logs WHERE job_id = $1",
                                         uuid.UUID(job_id))]
        assert lines == ([f"line {n}"] if n == 0 or n % 2 else [])


async def test_a_lost_lease_finishing_beside_its_taker_is_refused(store: JobStore) -> None:
    """Two runners of one job (the first lost its lease) finish in the same batch: only
    the holder's outcome and logs count."""
    sizes = _spy(store._finishes)
    job_id, old_token, _ = await store.start_keyed(_job(0), key="taken", lease_s=30)
    new_token = uuid.uuid4()
    await store._pool.execute("UPDATE jobs SET lease_token = $2 WHERE id = $1",
                              uuid.UUID(job_id), new_token)
    other_id, other_token, _ = await store.start_keyed(_job(1), key=None, lease_s=30)
    head_id, head_token, _ = await store.start_keyed(_job(2), key=None, lease_s=30)

    def line(text: str) -> list[LogLine]:
        return [LogLine(stream="stdout", message=text, timestamp=1.7e9)]

    head = asyncio.create_task(store.finish(head_id, str(head_token), _outcome(2), []))
    await asyncio.sleep(0)  # the three below gather behind it into one batch
    results = await asyncio.gather(
        store.finish(job_id, str(old_token), _outcome(10), line("old runner")),
        store.finish(job_id, str(new_token), _outcome(11), line("new runner")),
        store.finish(other_id, str(other_token), _outcome(1), []))
    await head
    assert 3 in sizes, sizes
    assert results == [False, True, True]
    job = await store.get(job_id)
    assert job is not None and job.result == {"n": 11}
    lines = [r["message"] for r in await store._pool.fetch(
        "SELECT message FROM job_logs WHERE job_id = $1", uuid.UUID(job_id))]
    assert lines == ["new runner"]


async def test_large_results_are_split_into_batches_bounded_in_bytes(store: JobStore) -> None:
    """Results of 3 MiB each: at most two share a batch (MAX_BATCH_BYTES, 8 MiB), where
    a count bound alone would send all of them in one parameter; every row is stored."""
    sizes = _spy(store._finished)
    big = "x" * (3 * 1024 * 1024)
    jobs = [_job(n) for n in range(7)]
    now = dt.datetime.now(dt.UTC)

    def outcome(n: int) -> Outcome:
        return Outcome(status="success", result={"n": n, "data": big}, error=None,
                       started_at=now, finished_at=now, duration=1.0, cold_start=False)

    await asyncio.gather(*(store.insert_finished(job, outcome(n), [])
                           for n, job in enumerate(jobs)))
    assert sizes and max(sizes) == 2, sizes
    stored = await store._pool.fetch(
        "SELECT id, result->>'n' AS n, length(result->>'data') AS size FROM jobs")
    assert sorted((r["id"], int(r["n"]), r["size"]) for r in stored) == sorted(
        (job.id, n, len(big)) for n, job in enumerate(jobs))
