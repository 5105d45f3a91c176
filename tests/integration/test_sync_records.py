"""A sync invocation's record is written without waiting for the WAL flush, unless
``FNGATE_DURABLE_SYNC_RECORDS``; every other write always waits (docs/configuration.md,
Durability)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import auth, running_app
from tests.integration.test_functions_api import WRITER, create

ECHO = "def handler(event):\n    return event\n"


async def _commit_mode(pool: Any) -> str:
    async with pool.acquire() as conn:
        mode: str = await conn.fetchval("SHOW synchronous_commit")
        return mode


@pytest.mark.parametrize(("durable", "records_mode"), [(False, "off"), (True, "on")])
async def test_sync_records_skip_the_flush_unless_asked_and_nothing_else_does(
    settings_factory: Callable[..., Any], durable: bool, records_mode: str,
) -> None:
    async with running_app(settings_factory(durable_sync_records=durable)) as client:
        assert (await create(client, name="rec", code=ECHO)).status_code == 201
        r = await client.post("/api/v1/functions/rec/invoke", json={"a": 1}, headers=WRITER)
        assert r.status_code == 200 and r.json()["status"] == "success", r.text
        # Committed before the answer, flushed or not: the next read finds it.
        job = await client.get(f"/api/v1/jobs/{r.json()['id']}", headers=auth("read:jobs"))
        assert job.status_code == 200 and job.json()["result"] == {"a": 1}
        jobs = client.app.state.services.jobs  # type: ignore[attr-defined]
        assert await _commit_mode(jobs._records) == records_mode
        # Async jobs, keys, leases, functions: the main pool always waits for the flush.
        assert await _commit_mode(jobs._pool) == "on"
        assert (jobs._records is jobs._pool) == durable
