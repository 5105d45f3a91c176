"""Edge cases found in review: NUL characters, idempotency failure paths, racing updates."""

from __future__ import annotations

import asyncio

import httpx

from tests.conftest import auth, wait_for
from tests.integration.test_functions_api import READER, WRITER, assert_error, create
from tests.integration.test_invoke_api import RUNNER, finished_job, invoke


async def test_nul_characters_never_become_500s(client: httpx.AsyncClient) -> None:
    await create(client, name="nul", max_retries=1,
                 code="def handler(e):\n    print('a\\x00b')\n    return 'x\\x00y'\n")
    r = await client.post("/api/v1/functions/nul/invoke", content=b'{"a": "\\u0000"}',
                          headers={**RUNNER, "content-type": "application/json"})
    assert_error(r, 400, "INVALID_REQUEST")
    r = await invoke(client, "nul", {})
    assert r.status_code == 200
    job = r.json()
    assert job["status"] == "failed" and job["error"]["details"]["type"] == "InvalidResult"
    logs = (await client.get(f"/api/v1/jobs/{job['id']}/logs", headers=RUNNER)).json()["logs"]
    assert logs[0]["message"] == "a\ufffdb"
    queued = (await invoke(client, "nul", {}, path="invoke-async")).json()
    done = await finished_job(client, queued["id"])
    assert done["status"] == "failed" and done["error"]["details"]["type"] == "InvalidResult"
    assert done["attempts"] == 1  # a storage problem is not retried, nor re-run
    r = await client.post("/api/v1/functions", headers={**WRITER, "content-type":
                          "application/json"}, content=b'{"name": "n2", "runtime": "python",'
                          b' "code": "def handler(e):\\n    return 1 # \\u0000"}')
    assert_error(r, 400, "INVALID_REQUEST")


async def test_idempotent_sync_call_that_breaks_inside_the_gateway_is_not_stuck(
        client: httpx.AsyncClient) -> None:
    await create(client, name="brk")
    services = client.app.state.services  # type: ignore[attr-defined]
    real_run = services.pools.run

    async def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("injected executor fault")

    services.pools.run = broken
    # A 500 re-raises inside the app; this client reports it as the HTTP response only.
    transport = httpx.ASGITransport(app=client.app,  # type: ignore[attr-defined]
                                    raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as raw:
            r = await invoke(raw, "brk", {}, headers={"Idempotency-Key": "k1"})
        assert_error(r, 500, "INTERNAL_ERROR")
        assert "injected" not in r.text
    finally:
        services.pools.run = real_run
    assert services.leases.held == 0
    replay = await invoke(client, "brk", {}, headers={"Idempotency-Key": "k1"})
    assert replay.json()["status"] == "failed"
    assert replay.json()["error"]["code"] == "INTERNAL_ERROR"


async def test_a_429_does_not_spend_the_idempotency_key(client: httpx.AsyncClient) -> None:
    await create(client, name="one", max_concurrency=1, timeout_ms=3000,
                 code="import time\ndef handler(e):\n    time.sleep(0.5)\n    return e\n")
    blockers = [asyncio.create_task(invoke(client, "one", {"b": i})) for i in range(11)]
    await asyncio.sleep(0.2)
    r = await invoke(client, "one", {"k": 1}, headers={"Idempotency-Key": "retry-me"})
    assert_error(r, 429, "CONCURRENCY_LIMIT")
    assert r.headers["retry-after"]
    await asyncio.gather(*blockers)
    r = await invoke(client, "one", {"k": 1}, headers={"Idempotency-Key": "retry-me"})
    assert r.status_code == 200 and r.json()["status"] == "success"


async def test_concurrent_updates_keep_both_changes(client: httpx.AsyncClient) -> None:
    await create(client, name="race", code="def handler(e):\n    return 1\n")
    for i in range(5):
        await asyncio.gather(
            client.put("/api/v1/functions/race", headers=WRITER,
                       json={"code": f"def run(e):\n    return {i}\n"}),
            client.put("/api/v1/functions/race", headers=WRITER, json={"handler": "run"}),
        )
        f = (await client.get("/api/v1/functions/race", headers=WRITER)).json()
        assert f["handler"] == "run" and f"return {i}" in f["code"]
        job = (await invoke(client, "race", {})).json()
        assert job["result"] == i


async def test_odd_refs_are_404_not_500(client: httpx.AsyncClient) -> None:
    for ref in ("99999999999999999999", "%C2%B2", "0"):
        assert_error(await client.get(f"/api/v1/functions/{ref}", headers=READER), 404,
                     "FUNCTION_NOT_FOUND")


async def test_accepted_async_job_is_reported_pending(client: httpx.AsyncClient) -> None:
    await create(client, name="pend")
    for _ in range(5):
        r = await invoke(client, "pend", {}, path="invoke-async")
        assert r.status_code == 202 and r.json()["status"] == "pending"


async def test_unknown_cursor_is_400(client: httpx.AsyncClient) -> None:
    await create(client, name="cur")
    job = (await invoke(client, "cur", {})).json()
    r = await client.get(f"/api/v1/functions/cur/jobs?before={job['id']}", headers=RUNNER)
    assert r.status_code == 200 and r.json()["jobs"] == []
    r = await client.get("/api/v1/functions/cur/jobs?before=6f1c3b1e-9b7e-4a0a-8f2e-000000000000",
                         headers=RUNNER)
    assert_error(r, 400, "INVALID_REQUEST")


async def test_job_list_needs_some_scope(client: httpx.AsyncClient) -> None:
    await create(client, name="scoped")
    for ref in ("scoped", "does-not-exist"):
        r = await client.get(f"/api/v1/functions/{ref}/jobs", headers=auth(""))
        assert_error(r, 403, "FORBIDDEN")


async def test_405_lists_every_allowed_method(client: httpx.AsyncClient) -> None:
    r = await client.delete("/api/v1/functions")
    assert r.status_code == 405
    assert {m.strip() for m in r.headers["allow"].split(",")} >= {"GET", "POST"}
    r = await client.post("/api/v1/functions/x")
    assert {m.strip() for m in r.headers["allow"].split(",")} >= {"GET", "PUT", "DELETE"}


async def test_wait_for_helper_times_out() -> None:
    try:
        await wait_for(lambda: False, timeout_s=0.1)
    except AssertionError:
        return
    raise AssertionError("wait_for did not fail")


async def test_concurrent_sync_jobs_written_together_keep_their_own_outcomes(
        client: httpx.AsyncClient) -> None:
    """Finished sync jobs share a multi-row INSERT; one row PostgreSQL refuses (a NUL)
    fails only its own job, and every job and log line is readable once answered."""
    await create(client, name="mix", max_concurrency=20, code=(
        "def handler(e):\n"
        "    print('line', e['n'])\n"
        "    return 'x\\x00y' if e['n'] == 5 else {'n': e['n']}\n"))
    services = client.app.state.services  # type: ignore[attr-defined]
    writer = services.jobs._finished
    batches: list[int] = []
    real = writer._write_many

    async def counting(rows: list) -> list:  # type: ignore[type-arg]
        batches.append(len(rows))
        return await real(rows)  # type: ignore[no-any-return]

    writer._write_many = counting
    for _ in range(5):  # until the calls really overlap in a batch
        answers = await asyncio.gather(*(invoke(client, "mix", {"n": n}) for n in range(12)))
        if batches:
            break
    assert batches, "no concurrent rows were ever batched"
    for n, r in enumerate(answers):
        job = r.json()
        stored = (await client.get(f"/api/v1/jobs/{job['id']}", headers=RUNNER)).json()
        logs = (await client.get(f"/api/v1/jobs/{job['id']}/logs", headers=RUNNER)).json()
        assert [line["message"] for line in logs["logs"]] == [f"line {n}"]
        if n == 5:
            assert stored["status"] == "failed"
            assert stored["error"]["details"]["type"] == "InvalidResult"
        else:
            assert stored["status"] == "success" and stored["result"] == {"n": n}
        assert stored["id"] == job["id"] and stored["status"] == job["status"]
