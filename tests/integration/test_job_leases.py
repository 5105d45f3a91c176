"""A run whose lease another replica took over stops running here, and what it would have
recorded never replaces the other replica's outcome: an async job, a sync call with an
idempotency key, and a queue message's job alike."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
import httpx

from gateway.store.jobs import JobStore, Outcome
from gateway.store.pool import create_pool
from tests.conftest import running_app, wait_for
from tests.integration.queue_support import (
    add_queue_trigger,
    consuming,
    message_count,
    publish,
    queue_jobs,
)
from tests.integration.test_functions_api import create
from tests.integration.test_invoke_api import RUNNER, invoke

SLOW = "import time\ndef handler(event):\n    time.sleep(60)\n    return {'by': 'first'}\n"


async def _create_slow(client: httpx.AsyncClient) -> int:
    created = await create(client, name="slow", code=SLOW, timeout_ms=120_000)
    assert created.status_code == 201, created.text
    function_id: int = created.json()["id"]
    return function_id


async def _running_job(database_url: str) -> str:
    """The id of the one job running under a lease, once there is one."""
    found: list[str] = []

    async def running() -> bool:
        conn = await asyncpg.connect(database_url)
        try:
            ids = await conn.fetch("SELECT id FROM jobs WHERE status = 'running'"
                                   " AND lease_token IS NOT NULL")
        finally:
            await conn.close()
        found[:] = [str(r["id"]) for r in ids]
        return len(found) == 1

    await wait_for(running, timeout_s=20)
    return found[0]


async def _steal(database_url: str, job_id: str) -> str:
    """What a second replica does when it takes the job over: a lease token of its own."""
    conn = await asyncpg.connect(database_url)
    try:
        stolen = await conn.fetchval(
            "UPDATE jobs SET lease_token = gen_random_uuid(), lost_leases = lost_leases + 1,"
            " attempts = attempts + 1, lease_expires_at = now() + interval '1 hour'"
            " WHERE id = $1 AND status = 'running' RETURNING lease_token", uuid.UUID(job_id))
    finally:
        await conn.close()
    assert stolen is not None
    return str(stolen)


async def _finish_as_taker(database_url: str, job_id: str, token: str) -> None:
    pool = await create_pool(database_url, min_size=1, max_size=2)
    try:
        now = dt.datetime.now(dt.UTC)
        outcome = Outcome(status="success", result={"by": "second"}, error=None,
                          started_at=now, finished_at=now, duration=1.0, cold_start=False)
        assert await JobStore(pool).finish(job_id, token, outcome, [])
    finally:
        await pool.close()


async def _message_outcomes(client: httpx.AsyncClient, queue: str) -> dict[str, int]:
    """``fngate_queue_messages_total`` of ``queue`` by outcome, as scraped."""
    counts: dict[str, int] = {}
    for line in (await client.get("/metrics")).text.splitlines():
        if line.startswith("fngate_queue_messages_total") and f'queue="{queue}"' in line:
            outcome = line.split('outcome="', 1)[1].split('"', 1)[0]
            counts[outcome] = int(float(line.rsplit(" ", 1)[1]))
    return {k: v for k, v in counts.items() if v}


def _at_gate(client: httpx.AsyncClient, function_id: int) -> Callable[[], int]:
    gates = client.app.state.services.dispatcher.gates  # type: ignore[attr-defined]
    return lambda: int(gates.current(function_id))


async def test_a_stolen_lease_cancels_the_run_and_keeps_the_takers_outcome(
    client: httpx.AsyncClient, database_url: str,
) -> None:
    services = client.app.state.services  # type: ignore[attr-defined]
    await _create_slow(client)
    job_id = (await invoke(client, "slow", {}, path="invoke-async")).json()["id"]
    await wait_for(lambda: services.runner.running == 1 and services.leases.held == 1,
                   timeout_s=20)

    stolen = await _steal(database_url, job_id)

    # The next heartbeat finds the lease gone: the run here stops long before its 60 s.
    await wait_for(lambda: services.runner.running == 0, timeout_s=20)
    assert services.leases.held == 0

    await _finish_as_taker(database_url, job_id, stolen)
    job = (await client.get(f"/api/v1/jobs/{job_id}", headers=RUNNER)).json()
    assert job["status"] == "success" and job["result"] == {"by": "second"}
    assert job["attempts"] == 2


async def test_a_sync_call_with_a_key_whose_lease_is_stolen_is_cancelled_and_answers_the_job(
    client: httpx.AsyncClient, database_url: str,
) -> None:
    """Its job ``running`` under a lease (the key's binding): a job runner elsewhere that
    took it over runs it; this replica stops its own run and answers the job as it stands,
    as a repeated key does."""
    services = client.app.state.services  # type: ignore[attr-defined]
    function_id = await _create_slow(client)
    call = asyncio.create_task(invoke(client, "slow", {}, headers={"Idempotency-Key": "k1"}))
    job_id = await _running_job(database_url)
    await wait_for(lambda: _at_gate(client, function_id)() == 1, timeout_s=20)

    stolen = await _steal(database_url, job_id)

    # Before the fix the call ran on for its 60 s and then answered the taker's job.
    async with asyncio.timeout(20):
        answered = await call
    assert answered.status_code == 200, answered.text
    body = answered.json()
    assert body["id"] == job_id and body["status"] == "running" and body["result"] is None
    assert _at_gate(client, function_id)() == 0 and services.leases.held == 0

    await _finish_as_taker(database_url, job_id, stolen)
    replay = await invoke(client, "slow", {}, headers={"Idempotency-Key": "k1"})
    assert replay.json()["id"] == job_id and replay.json()["result"] == {"by": "second"}


async def test_a_queue_run_whose_lease_is_stolen_is_cancelled_and_its_message_waits_for_the_taker(
    queue_settings: Callable[..., Any], amqp: Any, queue_name: str, database_url: str,
) -> None:
    """The message's job taken over by another delivery: this replica stops its run and
    sends its message back, whose redelivery finds the taker's outcome and acks it."""
    async with running_app(queue_settings()) as client:
        function_id = await _create_slow(client)
        trigger = await add_queue_trigger(client, "slow", {"queue": queue_name})
        await wait_for(lambda: trigger["id"] in consuming(client), timeout_s=5)
        await publish(amqp, queue_name, {}, message_id="only-once")
        job_id = await _running_job(database_url)
        await wait_for(lambda: _at_gate(client, function_id)() == 1, timeout_s=20)

        stolen = await _steal(database_url, job_id)

        # Before the fix the run held its slot and worker for its 60 s.
        await wait_for(lambda: _at_gate(client, function_id)() == 0, timeout_s=20)
        await _finish_as_taker(database_url, job_id, stolen)

        async def acked() -> bool:
            return (await _message_outcomes(client, queue_name)).get("ack") == 1

        await wait_for(acked, timeout_s=20)
        assert await _message_outcomes(client, queue_name) == {"requeue": 1, "ack": 1}
    jobs = await queue_jobs(database_url)
    assert [(str(j["id"]), j["result"]) for j in jobs] == [(job_id, '{"by": "second"}')]
    assert await message_count(amqp, queue_name) == 0
    assert await message_count(amqp, queue_name + ".dlq") == 0
