"""Head-of-line blocking: a backlog of a function with max_concurrency 1 does not fill the
job runner, so another function's async job runs at once instead of behind it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import asyncpg

from tests.conftest import running_app, wait_for
from tests.integration.test_functions_api import create
from tests.integration.test_invoke_api import RUNNER, invoke

A_RUN_S = 2.0
SLOW = f"import time\ndef handler(event):\n    time.sleep({A_RUN_S})\n    return 'a'\n"
FAST = "def handler(event):\n    return 'b'\n"


async def test_a_narrow_functions_backlog_does_not_hold_up_other_functions(
        settings_factory: Callable[..., Any], database_url: str) -> None:
    # A runner of 8: on the old claim, A's backlog took all 8 slots (1 running, 7 waiting
    # on A's gate) and B's job waited behind the next ~20 of A's runs.
    settings = settings_factory(async_job_concurrency=8, shutdown_grace_s=1.0)
    async with running_app(settings) as client:
        services = client.app.state.services  # type: ignore[attr-defined]
        a = (await create(client, name="narrow", code=SLOW, max_concurrency=1,
                          timeout_ms=20_000)).json()
        assert (await create(client, name="other", code=FAST)).status_code == 201
        for i in range(30):
            r = await invoke(client, "narrow", {"i": i}, path="invoke-async")
            assert r.status_code == 202
        b_id = (await invoke(client, "other", {}, path="invoke-async")).json()["id"]

        most_running = most_at_gate = 0
        done = asyncio.Event()

        async def watch() -> None:
            nonlocal most_running, most_at_gate
            conn = await asyncpg.connect(database_url)
            try:
                while not done.is_set():
                    running = await conn.fetchval(
                        "SELECT count(*) FROM jobs WHERE function_id = $1"
                        " AND status = 'running'", a["id"])
                    most_running = max(most_running, running)
                    at_gate = services.dispatcher.gates.in_use().get(a["id"], 0)
                    most_at_gate = max(most_at_gate, at_gate)
                    await asyncio.sleep(0.02)
            finally:
                await conn.close()

        watching = asyncio.create_task(watch())

        async def b_finished() -> bool:
            job = (await client.get(f"/api/v1/jobs/{b_id}", headers=RUNNER)).json()
            return job["status"] == "success"

        try:
            # Within one of A's runs and a few seconds (B's cold start), not A's backlog.
            await wait_for(b_finished, timeout_s=A_RUN_S + 6)
        finally:
            done.set()
            with contextlib.suppress(Exception):
                await watching
        # This replica holds (runs or queues at A's gate) one of A's jobs at a time; in
        # the database a second may show `running` for the moment the previous one's
        # outcome is being written after its slot fell free.
        assert most_at_gate <= 1
        assert most_running <= 2
