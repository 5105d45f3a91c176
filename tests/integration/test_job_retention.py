"""Job retention: maintenance deletes finished jobs and their log lines by age and by count
per function, never unfinished ones or one an Idempotency-Key or a delivery still needs."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
import pytest

from gateway.services.maintenance import JobRetention, prune_once
from gateway.store.retention import JOB_RETENTION_LOCK, JobRetentionStore
from gateway.store.triggers import TriggerStore
from tests.conftest import running_app, wait_for
from tests.integration.test_functions_api import create
from tests.integration.test_invoke_api import invoke

DAY_S = 86400.0
# Long enough that the count limit never bites where a test is about age, and back.
BY_AGE = JobRetention(max_age_days=1.0, max_per_function=1_000_000)


async def add_job(pool: Any, *, status: str = "success", function_id: int = 1,
                  finished_h_ago: float | None = 0.0, created_h_ago: float | None = None,
                  log_lines: int = 2) -> uuid.UUID:
    """A job row as the dispatcher leaves it, finished ``finished_h_ago`` hours ago (None:
    unfinished), with ``log_lines`` stored lines."""
    job_id = uuid.uuid4()
    created = created_h_ago if created_h_ago is not None else (finished_h_ago or 0.0)
    await pool.execute(
        "INSERT INTO jobs (id, function_id, function_name, version, trigger, status,"
        " timestamp, finished_at)"
        " VALUES ($1, $2::bigint, 'f' || $2::bigint::text, 1, 'invoke', $3,"
        " now() - make_interval(secs => $4),"
        " CASE WHEN $5::float8 IS NULL THEN NULL"
        "      ELSE now() - make_interval(secs => $5::float8) END)",
        job_id, function_id, status, created * 3600.0,
        None if finished_h_ago is None else finished_h_ago * 3600.0)
    await pool.executemany(
        "INSERT INTO job_logs (job_id, function_id, timestamp, stream, message)"
        " VALUES ($1, $2, now(), 'stdout', $3)",
        [(job_id, function_id, f"line {i}") for i in range(log_lines)])
    return job_id


async def job_ids(pool: Any) -> set[uuid.UUID]:
    return {r["id"] for r in await pool.fetch("SELECT id FROM jobs")}


async def logged_job_ids(pool: Any) -> set[uuid.UUID]:
    return {r["job_id"] for r in await pool.fetch("SELECT DISTINCT job_id FROM job_logs")}


async def test_finished_jobs_older_than_the_retention_go_with_their_log_lines(
        pool: Any) -> None:
    old_success = await add_job(pool, finished_h_ago=30)
    old_failed = await add_job(pool, status="failed", finished_h_ago=25)
    recent = await add_job(pool, finished_h_ago=20)
    # Unfinished jobs stay however old: a pending job waits for a runner, a running one
    # is someone's work in progress.
    old_pending = await add_job(pool, status="pending", finished_h_ago=None, created_h_ago=90)
    old_running = await add_job(pool, status="running", finished_h_ago=None, created_h_ago=90)

    counts = await prune_once(pool, jobs=BY_AGE)

    assert counts["jobs_by_age"] == 2 and counts["jobs_by_count"] == 0
    assert counts["job_log_lines"] == 4
    assert await job_ids(pool) == {recent, old_pending, old_running}
    assert await logged_job_ids(pool) == {recent, old_pending, old_running}
    assert old_success not in await logged_job_ids(pool)
    assert old_failed not in await logged_job_ids(pool)


async def test_fractions_of_a_day_count(pool: Any) -> None:
    ten_minutes = await add_job(pool, finished_h_ago=10 / 60)
    two_minutes = await add_job(pool, finished_h_ago=2 / 60)
    await prune_once(pool, jobs=JobRetention(max_age_days=0.0035, max_per_function=100))
    assert await job_ids(pool) == {two_minutes}
    assert ten_minutes not in await logged_job_ids(pool)


async def test_only_the_newest_finished_jobs_of_each_function_are_kept(pool: Any) -> None:
    busy = [await add_job(pool, function_id=1, finished_h_ago=10 - i * 0.5) for i in range(9)]
    waiting = [await add_job(pool, function_id=1, status="pending", finished_h_ago=None,
                             created_h_ago=20) for _ in range(2)]
    running = await add_job(pool, function_id=1, status="running", finished_h_ago=None,
                            created_h_ago=20)
    quiet = [await add_job(pool, function_id=2, finished_h_ago=10) for _ in range(3)]

    # Batches of two: the walk takes several statements per function.
    pruned = await JobRetentionStore(pool, batch_size=2).prune(
        max_age_s=30 * DAY_S, keep_per_function=4, key_ttl_s=DAY_S)

    assert pruned is not None and pruned.jobs_by_count == 5 and pruned.jobs_by_age == 0
    assert pruned.job_log_lines == 10
    assert await job_ids(pool) == {*busy[-4:], *waiting, running, *quiet}
    assert await logged_job_ids(pool) == {*busy[-4:], *waiting, running, *quiet}


async def test_a_job_a_pending_delivery_renders_is_kept_until_it_is_sent(pool: Any) -> None:
    job = await add_job(pool, finished_h_ago=48)
    await pool.execute(
        "INSERT INTO webhook_deliveries (kind, url, event, job_id, status)"
        " VALUES ('callback', 'https://example.com/cb', 'job.succeeded', $1, 'pending')", job)
    await prune_once(pool, jobs=BY_AGE)
    assert await job_ids(pool) == {job}
    await pool.execute("UPDATE webhook_deliveries SET status = 'delivered'")
    await prune_once(pool, jobs=BY_AGE)
    assert await job_ids(pool) == set()


async def test_a_round_is_skipped_while_another_replica_prunes(
        pool: Any, database_url: str) -> None:
    old = await add_job(pool, finished_h_ago=48)
    other: asyncpg.Connection = await asyncpg.connect(database_url)
    try:
        assert await other.fetchval("SELECT pg_try_advisory_lock($1)", JOB_RETENTION_LOCK)
        counts = await prune_once(pool, jobs=BY_AGE)
        assert "jobs_by_age" not in counts and await job_ids(pool) == {old}
    finally:
        await other.close()
    assert (await prune_once(pool, jobs=BY_AGE))["jobs_by_age"] == 1
    # The round let go of its lock (a session lock is re-entrant: the same pooled
    # connection would take it again, so look at pg_locks).
    assert await _retention_unlocked(pool)


async def test_the_jobs_table_stops_growing_under_continued_inserts(pool: Any) -> None:
    """Each round: 40 jobs finish (two functions, some unfinished beside them), a
    maintenance round runs, and half a day passes. With a day's retention and 25 per
    function, the table levels off instead of growing with every round."""
    sizes = []
    for _ in range(8):
        for i in range(40):
            await add_job(pool, function_id=1 + i % 2, log_lines=1)
        await add_job(pool, status="pending", finished_h_ago=None)
        await prune_once(pool, jobs=JobRetention(max_age_days=1.0, max_per_function=25))
        sizes.append(await pool.fetchval("SELECT count(*) FROM jobs WHERE status = 'success'"))
        await pool.execute("UPDATE jobs SET finished_at = finished_at - interval '12 hours',"
                           " timestamp = timestamp - interval '12 hours'")
    assert max(sizes) <= 50, sizes
    assert sizes[2:] == [sizes[2]] * len(sizes[2:]), sizes
    assert await pool.fetchval("SELECT count(*) FROM jobs WHERE status = 'pending'") == 8
    assert await pool.fetchval(
        "SELECT count(*) FROM job_logs l WHERE NOT EXISTS"
        " (SELECT 1 FROM jobs j WHERE j.id = l.job_id)") == 0


async def test_a_job_behind_a_live_idempotency_key_still_answers_the_repeated_call(
        settings_factory: Callable[..., Any], pool: Any) -> None:
    async with running_app(settings_factory()) as client:
        assert (await create(client, name="idem")).status_code == 201
        key = {"Idempotency-Key": "order-7"}
        first = await invoke(client, "idem", {"n": 1}, headers=key)
        assert first.status_code == 200, first.text
        expired_key = await invoke(client, "idem", {"n": 2}, headers={"Idempotency-Key": "e"})
        plain = await invoke(client, "idem", {"n": 3})
        # Ten days pass for the jobs; the first key was used an hour ago, the other a day
        # and an hour ago (the key has expired and nothing answers with its job any more).
        await pool.execute("UPDATE jobs SET finished_at = now() - interval '10 days'")
        await pool.execute("UPDATE idempotency_keys SET created_at = now() -"
                           " CASE key WHEN 'e' THEN interval '25 hours' ELSE interval '1 hour'"
                           " END")

        counts = await prune_once(pool, jobs=BY_AGE)

        assert counts["jobs_by_age"] == 2
        kept = {str(i) for i in await job_ids(pool)}
        assert kept == {first.json()["id"]}
        assert expired_key.json()["id"] not in kept and plain.json()["id"] not in kept
        again = await invoke(client, "idem", {"n": 1}, headers=key)
        assert again.status_code == 200, again.text
        assert again.json()["id"] == first.json()["id"] and again.json()["result"] == {"n": 1}


async def test_the_gateway_prunes_old_jobs_in_the_background(
        settings_factory: Callable[..., Any], pool: Any) -> None:
    await add_job(pool, finished_h_ago=2)
    fresh = await add_job(pool, finished_h_ago=0)
    await add_fires(pool, 424242, [0, 30])  # a deleted trigger's: the older one goes
    # An hour's retention: maintenance runs when the gateway starts.
    async with running_app(settings_factory(job_retention_days=1 / 24)) as client:
        async def counted() -> bool:
            text = (await client.get("/metrics")).text
            return ('fngate_pruned_rows_total{kind="jobs_by_age"} 1.0' in text
                    and 'fngate_pruned_rows_total{kind="cron_fires"} 1.0' in text)

        await wait_for(counted, timeout_s=20)
        assert await job_ids(pool) == {fresh}
        assert await fire_ages_h(pool, 424242) == [0]


async def test_a_cancelled_round_leaves_no_lock_behind(pool: Any, database_url: str) -> None:
    """A round cancelled mid-statement (shutdown) must not leave its advisory lock on a
    pooled connection: every later round, on every replica, would skip."""
    for _ in range(20):
        await add_job(pool, finished_h_ago=48, log_lines=0)
    blocker: asyncpg.Connection = await asyncpg.connect(database_url)
    try:
        # The round's first batch deletes log lines: it waits on this table lock.
        await blocker.execute("BEGIN; LOCK TABLE job_logs IN ACCESS EXCLUSIVE MODE")
        task = asyncio.create_task(JobRetentionStore(pool).prune(
            max_age_s=DAY_S, keep_per_function=100, key_ttl_s=DAY_S))
        await wait_for(lambda: _retention_locked(pool))
        await wait_for(lambda: _waiting_on_a_lock(pool))
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await blocker.execute("ROLLBACK")
    finally:
        await blocker.close()
    await wait_for(lambda: _retention_unlocked(pool))
    assert (await prune_once(pool, jobs=BY_AGE))["jobs_by_age"] == 20


async def _retention_locked(pool: Any) -> bool:
    return bool(await pool.fetchval(
        "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1"
        " AND granted AND ((classid::bigint << 32) | objid::bigint) = $1)",
        JOB_RETENTION_LOCK))


async def _retention_unlocked(pool: Any) -> bool:
    return not await _retention_locked(pool)


async def _waiting_on_a_lock(pool: Any) -> bool:
    return bool(await pool.fetchval(
        "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        " AND datname = current_database())"))


async def add_fires(pool: Any, trigger_id: int, hours_ago: list[float]) -> None:
    await pool.executemany(
        "INSERT INTO cron_fires (trigger_id, scheduled_time, job_id)"
        " VALUES ($1, date_trunc('second', now()) - make_interval(secs => $2), $3)",
        [(trigger_id, h * 3600.0, uuid.uuid4()) for h in hours_ago])


async def fire_ages_h(pool: Any, trigger_id: int) -> list[float]:
    rows = await pool.fetch(
        "SELECT round(extract(epoch FROM date_trunc('second', now()) - scheduled_time)"
        " / 3600, 1)::float8 AS h FROM cron_fires WHERE trigger_id = $1"
        " ORDER BY scheduled_time DESC", trigger_id)
    return [r["h"] for r in rows]


async def test_old_cron_fires_go_recent_ones_and_each_triggers_newest_stay(pool: Any) -> None:
    """Kept a day, or the job retention if longer; a live trigger's newest fire always (a
    run_once catch-up starts from it: without it, that fire would run again)."""
    function_id = await pool.fetchval(
        "INSERT INTO functions (name, runtime, timeout_ms, memory_mb, max_concurrency,"
        " min_warm, cache_ttl) VALUES ('ticker', 'python', 1000, 128, 1, 0, 0) RETURNING id")
    busy, quiet = [await pool.fetchval(
        "INSERT INTO triggers (function_id, type, config) VALUES ($1, 'cron',"
        " '{\"schedule\": \"0 * * * *\"}') RETURNING id", function_id) for _ in range(2)]
    deleted = busy + quiet + 1000  # its trigger is gone: nothing to keep for it
    await add_fires(pool, busy, [0, 1, 23, 25, 30, 50])
    await add_fires(pool, quiet, [40, 60])
    await add_fires(pool, deleted, [1, 30])
    # A retention shorter than a day keeps a day.
    counts = await prune_once(pool, jobs=JobRetention(max_age_days=0.1,
                                                      max_per_function=1_000_000))
    assert counts["cron_fires"] == 3 + 1 + 1
    assert await fire_ages_h(pool, busy) == [0, 1, 23]
    assert await fire_ages_h(pool, quiet) == [40]
    assert await fire_ages_h(pool, deleted) == [1]
    # A longer job retention keeps the fires that long.
    await add_fires(pool, busy, [47, 49])
    counts = await prune_once(pool, jobs=JobRetention(max_age_days=2.0,
                                                      max_per_function=1_000_000))
    assert counts["cron_fires"] == 1 and await fire_ages_h(pool, busy) == [0, 1, 23, 47]


async def test_cron_fires_are_deleted_in_batches(pool: Any) -> None:
    await add_fires(pool, 424242, [30 + i / 100 for i in range(25)])
    assert await TriggerStore(pool).prune_cron_fires(max_age_s=DAY_S, batch_size=10) == 25
    assert await fire_ages_h(pool, 424242) == []
