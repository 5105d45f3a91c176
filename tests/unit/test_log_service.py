"""Unit tests of LogService (gateway/services/logs.py) over an in-memory store and a real
LogHub: the follower limit, the first batch, the end of a job's follow, and closing."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from executors.models import LogLine as RunLine
from gateway.core.errors import RateLimited
from gateway.core.models import FunctionRecord
from gateway.services import logs
from gateway.services.logs import LogQuery, LogService
from gateway.services.logstream import LogHub
from gateway.store.logs import StoredLine

NOW = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
JOB = uuid.UUID("f8c3de3d-1fea-4d7c-a8b0-29f63c4c3454")
LIVE_JOB = "0b6e1f6e-4c1f-4f53-9d2a-7a4c6bb1c2d3"


def _function() -> FunctionRecord:
    return FunctionRecord(
        id=1, name="f", project="default", runtime="python", execution_type="sync",
        description="", environment={}, timeout_ms=1000, memory_mb=128, max_concurrency=1,
        min_warm=0, cache_ttl=0, cache_scope="caller", max_retries=0, rate_limit=None,
        schema=None, examples=[], labels={}, active_version=1, created_at=NOW, updated_at=NOW)


class _Store:
    def __init__(self, lines: list[StoredLine]) -> None:
        self.lines = lines

    async def latest(self, function_id: int, **_: Any) -> list[StoredLine]:
        return self.lines

    async def last_id(self, function_id: int) -> int:
        return max((line.id for line in self.lines), default=0)

    async def after(self, function_id: int, after_id: int, **_: Any) -> list[StoredLine]:
        return [line for line in self.lines if line.id > after_id]


class _Jobs:
    async def get(self, job_id: str) -> None:
        return None  # unknown: it prints nothing more


def _stored(line_id: int, job_id: str, message: str) -> StoredLine:
    return StoredLine(id=line_id, timestamp=NOW, job_id=job_id, stream="stdout",
                      message=message)


def _service(hub: LogHub, lines: list[StoredLine]) -> LogService:
    return LogService(store=_Store(lines), jobs=_Jobs(),  # type: ignore[arg-type]
                      hub=hub, poll_s=0.01, keepalive_s=5.0)


def _query(job_id: uuid.UUID | None = None) -> LogQuery:
    return LogQuery(function_id=1, since=None, until=None, job_id=job_id, limit=100)


async def test_the_latest_lines_are_log_lines() -> None:
    lines = await _service(LogHub(), [_stored(1, str(JOB), "hi")]).latest(_query())
    assert [(str(line.job_id), line.message) for line in lines] == [(str(JOB), "hi")]


async def test_a_follower_past_the_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logs, "MAX_FOLLOWERS", 0)
    hub = LogHub()
    with pytest.raises(RateLimited) as caught:
        _service(hub, []).follow(_function(), _query())
    assert caught.value.details == {"max_followers": 0}
    assert hub.subscribers(1) == 0


async def test_a_follow_starts_with_stored_then_live_lines_and_closes_its_subscription(
) -> None:
    hub = LogHub()
    with hub.run(1, LIVE_JOB) as publish:
        publish(RunLine(timestamp=NOW.timestamp(), stream="stderr", message="live"))
        stored = [_stored(1, str(JOB), "stored"), _stored(2, LIVE_JOB, "stored live")]
        follow = _service(hub, stored).follow(_function(), _query())
        first = await anext(follow)
        assert hub.subscribers(1) == 1
        # A running job's stored copies are skipped: its lines come live.
        assert [line.message for line in first or []] == ["stored", "live"]
        await follow.aclose()
    assert hub.subscribers(1) == 0


async def test_a_follow_never_iterated_holds_no_subscription() -> None:
    hub = LogHub()
    follow = _service(hub, []).follow(_function(), _query())
    assert hub.subscribers(1) == 0
    await follow.aclose()
    assert hub.subscribers(1) == 0


async def test_a_follow_of_a_finished_job_ends() -> None:
    hub = LogHub()
    follow = _service(hub, [_stored(1, str(JOB), "done")]).follow(_function(), _query(JOB))
    batches = [batch async for batch in follow]
    assert [line.message for line in batches[0] or []] == ["done"]
    assert batches[-1] == [] and hub.subscribers(1) == 0
