"""Live log pub/sub, time query values, and the metrics, log line and event bodies,
without I/O."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncGenerator
from typing import Any

import pytest
from pydantic import ValidationError
from starlette.requests import Request

from config import Settings
from executors.models import LogLine
from gateway.api.routes._observe import query_bool, query_time
from gateway.api.routes.events import _event_view
from gateway.api.routes.function_logs import _events
from gateway.core.errors import InvalidRequest
from gateway.core.jsoncodec import dumps
from gateway.core.models import FunctionRecord
from gateway.schemas import logs
from gateway.schemas.base import render
from gateway.services.function_stats import metrics_view
from gateway.services.logs import stored_line as _stored
from gateway.services.logstream import LogHub
from gateway.store.events import EventRecord
from gateway.store.logs import StoredLine
from gateway.store.stats import JobStats


def _line(message: str, ts: float = 1.0) -> LogLine:
    return LogLine(timestamp=ts, stream="stdout", message=message)


async def test_a_subscriber_gets_the_running_backlog_then_new_lines() -> None:
    hub = LogHub()
    with hub.run(7, "job-a") as publish:
        publish(_line("before", 1.0))
        sub = hub.subscribe(7)
        assert [i.line.message for i in sub.backlog] == ["before"]
        assert sub.live_jobs == {"job-a"}
        publish(_line("after", 2.0))
        item = await sub.get(1.0)
        assert item is not None and item.job_id == "job-a" and item.line.message == "after"
    with hub.run(8, "other") as publish:
        publish(_line("not mine"))
    assert await sub.get(0.01) is None
    sub.close()
    assert hub.subscribers(7) == 0


async def test_a_job_filter_and_a_full_queue_drop_lines_without_blocking() -> None:
    hub = LogHub(queue_size=2)
    sub = hub.subscribe(1, job_id="wanted")
    with hub.run(1, "other") as publish:
        publish(_line("x"))
    with hub.run(1, "wanted") as publish:
        for n in range(5):
            publish(_line(str(n)))
    assert [i.line.message for i in sub.drain()] == ["0", "1"]
    assert sub.dropped == 3 and sub.live_jobs == {"wanted"}
    sub.close()


async def test_a_finished_run_leaves_no_backlog() -> None:
    hub = LogHub()
    with hub.run(1, "done") as publish:
        publish(_line("gone"))
    assert hub.subscribe(1).backlog == []


def _request(query: str) -> Request:
    return Request({"type": "http", "method": "GET", "path": "/", "headers": [],
                    "query_string": query.encode()})


@pytest.mark.parametrize(("raw", "expected"), [
    ("2024-05-01T12:00:00Z", dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC)),
    ("2024-05-01T14:00:00%2B02:00", dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC)),
    ("2024-05-01T12:00:00", dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC)),
])
def test_absolute_times_are_read_as_utc(raw: str, expected: dt.datetime) -> None:
    assert query_time(_request(f"since={raw}"), "since") == expected


@pytest.mark.parametrize(("raw", "seconds"), [("90s", 90), ("15m", 900), ("2h", 7200),
                                              ("1.5d", 129600), ("500ms", 0.5)])
def test_relative_times_are_before_now(raw: str, seconds: float) -> None:
    value = query_time(_request(f"since={raw}"), "since")
    assert value is not None
    ago = (dt.datetime.now(dt.UTC) - value).total_seconds()
    assert seconds <= ago < seconds + 5


@pytest.mark.parametrize("raw", ["soon", "15", "5w", "-1h", "2024-13-01", "99999999999d"])
def test_bad_times_name_the_parameter(raw: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        query_time(_request(f"until={raw}"), "until")
    assert caught.value.details == {"parameter": "until"}


def test_absent_time_and_booleans() -> None:
    assert query_time(_request(""), "since") is None
    assert query_bool(_request("follow=TRUE"), "follow") is True
    assert query_bool(_request(""), "follow") is False
    with pytest.raises(InvalidRequest):
        query_bool(_request("follow=2"), "follow")


def _function(memory_mb: int) -> FunctionRecord:
    now = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    return FunctionRecord(
        id=1, name="f", project="default", runtime="python", execution_type="sync",
        description="", environment={}, timeout_ms=30000, memory_mb=memory_mb,
        max_concurrency=5, min_warm=0, cache_ttl=0, cache_scope="caller", max_retries=0,
        rate_limit=None, schema=None, examples=[], labels={}, active_version=1,
        created_at=now, updated_at=now,
    )


def test_metrics_body_rates_and_cost() -> None:
    stats = JobStats(total=8, successful=6, failed=2, cold_starts=1, cache_hits=3, ran=5,
                     duration_min=1.0, duration_max=9.0, duration_avg=4.0, duration_p50=3.5,
                     duration_p95=8.6, duration_p99=8.92, duration_sum_ms=20_000.0,
                     cpu_ms_avg=2.5, max_rss_bytes=1000)
    settings = Settings(price_per_gb_s=0.5, price_per_request=0.01)
    body = render(metrics_view(stats, _function(2048), settings, current=2, since=None))
    assert body["success_rate"] == 75.0 and body["error_rate"] == 0.25
    assert body["gb_seconds"] == 40.0
    assert body["cost_estimate"] == pytest.approx(40.0 * 0.5 + 5 * 0.01)
    assert body["concurrency"] == {"current": 2, "max": 5}
    assert body["duration"]["p99"] == 8.92 and body["avg_execution_time"] == 4.0


def test_log_retention_settings_come_from_the_environment() -> None:
    from config import SettingsError, load

    settings = load({"FNGATE_LOG_RETENTION_DAYS": "2.5",
                     "FNGATE_LOG_RETENTION_MAX_LINES": "500"}, toml_path="/nonexistent.toml")
    assert settings.log_retention_days == 2.5 and settings.log_retention_max_lines == 500
    assert Settings().log_retention_days == 7.0
    assert Settings().log_retention_max_lines == 100_000
    with pytest.raises(SettingsError):
        load({"FNGATE_LOG_RETENTION_MAX_LINES": "-1"}, toml_path="/nonexistent.toml")


def test_metrics_since_renders_as_rfc_3339_with_milliseconds() -> None:
    stats = JobStats(total=0, successful=0, failed=0, cold_starts=0, cache_hits=0, ran=0,
                     duration_min=None, duration_max=None, duration_avg=None,
                     duration_p50=None, duration_p95=None, duration_p99=None,
                     duration_sum_ms=0.0, cpu_ms_avg=None, max_rss_bytes=None)
    since = dt.datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=dt.UTC)
    body = render(metrics_view(stats, _function(256), Settings(), current=0, since=since))
    assert body["since"] == "2024-05-01T12:00:00.123Z"
    assert body["success_rate"] == 0.0 and body["error_rate"] == 0.0
    assert body["duration"] == dict.fromkeys(("min", "max", "avg", "p50", "p95", "p99"))
    assert body["avg_execution_time"] is None and body["memory_usage"] is None


async def test_a_log_line_renders_as_before_in_json_and_as_an_event() -> None:
    job_id = "f8c3de3d-1fea-4d7c-a8b0-29f63c4c3454"
    stored = StoredLine(id=1, timestamp=dt.datetime(2024, 5, 1, 12, 0, 0, 5000, tzinfo=dt.UTC),
                        job_id=job_id, stream="stderr", message="héllo \"x\"\n")
    expected = {"timestamp": "2024-05-01T12:00:00.005Z", "job_id": job_id,
                "stream": "stderr", "message": "héllo \"x\"\n"}
    assert render(_stored(stored)) == expected

    async def one_batch() -> AsyncGenerator[list[Any], None]:
        yield [_stored(stored)]

    chunks = [chunk async for chunk in _events(one_batch(), render)]
    assert chunks == [b"data: " + dumps(expected) + b"\n\n"]


def test_a_log_line_of_another_stream_is_refused() -> None:
    with pytest.raises(ValidationError):
        logs.LogLine(timestamp=dt.datetime.now(dt.UTC),
                     job_id="f8c3de3d-1fea-4d7c-a8b0-29f63c4c3454", stream="stdin", message="")


def test_an_event_renders_as_before() -> None:
    record = EventRecord(id=3, function_id=1, function_name="f", type="updated",
                         description="function 'f' updated: memory_mb",
                         metadata={"fields": ["memory_mb"], "nested": {"a": [1, None]}},
                         actor=None, created_at=dt.datetime(2024, 1, 2, tzinfo=dt.UTC))
    assert render(_event_view(record)) == {
        "id": 3, "type": "updated", "description": "function 'f' updated: memory_mb",
        "metadata": {"fields": ["memory_mb"], "nested": {"a": [1, None]}}, "actor": None,
        "actor_issuer": None, "created_at": "2024-01-02T00:00:00.000Z",
    }
