"""``/metrics`` after known traffic, parsed back with prometheus_client's parser."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import asyncpg
import httpx

from gateway.api.route_groups import flat_routes
from gateway.services.metrics import UNMATCHED_ROUTE
from tests.conftest import running_app, token, wait_for
from tests.integration.test_functions_api import WRITER, create
from tests.unit.test_metrics import Samples, names_with, value

FAILS_ON_DEMAND = (
    "def handler(event):\n"
    "    if event.get('fail'):\n"
    "        raise ValueError('asked to fail')\n"
    "    return event\n"
)


async def scrape(client: httpx.AsyncClient, **headers: str) -> Samples:
    from prometheus_client.parser import text_string_to_metric_families

    r = await client.get("/metrics", headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    out: Samples = {}
    for family in text_string_to_metric_families(r.text):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


async def invoke(client: httpx.AsyncClient, name: str, body: Any = None,
                 **headers: str) -> httpx.Response:
    r = await client.post(f"/api/v1/functions/{name}/invoke", json=body or {},
                          headers={**WRITER, **headers})
    assert r.status_code == 200, r.text
    return r


def templates(client: httpx.AsyncClient) -> set[str]:
    return {getattr(route, "path", "")
            for route in flat_routes(client.app.router.routes)}  # type: ignore[attr-defined]


async def test_counters_and_histograms_equal_the_traffic_sent(
    client: httpx.AsyncClient,
) -> None:
    assert (await create(client, name="calc", code=FAILS_ON_DEMAND)).status_code == 201
    job_ids = []
    for body in ({"n": 1}, {"n": 2}, {"fail": True}, {"n": 3}):
        job_ids.append((await invoke(client, "calc", body)).json()["id"])
    for job_id in job_ids:
        assert (await client.get(f"/api/v1/jobs/{job_id}", headers=WRITER)).status_code == 200
    assert (await client.get("/no/such/path/123")).status_code == 404

    s = await scrape(client)
    inv = {"function": "calc", "trigger": "invoke"}
    assert value(s, "fngate_invocations_total", **inv, status="success") == 3
    assert value(s, "fngate_invocations_total", **inv, status="failed") == 1
    assert value(s, "fngate_invocation_duration_seconds_count", **inv) == 4
    assert value(s, "fngate_cold_starts_total", function="calc") == 1
    assert value(s, "fngate_inflight_invocations", function="calc") == 0
    assert (value(s, "fngate_warm_workers", runtime="python") or 0) >= 1

    invoke_route = {"route": "/api/v1/functions/{ref}/invoke", "method": "POST"}
    assert value(s, "fngate_http_requests_total", **invoke_route, status="200") == 4
    assert value(s, "fngate_http_request_duration_seconds_count", **invoke_route) == 4
    # Four different job ids: one series, under the template.
    assert value(s, "fngate_http_requests_total", route="/api/v1/jobs/{job_id}", method="GET",
                 status="200") == 4
    assert value(s, "fngate_http_requests_total", route="/api/v1/functions", method="POST",
                 status="201") == 1
    assert value(s, "fngate_http_requests_total", route=UNMATCHED_ROUTE, method="GET",
                 status="404") == 1
    routes = {dict(labels)["route"] for _, labels in s if "route" in dict(labels)}
    assert routes <= templates(client) | {UNMATCHED_ROUTE}
    assert not any(job_id in str(labels) for job_id in job_ids for _, labels in s)


async def test_counters_are_exact_under_concurrent_load(client: httpx.AsyncClient) -> None:
    assert (await create(client, name="busy", max_concurrency=4)).status_code == 201
    responses = await asyncio.gather(*(invoke(client, "busy", {"i": i}) for i in range(40)))
    assert len({r.json()["id"] for r in responses}) == 40
    s = await scrape(client)
    inv = {"function": "busy", "trigger": "invoke"}
    assert value(s, "fngate_invocations_total", **inv, status="success") == 40
    assert value(s, "fngate_invocation_duration_seconds_count", **inv) == 40
    assert value(s, "fngate_http_requests_total", route="/api/v1/functions/{ref}/invoke",
                 method="POST", status="200") == 40
    assert value(s, "fngate_inflight_invocations", function="busy") == 0


async def test_cache_lookups_are_counted_as_hit_miss_or_bypass(
    client: httpx.AsyncClient,
) -> None:
    assert (await create(client, name="cached")).status_code == 201
    first = await invoke(client, "cached", {"a": 1}, **{"X-Cache-Control": "max-age=60"})
    second = await invoke(client, "cached", {"a": 1}, **{"X-Cache-Control": "max-age=60"})
    third = await invoke(client, "cached", {"a": 1}, **{"X-Cache-Control": "no-store"})
    await invoke(client, "cached", {"a": 1})  # no header: sync /invoke leaves the cache alone
    assert [r.headers["x-cache"] for r in (first, second, third)] == ["MISS", "HIT", "BYPASS"]
    s = await scrape(client)
    for result in ("hit", "miss", "bypass"):
        assert value(s, "fngate_cache_requests_total", function="cached", result=result) == 1
    inv = {"function": "cached", "trigger": "invoke"}
    assert value(s, "fngate_invocations_total", **inv, status="success") == 4
    assert value(s, "fngate_invocation_duration_seconds_count", **inv) == 3  # the hit never ran


async def test_jobs_pending_is_read_when_scraped(settings_factory: Callable[..., Any]) -> None:
    async with running_app(settings_factory(), run_jobs=False) as client:
        assert (await create(client, name="later")).status_code == 201
        assert value(await scrape(client), "fngate_jobs_pending") == 0
        for _ in range(3):
            r = await client.post("/api/v1/functions/later/invoke-async", json={},
                                  headers=WRITER)
            assert r.status_code == 202, r.text
        assert value(await scrape(client), "fngate_jobs_pending") == 3


async def test_inflight_shows_a_run_in_progress(client: httpx.AsyncClient) -> None:
    slow = "import time\ndef handler(event):\n    time.sleep(1)\n    return 1\n"
    assert (await create(client, name="slow", code=slow)).status_code == 201
    task = asyncio.create_task(invoke(client, "slow"))

    async def running() -> bool:
        s = await scrape(client)
        return value(s, "fngate_inflight_invocations", function="slow") == 1

    await wait_for(running, timeout_s=10)
    await asyncio.wait_for(task, 30)
    s = await scrape(client)
    assert value(s, "fngate_inflight_invocations", function="slow") == 0


async def test_worker_gauges_read_the_budget_that_status_shows(
    settings_factory: Callable[..., Any],
) -> None:
    """One worker slot, held by a slow call; a call of another function waits for it."""
    sleepy = "import time\ndef handler(event):\n    time.sleep(event.get('s', 0))\n    return 1\n"
    settings = settings_factory(max_workers=1, prewarm_per_runtime=0)
    async with running_app(settings) as client:
        for name in ("holder", "waiter"):
            assert (await create(client, name=name, code=sleepy)).status_code == 201
        s = await scrape(client)
        assert value(s, "fngate_workers_max") == 1
        assert value(s, "fngate_workers_live") == 0 and value(s, "fngate_workers_waiting") == 0
        holding = asyncio.create_task(invoke(client, "holder", {"s": 2}))
        await wait_for(lambda: client.app.state.services.pools._busy)  # type: ignore[attr-defined]
        waiting = asyncio.create_task(invoke(client, "waiter"))

        async def one_waits() -> Samples | None:
            s = await scrape(client)
            return s if value(s, "fngate_workers_waiting") == 1 else None

        s = await wait_for(one_waits, timeout_s=10)
        status = (await client.get("/status")).json()
        assert (status["live_workers"], status["max_workers"], status["workers_waiting"]) == (
            value(s, "fngate_workers_live"), value(s, "fngate_workers_max"), 1) == (1, 1, 1)
        await asyncio.wait_for(asyncio.gather(holding, waiting), 30)
        s = await scrape(client)
        assert value(s, "fngate_workers_waiting") == 0 and value(s, "fngate_workers_live") == 1


async def test_metrics_token_is_required_when_configured(
    settings_factory: Callable[..., Any],
) -> None:
    async with running_app(settings_factory(metrics_token="scrape-me")) as client:
        for headers in ({}, {"Authorization": "Bearer wrong"},
                        {"Authorization": f"Bearer {token('admin')}"},
                        {"Authorization": "Basic scrape-me"}):
            r = await client.get("/metrics", headers=headers)
            assert r.status_code == 401, headers
            assert r.json()["error"]["code"] == "UNAUTHORIZED"
            assert r.headers["www-authenticate"].startswith("Bearer")
        s = await scrape(client, Authorization="Bearer scrape-me")
        assert value(s, "fngate_http_requests_total", route="/metrics", method="GET",
                     status="401") == 4


async def test_a_deleted_functions_series_are_removed(
    client: httpx.AsyncClient, database_url: str,
) -> None:
    for name in ("doomed", "kept", "elsewhere"):
        assert (await create(client, name=name)).status_code == 201
        await invoke(client, name)
    s = await scrape(client)
    assert {"doomed", "kept", "elsewhere"} <= {
        dict(labels).get("function") for _, labels in s}

    r = await client.delete("/api/v1/functions/doomed", headers=WRITER)
    assert r.status_code == 204
    # Deleted through another replica: this one drops the series at its next scrape.
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("DELETE FROM functions WHERE name = 'elsewhere'")
    finally:
        await conn.close()
    s = await scrape(client)
    assert names_with(s, "function", "doomed") == set()
    assert names_with(s, "function", "elsewhere") == set()
    assert value(s, "fngate_invocations_total", function="kept", trigger="invoke",
                 status="success") == 1


async def test_renaming_moves_the_series_to_the_new_name(client: httpx.AsyncClient) -> None:
    assert (await create(client, name="before")).status_code == 201
    await invoke(client, "before")
    r = await client.put("/api/v1/functions/before", json={"name": "after"}, headers=WRITER)
    assert r.status_code == 200, r.text
    await invoke(client, "after")
    s = await scrape(client)
    assert names_with(s, "function", "before") == set()
    assert value(s, "fngate_invocations_total", function="after", trigger="invoke",
                 status="success") == 1


async def test_rate_limited_requests_are_counted_and_metrics_is_never_limited(
    settings_factory: Callable[..., Any],
) -> None:
    limits = "read=2/minute|2/minute; execute=100/minute|10/minute; write=100/hour|10/minute"
    async with running_app(settings_factory(rate_limits=limits)) as client:
        statuses = [(await client.get("/api/v1/functions", headers=WRITER)).status_code
                    for _ in range(3)]
        assert statuses == [200, 200, 429]
        for _ in range(4):
            s = await scrape(client)
        assert value(s, "fngate_rate_limited_total", route_class="read") == 1
        assert value(s, "fngate_rate_limited_total", route_class="execute") == 0
        assert value(s, "fngate_http_requests_total", route="/api/v1/functions", method="GET",
                     status="429") == 1


async def test_cron_fires_split_into_won_and_lost_across_replicas(
    settings_factory: Callable[..., Any], database_url: str,
) -> None:
    from tests.integration.test_cron import EVERY_SECOND, add_cron

    async with running_app(settings_factory()) as one, running_app(settings_factory()) as two:
        assert (await create(one, name="tick")).status_code == 201
        await add_cron(one, "tick", {"cron": EVERY_SECOND})

        async def fired() -> tuple[float, float] | None:
            won = lost = 0.0
            for client in (one, two):
                s = await scrape(client)
                won += value(s, "fngate_cron_fires_total", function="tick", outcome="won") or 0
                lost += value(s, "fngate_cron_fires_total", function="tick",
                              outcome="lost") or 0
            return (won, lost) if won >= 2 and lost >= 1 else None

        await wait_for(fired, timeout_s=20, interval_s=0.5)
        # Half-way between two fires, no claim is in progress.
        await asyncio.sleep((0.5 - time.time() % 1) % 1)
        result = await fired()
        conn = await asyncpg.connect(database_url)
        try:
            claimed = await conn.fetchval("SELECT count(*) FROM cron_fires")
        finally:
            await conn.close()
        assert result is not None and result[0] == claimed


async def test_per_runtime_worker_gauges_show_live_idle_share_and_waiting(
    settings_factory: Callable[..., Any],
) -> None:
    """FNGATE_MAX_WORKERS=3 with python=1: Python's share is 1, Node.js's the cap; a Python
    worker is live and idle after its call, busy (not idle) during one, and a second Python
    function's call waits on the share."""
    sleepy = "import time\ndef handler(event):\n    time.sleep(event.get('s', 0))\n    return 1\n"
    settings = settings_factory(max_workers=3, max_workers_per_runtime=("python=1",),
                                prewarm_per_runtime=0)

    def runtime(s: Samples, gauge: str, name: str) -> float | None:
        return value(s, f"fngate_runtime_workers_{gauge}", runtime=name)

    async with running_app(settings) as client:
        for name in ("holder", "waiter"):
            assert (await create(client, name=name, code=sleepy)).status_code == 201
        s = await scrape(client)
        assert [runtime(s, g, "python") for g in ("live", "idle", "max", "waiting")] == [
            0, 0, 1, 0]
        assert [runtime(s, g, "nodejs") for g in ("live", "idle", "max", "waiting")] == [
            0, 0, 3, 0]

        await invoke(client, "holder")
        s = await scrape(client)
        assert (runtime(s, "live", "python"), runtime(s, "idle", "python")) == (1, 1)

        holding = asyncio.create_task(invoke(client, "holder", {"s": 2}))
        await wait_for(lambda: client.app.state.services.pools._busy)  # type: ignore[attr-defined]
        waiting = asyncio.create_task(invoke(client, "waiter"))

        async def one_waits() -> Samples | None:
            s = await scrape(client)
            return s if runtime(s, "waiting", "python") == 1 else None

        s = await wait_for(one_waits, timeout_s=10)
        assert (runtime(s, "live", "python"), runtime(s, "idle", "python")) == (1, 0)
        status = (await client.get("/status")).json()
        assert status["runtime_workers"]["python"]["workers_waiting"] == 1
        await asyncio.wait_for(asyncio.gather(holding, waiting), 30)
        s = await scrape(client)
        assert runtime(s, "waiting", "python") == 0 and runtime(s, "live", "python") == 1


async def test_dialect_requests_are_labelled_with_their_routes_whole_templates(
    client: httpx.AsyncClient,
) -> None:
    kube = "/compat/kube-serverless/api/v1/functions"
    assert (await client.get(kube, headers=WRITER)).status_code == 200
    assert (await client.patch(kube, headers=WRITER)).status_code == 405
    workspace = await client.get("/api/v1/workspaces/default/functions", headers=WRITER)
    assert workspace.status_code == 200, workspace.text
    assert (await client.get("/compat/function-api/no-such-path",
                             headers=WRITER)).status_code == 404

    s = await scrape(client)
    assert value(s, "fngate_http_requests_total", route=kube, method="GET", status="200") == 1
    assert value(s, "fngate_http_requests_total", route=kube, method="PATCH",
                 status="405") == 1
    assert value(s, "fngate_http_requests_total",
                 route="/api/v1/workspaces/{workspaceId}/functions", method="GET",
                 status="200") == 1
    assert value(s, "fngate_http_requests_total", route=UNMATCHED_ROUTE, method="GET",
                 status="404") == 1
    routes = {dict(labels)["route"] for _, labels in s if "route" in dict(labels)}
    assert routes <= templates(client) | {UNMATCHED_ROUTE}
    assert "/compat/kube-serverless/api/v1" not in routes  # a group's base is no label
