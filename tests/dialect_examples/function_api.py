"""The Function API document's examples (seed 000), verbatim, under /compat/function-api:
its envelope, replies and Job, its errors in its own shape, and functions shared with the
native API. Each request below is the document's example (base URL and token aside)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import wait_for
from tests.dialect_examples.harness import Api, Flow

__all__ = ["ALL", "BASE", "CREATE", "FLOWS", "INVOKE", "assert_failure"]

BASE = "/compat/function-api"
ALL = "execute:all read:functions write:functions read:jobs"
FUNCTION_KEYS = {"id", "name", "runtime", "code", "execution_type", "created_at", "updated_at"}
JOB_KEYS = {"id", "function_id", "status", "result", "timestamp", "duration"}

# 1.2's request body, as the document writes it.
CREATE = {"name": "myFunction", "runtime": "python",
          "code": "def handler(event): return event", "execution_type": "sync"}
# 1.3's request body.
UPDATE = {"name": "myUpdatedFunction", "runtime": "nodejs",
          "code": "function handler(event) { return event }", "execution_type": "async"}
# 2.1's request body.
INVOKE = {"param1": "value1", "param2": "value2"}


def data(response: httpx.Response, status: int) -> Any:
    """The ``data`` of a success envelope answered with ``status``."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"success", "data"} and body["success"] is True
    return body["data"]


def assert_failure(response: httpx.Response, status: int, code: str | None = None) -> None:
    """The document's failure envelope: ``{success: false, error: {code, message, ...}}``."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"success", "error"} and body["success"] is False
    assert {"code", "message"} <= set(body["error"]) and body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code


async def function_management_examples(api: Api) -> None:
    client, every = api.client, api.mint(ALL)
    created = data(await client.post(f"{BASE}/functions", json=CREATE, headers=every), 201)
    assert set(created) == {"function_id"} and isinstance(created["function_id"], int)
    fid = created["function_id"]

    listed = data(await client.get(f"{BASE}/functions", headers=every), 200)
    assert set(listed) == {"functions"} and len(listed["functions"]) == 1
    shown = listed["functions"][0]
    assert set(shown) == FUNCTION_KEYS
    assert {k: shown[k] for k in ("id", "name", "runtime", "code", "execution_type")} == {
        "id": fid, **CREATE}

    one = data(await client.get(f"{BASE}/functions/{fid}", headers=every), 200)
    assert one == shown

    metrics = data(await client.get(f"{BASE}/functions/{fid}/metrics", headers=every), 200)
    assert set(metrics) == {"invocations", "success_rate", "avg_execution_time", "cpu_usage",
                            "memory_usage"}
    assert metrics["invocations"] == {"total": 0, "successful": 0, "failed": 0}
    assert (metrics["avg_execution_time"], metrics["cpu_usage"], metrics["memory_usage"]) == (
        "0ms", "0%", "0MB")

    updated = data(await client.put(f"{BASE}/functions/{fid}", json=UPDATE, headers=every), 200)
    assert updated == {"function_id": fid}
    one = data(await client.get(f"{BASE}/functions/{fid}", headers=every), 200)
    assert {k: one[k] for k in UPDATE} == UPDATE

    deleted = await client.delete(f"{BASE}/functions/{fid}", headers=every)
    assert deleted.status_code == 200 and deleted.json() == {"success": True}
    assert_failure(await client.get(f"{BASE}/functions/{fid}", headers=every), 404,
                   "FUNCTION_NOT_FOUND")


async def invoke_and_jobs_examples(api: Api) -> None:
    client, every = api.client, api.mint(ALL)
    fid = data(await client.post(f"{BASE}/functions", json=CREATE, headers=every),
               201)["function_id"]
    job = data(await client.post(f"{BASE}/functions/{fid}/invoke", json=INVOKE,
                                 headers=every), 200)
    assert set(job) == JOB_KEYS
    assert (job["function_id"], job["status"], job["result"]) == (fid, "success", INVOKE)
    assert isinstance(job["duration"], (int, float))

    assert data(await client.get(f"{BASE}/jobs/{job['id']}", headers=every), 200) == job
    jobs = data(await client.get(f"{BASE}/functions/{fid}/jobs", headers=every), 200)
    assert jobs == {"jobs": [job]}

    metrics = data(await client.get(f"{BASE}/functions/{fid}/metrics", headers=every), 200)
    assert metrics["invocations"] == {"total": 1, "successful": 1, "failed": 0}
    assert metrics["success_rate"] == 100
    assert metrics["avg_execution_time"].endswith("ms")
    assert metrics["memory_usage"].endswith("MB") and metrics["memory_usage"] != "0MB"

    # An async function answers its pending job, as the document's 2.1 example shows.
    async_fn = {**CREATE, "name": "myAsyncFunction", "execution_type": "async"}
    aid = data(await client.post(f"{BASE}/functions", json=async_fn, headers=every),
               201)["function_id"]
    pending = data(await client.post(f"{BASE}/functions/{aid}/invoke", json=INVOKE,
                                     headers=every), 202)
    assert set(pending) == JOB_KEYS and pending["status"] == "pending"
    assert pending["result"] is None

    async def finished() -> Any:
        found = data(await client.get(f"{BASE}/jobs/{pending['id']}", headers=every), 200)
        return found if found["status"] == "success" else None

    done = await wait_for(finished, timeout_s=30, interval_s=0.2)
    assert done["result"] == INVOKE

    # A failed run, as the second job of 3.2's example: status failed, result null (the
    # error's code in X-Function-Error, the error in the native job).
    failing = {**CREATE, "name": "myFailingFunction",
               "code": "def handler(event): raise ValueError('bad input')"}
    fails = data(await client.post(f"{BASE}/functions", json=failing, headers=every),
                 201)["function_id"]
    r = await client.post(f"{BASE}/functions/{fails}/invoke", json=INVOKE, headers=every)
    failed = data(r, 200)
    assert set(failed) == JOB_KEYS
    assert (failed["status"], failed["result"]) == ("failed", None)
    assert r.headers["x-function-error"] == "RUNTIME_ERROR"
    native = await client.get(f"/api/v1/jobs/{failed['id']}", headers=every)
    assert "bad input" in native.json()["error"]["message"], native.text
    jobs = data(await client.get(f"{BASE}/functions/{fails}/jobs", headers=every), 200)
    assert jobs == {"jobs": [failed]}


async def a_function_api_function_is_a_native_function(api: Api) -> None:
    client, every = api.client, api.mint(ALL)
    fid = data(await client.post(f"{BASE}/functions", json=CREATE, headers=every),
               201)["function_id"]
    native = await client.get(f"/api/v1/functions/{fid}", headers=every)
    assert native.status_code == 200 and native.json()["name"] == "myFunction"
    run = await client.post("/api/v1/functions/myFunction/invoke", json={"a": 1}, headers=every)
    assert run.status_code == 200 and run.json()["result"] == {"a": 1}
    # The native job is the dialect's job.
    job = data(await client.get(f"{BASE}/jobs/{run.json()['id']}", headers=every), 200)
    assert job["result"] == {"a": 1} and job["function_id"] == fid


async def errors_have_the_documents_shape(api: Api) -> None:
    client, every = api.client, api.mint(ALL)
    assert_failure(await client.get(f"{BASE}/functions/999999", headers=every), 404,
                   "FUNCTION_NOT_FOUND")
    assert_failure(await client.get(f"{BASE}/jobs/00000000-0000-0000-0000-000000000000",
                                    headers=every), 404, "JOB_NOT_FOUND")
    assert_failure(await client.get(f"{BASE}/no-such-path", headers=every), 404, "NOT_FOUND")
    # 400: a required field missing, an unknown field, an unsupported runtime, not JSON.
    missing = {k: v for k, v in CREATE.items() if k != "code"}
    assert_failure(await client.post(f"{BASE}/functions", json=missing, headers=every), 400,
                   "INVALID_REQUEST")
    assert_failure(await client.post(f"{BASE}/functions", json={**CREATE, "memory": 1},
                                     headers=every), 400, "INVALID_REQUEST")
    assert_failure(await client.post(f"{BASE}/functions", json={**CREATE, "runtime": "cobol"},
                                     headers=every), 400, "INVALID_RUNTIME")
    assert_failure(await client.post(f"{BASE}/functions", content=b"{", headers=every), 400,
                   "INVALID_REQUEST")
    # 401 without a token (the document's envelope, the native WWW-Authenticate).
    unauthorized = await client.get(f"{BASE}/functions")
    assert_failure(unauthorized, 401, "UNAUTHORIZED")
    assert unauthorized.headers["www-authenticate"].startswith("Bearer")
    # 403: a token without the scope.
    assert_failure(await client.post(f"{BASE}/functions", json=CREATE,
                                     headers=api.mint("read:functions")), 403, "FORBIDDEN")
    fid = data(await client.post(f"{BASE}/functions", json=CREATE, headers=every),
               201)["function_id"]
    assert_failure(await client.post(f"{BASE}/functions/{fid}/invoke", json=INVOKE,
                                     headers=api.mint("execute:nodejs")), 403, "FORBIDDEN")
    assert_failure(await client.get(f"{BASE}/functions/{fid}/metrics",
                                    headers=api.mint("read:functions")), 403, "FORBIDDEN")
    # 409: the name is taken.
    assert_failure(await client.post(f"{BASE}/functions", json=CREATE, headers=every), 409,
                   "CONFLICT")


FLOWS: dict[str, Flow] = {
    "function_management_examples": function_management_examples,
    "invoke_and_jobs_examples": invoke_and_jobs_examples,
    "a_function_api_function_is_a_native_function":
        a_function_api_function_is_a_native_function,
    "errors_have_the_documents_shape": errors_have_the_documents_shape,
}
