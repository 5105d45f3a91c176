"""The Kube-Serverless document's examples (seed 001), verbatim, under
/compat/kube-serverless/api/v1: bare arrays, status.state, invoke answering the function's
own result, camelCase metrics, its probes, ``{"error": "…"}`` bodies, and functions shared
with the native API and the Function API. Each request below is the document's example
(base URL and token aside)."""

from __future__ import annotations

from typing import Any

import httpx

from gateway.schemas.function_input import RUNTIMES
from tests.conftest import wait_for
from tests.dialect_examples.harness import Api, Flow

__all__ = ["ALL", "BASE", "CREATE", "FLOWS", "QUEUE_TRIGGER", "assert_error"]

BASE = "/compat/kube-serverless/api/v1"
ALL = "execute:all read:functions write:functions read:jobs"
JSON = {"Content-Type": "application/json"}
STATUS_KEYS = {"state", "replicas", "endpoint", "lastDeployment"}

# "Create Function", its request body as the document writes it.
CREATE: dict[str, Any] = {
    "name": "my-function",
    "runtime": "nodejs18",
    "handler": "index.handler",
    "code": "module.exports.handler = async (event) => { return { statusCode: 200, body: "
            "'Hello!' }; };",
    "environment": {"VAR1": "value1"},
    "minReplicas": 0,
    "maxReplicas": 10,
    "triggers": [{"type": "http", "config": {"path": "/my-function"}}],
}
# "Trigger Types": the HTTP, cron and queue trigger examples.
HTTP_TRIGGER = {"type": "http", "config": {"path": "/custom-path"}}
CRON_TRIGGER = {"type": "cron", "config": {"schedule": "*/5 * * * *"}}
QUEUE_TRIGGER = {"type": "queue",
                 "config": {"queue": "function-queue", "exchange": "function-triggers"}}
# "Invoke Function", its request body.
INVOKE = {"key": "value", "data": [1, 2, 3]}
# The cURL example's deploy body (sent as the raw text it is in the document).
CURL_CREATE = """{
    "name": "my-function",
    "runtime": "nodejs18",
    "handler": "index.handler",
    "code": "module.exports.handler = async (e) => ({statusCode: 200, body: \\"OK\\"});"
  }"""
# The Python SDK example's deploy body.
PYTHON_CREATE = {"name": "my-function", "runtime": "python39", "handler": "handler",
                 "code": "def handler(event): ..."}
# The JavaScript SDK example's deploy body.
JS_CREATE = {"name": "my-function", "runtime": "nodejs18", "handler": "index.handler",
             "code": "module.exports.handler = ..."}


def assert_error(response: httpx.Response, status: int, contains: str = "") -> None:
    """The document's error body: ``{"error": "<message>"}`` and nothing else."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and isinstance(body["error"], str) and body["error"]
    assert contains in body["error"]


async def function_lifecycle_examples(api: Api) -> None:
    client, every = api.client, api.mint(ALL)
    created = await client.post(f"{BASE}/functions", json=CREATE, headers=every)
    assert created.status_code == 201, created.text
    # Built at once (no dependencies): fngate's honest state is running, not deploying.
    assert created.json() == {"name": "my-function", "runtime": "nodejs18",
                              "handler": "index.handler", "status": {"state": "running"}}

    listed = await client.get(f"{BASE}/functions", headers=every)
    assert listed.status_code == 200 and isinstance(listed.json(), list)
    [item] = listed.json()
    assert set(item) == {"name", "runtime", "handler", "minReplicas", "maxReplicas", "status"}
    assert (item["name"], item["runtime"], item["handler"]) == (
        "my-function", "nodejs18", "index.handler")
    assert (item["minReplicas"], item["maxReplicas"]) == (0, 10)
    assert set(item["status"]) == STATUS_KEYS and item["status"]["state"] == "running"
    assert item["status"]["endpoint"] == f"{BASE}/functions/my-function/invoke"

    got = await client.get(f"{BASE}/functions/my-function", headers=every)
    assert got.status_code == 200
    assert got.json()["code"] == CREATE["code"] and set(got.json()) == {*item, "code"}

    invoked = await client.post(f"{BASE}/functions/my-function/invoke", json=INVOKE,
                                headers=every)
    assert invoked.status_code == 200, invoked.text
    assert invoked.json() == {"statusCode": 200, "body": "Hello!"}
    assert float(invoked.headers["X-Function-Duration"]) >= 0
    assert invoked.headers["X-Cold-Start"] in ("true", "false")
    # The function runs with warm workers now: replicas counts them.
    again = (await client.get(f"{BASE}/functions/my-function", headers=every)).json()
    assert again["status"]["replicas"] >= 1

    metrics = await client.get(f"{BASE}/functions/my-function/metrics", headers=every)
    assert metrics.status_code == 200
    body = metrics.json()
    assert set(body) == {"invocations", "coldStarts", "avgDuration", "errorRate",
                         "costEstimate"}
    assert (body["invocations"], body["errorRate"]) == (1, 0)
    assert 0 <= body["avgDuration"] < 60 and body["costEstimate"] >= 0

    # "Update Function": same as create (triggers are set at creation, see docs/compat.md).
    update = {k: v for k, v in CREATE.items() if k != "triggers"}
    updated = await client.put(f"{BASE}/functions/my-function",
                               json={**update, "maxReplicas": 5}, headers=every)
    assert updated.status_code == 200 and updated.json()["maxReplicas"] == 5

    deleted = await client.delete(f"{BASE}/functions/my-function", headers=every)
    assert deleted.status_code == 204 and deleted.content == b""
    assert_error(await client.get(f"{BASE}/functions/my-function", headers=every), 404,
                 "does not exist")


async def sdk_and_curl_examples(api: Api) -> None:
    client, every = api.client, api.mint(ALL)
    # cURL: deploy, then invoke with {"test": "data"}.
    deployed = await client.post(f"{BASE}/functions", content=CURL_CREATE,
                                 headers={**every, **JSON})
    assert deployed.status_code == 201, deployed.text
    run = await client.post(f"{BASE}/functions/my-function/invoke", content='{"test": "data"}',
                            headers={**every, **JSON})
    assert run.status_code == 200 and run.json() == {"statusCode": 200, "body": "OK"}
    assert (await client.delete(f"{BASE}/functions/my-function",
                                headers=every)).status_code == 204

    # Python SDK: python39, handler 'handler'; its placeholder body returns None.
    deployed = await client.post(f"{BASE}/functions", json=PYTHON_CREATE, headers=every)
    assert deployed.status_code == 201 and deployed.json()["runtime"] == "python39"
    assert deployed.json()["handler"] == "handler.handler"
    run = await client.post(f"{BASE}/functions/my-function/invoke", json={"data": "test"},
                            headers=every)
    assert run.status_code == 200 and run.json() is None
    assert (await client.delete(f"{BASE}/functions/my-function",
                                headers=every)).status_code == 204

    # JavaScript SDK: its deploy is accepted; its placeholder code fails when run, in the
    # document's error shape.
    deployed = await client.post(f"{BASE}/functions", json=JS_CREATE, headers=every)
    assert deployed.status_code == 201
    assert_error(await client.post(f"{BASE}/functions/my-function/invoke", json={"data": "test"},
                                   headers=every), 500)


async def the_function_receives_the_documents_event_object(api: Api) -> None:
    client, every = api.client, api.mint(ALL)
    echo = {"name": "echo", "runtime": "python39", "handler": "handler.handler",
            "code": "def handler(event, context=None):\n    return event\n"}
    assert (await client.post(f"{BASE}/functions", json=echo, headers=every)).status_code == 201
    run = await client.post(f"{BASE}/functions/echo/invoke?x=1", json=INVOKE, headers=every)
    event = run.json()
    assert (event["body"], event["method"], event["query"]) == (INVOKE, "POST", {"x": "1"})
    assert event["path"] == "/functions/echo/invoke"
    assert "authorization" not in event["headers"]  # the caller's token stays here

    # "Response Format": a function that simply returns data is answered that data.
    direct = {"name": "hello", "runtime": "python39", "handler": "handler.handler",
              "code": "def handler(event):\n    return {'message': 'Hello World'}\n"}
    assert (await client.post(f"{BASE}/functions", json=direct,
                              headers=every)).status_code == 201
    run = await client.post(f"{BASE}/functions/hello/invoke", json={}, headers=every)
    assert run.status_code == 200 and run.json() == {"message": "Hello World"}, run.text


async def trigger_type_examples(api: Api) -> None:
    """"Trigger Types": the HTTP and cron triggers as the document writes them, created
    with the function; the HTTP trigger serves it (the queue trigger, which needs a
    broker: tests/e2e/test_dialect_examples.py)."""
    client, every = api.client, api.mint(ALL)
    body = {**CREATE, "triggers": [HTTP_TRIGGER, CRON_TRIGGER]}
    created = await client.post(f"{BASE}/functions", json=body, headers=every)
    assert created.status_code == 201, created.text
    native = await client.get("/api/v1/functions/my-function/triggers", headers=every)
    assert native.status_code == 200, native.text
    triggers = {t["type"]: t["config"] for t in native.json()["triggers"]}
    assert triggers["http"]["path"] == "/custom-path"
    assert triggers["cron"]["schedule"] == "*/5 * * * *"

    async def served() -> httpx.Response | None:
        r = await client.post("/fn/custom-path", json={}, headers=every)
        return r if r.status_code != 404 else None

    r = await wait_for(served, timeout_s=10, interval_s=0.2)  # routes refresh within seconds
    assert (r.status_code, r.text) == (200, "Hello!")


async def probes_need_no_token(api: Api) -> None:
    health = await api.client.get(f"{BASE}/health")
    assert (health.status_code, health.json()) == (200, {"status": "healthy"})
    ready = await api.client.get(f"{BASE}/ready")
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})


async def a_kube_function_is_native_and_function_api(api: Api) -> None:
    client, every = api.client, api.mint(ALL)
    body = {**PYTHON_CREATE, "code": "def handler(event):\n    return {'got': event['body']}\n"}
    assert (await client.post(f"{BASE}/functions", json=body, headers=every)).status_code == 201
    native = await client.get("/api/v1/functions/my-function", headers=every)
    assert native.status_code == 200 and native.json()["runtime"] == "python"
    run = await client.post("/api/v1/functions/my-function/invoke", json={"body": 7},
                            headers=every)
    assert run.status_code == 200 and run.json()["result"] == {"got": 7}
    fid = native.json()["id"]
    shown = await client.get(f"/compat/function-api/functions/{fid}", headers=every)
    assert shown.status_code == 200 and shown.json()["data"]["name"] == "my-function"


async def errors_have_the_documents_shape(api: Api) -> None:
    client, every = api.client, api.mint(ALL)
    assert_error(await client.get(f"{BASE}/functions/nope", headers=every), 404)
    assert_error(await client.post(f"{BASE}/functions/nope/invoke", json={}, headers=every),
                 404)
    assert_error(await client.get(f"{BASE}/no-such-path", headers=every), 404)
    assert_error(await client.post(f"{BASE}/functions", content=b"not json",
                                   headers={**every, **JSON}), 400)
    assert_error(await client.post(f"{BASE}/functions", json={**CREATE, "replicas": 3},
                                   headers=every), 400, "replicas")
    assert_error(await client.post(f"{BASE}/functions", json={**CREATE, "runtime": "ruby27"},
                                   headers=every), 400, "unknown runtime 'ruby27'")
    if "go" not in RUNTIMES:  # until the Go runtime lands, go119 is refused clearly
        assert_error(await client.post(f"{BASE}/functions", json={**CREATE, "runtime": "go119"},
                                       headers=every), 400, "'go119' is not supported")
    unauthorized = await client.get(f"{BASE}/functions")
    assert_error(unauthorized, 401)
    assert unauthorized.headers["www-authenticate"].startswith("Bearer")
    assert_error(await client.post(f"{BASE}/functions", json=CREATE,
                                   headers=api.mint("read:functions")), 403, "write:functions")
    created = await client.post(f"{BASE}/functions", json=CREATE, headers=every)
    assert created.status_code == 201
    assert_error(await client.post(f"{BASE}/functions", json=CREATE, headers=every), 409)
    assert_error(await client.post(f"{BASE}/functions/my-function/invoke", json=INVOKE,
                                   headers=api.mint("execute:python")), 403)
    assert_error(await client.put(f"{BASE}/functions/my-function", json=CREATE, headers=every),
                 400, "triggers")
    assert_error(await client.patch(f"{BASE}/functions/my-function", json={}, headers=every),
                 405)


FLOWS: dict[str, Flow] = {
    "function_lifecycle_examples": function_lifecycle_examples,
    "sdk_and_curl_examples": sdk_and_curl_examples,
    "the_function_receives_the_documents_event_object":
        the_function_receives_the_documents_event_object,
    "trigger_type_examples": trigger_type_examples,
    "probes_need_no_token": probes_need_no_token,
    "a_kube_function_is_native_and_function_api": a_kube_function_is_native_and_function_api,
    "errors_have_the_documents_shape": errors_have_the_documents_shape,
}
