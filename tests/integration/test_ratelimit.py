"""Per-client rate limits by route class, per-function limits, Redis sharing and failure."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx

from tests.conftest import auth, need_service, running_app
from tests.integration.test_functions_api import assert_error, create

DEFAULTS = "execute=100/minute|10/minute; read=60/minute|10/minute; write=100/hour|10/minute"
TINY = "execute=2/minute|1/minute; read=3/minute|1/minute; write=4/minute|1/minute"
RATE_HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")
REDIS_URL = "redis://127.0.0.1:6379/0"


def no_rate_headers(response: httpx.Response) -> bool:
    return not any(h in response.headers for h in (*RATE_HEADERS, "retry-after"))


@contextlib.asynccontextmanager
async def app_clients(settings: Any, *peers: tuple[str, int]) -> AsyncIterator[list[Any]]:
    """One app, one client per socket peer address."""
    from gateway.app import create_app

    app = create_app(settings)
    async with app.router.lifespan_context(app), contextlib.AsyncExitStack() as stack:
        clients = []
        for peer in peers:
            transport = httpx.ASGITransport(app=app, client=peer)
            clients.append(await stack.enter_async_context(
                httpx.AsyncClient(transport=transport, base_url="http://fngate.test")))
        yield clients


async def test_eleventh_unauthenticated_request_in_a_minute_is_429(
    settings_factory: Callable[..., Any],
) -> None:
    async with running_app(settings_factory(rate_limits=DEFAULTS)) as client:
        remaining = []
        for _ in range(10):
            r = await client.get("/api/v1/functions")
            assert_error(r, 401, "UNAUTHORIZED")
            assert r.headers["x-ratelimit-limit"] == "10"
            assert int(r.headers["x-ratelimit-reset"]) >= int(time.time())
            assert "retry-after" not in r.headers
            remaining.append(int(r.headers["x-ratelimit-remaining"]))
        assert remaining == list(range(9, -1, -1))
        r = await client.get("/api/v1/functions")
        body = assert_error(r, 429, "RATE_LIMITED")
        assert 1 <= int(r.headers["retry-after"]) <= 60
        assert r.headers["x-ratelimit-limit"] == "10"
        assert r.headers["x-ratelimit-remaining"] == "0"
        assert int(r.headers["x-ratelimit-reset"]) >= int(time.time())
        assert body["error"]["details"]["route_class"] == "read"
        assert client.app.state.services.limiter.rejected["read"] == 1  # type: ignore[attr-defined]


async def test_invalid_token_counts_against_the_ip_then_gets_401(
    settings_factory: Callable[..., Any],
) -> None:
    async with running_app(settings_factory(rate_limits=TINY)) as client:
        bad = {"Authorization": "Bearer not.a.token"}
        r = await client.get("/api/v1/functions", headers=bad)
        assert_error(r, 401, "UNAUTHORIZED")
        assert r.headers["x-ratelimit-limit"] == "1"
        assert r.headers["x-ratelimit-remaining"] == "0"
        # the IP's budget is spent: no token and a bad token alike are refused now
        assert_error(await client.get("/api/v1/functions"), 429, "RATE_LIMITED")
        assert_error(await client.get("/api/v1/functions", headers=bad), 429, "RATE_LIMITED")
        # a valid token has its own budget
        r = await client.get("/api/v1/functions", headers=auth("read:functions"))
        assert r.status_code == 200 and r.headers["x-ratelimit-limit"] == "3"


async def test_authenticated_callers_are_keyed_by_subject(
    settings_factory: Callable[..., Any],
) -> None:
    async with running_app(settings_factory(rate_limits=TINY)) as client:
        alice, bob = auth("read:functions", sub="alice"), auth("read:functions", sub="bob")
        for expected in ("2", "1", "0"):
            r = await client.get("/api/v1/functions", headers=alice)
            assert r.status_code == 200 and r.headers["x-ratelimit-remaining"] == expected
        # a fresh token of the same subject shares the budget
        assert_error(await client.get("/api/v1/functions", headers=auth("read:functions")),
                     429, "RATE_LIMITED")
        r = await client.get("/api/v1/functions", headers=bob)
        assert r.status_code == 200 and r.headers["x-ratelimit-remaining"] == "2"


async def test_route_classes_invoke_is_execute_put_is_write_get_is_read(
    settings_factory: Callable[..., Any],
) -> None:
    async with running_app(settings_factory(rate_limits=TINY)) as client:
        writer = auth()
        r = await client.post("/api/v1/functions/nope/invoke", json={}, headers=writer)
        assert_error(r, 404, "FUNCTION_NOT_FOUND")
        assert r.headers["x-ratelimit-limit"] == "2"
        r = await client.post("/api/v1/functions/nope/invoke-async", json={}, headers=writer)
        assert r.headers["x-ratelimit-limit"] == "2" and r.headers["x-ratelimit-remaining"] == "0"
        r = await client.put("/api/v1/functions/nope", json={}, headers=writer)
        assert r.status_code == 404 and r.headers["x-ratelimit-limit"] == "4"
        r = await client.post("/api/v1/functions", json={}, headers=writer)
        assert r.status_code == 400
        assert r.headers["x-ratelimit-limit"] == "4" and r.headers["x-ratelimit-remaining"] == "2"
        r = await client.get("/api/v1/functions/nope", headers=writer)
        assert r.status_code == 404 and r.headers["x-ratelimit-limit"] == "3"
        # execute is used up, read and write are not
        r = await client.post("/api/v1/functions/nope/invoke", json={}, headers=writer)
        assert_error(r, 429, "RATE_LIMITED")
        assert r.json()["error"]["details"]["route_class"] == "execute"
        assert (await client.get("/api/v1/functions", headers=writer)).status_code == 200


async def test_health_and_openapi_are_never_limited(settings_factory: Callable[..., Any]) -> None:
    async with running_app(settings_factory(rate_limits=TINY)) as client:
        for _ in range(4):
            for path in ("/health", "/openapi.json", "/ready", "/status"):
                r = await client.get(path)
                assert r.status_code == 200, (path, r.text)
                assert no_rate_headers(r), path


async def test_unknown_route_and_wrong_method_are_not_limited(
    settings_factory: Callable[..., Any],
) -> None:
    async with running_app(settings_factory(rate_limits=TINY)) as client:
        for _ in range(3):
            r = await client.get("/api/v1/no-such-thing")
            assert_error(r, 404, "NOT_FOUND")
            assert no_rate_headers(r)
            r = await client.delete("/api/v1/jobs/abc")
            assert_error(r, 405, "INVALID_REQUEST")
            assert no_rate_headers(r)
            r = await client.patch("/api/v1/functions/x", headers={"Authorization": "Bearer x.y.z"})
            assert r.status_code == 405 and no_rate_headers(r)
        # none of that used the IP's budget of one read
        r = await client.get("/api/v1/functions")
        assert_error(r, 401, "UNAUTHORIZED")
        assert r.headers["x-ratelimit-remaining"] == "0"


async def test_off_disables_the_limits(settings_factory: Callable[..., Any]) -> None:
    async with running_app(settings_factory(rate_limits="off")) as client:
        for _ in range(15):
            r = await client.get("/api/v1/functions")
            assert r.status_code == 401 and no_rate_headers(r)
        assert (await client.get("/health")).json()["components"]["rate_limiter"] == "disabled"


async def test_function_rate_limit_refuses_the_third_invoke(
    settings_factory: Callable[..., Any],
) -> None:
    async with running_app(settings_factory(rate_limits=DEFAULTS)) as client:
        r = await create(client, name="limited", rate_limit="2/minute")
        assert r.status_code == 201, r.text
        runner_a, runner_b = auth("execute:all", sub="a"), auth("execute:all", sub="b")
        for headers in (runner_a, runner_b):
            r = await client.post("/api/v1/functions/limited/invoke", json={"n": 1},
                                  headers=headers)
            assert r.status_code == 200 and r.json()["result"] == {"n": 1}, r.text
        # a third caller, but the function's own limit is over all callers
        r = await client.post("/api/v1/functions/limited/invoke", json={},
                              headers=auth("execute:all", sub="c"))
        body = assert_error(r, 429, "RATE_LIMITED")
        assert body["error"]["details"]["scope"] == "function"
        assert 1 <= int(r.headers["retry-after"]) <= 60
        assert r.headers["x-ratelimit-limit"] == "2" and r.headers["x-ratelimit-remaining"] == "0"
        # another function is not affected
        await create(client, name="free")
        r = await client.post("/api/v1/functions/free/invoke", json={}, headers=runner_a)
        assert r.status_code == 200


async def test_two_instances_on_one_redis_share_a_limit(
    settings_factory: Callable[..., Any],
) -> None:
    need_service("Redis", "127.0.0.1", 6379)
    settings = settings_factory(rate_limits=TINY, redis_url=REDIS_URL)
    # A subject of this test's own keeps runs from ever sharing counters.
    mine = auth("read:functions", sub=f"shared-{uuid.uuid4().hex}")
    async with running_app(settings) as one, running_app(settings) as two:
        assert (await one.get("/health")).json()["components"]["rate_limiter"] == "ok"
        r = await one.get("/api/v1/functions", headers=mine)
        assert r.status_code == 200 and r.headers["x-ratelimit-remaining"] == "2"
        r = await two.get("/api/v1/functions", headers=mine)
        assert r.status_code == 200 and r.headers["x-ratelimit-remaining"] == "1"
        assert (await one.get("/api/v1/functions", headers=mine)).status_code == 200
        assert_error(await two.get("/api/v1/functions", headers=mine), 429, "RATE_LIMITED")


async def test_redis_key_prefix_separates_limiters(settings_factory: Callable[..., Any]) -> None:
    need_service("Redis", "127.0.0.1", 6379)
    from gateway.services.ratelimit import RateLimiter

    settings = settings_factory(rate_limits=TINY, redis_url=REDIS_URL)
    prefix = f"fngate-test-{uuid.uuid4().hex}"
    first, same, other = (RateLimiter(settings, key_prefix=p)
                          for p in (prefix, prefix, prefix + "-other"))
    try:
        for limiter in (first, same, other):
            await limiter.start()
            assert limiter.status() == "ok"
        assert (await first.hit("read", "k", authenticated=False)).allowed  # type: ignore[union-attr]
        refused = await same.hit("read", "k", authenticated=False)
        assert refused is not None and not refused.allowed and refused.retry_after >= 1
        assert (await other.hit("read", "k", authenticated=False)).allowed  # type: ignore[union-attr]
    finally:
        for limiter in (first, same, other):
            await limiter.close()


async def test_redis_down_fails_open_and_health_is_degraded(
    settings_factory: Callable[..., Any],
) -> None:
    settings = settings_factory(rate_limits=TINY, redis_url="redis://127.0.0.1:1/0")
    async with running_app(settings) as client:
        started = time.monotonic()
        for _ in range(5):
            r = await client.get("/api/v1/functions", headers=auth("read:functions"))
            assert r.status_code == 200, r.text
            assert_error(await client.get("/api/v1/functions"), 401, "UNAUTHORIZED")
        assert time.monotonic() - started < 10
        health = (await client.get("/health")).json()
        assert health["components"]["rate_limiter"] == "down"
        assert health["components"]["redis"] == "down"  # the lambda-microservice name
        assert health["status"] == "degraded"
        assert client.app.state.services.limiter.failures_open >= 10  # type: ignore[attr-defined]


async def test_forwarded_for_is_used_only_from_a_trusted_proxy(
    settings_factory: Callable[..., Any],
) -> None:
    settings = settings_factory(rate_limits=TINY, trusted_proxies=("10.0.0.0/24",))
    async with app_clients(settings, ("10.0.0.1", 123), ("192.0.2.7", 123)) as (proxy, direct):
        def xff(value: str) -> dict[str, str]:
            return {"X-Forwarded-For": value}

        assert (await proxy.get("/api/v1/functions", headers=xff("1.1.1.1"))).status_code == 401
        assert (await proxy.get("/api/v1/functions", headers=xff("2.2.2.2"))).status_code == 401
        # the right-most address that is not a trusted proxy is the client
        r = await proxy.get("/api/v1/functions", headers=xff("2.2.2.2, 1.1.1.1, 10.0.0.9"))
        assert_error(r, 429, "RATE_LIMITED")
        # the proxy's own address has its budget untouched
        assert (await proxy.get("/api/v1/functions")).status_code == 401
        # from an untrusted peer the header is ignored: one budget, whatever it claims
        assert (await direct.get("/api/v1/functions", headers=xff("3.3.3.3"))).status_code == 401
        r = await direct.get("/api/v1/functions", headers=xff("4.4.4.4"))
        assert_error(r, 429, "RATE_LIMITED")
