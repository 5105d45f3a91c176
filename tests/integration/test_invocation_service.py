"""The invocation service (gateway/services/invocation.py) against real PostgreSQL and
RabbitMQ: every entry point hands its invocation to the one ``Invoker.invoke``, and its
policy (rate limit, params, de-duplication, cache, callbacks) applies to each alike."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import aio_pika
import asyncpg
import httpx
import pytest

from gateway.core.cache_directive import CacheDirective
from gateway.core.errors import InvalidParams, NotFound
from gateway.core.models import CronFire, FunctionRecord, Invocation, Invoked
from gateway.services.invocation import Invoker
from tests.conftest import auth, running_app, wait_for
from tests.integration.queue_support import (
    ECHO_EVENT,
    add_queue_trigger,
    consuming,
    publish,
    queue_jobs,
)
from tests.integration.test_cron import EVERY_SECOND, add_cron
from tests.integration.test_functions_api import WRITER, assert_error, create

RUNNER = auth("execute:all")
PARAMS_SCHEMA = {"params": {"type": "object", "required": ["n"],
                            "properties": {"n": {"type": "integer"}}}}


def _invoker(client: httpx.AsyncClient) -> Invoker:
    invoker: Invoker = client.app.state.services.invoker  # type: ignore[attr-defined]
    return invoker


async def _function(client: httpx.AsyncClient, name: str) -> FunctionRecord:
    services = client.app.state.services  # type: ignore[attr-defined]
    function: FunctionRecord | None = await services.functions.get(name)
    assert function is not None
    return function


@contextlib.contextmanager
def recording(invoker: Invoker) -> Iterator[list[Invocation]]:
    """Every invocation handed to ``invoker`` while inside (the real method still runs)."""
    seen: list[Invocation] = []
    real = invoker.invoke

    async def spy(inv: Invocation, **kwargs: Any) -> Invoked:
        seen.append(inv)
        return await real(inv, **kwargs)

    invoker.invoke = spy  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        del invoker.invoke


async def _jobs_by_trigger(database_url: str) -> dict[str, int]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT trigger, count(*) AS n FROM jobs GROUP BY trigger")
    finally:
        await conn.close()
    return {row["trigger"]: row["n"] for row in rows}


async def _session(client: httpx.AsyncClient, function: str) -> str:
    r = await client.post("/api/v1/initialize", json={},
                          headers={**RUNNER, "Language-Title": f"python-{function}"})
    assert r.status_code == 200, r.text
    return str(r.json()["request_id"])


async def _http_trigger(client: httpx.AsyncClient, function: str, path: str) -> None:
    r = await client.post(f"/api/v1/functions/{function}/triggers", headers=WRITER,
                          json={"type": "http", "config": {"path": path}})
    assert r.status_code == 201, r.text


# -- every entry point goes through Invoker.invoke ------------------------------------


async def test_every_entry_point_hands_its_invocation_to_the_one_invoker(
    queue_settings: Callable[..., Any], amqp: aio_pika.abc.AbstractConnection,
    queue_name: str, database_url: str,
) -> None:
    async with running_app(queue_settings()) as client:
        assert (await create(client, name="svc", code=ECHO_EVENT)).status_code == 201
        await _http_trigger(client, "svc", "/svc")
        queue = await add_queue_trigger(client, "svc", {"queue": queue_name})
        await wait_for(lambda: queue["id"] in consuming(client), timeout_s=5)
        sid = await _session(client, "svc")
        with recording(_invoker(client)) as seen:
            r = await client.post("/api/v1/functions/svc/invoke", json={"a": 1},
                                  headers=RUNNER)
            assert r.status_code == 200 and r.json()["result"] == {"a": 1}
            r = await client.post("/api/v1/functions/svc/invoke-async", json={"a": 2},
                                  headers=RUNNER)
            assert r.status_code == 202
            r = await client.post(f"/api/v1/execute/{sid}", json={"params": {"a": 3}},
                                  headers=RUNNER)
            assert r.status_code == 200 and r.json()["result"] == {"a": 3}
            r = await client.get("/fn/svc", headers=RUNNER)
            assert r.status_code == 200 and r.json()["path"] == "/svc"
            await publish(amqp, queue_name, {"a": 4}, message_id="m4")
            await add_cron(client, "svc", {"schedule": EVERY_SECOND})
            await wait_for(lambda: {i.trigger for i in seen} >= {"queue", "cron"},
                           timeout_s=10)

            async def every_kind_recorded() -> bool:
                return len(await _jobs_by_trigger(database_url)) == 5

            await wait_for(every_kind_recorded, timeout_s=10)
        kinds = {(i.trigger, i.mode) for i in seen}
        assert {("invoke", "auto"), ("invoke", "async"), ("session", "sync"),
                ("http", "sync"), ("queue", "held"), ("cron", "async")} <= kinds
        queued = next(i for i in seen if i.trigger == "queue")
        assert queued.source_key == f"{queue['id']}:m4" and queued.redelivered is False
        fired = next(i for i in seen if i.trigger == "cron")
        assert fired.fire is not None and fired.fire.scheduled_at.tzinfo is not None
        # Every job of every kind was made by an invocation the invoker was handed.
        assert set(await _jobs_by_trigger(database_url)) == {i.trigger for i in seen}


# -- the policy, alike for each entry point --------------------------------------------


async def test_the_function_rate_limit_is_one_budget_over_invoke_http_and_sessions(
    client: httpx.AsyncClient, database_url: str,
) -> None:
    assert (await create(client, name="rl", code=ECHO_EVENT,
                         rate_limit="3/minute")).status_code == 201
    await _http_trigger(client, "rl", "/rl")
    sid = await _session(client, "rl")  # initializing is not an invocation

    async def each() -> list[httpx.Response]:
        return [
            await client.post("/api/v1/functions/rl/invoke", json={}, headers=RUNNER),
            await client.get("/fn/rl", headers=RUNNER),
            await client.post(f"/api/v1/execute/{sid}", json={"params": {}}, headers=RUNNER),
        ]

    assert [r.status_code for r in await each()] == [200, 200, 200]
    for r in await each():
        assert r.status_code == 429, r.text
        error = r.json()["error"]
        assert error["code"] == "RATE_LIMITED" and error["details"]["scope"] == "function"
        assert r.headers["x-ratelimit-limit"] == "3" and r.headers["retry-after"]
    assert await _jobs_by_trigger(database_url) == {"invoke": 1, "http": 1, "session": 1}


async def test_queue_messages_and_cron_fires_are_not_held_to_the_rate_limit(
    queue_settings: Callable[..., Any], amqp: aio_pika.abc.AbstractConnection,
    queue_name: str, database_url: str,
) -> None:
    async with running_app(queue_settings()) as client:
        assert (await create(client, name="few", code=ECHO_EVENT,
                             rate_limit="1/minute")).status_code == 201
        queue = await add_queue_trigger(client, "few", {"queue": queue_name})
        await wait_for(lambda: queue["id"] in consuming(client), timeout_s=5)
        r = await client.post("/api/v1/functions/few/invoke", json={}, headers=RUNNER)
        assert r.status_code == 200
        r = await client.post("/api/v1/functions/few/invoke", json={}, headers=RUNNER)
        assert_error(r, 429, "RATE_LIMITED")
        await publish(amqp, queue_name, {"q": 1}, message_id="q1")

        async def queued_done() -> bool:
            return len(await queue_jobs(database_url, "success")) == 1

        await wait_for(queued_done, timeout_s=15)
        cron = await add_cron(client, "few", {"schedule": "0 0 1 1 *"})  # not due now
        fire = CronFire(trigger_id=cron["id"], scheduled_at=dt.datetime(2020, 1, 1,
                                                                         tzinfo=dt.UTC))
        invoked = await _invoker(client).invoke(Invocation(
            function=await _function(client, "few"), event={}, trigger="cron", mode="async",
            fire=fire))
        assert invoked.accepted and not invoked.duplicate


async def test_params_are_checked_for_invoke_and_sessions_not_for_trigger_envelopes(
    client: httpx.AsyncClient, database_url: str,
) -> None:
    assert (await create(client, name="typed", code=ECHO_EVENT,
                         schema=PARAMS_SCHEMA)).status_code == 201
    await _http_trigger(client, "typed", "/typed")
    sid = await _session(client, "typed")
    for path in ("invoke", "invoke-async"):
        r = await client.post(f"/api/v1/functions/typed/{path}", json={"n": "x"},
                              headers=RUNNER)
        assert_error(r, 400, "INVALID_PARAMS")
    r = await client.post(f"/api/v1/execute/{sid}", json={"params": {}}, headers=RUNNER)
    assert r.status_code == 400 and r.json()["error"]["code"] == "INVALID_PARAMS"
    assert await _jobs_by_trigger(database_url) == {}  # refused before any job
    # The gateway's own envelopes are not the function's params.
    r = await client.post("/fn/typed", json={"no": "n"}, headers=RUNNER)
    assert r.status_code == 200 and r.json()["body"] == {"no": "n"}
    held = await _invoker(client).invoke(Invocation(
        function=await _function(client, "typed"), event={"body": "text"}, trigger="queue",
        mode="held"))
    assert held.job.status == "success" and not held.duplicate


# -- de-duplication: idempotency keys, cron fires, message keys ------------------------


async def test_a_cron_fire_is_claimed_once_and_the_other_claim_gets_its_job(
    client: httpx.AsyncClient, database_url: str,
) -> None:
    assert (await create(client, name="tick", code=ECHO_EVENT)).status_code == 201
    trigger = await add_cron(client, "tick", {"schedule": "0 0 1 1 *"})  # not due now
    function = await _function(client, "tick")
    fire = CronFire(trigger_id=trigger["id"],
                    scheduled_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))

    def claim() -> Invocation:
        return Invocation(function=function, event={"at": "2020"}, trigger="cron",
                          mode="async", fire=fire)

    first, second = await asyncio.gather(*(_invoker(client).invoke(claim()) for _ in "ab"))
    assert sorted([first.duplicate, second.duplicate]) == [False, True]
    assert first.accepted and second.accepted and first.job.id == second.job.id
    assert await _jobs_by_trigger(database_url) == {"cron": 1}
    job = await wait_for(lambda: _finished(client, first.job.id), timeout_s=15)
    assert job["status"] == "success" and job["trigger"] == "cron"


async def _finished(client: httpx.AsyncClient, job_id: str) -> dict[str, Any] | None:
    job: dict[str, Any] = (await client.get(f"/api/v1/jobs/{job_id}",
                                           headers=auth("read:jobs"))).json()
    return job if job["status"] in ("success", "failed") else None


async def test_a_lost_cron_claim_whose_job_is_gone_is_an_error(
    client: httpx.AsyncClient, database_url: str,
) -> None:
    assert (await create(client, name="gone", code=ECHO_EVENT)).status_code == 201
    trigger = await add_cron(client, "gone", {"schedule": "0 0 1 1 *"})
    function = await _function(client, "gone")
    fire = CronFire(trigger_id=trigger["id"],
                    scheduled_at=dt.datetime(2021, 1, 1, tzinfo=dt.UTC))
    claim = Invocation(function=function, event={}, trigger="cron", mode="async", fire=fire)
    first = await _invoker(client).invoke(claim)
    await wait_for(lambda: _finished(client, first.job.id), timeout_s=15)
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("DELETE FROM jobs WHERE id = $1::uuid", first.job.id)
    finally:
        await conn.close()
    with pytest.raises(NotFound) as caught:
        await _invoker(client).invoke(claim)
    assert caught.value.code == "JOB_NOT_FOUND"


async def test_a_message_key_seen_again_is_a_duplicate_unless_the_delivery_is_fresh(
    client: httpx.AsyncClient,
) -> None:
    assert (await create(client, name="held", code=ECHO_EVENT)).status_code == 201
    function = await _function(client, "held")

    def delivery(redelivered: bool) -> Invocation:
        return Invocation(function=function, event={"m": 1}, trigger="queue", mode="held",
                          source_key="t:m1", redelivered=redelivered)

    first = await _invoker(client).invoke(delivery(False))
    assert first.job.status == "success" and not first.duplicate and not first.accepted
    again = await _invoker(client).invoke(delivery(True))
    assert again.duplicate and again.job.id == first.job.id
    fresh = await _invoker(client).invoke(delivery(False))  # a new message reusing the id
    assert not fresh.duplicate and fresh.job.id != first.job.id


async def test_an_idempotency_key_seen_again_returns_its_job_sync_or_async(
    client: httpx.AsyncClient,
) -> None:
    assert (await create(client, name="idem", code=ECHO_EVENT)).status_code == 201
    function = await _function(client, "idem")
    for mode in ("sync", "async"):
        call = Invocation(function=function, event={"k": 1}, trigger="invoke",
                          owner="iss|alice", idempotency_key=f"k-{mode}", mode=mode)
        first = await _invoker(client).invoke(call)
        again = await _invoker(client).invoke(call)
        assert not first.duplicate and again.duplicate and again.job.id == first.job.id
        assert first.accepted is again.accepted is (mode == "async")


# -- the result cache, the entry point's own step, callbacks ---------------------------


async def test_a_sync_run_reports_its_cache_state(client: httpx.AsyncClient) -> None:
    assert (await create(client, name="cached", code=ECHO_EVENT,
                         cache_ttl=60)).status_code == 201
    function = await _function(client, "cached")

    def call(cache: CacheDirective | None, key: str | None = None) -> Invocation:
        return Invocation(function=function, event={"c": 1}, trigger="invoke",
                          owner="iss|alice", cache=cache, idempotency_key=key)

    uncached = await _invoker(client).invoke(call(None))
    assert uncached.cache is None and uncached.age_s is None
    miss = await _invoker(client).invoke(call(CacheDirective("default")))
    assert miss.cache == "MISS" and not miss.job.cached
    hit = await _invoker(client).invoke(call(CacheDirective("default")))
    assert hit.cache == "HIT" and hit.job.cached and hit.job.result == {"c": 1}
    assert hit.age_s is not None and hit.age_s >= 0 and hit.job.id != miss.job.id
    keyed = await _invoker(client).invoke(call(CacheDirective("default"), key="once"))
    assert keyed.cache == "BYPASS" and not keyed.job.cached  # the key's own run wins
    # An async invocation never reads the cache, whatever the directive.
    queued = await _invoker(client).invoke(
        dataclasses.replace(call(CacheDirective("default")), mode="async"))
    assert queued.accepted and queued.cache is None


async def test_the_entry_points_own_step_runs_once_admitted_and_can_refuse(
    client: httpx.AsyncClient, database_url: str,
) -> None:
    assert (await create(client, name="step", code=ECHO_EVENT,
                         schema=PARAMS_SCHEMA)).status_code == 201
    function = await _function(client, "step")
    steps: list[str] = []

    async def admitted() -> None:
        steps.append("admitted")

    async def refuse() -> None:
        raise NotFound("gone", code="SESSION_NOT_FOUND")

    def call(event: Any) -> Invocation:
        return Invocation(function=function, event=event, trigger="session")

    with pytest.raises(InvalidParams):
        await _invoker(client).invoke(call({"n": "x"}), on_admitted=admitted)
    assert steps == []  # refused by the checks: the step never ran
    with pytest.raises(NotFound):
        await _invoker(client).invoke(call({"n": 1}), on_admitted=refuse)
    assert await _jobs_by_trigger(database_url) == {}
    invoked = await _invoker(client).invoke(call({"n": 2}), on_admitted=admitted)
    assert steps == ["admitted"] and invoked.job.result == {"n": 2}


