"""Sync and async invocation, jobs, logs, idempotency and concurrency, end to end."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx

from tests.conftest import auth, running_app, wait_for
from tests.integration.test_functions_api import WRITER, assert_error, create

RUNNER = auth("execute:all")
NODE_ECHO = "function handler(event) { return event }"


async def invoke(client: httpx.AsyncClient, name: str, body: object = None,
                 headers: dict | None = None, path: str = "invoke") -> httpx.Response:
    kwargs: dict = {"headers": {**RUNNER, **(headers or {})}}
    if body is not None:
        kwargs["json"] = body
    return await client.post(f"/api/v1/functions/{name}/{path}", **kwargs)


async def finished_job(client: httpx.AsyncClient, job_id: str, headers=RUNNER) -> dict:
    async def done() -> dict | None:
        job = (await client.get(f"/api/v1/jobs/{job_id}", headers=headers)).json()
        return job if job["status"] in ("success", "failed") else None

    return await wait_for(done, timeout_s=20)


async def test_python_and_node_echo_round_trip_sync(client: httpx.AsyncClient) -> None:
    await create(client, name="pyecho")
    await create(client, name="jsecho", runtime="nodejs", code=NODE_ECHO)
    for name in ("pyecho", "jsecho"):
        r = await invoke(client, name, {"x": [1, 2, {"y": "z"}]})
        assert r.status_code == 200, r.text
        job = r.json()
        assert job["status"] == "success" and job["result"] == {"x": [1, 2, {"y": "z"}]}
        assert job["trigger"] == "invoke" and job["attempts"] == 1 and job["cached"] is False
        assert job["cold_start"] is True and r.headers["x-cold-start"] == "true"
        assert r.headers["x-job-id"] == job["id"]
        assert float(r.headers["x-function-duration"]) >= 0
        assert isinstance(job["duration"], int)
        second = (await invoke(client, name, {"n": 2})).json()
        assert second["cold_start"] is False and second["result"] == {"n": 2}
        stored = (await client.get(f"/api/v1/jobs/{job['id']}", headers=RUNNER)).json()
        assert stored["status"] == "success" and stored["result"] == job["result"]


async def test_empty_body_is_empty_object_and_bad_json_is_400(client: httpx.AsyncClient) -> None:
    await create(client, name="e")
    r = await invoke(client, "e")
    assert r.json()["result"] == {}
    r = await client.post("/api/v1/functions/e/invoke", content=b"nope",
                          headers={**RUNNER, "content-type": "application/json"})
    assert_error(r, 400, "INVALID_REQUEST")


async def test_async_invoke_runs_in_background(client: httpx.AsyncClient) -> None:
    await create(client, name="bg")
    await create(client, name="bgjs", runtime="nodejs", code=NODE_ECHO, execution_type="async")
    for name, kwargs in (("bg", {"path": "invoke-async"}),
                         ("bg", {"headers": {"Prefer": "respond-async"}}),
                         ("bgjs", {})):
        r = await invoke(client, name, {"k": name}, **kwargs)
        assert r.status_code == 202, r.text
        job = r.json()
        assert job["status"] in ("pending", "running", "success")
        assert r.headers["location"] == f"/api/v1/jobs/{job['id']}"
        done = await finished_job(client, job["id"])
        assert done["status"] == "success" and done["result"] == {"k": name}
    r = await invoke(client, "bg", {"q": 1}, path="invoke?async=true")
    assert r.status_code == 202
    r = await invoke(client, "bgjs", {"q": 1}, path="invoke?async=false")
    assert r.status_code == 200 and r.json()["result"] == {"q": 1}
    assert_error(await invoke(client, "bg", {}, path="invoke?async=maybe"), 400,
                 "INVALID_REQUEST")


async def test_failed_run_is_200_with_error_details(client: httpx.AsyncClient) -> None:
    await create(client, name="boom", code="def handler(event):\n    x = 1\n    return 1 / 0\n")
    r = await invoke(client, "boom", {})
    assert r.status_code == 200
    job = r.json()
    assert job["status"] == "failed" and job["result"] is None
    assert job["error"]["code"] == "RUNTIME_ERROR"
    assert job["error"]["details"]["type"] == "ZeroDivisionError"
    assert job["error"]["details"]["line"] == 3
    assert "ZeroDivisionError" in job["error"]["details"]["stack_trace"]
    assert r.headers["x-function-error"] == "RUNTIME_ERROR"


async def test_timeout_and_memory_kill_fail_the_job(client: httpx.AsyncClient) -> None:
    await create(client, name="slow", timeout_ms=500,
                 code="import time\ndef handler(e):\n    time.sleep(10)\n")
    r = await invoke(client, "slow", {})
    job = r.json()
    assert r.status_code == 200 and job["status"] == "failed"
    assert job["error"]["code"] == "TIMEOUT" and r.headers["x-function-error"] == "TIMEOUT"
    await create(client, name="hog", memory_mb=64,
                 code="def handler(e):\n    b = bytearray(400 * 1024 * 1024)\n    return len(b)\n")
    job = (await invoke(client, "hog", {})).json()
    assert job["status"] == "failed" and job["error"]["details"]["type"] == "OutOfMemory"
    await create(client, name="crash", code="import os\ndef handler(e):\n    os._exit(3)\n")
    job = (await invoke(client, "crash", {})).json()
    assert job["status"] == "failed" and job["error"]["details"]["type"] == "WorkerCrashed"
    # the gateway is still fine
    assert (await client.get("/health")).json()["status"] == "ok"


async def test_invoke_errors(client: httpx.AsyncClient) -> None:
    await create(client, name="py")
    assert_error(await invoke(client, "missing", {}), 404, "FUNCTION_NOT_FOUND")
    r = await client.post("/api/v1/functions/py/invoke", json={},
                          headers=auth("execute:nodejs"))
    body = assert_error(r, 403, "FORBIDDEN")
    assert body["error"]["details"]["required_scope"] == "execute:python"
    r = await client.post("/api/v1/functions/py/invoke", json={},
                          headers=auth("execute:python"))
    assert r.status_code == 200
    assert_error(await client.post("/api/v1/functions/py/invoke", json={}), 401, "UNAUTHORIZED")
    r = await invoke(client, "py", {}, headers={"Idempotency-Key": "k" * 256})
    assert_error(r, 400, "INVALID_REQUEST")


async def test_jobs_are_visible_to_their_creator_only(client: httpx.AsyncClient) -> None:
    await create(client, name="mine", code="def handler(e):\n    print('hello', e)\n    return 1\n")
    job = (await client.post("/api/v1/functions/mine/invoke", json={"a": 1},
                             headers=auth("execute:all", sub="alice"))).json()
    path = f"/api/v1/jobs/{job['id']}"
    assert (await client.get(path, headers=auth("execute:all", sub="alice"))).status_code == 200
    assert_error(await client.get(path, headers=auth("execute:all", sub="bob")), 404,
                 "JOB_NOT_FOUND")
    assert_error(await client.get(path + "/logs", headers=auth("execute:all", sub="bob")), 404,
                 "JOB_NOT_FOUND")
    assert (await client.get(path, headers=auth("read:jobs", sub="bob"))).status_code == 200
    assert (await client.get(path, headers=auth("admin", sub="carol"))).status_code == 200
    logs = (await client.get(path + "/logs", headers=auth("execute:all", sub="alice"))).json()
    assert [(line["stream"], line["message"]) for line in logs["logs"]] == [
        ("stdout", "hello {'a': 1}")]
    assert logs["logs"][0]["job_id"] == job["id"] and logs["logs"][0]["timestamp"].endswith("Z")
    assert_error(await client.get("/api/v1/jobs/not-a-uuid", headers=RUNNER), 404,
                 "JOB_NOT_FOUND")


async def test_function_jobs_list_pages_newest_first(client: httpx.AsyncClient) -> None:
    await create(client, name="many")
    ids = [(await invoke(client, "many", {"i": i})).json()["id"] for i in range(5)]
    await client.post("/api/v1/functions/many/invoke", json={}, headers=auth("execute:all", "bob"))
    page1 = (await client.get("/api/v1/functions/many/jobs?limit=3", headers=RUNNER)).json()
    assert [j["id"] for j in page1["jobs"]] == ids[::-1][:3]
    assert page1["next_before"] == ids[2]
    page2 = (await client.get(f"/api/v1/functions/many/jobs?limit=3&before={ids[2]}",
                              headers=RUNNER)).json()
    assert [j["id"] for j in page2["jobs"]] == ids[::-1][3:] and page2["next_before"] is None
    everything = (await client.get("/api/v1/functions/many/jobs", headers=auth("read:jobs"))).json()
    assert len(everything["jobs"]) == 6
    ok = (await client.get("/api/v1/functions/many/jobs?status=failed", headers=RUNNER)).json()
    assert ok["jobs"] == []
    assert_error(await client.get("/api/v1/functions/many/jobs?status=weird", headers=RUNNER),
                 400, "INVALID_REQUEST")
    assert_error(await client.get("/api/v1/functions/many/jobs?before=zzz", headers=RUNNER),
                 400, "INVALID_REQUEST")


async def test_idempotency_key_runs_once_even_when_racing(client: httpx.AsyncClient) -> None:
    await create(client, name="idem", code="import time\ndef handler(e):\n"
                 "    time.sleep(0.3)\n    return e\n")
    key = {"Idempotency-Key": "order-42"}
    a, b = await asyncio.gather(invoke(client, "idem", {"v": 1}, headers=key),
                                invoke(client, "idem", {"v": 1}, headers=key))
    assert a.status_code == 200 and b.status_code == 200
    assert a.json()["id"] == b.json()["id"]
    again = await invoke(client, "idem", {"v": 1}, headers=key)
    assert again.json()["id"] == a.json()["id"] and again.json()["status"] == "success"
    jobs = (await client.get("/api/v1/functions/idem/jobs", headers=RUNNER)).json()["jobs"]
    assert len(jobs) == 1
    assert_error(await invoke(client, "idem", {"v": 2}, headers=key), 409, "CONFLICT")
    first_async = await invoke(client, "idem", {"w": 1}, headers={"Idempotency-Key": "a1"},
                               path="invoke-async")
    second_async = await invoke(client, "idem", {"w": 1}, headers={"Idempotency-Key": "a1"},
                                path="invoke-async")
    assert first_async.json()["id"] == second_async.json()["id"]


async def test_max_concurrency_is_respected_and_overflow_gets_429(
        client: httpx.AsyncClient) -> None:
    code = ("import time\ndef handler(e):\n    t = time.time()\n    time.sleep(0.4)\n"
            "    return [t, time.time()]\n")
    await create(client, name="narrow", code=code, max_concurrency=1, timeout_ms=2000)
    responses = await asyncio.gather(*(invoke(client, "narrow", {}) for _ in range(13)))
    limited = [r for r in responses if r.status_code == 429]
    done = [r.json() for r in responses if r.status_code == 200]
    assert len(limited) >= 2
    for r in limited:
        assert r.json()["error"]["code"] == "CONCURRENCY_LIMIT"
    spans = sorted(tuple(j["result"]) for j in done if j["status"] == "success")
    assert len(spans) >= 2
    for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
        assert start >= end - 0.01, "two runs overlapped with max_concurrency=1"


async def test_job_enqueued_without_runner_runs_when_one_starts(settings_factory) -> None:
    settings = settings_factory()
    async with running_app(settings, run_jobs=False) as c:
        await create(c, name="later")
        job = (await invoke(c, "later", {"z": 1}, path="invoke-async")).json()
        await asyncio.sleep(1.0)
        assert (await c.get(f"/api/v1/jobs/{job['id']}", headers=RUNNER)).json()["status"] == \
            "pending"
    async with running_app(settings) as c:
        done = await finished_job(c, job["id"])
        assert done["status"] == "success" and done["result"] == {"z": 1}


async def test_expired_lease_is_run_again_without_using_a_retry(settings_factory,
                                                                database_url: str) -> None:
    async with running_app(settings_factory()) as c:
        await create(c, name="lost", max_retries=0)
        f = (await c.get("/api/v1/functions/lost", headers=WRITER)).json()
        conn = await asyncpg.connect(database_url)
        job_id = await conn.fetchval(
            "INSERT INTO jobs (id, function_id, function_name, version, trigger, status, owner,"
            " event, attempts, started_at, lease_token, lease_expires_at)"
            " VALUES (gen_random_uuid(), $1, 'lost', 1, 'invoke', 'running', '|alice',"
            " '{\"r\": 1}', 1, now(), gen_random_uuid(), now() - interval '1 second')"
            " RETURNING id", f["id"])
        await conn.close()
        done = await finished_job(c, str(job_id))
        assert done["status"] == "success" and done["result"] == {"r": 1}
        assert done["attempts"] == 2


async def test_retries_count_in_attempts(client: httpx.AsyncClient) -> None:
    await create(client, name="flaky", max_retries=2,
                 code="def handler(e):\n    raise ValueError('nope')\n")
    job = (await invoke(client, "flaky", {}, path="invoke-async")).json()
    done = await finished_job(client, job["id"])
    assert done["status"] == "failed" and done["attempts"] == 3
    assert done["error"]["details"]["type"] == "ValueError"


async def test_idempotency_key_wins_over_a_cached_result(client: httpx.AsyncClient) -> None:
    await create(client, name="clock", code="import time\ndef handler(e):\n"
                 "    return time.time()\n")
    cached = {"X-Cache-Control": "max-age=60"}
    first = await invoke(client, "clock", {"k": 1}, headers={**cached, "Idempotency-Key": "i1"})
    assert first.status_code == 200
    warm = await invoke(client, "clock", {"k": 1}, headers=cached)
    assert warm.headers["x-cache"] == "HIT"  # the keyed run filled the cache
    warm = await invoke(client, "clock", {"k": 2}, headers=cached)
    assert warm.headers["x-cache"] == "MISS"
    # the same key again: its first job, not a new cached one
    again = await invoke(client, "clock", {"k": 1}, headers={**cached, "Idempotency-Key": "i1"})
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert again.json()["cached"] is False and "age" not in again.headers
    # a reused key with another body is a conflict even when that body is cached
    r = await invoke(client, "clock", {"k": 2}, headers={**cached, "Idempotency-Key": "i1"})
    assert_error(r, 409, "CONFLICT")
    # a new key runs once, even though the cache holds a result for its body
    fresh = await invoke(client, "clock", {"k": 2}, headers={**cached, "Idempotency-Key": "i2"})
    assert fresh.json()["id"] != warm.json()["id"] and fresh.json()["cached"] is False
    replay = await invoke(client, "clock", {"k": 2}, headers={**cached, "Idempotency-Key": "i2"})
    assert replay.json()["id"] == fresh.json()["id"]
    # a keyed request does not read the cache, and says so
    assert {first.headers["x-cache"], fresh.headers["x-cache"]} == {"BYPASS"}


async def test_async_invoke_refuses_an_invalid_cache_control(client: httpx.AsyncClient) -> None:
    await create(client, name="aio")
    for path, extra in (("invoke-async", {}), ("invoke", {"Prefer": "respond-async"})):
        r = await invoke(client, "aio", {}, headers={"X-Cache-Control": "bogus", **extra},
                         path=path)
        body = assert_error(r, 400, "INVALID_REQUEST")
        assert body["error"]["details"] == {"header": "X-Cache-Control"}
    r = await invoke(client, "aio", {}, headers={"X-Cache-Control": "no-store"},
                     path="invoke-async")
    assert r.status_code == 202


async def test_a_cold_node_call_sees_what_its_module_set_up_asynchronously(
        client: httpx.AsyncClient) -> None:
    """The call frame arrives with the code; it still runs after the module's promises."""
    code = ("let ready = 'no';\n"
            "Promise.resolve().then(() => { ready = 'yes' });\n"
            "process.nextTick(() => { ready += '!' });\n"
            "function handler(event) { return { ready } }\n")
    await create(client, name="setup", runtime="nodejs", code=code)
    r = await invoke(client, "setup", {})
    job = r.json()
    # nextTick runs before promise callbacks: 'no' + '!' then 'yes' → 'yes'.
    assert job["cold_start"] is True and job["result"] == {"ready": "yes"}
