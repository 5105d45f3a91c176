"""A job whose lease another replica took over stops running here, and what it would
have recorded never replaces the other replica's outcome."""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg
import httpx

from gateway.store.jobs import JobStore, Outcome
from gateway.store.pool import create_pool
from tests.conftest import wait_for
from tests.integration.test_functions_api import create
from tests.integration.test_invoke_api import RUNNER, invoke

SLOW = "import time\ndef handler(event):\n    time.sleep(60)\n    return {'by': 'first'}\n"


async def test_a_stolen_lease_cancels_the_run_and_keeps_the_takers_outcome(
    client: httpx.AsyncClient, database_url: str,
) -> None:
    services = client.app.state.services  # type: ignore[attr-defined]
    assert (await create(client, name="slow", code=SLOW, timeout_ms=120_000)).status_code == 201
    job_id = (await invoke(client, "slow", {}, path="invoke-async")).json()["id"]
    await wait_for(lambda: services.runner.running == 1 and services.leases.held == 1,
                   timeout_s=20)

    # A second replica: the lease ran out and it took the job over (a token of its own).
    conn = await asyncpg.connect(database_url)
    try:
        stolen = await conn.fetchval(
            "UPDATE jobs SET lease_token = gen_random_uuid(), lost_leases = lost_leases + 1,"
            " attempts = attempts + 1, lease_expires_at = now() + interval '1 hour'"
            " WHERE id = $1 AND status = 'running' RETURNING lease_token", uuid.UUID(job_id))
    finally:
        await conn.close()
    assert stolen is not None

    # The next heartbeat finds the lease gone: the run here stops long before its 60 s.
    await wait_for(lambda: services.runner.running == 0, timeout_s=20)
    assert services.leases.held == 0

    pool = await create_pool(database_url, min_size=1, max_size=2)
    try:
        other = JobStore(pool)
        now = dt.datetime.now(dt.UTC)
        outcome = Outcome(status="success", result={"by": "second"}, error=None,
                          started_at=now, finished_at=now, duration=1.0, cold_start=False)
        assert await other.finish(job_id, str(stolen), outcome, [])
    finally:
        await pool.close()
    job = (await client.get(f"/api/v1/jobs/{job_id}", headers=RUNNER)).json()
    assert job["status"] == "success" and job["result"] == {"by": "second"}
    assert job["attempts"] == 2
