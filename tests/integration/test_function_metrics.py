"""``GET /api/v1/functions/{ref}/metrics`` after a known mix of runs, and its errors."""

from __future__ import annotations

import asyncio
import datetime as dt
import statistics

import asyncpg
import httpx
import pytest

from tests.conftest import auth
from tests.integration.test_functions_api import WRITER, assert_error, create

OPS = auth("read:jobs", sub="ops")
SLEEPS_OR_FAILS = (
    "import time\n"
    "def handler(event):\n"
    "    time.sleep(event.get('ms', 0) / 1000)\n"
    "    if event.get('fail'):\n"
    "        raise ValueError('asked to fail')\n"
    "    return event\n"
)


async def _invoke(client: httpx.AsyncClient, name: str, body: dict, **headers: str) -> dict:
    r = await client.post(f"/api/v1/functions/{name}/invoke", json=body,
                          headers={**WRITER, **headers})
    assert r.status_code == 200, r.text
    job: dict = r.json()
    return job


async def _metrics(client: httpx.AsyncClient, name: str, **params: str) -> dict:
    r = await client.get(f"/api/v1/functions/{name}/metrics", params=params, headers=OPS)
    assert r.status_code == 200, r.text
    body: dict = r.json()
    return body


async def _durations(database_url: str, function_id: int) -> list[float]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT duration FROM jobs WHERE function_id = $1 AND NOT cached"
                                " ORDER BY duration", function_id)
    finally:
        await conn.close()
    return [float(r["duration"]) for r in rows]


async def test_counts_rates_and_durations_after_a_known_mix(
    client: httpx.AsyncClient, database_url: str,
) -> None:
    created = await create(client, name="mix", code=SLEEPS_OR_FAILS, memory_mb=512,
                           max_concurrency=3)
    function_id = created.json()["id"]
    cache = {"X-Cache-Control": "max-age=600"}
    first = await _invoke(client, "mix", {"ms": 10})
    assert first["cold_start"] is True and first["status"] == "success"
    assert (await _invoke(client, "mix", {"fail": True, "ms": 30}))["status"] == "failed"
    assert (await _invoke(client, "mix", {"ms": 60}, **cache))["cached"] is False
    assert (await _invoke(client, "mix", {"ms": 60}, **cache))["cached"] is True
    between = dt.datetime.now(dt.UTC)
    # Any update drops the warm workers: the next run is a cold start again.
    r = await client.put("/api/v1/functions/mix", json={"description": "again"}, headers=WRITER)
    assert r.status_code == 200
    again = await _invoke(client, "mix", {"fail": True, "ms": 90})
    assert again["cold_start"] is True and again["status"] == "failed"
    assert (await _invoke(client, "mix", {"ms": 120}))["status"] == "success"

    m = await _metrics(client, "mix")
    assert m["invocations"] == {"total": 6, "successful": 4, "failed": 2}
    assert m["success_rate"] == pytest.approx(4 / 6 * 100)
    assert m["error_rate"] == pytest.approx(2 / 6)
    assert m["cold_starts"] == 2
    assert m["cache_hits"] == 1
    assert m["concurrency"] == {"current": 0, "max": 3}
    assert m["since"] is None

    durations = await _durations(database_url, function_id)
    assert len(durations) == 5  # the cache hit did not run
    d = m["duration"]
    assert d["min"] == pytest.approx(durations[0], abs=1e-3)
    assert d["max"] == pytest.approx(durations[-1], abs=1e-3)
    assert d["avg"] == pytest.approx(statistics.fmean(durations), abs=1e-3)
    assert m["avg_execution_time"] == d["avg"]
    expected = statistics.quantiles(durations, n=100, method="inclusive")
    assert d["p50"] == pytest.approx(expected[49], abs=1e-3)
    assert d["p95"] == pytest.approx(expected[94], abs=1e-3)
    assert d["p99"] == pytest.approx(expected[98], abs=1e-3)
    # The sleeps bound the true values: 10 ms is the fastest run, 120 ms the slowest.
    assert 10 <= d["min"] < 60 and 120 <= d["max"] < 1000 and 60 <= d["p50"] < 120
    assert d["min"] <= d["p50"] <= d["p95"] <= d["p99"] <= d["max"]

    gb_s = sum(durations) / 1000 * 512 / 1024
    assert m["gb_seconds"] == pytest.approx(gb_s, rel=1e-6)
    assert m["cost_estimate"] == pytest.approx(gb_s * 0.0000166667 + 5 * 0.0000002, rel=1e-6)
    assert m["cpu_usage"] is not None and m["cpu_usage"] >= 0
    assert m["memory_usage"] is not None and m["memory_usage"] > 1024 * 1024

    later = await _metrics(client, "mix", since=between.isoformat())
    assert later["invocations"] == {"total": 2, "successful": 1, "failed": 1}
    assert later["success_rate"] == 50.0 and later["error_rate"] == 0.5
    assert later["cold_starts"] == 1 and later["cache_hits"] == 0
    assert later["since"].startswith(between.strftime("%Y-%m-%dT%H:%M:%S"))


async def test_a_function_without_invocations_has_zero_rates_and_null_durations(
    client: httpx.AsyncClient,
) -> None:
    await create(client, name="idle")
    m = await _metrics(client, "idle", since="1h")
    assert m["invocations"] == {"total": 0, "successful": 0, "failed": 0}
    assert m["success_rate"] == 0.0 and m["error_rate"] == 0.0
    assert m["duration"] == {k: None for k in ("min", "max", "avg", "p50", "p95", "p99")}
    assert m["avg_execution_time"] is None and m["cpu_usage"] is None
    assert m["memory_usage"] is None
    assert m["gb_seconds"] == 0 and m["cost_estimate"] == 0
    assert m["concurrency"] == {"current": 0, "max": 10}


async def test_cpu_time_and_peak_rss_are_measured_from_the_worker(
    client: httpx.AsyncClient,
) -> None:
    code = (
        "import time\n"
        "def handler(event):\n"
        "    block = bytearray(80 * 1024 * 1024)\n"
        "    for i in range(0, len(block), 4096):\n"
        "        block[i] = 1\n"
        "    end = time.process_time() + 0.3\n"
        "    while time.process_time() < end:\n"
        "        pass\n"
        "    return len(block)\n"
    )
    await create(client, name="burner", code=code, memory_mb=512)
    assert (await _invoke(client, "burner", {}))["status"] == "success"
    m = await _metrics(client, "burner")
    assert m["cpu_usage"] >= 250  # 0.3 s of CPU spun, plus touching 80 MiB
    assert m["memory_usage"] >= 80 * 1024 * 1024


async def test_current_concurrency_counts_runs_in_flight(client: httpx.AsyncClient) -> None:
    await create(client, name="slow", code=SLEEPS_OR_FAILS, max_concurrency=4)
    running = asyncio.create_task(_invoke(client, "slow", {"ms": 1500}))
    try:
        async def in_flight() -> bool:
            return (await _metrics(client, "slow"))["concurrency"]["current"] == 1

        from tests.conftest import wait_for

        await wait_for(in_flight, timeout_s=10)
    finally:
        await running
    m = await _metrics(client, "slow")
    assert m["concurrency"] == {"current": 0, "max": 4}
    assert m["invocations"]["total"] == 1


async def test_cached_session_executes_count_as_cache_hits(client: httpx.AsyncClient) -> None:
    await create(client, name="sess")
    init = await client.post("/api/v1/initialize", headers={**WRITER,
                                                            "Language-Title": "python-sess"})
    assert init.status_code == 200, init.text
    sid = init.json()["request_id"]
    for cached in (False, True, True):
        r = await client.post(f"/api/v1/execute/{sid}", json={"params": {"a": 1}},
                              headers=WRITER)
        assert r.status_code == 200 and r.json()["cached"] is cached, r.text
        assert r.headers["x-job-id"]
    m = await _metrics(client, "sess")
    assert m["invocations"] == {"total": 3, "successful": 3, "failed": 0}
    assert m["cache_hits"] == 2


@pytest.mark.parametrize("since", ["yesterday", "2024-13-01T00:00:00Z", "10x", "-5m"])
async def test_a_malformed_since_is_a_400(client: httpx.AsyncClient, since: str) -> None:
    await create(client, name="calc")
    r = await client.get("/api/v1/functions/calc/metrics", params={"since": since},
                         headers=OPS)
    body = assert_error(r, 400, "INVALID_REQUEST")
    assert body["error"]["details"] == {"parameter": "since"}


async def test_an_unknown_function_is_a_404(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/functions/nope/metrics", headers=OPS)
    body = assert_error(r, 404, "FUNCTION_NOT_FOUND")
    assert body["error"]["message"] == "function 'nope' does not exist"


async def test_metrics_need_read_jobs(client: httpx.AsyncClient) -> None:
    await create(client, name="calc")
    r = await client.get("/api/v1/functions/calc/metrics", headers=WRITER)
    body = assert_error(r, 403, "FORBIDDEN")
    assert body["error"]["details"] == {"required_scope": "read:jobs"}
    # Checked before the lookup: no scope cannot probe function names.
    r = await client.get("/api/v1/functions/nope/metrics", headers=WRITER)
    assert_error(r, 403, "FORBIDDEN")
    r = await client.get("/api/v1/functions/calc/metrics", headers=auth("admin"))
    assert r.status_code == 200
    r = await client.get("/api/v1/functions/calc/metrics")
    assert_error(r, 401, "UNAUTHORIZED")
