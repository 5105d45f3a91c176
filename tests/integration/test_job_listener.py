"""The job runner's ``LISTEN`` is retried when it fails after the connection was made."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
import pytest

from gateway.store.jobs import JOBS_CHANNEL
from tests.conftest import running_app, wait_for
from tests.integration.test_functions_api import create
from tests.integration.test_invoke_api import finished_job, invoke


class FlakyListen(asyncpg.Connection):  # type: ignore[misc]
    """A real connection whose first ``LISTEN fngate_jobs`` fails, as a statement
    cancelled by the server would, leaving the connection itself open."""

    failed: list[FlakyListen] = []

    async def add_listener(self, channel: str, callback: Any) -> None:
        if channel == JOBS_CHANNEL and not FlakyListen.failed:
            FlakyListen.failed.append(self)
            raise asyncpg.QueryCanceledError("canceling statement due to statement timeout")
        await super().add_listener(channel, callback)


async def test_a_listen_failing_after_connect_is_retried_and_wakes_the_runner(
    settings_factory: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    real_connect = asyncpg.connect

    async def connect(dsn: str, **kwargs: Any) -> Any:
        return await real_connect(dsn, connection_class=FlakyListen, **kwargs)

    FlakyListen.failed = []
    monkeypatch.setattr(asyncpg, "connect", connect)
    caplog.set_level(logging.WARNING, logger="fngate.jobs")
    # Polled only every 5 minutes: a job runs within the test's wait only if a
    # notification woke the runner.
    async with running_app(settings_factory(job_poll_s=300)) as c:
        await wait_for(lambda: FlakyListen.failed, timeout_s=10)
        assert (await create(c, name="woken")).status_code == 201
        job = (await invoke(c, "woken", {"n": 1}, path="invoke-async")).json()
        done = await finished_job(c, job["id"])
        assert done["status"] == "success" and done["result"] == {"n": 1}
    assert "job LISTEN failed" in caplog.text
    assert FlakyListen.failed[0].is_closed()  # the connection that could not listen
