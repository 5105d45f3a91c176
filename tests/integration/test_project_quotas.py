"""Project quotas (max_functions, max_memory_mb, max_concurrency) against a real PostgreSQL:
who may set them, and 429 ``QUOTA_EXCEEDED`` for each, with what waits instead of failing."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from gateway.services.concurrency import ConcurrencyGates
from tests.conftest import auth, wait_for
from tests.integration.test_functions_api import assert_error
from tests.integration.test_invoke_api import finished_job

OPERATOR = auth("admin", sub="ops")
ALPHA_ADMIN = auth("admin@alpha read:jobs@alpha", sub="alpha-admin")
ALPHA = auth("write:functions@alpha read:functions@alpha execute:all@alpha read:jobs@alpha",
             sub="alpha-dev")
ECHO = "def handler(event):\n    return event\n"
SLOW = "import time\n\ndef handler(event):\n    time.sleep(event.get('s', 0))\n    return event\n"


async def project(client: httpx.AsyncClient, name: str = "alpha", **quotas: Any
                  ) -> dict[str, Any]:
    r = await client.post("/api/v1/projects", headers=OPERATOR,
                          json={"name": name, "quotas": quotas})
    assert r.status_code == 201, r.text
    return dict(r.json())


async def create(client: httpx.AsyncClient, name: str, project: str = "alpha",
                 headers: dict[str, str] = ALPHA, **extra: Any) -> httpx.Response:
    return await client.post("/api/v1/functions", headers=headers, json={
        "name": name, "runtime": "python", "code": extra.pop("code", ECHO),
        "project": project, **extra})


def quota_details(r: httpx.Response) -> dict[str, Any]:
    details: dict[str, Any] = assert_error(r, 429, "QUOTA_EXCEEDED")["error"]["details"]
    return details


def gates(client: httpx.AsyncClient) -> ConcurrencyGates:
    return client.app.state.services.dispatcher.gates  # type: ignore[attr-defined,no-any-return]


# -- setting quotas ---------------------------------------------------------------------------

async def test_quotas_are_shown_and_only_the_operator_changes_them(
    client: httpx.AsyncClient,
) -> None:
    body = await project(client, max_functions=3, max_memory_mb=512)
    assert body["quotas"] == {"max_functions": 3, "max_concurrency": None,
                              "max_memory_mb": 512}
    r = await client.get("/api/v1/projects/alpha", headers=ALPHA)
    assert r.json()["quotas"]["max_functions"] == 3

    # The project's own admin may change its description, not its quotas.
    r = await client.put("/api/v1/projects/alpha", headers=ALPHA_ADMIN,
                         json={"quotas": {"max_functions": 100}})
    assert assert_error(r, 403, "FORBIDDEN")["error"]["details"]["required_scope"] == "admin"
    r = await client.put("/api/v1/projects/alpha", headers=ALPHA_ADMIN,
                         json={"description": "team alpha"})
    assert r.status_code == 200 and r.json()["description"] == "team alpha"
    assert r.json()["quotas"]["max_functions"] == 3
    # A write:functions holder without admin may not change the project at all.
    assert_error(await client.put("/api/v1/projects/alpha", headers=ALPHA,
                                  json={"description": "x"}), 403, "FORBIDDEN")

    # The operator changes the quotas it names and keeps the others; null is unlimited.
    r = await client.put("/api/v1/projects/alpha", headers=OPERATOR,
                         json={"quotas": {"max_concurrency": 2, "max_memory_mb": None}})
    assert r.status_code == 200, r.text
    assert r.json()["quotas"] == {"max_functions": 3, "max_concurrency": 2,
                                  "max_memory_mb": None}
    assert_error(await client.put("/api/v1/projects/nope", headers=OPERATOR,
                                  json={"quotas": {}}), 404, "PROJECT_NOT_FOUND")


async def test_bad_quotas_and_fields_are_400(client: httpx.AsyncClient) -> None:
    await project(client)
    for quotas in ({"max_functions": 0}, {"max_concurrency": "2"}, {"max_memory_mb": -1},
                   {"max_cpu": 1}, {"max_functions": 2**31}):
        r = await client.post("/api/v1/projects", headers=OPERATOR,
                               json={"name": "beta", "quotas": quotas})
        assert_error(r, 400, "INVALID_REQUEST")
        r = await client.put("/api/v1/projects/alpha", headers=OPERATOR,
                             json={"quotas": quotas})
        assert_error(r, 400, "INVALID_REQUEST")
    for body in ({"name": "other"}, {"status": "stopped"}, {"environment": {}}):
        r = await client.put("/api/v1/projects/alpha", headers=OPERATOR, json=body)
        assert assert_error(r, 400, "INVALID_REQUEST")["error"]["details"]["field"] == \
            next(iter(body))


# -- max_functions ----------------------------------------------------------------------------

async def test_max_functions_refuses_the_next_create_and_a_move_in(
    client: httpx.AsyncClient,
) -> None:
    await project(client, max_functions=2)
    await project(client, "beta")
    for name in ("a1", "a2"):
        assert (await create(client, name)).status_code == 201
    r = await create(client, "a3")
    details = quota_details(r)
    assert details == {"project": "alpha", "quota": "max_functions", "limit": 2, "current": 2}
    assert "max_functions" in r.json()["error"]["message"]
    assert (await client.get("/api/v1/functions/a3", headers=ALPHA)).status_code == 404

    # Moving a function in counts as one more; out of it frees a place.
    assert (await create(client, "b1", project="beta", headers=OPERATOR)).status_code == 201
    r = await client.put("/api/v1/functions/b1", headers=OPERATOR, json={"project": "alpha"})
    assert quota_details(r)["quota"] == "max_functions"
    r = await client.get("/api/v1/functions/b1", headers=OPERATOR)
    assert r.json()["project"] == "beta"
    # An update that stays in the project is not a new function.
    r = await client.put("/api/v1/functions/a1", headers=ALPHA, json={"description": "x"})
    assert r.status_code == 200, r.text
    assert (await client.delete("/api/v1/functions/a2", headers=ALPHA)).status_code == 204
    r = await client.put("/api/v1/functions/b1", headers=OPERATOR, json={"project": "alpha"})
    assert r.status_code == 200 and r.json()["project"] == "alpha"

    # A lowered quota keeps what the project has and refuses the next one.
    r = await client.put("/api/v1/projects/alpha", headers=OPERATOR,
                         json={"quotas": {"max_functions": 1}})
    assert r.status_code == 200 and len(r.json()["functions"]) == 2
    assert quota_details(await create(client, "a4"))["current"] == 2


async def test_concurrent_creates_and_moves_never_pass_max_functions_together(
    client: httpx.AsyncClient,
) -> None:
    await project(client, max_functions=2)
    await project(client, "beta")
    for i in range(3):
        r = await create(client, f"in-beta{i}", project="beta", headers=OPERATOR)
        assert r.status_code == 201, r.text
    answers = await asyncio.gather(
        *(create(client, f"race{i}") for i in range(4)),
        *(client.put(f"/api/v1/functions/in-beta{i}", headers=OPERATOR,
                     json={"project": "alpha", "memory_mb": 128}) for i in range(3)))
    statuses = sorted(r.status_code for r in answers)
    assert statuses.count(429) == 5 and len([s for s in statuses if s < 300]) == 2, \
        [r.text for r in answers]
    assert all(r.json()["error"]["code"] == "QUOTA_EXCEEDED" for r in answers
               if r.status_code == 429)
    r = await client.get("/api/v1/projects/alpha", headers=ALPHA)
    assert len(r.json()["functions"]) == 2


# -- max_memory_mb ----------------------------------------------------------------------------

async def test_max_memory_mb_refuses_a_bigger_function_on_create_update_and_move(
    client: httpx.AsyncClient,
) -> None:
    await project(client, max_memory_mb=256)
    await project(client, "beta")
    r = await create(client, "big", memory_mb=512)
    assert quota_details(r) == {"project": "alpha", "quota": "max_memory_mb", "limit": 256,
                                "current": 512}
    r = await create(client, "big", resources={"memory": "1Gi"})
    assert quota_details(r)["current"] == 1024
    assert (await create(client, "fits", memory_mb=256)).status_code == 201
    r = await client.put("/api/v1/functions/fits", headers=ALPHA, json={"memory_mb": 300})
    assert quota_details(r)["quota"] == "max_memory_mb"
    r = await client.get("/api/v1/functions/fits", headers=ALPHA)
    assert r.json()["memory_mb"] == 256
    r = await client.put("/api/v1/functions/fits", headers=ALPHA, json={"memory_mb": 128})
    assert r.status_code == 200 and r.json()["memory_mb"] == 128

    assert (await create(client, "wide", project="beta", headers=OPERATOR,
                         memory_mb=1024)).status_code == 201
    r = await client.put("/api/v1/functions/wide", headers=OPERATOR, json={"project": "alpha"})
    assert quota_details(r)["quota"] == "max_memory_mb"
    r = await client.put("/api/v1/functions/wide", headers=OPERATOR,
                         json={"project": "alpha", "memory_mb": 200})
    assert r.status_code == 200 and r.json()["project"] == "alpha"


# -- max_concurrency --------------------------------------------------------------------------

async def test_max_concurrency_refuses_the_next_sync_call_across_the_project(
    client: httpx.AsyncClient,
) -> None:
    await project(client, max_concurrency=1)
    for name in ("slow", "other"):
        assert (await create(client, name, code=SLOW, timeout_ms=10_000)).status_code == 201
    r = await client.post("/api/v1/functions/other/triggers", headers=ALPHA,
                          json={"type": "http", "config": {"path": "/other"}})
    assert r.status_code == 201, r.text
    holding = asyncio.create_task(client.post("/api/v1/functions/slow/invoke", headers=ALPHA,
                                              json={"s": 2}))
    await wait_for(lambda: gates(client).project_current("alpha") == 1)
    # Another function of the same project, with room of its own: the project has none.
    r = await client.post("/api/v1/functions/other/invoke", headers=ALPHA, json={})
    details = quota_details(r)
    assert details == {"project": "alpha", "quota": "max_concurrency", "limit": 1,
                       "current": 1}
    assert r.headers["retry-after"] == "1"
    r = await client.post("/api/v1/functions/slow/invoke", headers=ALPHA, json={"s": 0})
    assert quota_details(r)["quota"] == "max_concurrency"
    # An HTTP trigger's caller waits for the answer too: refused the same way.
    r = await client.post("/fn/other", headers=ALPHA, json={})
    assert quota_details(r)["quota"] == "max_concurrency"
    first = await holding
    assert first.status_code == 200 and first.json()["status"] == "success", first.text
    assert gates(client).project_current("alpha") == 0
    r = await client.post("/api/v1/functions/other/invoke", headers=ALPHA, json={"n": 1})
    assert r.status_code == 200 and r.json()["result"] == {"n": 1}


async def test_async_jobs_wait_for_the_project_instead_of_failing(
    client: httpx.AsyncClient,
) -> None:
    await project(client, max_concurrency=1)
    for name in ("slow", "other"):
        assert (await create(client, name, code=SLOW, timeout_ms=10_000)).status_code == 201
    holding = asyncio.create_task(client.post("/api/v1/functions/slow/invoke", headers=ALPHA,
                                              json={"s": 1.5}))
    await wait_for(lambda: gates(client).project_current("alpha") == 1)
    accepted = [await client.post(f"/api/v1/functions/{name}/invoke-async", headers=ALPHA,
                                  json={"s": 0.3, "n": n})
                for n, name in enumerate(("other", "other", "slow"))]
    assert [r.status_code for r in accepted] == [202] * 3, [r.text for r in accepted]
    # A session's execute waits for the project rather than failing.
    r = await client.post("/api/v1/initialize", headers={**ALPHA,
                                                         "Language-Title": "python-other"},
                          json={"context": {}})
    assert r.status_code == 200, r.text
    executing = asyncio.create_task(client.post(
        f"/api/v1/execute/{r.json()['request_id']}", headers=ALPHA,
        json={"params": {"session": True}}))
    # The project is full: its jobs stay pending, not claimed to wait at its gate.
    for r in accepted:
        job = (await client.get(f"/api/v1/jobs/{r.json()['id']}", headers=ALPHA)).json()
        assert job["status"] == "pending", job
    assert (await holding).json()["status"] == "success"
    executed = await executing
    assert executed.status_code == 200 and executed.json()["result"] == {"session": True}
    jobs = [await finished_job(client, r.json()["id"], headers=ALPHA) for r in accepted]
    assert [j["status"] for j in jobs] == ["success"] * 3, jobs
    assert [j["attempts"] for j in jobs] == [1, 1, 1]
    # One at a time: each claimed only after the one before it finished.
    spans = sorted((j["started_at"], j["finished_at"]) for j in jobs)
    for (_, finished), (started, _) in zip(spans, spans[1:], strict=False):
        assert finished <= started, spans
