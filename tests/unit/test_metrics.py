"""GatewayMetrics and the HTTP metrics middleware, without I/O."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from gateway.api.middleware.metrics import MetricsMiddleware
from gateway.api.probes import ComponentStates
from gateway.core.models import Job
from gateway.services.metrics import DURATION_BUCKETS, UNMATCHED_ROUTE, GatewayMetrics

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(metrics: GatewayMetrics) -> Samples:
    """Every sample of the exposition, parsed back with prometheus_client's parser."""
    out: Samples = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def names_with(samples: Samples, label: str, wanted: str) -> set[str]:
    return {name for name, labels in samples if (label, wanted) in labels}


def job(function: str = "calc", *, status: str = "success", trigger: str = "invoke",
        duration: float | None = 12.0, cold_start: bool = False, cached: bool = False) -> Job:
    now = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    return Job(
        id="f8c3de3d-1fea-4d7c-a8b0-29f63c4c3454", function_id=1, function_name=function,
        version=1, trigger=trigger, status=status, owner="", subject=None,  # type: ignore[arg-type]
        result=None, error=None, timestamp=now, started_at=now, finished_at=now,
        duration=duration, cold_start=cold_start, attempts=1, cached=cached,
    )


def test_finished_jobs_count_by_function_trigger_and_status() -> None:
    m = GatewayMetrics()
    m.job_finished(job(cold_start=True, duration=3.0))
    m.job_finished(job(duration=0.4))
    m.job_finished(job(status="failed", duration=40_000.0))
    m.job_finished(job(trigger="cron"))
    m.job_finished(job(cached=True, duration=0.0))
    s = scrape(m)
    assert value(s, "fngate_invocations_total", function="calc", trigger="invoke",
                 status="success") == 3
    assert value(s, "fngate_invocations_total", function="calc", trigger="invoke",
                 status="failed") == 1
    assert value(s, "fngate_invocations_total", function="calc", trigger="cron",
                 status="success") == 1
    # A cache hit is an invocation but not a run: it has no duration.
    assert value(s, "fngate_invocation_duration_seconds_count", function="calc",
                 trigger="invoke") == 3
    assert value(s, "fngate_invocation_duration_seconds_bucket", function="calc",
                 trigger="invoke", le="0.0005") == 1
    assert value(s, "fngate_invocation_duration_seconds_bucket", function="calc",
                 trigger="invoke", le="30.0") == 2
    assert value(s, "fngate_invocation_duration_seconds_bucket", function="calc",
                 trigger="invoke", le="+Inf") == 3
    assert value(s, "fngate_cold_starts_total", function="calc") == 1


def test_duration_buckets_run_from_half_a_millisecond_to_30_seconds() -> None:
    m = GatewayMetrics()
    m.observe_http("/x", "GET", 200, 0.001)
    s = scrape(m)
    bounds = sorted(float(dict(labels)["le"]) for name, labels in s
                    if name == "fngate_http_request_duration_seconds_bucket")
    assert bounds[0] == 0.0005 and bounds[-2] == 30.0 and bounds[-1] == float("inf")
    assert tuple(bounds[:-1]) == DURATION_BUCKETS


def test_no_created_series() -> None:
    m = GatewayMetrics()
    m.job_finished(job())
    assert not any(name.endswith("_created") for name, _ in scrape(m))


def test_two_instances_keep_their_own_series() -> None:
    one, two = GatewayMetrics(), GatewayMetrics()
    one.job_finished(job())
    one.job_finished(job())
    two.job_finished(job())
    key = {"function": "calc", "trigger": "invoke", "status": "success"}
    assert value(scrape(one), "fngate_invocations_total", **key) == 2
    assert value(scrape(two), "fngate_invocations_total", **key) == 1


def test_forgetting_a_function_removes_every_series_of_it_and_only_those() -> None:
    m = GatewayMetrics()
    for name in ("gone", "kept"):
        m.job_finished(job(name, cold_start=True))
        m.cache_lookup(name, read=True, hit=False)
        m.cron_fire(name, "won")
    with m.inflight("gone"):
        m.forget_function("gone")
        assert names_with(scrape(m), "function", "gone") == set()
    # The run that was in flight when its function went away leaves nothing behind.
    s = scrape(m)
    assert names_with(s, "function", "gone") == set()
    assert names_with(s, "function", "kept") == {
        "fngate_invocations_total", "fngate_invocation_duration_seconds_bucket",
        "fngate_invocation_duration_seconds_count", "fngate_invocation_duration_seconds_sum",
        "fngate_cold_starts_total", "fngate_cache_requests_total", "fngate_cron_fires_total",
    }
    assert m.function_names() == {"kept"}
    m.job_finished(job("gone"))  # a function of that name again starts from zero
    assert value(scrape(m), "fngate_invocations_total", function="gone", trigger="invoke",
                 status="success") == 1


def test_inflight_counts_runs_in_progress() -> None:
    m = GatewayMetrics()
    with m.inflight("calc"), m.inflight("calc"):
        assert value(scrape(m), "fngate_inflight_invocations", function="calc") == 2
    assert value(scrape(m), "fngate_inflight_invocations", function="calc") == 0


def test_cache_results() -> None:
    m = GatewayMetrics()
    m.cache_lookup("calc", read=True, hit=True)
    m.cache_lookup("calc", read=True, hit=False)
    m.cache_lookup("calc", read=False, hit=False)
    m.cache_lookup("calc", read=False, hit=False)
    s = scrape(m)
    got = {r: value(s, "fngate_cache_requests_total", function="calc", result=r)
           for r in ("hit", "miss", "bypass")}
    assert got == {"hit": 1, "miss": 1, "bypass": 2}


def test_queue_and_cron_outcomes_are_a_closed_set() -> None:
    m = GatewayMetrics()
    m.queue_message("orders", "ack")
    m.queue_message("orders", "dlq")
    m.queue_message("orders", "requeue")
    m.cron_fire("tick", "won")
    m.cron_fire("tick", "lost")
    m.cron_fire("tick", "skipped")
    with pytest.raises(ValueError):
        m.queue_message("orders", "lost")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        m.cron_fire("tick", "ack")  # type: ignore[arg-type]
    s = scrape(m)
    assert value(s, "fngate_queue_messages_total", queue="orders", outcome="dlq") == 1
    assert value(s, "fngate_cron_fires_total", function="tick", outcome="lost") == 1
    m.forget_queue("orders")
    assert names_with(scrape(m), "queue", "orders") == set()


def test_typical_cold_start_is_the_median_of_the_recent_window() -> None:
    m = GatewayMetrics(cold_start_window=3)
    assert m.typical_cold_start_ms() is None
    m.cold_start_observed("python", 0.100)
    assert m.typical_cold_start_ms() == 100
    m.cold_start_observed("python", 0.002)
    m.cold_start_observed("nodejs", 0.004)
    assert m.typical_cold_start_ms() == 4
    m.cold_start_observed("python", 0.003)  # the 100 ms one leaves the window
    m.cold_start_observed("python", 0.005)
    assert m.typical_cold_start_ms() == 4
    s = scrape(m)
    assert value(s, "fngate_cold_start_duration_seconds_count", runtime="python") == 4


def test_scrape_time_sources_are_read_when_scraped() -> None:
    m = GatewayMetrics()
    workers = {"python": 1, "nodejs": 0}
    refused = {"execute": 0, "read": 2, "write": 0, "function": 1}
    m.watch(warm_workers=lambda: workers, rate_limited=lambda: refused,
            rate_limit_fail_open=lambda: 7)
    m.set_jobs_pending(5)
    workers["python"] = 3
    s = scrape(m)
    assert value(s, "fngate_warm_workers", runtime="python") == 3
    assert value(s, "fngate_warm_workers", runtime="nodejs") == 0
    assert value(s, "fngate_rate_limited_total", route_class="read") == 2
    assert value(s, "fngate_rate_limited_total", route_class="function") == 1
    assert value(s, "fngate_rate_limit_fail_open_total") == 7
    assert value(s, "fngate_jobs_pending") == 5


# -- middleware -----------------------------------------------------------------------------


async def _item(request: Request) -> Response:
    return PlainTextResponse(request.path_params["item_id"])


async def _boom(request: Request) -> Response:
    raise RuntimeError("boom")


def _app(metrics: GatewayMetrics) -> Starlette:
    return Starlette(
        routes=[Route("/items/{item_id}", _item, methods=["GET"]),
                Route("/boom", _boom, methods=["GET"])],
        middleware=[Middleware(MetricsMiddleware, metrics=metrics)],
    )


async def _client(metrics: GatewayMetrics) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=_app(metrics), raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://t")


async def test_requests_are_labelled_with_the_route_template() -> None:
    m = GatewayMetrics()
    async with await _client(m) as c:
        for item in ("1", "22", "abc"):
            assert (await c.get(f"/items/{item}")).status_code == 200
        assert (await c.post("/items/1")).status_code == 405
        assert (await c.get("/nothing/here/42")).status_code == 404
        assert (await c.request("BREW", "/nothing")).status_code == 404
        assert (await c.get("/boom")).status_code == 500
    s = scrape(m)
    assert value(s, "fngate_http_requests_total", route="/items/{item_id}", method="GET",
                 status="200") == 3
    assert value(s, "fngate_http_request_duration_seconds_count", route="/items/{item_id}",
                 method="GET") == 3
    assert value(s, "fngate_http_requests_total", route="/items/{item_id}", method="POST",
                 status="405") == 1
    assert value(s, "fngate_http_requests_total", route=UNMATCHED_ROUTE, method="GET",
                 status="404") == 1
    assert value(s, "fngate_http_requests_total", route=UNMATCHED_ROUTE, method="OTHER",
                 status="404") == 1
    assert value(s, "fngate_http_requests_total", route="/boom", method="GET",
                 status="500") == 1
    routes = {dict(labels).get("route") for _, labels in s} - {None}
    assert routes == {"/items/{item_id}", "/boom", UNMATCHED_ROUTE}


async def test_a_request_answered_before_routing_still_gets_its_template() -> None:
    m = GatewayMetrics()

    async def refuse(scope: Any, receive: Any, send: Any) -> None:
        await PlainTextResponse("slow down", status_code=429)(scope, receive, send)

    class Refuse:
        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            await refuse(scope, receive, send)

    app = Starlette(routes=[Route("/items/{item_id}", _item, methods=["GET"])],
                    middleware=[Middleware(MetricsMiddleware, metrics=m), Middleware(Refuse)])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        assert (await c.get("/items/7")).status_code == 429
        assert (await c.get("/other")).status_code == 429
    s = scrape(m)
    assert value(s, "fngate_http_requests_total", route="/items/{item_id}", method="GET",
                 status="429") == 1
    assert value(s, "fngate_http_requests_total", route=UNMATCHED_ROUTE, method="GET",
                 status="429") == 1


# -- component states -------------------------------------------------------------------------


def _states(**overrides: Any) -> ComponentStates:
    values: dict[str, Any] = {"database": "ok", "broker": "disabled", "scheduler": "ok",
                              "rate_limiter": "ok",
                              "runtimes": {"python": "ok", "nodejs": "disabled"}}
    values.update(overrides)
    return ComponentStates(**values)


def test_overall_state() -> None:
    assert _states().overall == "ok" and _states().down() == []
    assert _states(broker="down").overall == "degraded"
    assert _states(runtimes={"python": "down", "nodejs": "ok"}).overall == "degraded"
    assert _states(runtimes={"python": "down", "nodejs": "ok"}).down() == ["runtimes.python"]
    down = _states(database="down", rate_limiter="down")
    assert down.overall == "down" and down.down() == ["database", "rate_limiter"]


# -- builds -----------------------------------------------------------------------------------


async def test_each_build_is_timed_by_runtime() -> None:
    from executors import BuildResult
    from gateway.services.builds import BuildManager

    class Builder:
        async def build(self, runtime: str, dependencies: list[str]) -> BuildResult:
            return BuildResult(ok=runtime == "python", log="", path="/built")

    class Pools:
        builder = Builder()

        async def drop_function(self, function_id: int) -> None:
            return None

    class Functions:
        async def get_by_id(self, function_id: int) -> None:
            return None  # gone: the version's own dependencies are built

        async def finish_build(self, *args: Any, **kwargs: Any) -> bool:
            return True

    m = GatewayMetrics()
    builds = BuildManager(Functions(), Pools(), metrics=m)  # type: ignore[arg-type]
    builds.schedule(1, 2, "python", ["six"])
    builds.schedule(2, 1, "nodejs", ["left-pad"])  # a failed build is timed too
    await builds.wait_idle()
    s = scrape(m)
    assert value(s, "fngate_build_duration_seconds_count", runtime="python") == 1
    assert value(s, "fngate_build_duration_seconds_count", runtime="nodejs") == 1
