"""Job webhook events as a transactional outbox: a job's ``job.succeeded|failed``
deliveries are committed with its final state, so a gateway killed right after that
commit still has them delivered (by the next gateway), against real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import wait_for
from tests.e2e.serve import Gateway, clean_env
from tests.integration.test_functions_api import WRITER, create
from tests.integration.test_webhooks import (
    FAILS_ON_DEMAND,
    SECRET,
    add_webhook,
    receiving,
    signature,
)

# Held by the test: a job event's delivery row cannot be inserted meanwhile.
_HOLD = 712_012

# A fault for the test: inserting a job event's delivery waits for the test's advisory
# lock. With the outbox the job's final state waits with it (one statement); without it,
# the job is committed and its event is not.
_HOLD_JOB_EVENTS = f"""
CREATE FUNCTION hold_job_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.kind = 'webhook' AND NEW.event LIKE 'job.%' THEN
        PERFORM pg_advisory_xact_lock_shared({_HOLD});
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER hold_job_events BEFORE INSERT ON webhook_deliveries
    FOR EACH ROW EXECUTE FUNCTION hold_job_events();
"""


def _new_job(trigger: str = "invoke") -> Any:
    from gateway.store.jobs import NewJob

    return NewJob(id=uuid.uuid4(), function_id=1, function_name="f", version=1,
                  trigger=trigger, owner="", subject=None, event={}, context={})


def _outcome(status: str) -> Any:
    import datetime as dt

    from gateway.store.jobs import Outcome

    now = dt.datetime.now(dt.UTC)
    error = None if status == "success" else {"code": "RUNTIME_ERROR", "message": "m",
                                               "details": {}}
    return Outcome(status=status, result={"ok": status == "success"}, error=error,
                   started_at=now, finished_at=now, duration=1.0, cold_start=False)


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[Any]:
    from gateway.store.pool import create_pool

    pool = await create_pool(database_url, min_size=2, max_size=8)
    try:
        yield pool
    finally:
        await pool.close()


async def _job_events(pool: Any) -> dict[str, list[tuple[str, str]]]:
    """Each job's deliveries: ``{job_id: [(event, url), …]}`` (no delivery loop runs)."""
    rows = await pool.fetch("SELECT job_id, event, url FROM webhook_deliveries"
                            " WHERE kind = 'webhook' ORDER BY id")
    events: dict[str, list[tuple[str, str]]] = {}
    for r in rows:
        events.setdefault(str(r["job_id"]), []).append((r["event"], r["url"]))
    return events


async def test_every_final_state_is_written_with_its_deliveries(pool: Any) -> None:
    """No delivery loop runs here: the rows come from the job store's own statements,
    group-committed batches included, one per webhook subscribed to the event."""
    from gateway.store.jobs import JobStore
    from gateway.store.webhooks import WebhookStore

    hooks = WebhookStore(pool)
    await hooks.create(url="http://a.example/", events=["job.succeeded", "job.failed"],
                       secret=SECRET, created_by="root")
    await hooks.create(url="http://b.example/", events=["job.failed"], secret=SECRET,
                       created_by="root")
    await hooks.create(url="http://c.example/", events=["function.created"], secret=SECRET,
                       created_by="root")
    jobs = JobStore(pool)
    # Async jobs finished under their leases, concurrently (one batch statement).
    leased = [(_new_job(), status) for status in ["success", "failed"] * 4]
    tokens = [await jobs.insert_pending(new, running_lease_s=30) for new, _ in leased]
    assert all(await asyncio.gather(*(
        jobs.finish(str(new.id), token, _outcome(status), [])
        for (new, status), token in zip(leased, tokens, strict=True))))
    # Sync jobs written once, finished, concurrently.
    synced = [(_new_job(), status) for status in ["success", "failed"] * 4]
    await asyncio.gather(*(jobs.insert_finished(new, _outcome(status), [])
                           for new, status in synced))
    # Failed without a run, and a lost runner's job failed by the reaper.
    unrun = _new_job()
    token = await jobs.insert_pending(unrun, running_lease_s=30)
    assert await jobs.fail_now(str(unrun.id), token, {"code": "X", "message": "m"})
    lost = _new_job(trigger="queue")
    await jobs.start_keyed(lost, key=None, lease_s=0.01)
    await asyncio.sleep(0.05)
    assert str(lost.id) in await jobs.release_expired()

    events = await _job_events(pool)
    expected = {"job.succeeded": [("job.succeeded", "http://a.example/")],
                "job.failed": [("job.failed", "http://a.example/"),
                               ("job.failed", "http://b.example/")]}
    for new, status in [*leased, *synced, (unrun, "failed"), (lost, "failed")]:
        event = "job.succeeded" if status == "success" else "job.failed"
        assert sorted(events.pop(str(new.id), [])) == expected[event], (new.id, status)
    assert events == {}
    # A job that did not finish (a lost lease) has none.
    stale = _new_job()
    stale_token = await jobs.insert_pending(stale, running_lease_s=30)
    await jobs.retry_later(str(stale.id), stale_token, 5.0, {"code": "X"}, [])
    assert str(stale.id) not in await _job_events(pool)


async def test_a_final_state_is_not_committed_without_its_deliveries(pool: Any) -> None:
    """The same transaction: when the deliveries cannot be written, neither is the job's
    final state (the finish fails and the lease still holds, for a retry or a take-over)."""
    from gateway.store.jobs import JobStore
    from gateway.store.webhooks import WebhookStore

    await WebhookStore(pool).create(url="http://a.example/", events=["job.succeeded"],
                                    secret=SECRET, created_by="root")
    await pool.execute(
        "CREATE FUNCTION refuse_job_events() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN RAISE EXCEPTION 'no job events'; END $$;"
        " CREATE TRIGGER refuse_job_events BEFORE INSERT ON webhook_deliveries"
        " FOR EACH ROW EXECUTE FUNCTION refuse_job_events();")
    jobs = JobStore(pool)
    new = _new_job()
    token = await jobs.insert_pending(new, running_lease_s=30)
    with pytest.raises(asyncpg.RaiseError, match="no job events"):
        await jobs.finish(str(new.id), token, _outcome("success"), [])
    job = await jobs.get(str(new.id))
    assert job is not None and job.status == "running"


async def test_a_job_event_survives_a_kill_right_after_the_job_commits(
    database_url: str, tmp_path: Path
) -> None:
    """``kill -9`` of the gateway once the job's final state is committed, before its
    webhook was delivered (the receiver answers 500 until then); the next gateway delivers
    it: exactly the job's final state, with its delivery id, once."""
    env = {**clean_env(), "FNGATE_DATABASE_URL": database_url,
           "FNGATE_ALLOW_PRIVATE_CALLBACKS": "true", "FNGATE_WEBHOOK_POLL_S": "0.2",
           "FNGATE_WEBHOOK_RETRY_BACKOFF_S": "0.5",
           "FNGATE_WEBHOOK_TIMEOUT_S": "2", "FNGATE_RATE_LIMITS": "off",
           "FNGATE_JWT_SECRET": "test-secret-" + "x" * 40, "FNGATE_PREWARM_PER_RUNTIME": "1"}
    holder = await asyncpg.connect(database_url)
    async with receiving(default=500) as receiver:
        gateway = Gateway(tmp_path, env)
        try:
            await asyncio.to_thread(gateway.start)
            async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as first:
                await add_webhook(first, receiver.url, ["job.succeeded", "job.failed"])
                assert (await create(first, name="calc", code=FAILS_ON_DEMAND)).status_code \
                    == 201
                await holder.execute(_HOLD_JOB_EVENTS)
                await holder.execute("SELECT pg_advisory_lock($1)", _HOLD)
                r = await first.post("/api/v1/functions/calc/invoke-async",
                                     json={"fail": True}, headers=WRITER)
                assert r.status_code == 202, r.text
                job_id = r.json()["id"]

                async def committed() -> bool:
                    return await holder.fetchval("SELECT status FROM jobs WHERE id = $1",
                                                 uuid.UUID(job_id)) == "failed"

                async def final_or_held() -> bool:
                    """The job's final state committed, or its write waiting for _HOLD."""
                    status = await holder.fetchval("SELECT status FROM jobs WHERE id = $1",
                                                   uuid.UUID(job_id))
                    waiting = await holder.fetchval(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
                        " AND objid = $1 AND NOT granted", _HOLD)
                    return status == "failed" or waiting > 0

                await wait_for(final_or_held, timeout_s=60)
                if not await committed():
                    # With the outbox the job's final state waits with its event's row:
                    # let both be written, then kill as soon as they are committed.
                    await holder.execute("SELECT pg_advisory_unlock($1)", _HOLD)
                    await wait_for(committed, timeout_s=30)
                # Without it, the job was committed first and its event's row waits:
                # the kill comes before that row is written.
                gateway.kill()
                # A backend left waiting by the dead gateway would still write the row
                # once the lock is free; the crash this stands for never sent it.
                await holder.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE"
                    " locktype = 'advisory' AND objid = $1 AND NOT granted", _HOLD)
        finally:
            gateway.kill()
            await holder.close()  # the lock goes with it
        before = len(receiver.requests)
        receiver.default = 200
        try:
            await asyncio.to_thread(gateway.start)

            # A delivery the first gateway had claimed is taken over when its lease
            # (FNGATE_WEBHOOK_TIMEOUT_S + 30 s) runs out.
            await wait_for(lambda: len(receiver.requests) > before, timeout_s=90)
            async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as second:
                job = (await second.get(f"/api/v1/jobs/{job_id}", headers=WRITER)).json()
            await asyncio.sleep(1.0)  # a duplicate event would come within the poll
        finally:
            gateway.kill()
    received = receiver.requests
    ids = {r.headers["x-fngate-delivery"] for r in received}
    assert len(ids) == 1, ids  # one event (its retries share the id)
    last = received[-1]
    assert last.headers["x-fngate-event"] == "job.failed"
    assert last.headers["x-fngate-signature"] == signature(SECRET, last.body)
    body = json.loads(last.body)
    assert body["event"] == "job.failed"
    assert body["data"] == job and job["status"] == "failed"
    assert body["data"]["id"] == job_id
