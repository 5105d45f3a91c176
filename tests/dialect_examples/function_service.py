"""The Function Service document's examples (seed 004), verbatim, under
``/api/v1/workspaces/{workspaceId}``: each of its example requests (base URL and token
aside), answered in its shapes, over the same functions as the native API."""

from __future__ import annotations

import asyncio
import base64
import json
import re
from typing import Any

import httpx

from tests.conftest import wait_for
from tests.dialect_examples.harness import Api, Flow

__all__ = ["ADMIN", "CREATE", "FLOWS", "INVOKE", "READER", "WS", "assert_error", "b64"]

WS = "/api/v1/workspaces/ws-789"
ADMIN = "admin"
READER = "read:functions"

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")

# The document's create request, verbatim (its source_code is the Python SDK's handler).
CREATE = {
    "name": "my-function",
    "runtime": "python3.9",
    "handler": "main.handler",
    "source_code": "ZGVmIGhhbmRsZXIoY29udGV4dCk6CiAgICByZXR1cm4geyJzdGF0dXMiOiAyMDAsICJib2R5Ij"
                   "ogIkhlbGxvIFdvcmxkIn0=",
    "environment": {"API_KEY": "secret-key", "POOL_SIZE": "3"},
    "resources": {"memory": "256Mi", "cpu": "100m"},
    "labels": {"team": "backend", "env": "production"},
}
INVOKE = {
    "method": "POST",
    "path": "/process",
    "headers": {"Content-Type": ["application/json"], "X-Custom-Header": ["value"]},
    "body": "eyJkYXRhIjogInRlc3QifQ==",
    "query": {"param1": ["value1"], "param2": ["value2"]},
}
VERSION = {
    "version": 2,
    "source_code": "ZGVmIGhhbmRsZXIoY29udGV4dCk6CiAgICByZXR1cm4geyJzdGF0dXMiOiAyMDAsICJib2R5Ij"
                   "ogIlZlcnNpb24gMiJ9",
    "image": "myregistry/my-function:v2",
}
HTTP_TRIGGER = {"name": "http-trigger", "type": "http", "enabled": True,
                "config": {"method": "GET", "path": "/api/hello"}}
CRON_TRIGGER = {"name": "cron-trigger", "type": "schedule", "enabled": True,
                "config": {"cron": "0 */5 * * *"}}
ECHO = ("def handler(event):\n"
        "    print('Processing request')\n"
        "    return {'statusCode': 201, 'headers': {'X-Echo': 'yes'}, 'body': event}\n")
NODE = """
exports.handler = async (event) => {
  return {
    statusCode: 200,
    body: JSON.stringify({ message: 'Hello World' })
  };
};
"""


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def assert_error(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The document's error shape: ``{error, code, details}``."""
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error", "code", "details"}, body
    assert body["code"] == code and isinstance(body["error"], str) and body["error"], body
    assert isinstance(body["details"], dict)
    return body


async def every_example_of_the_document(api: Api) -> None:
    client, admin, reader = api.client, api.mint(ADMIN), api.mint(READER)
    # Create Function.
    r = await client.post(f"{WS}/functions", headers=admin, json=CREATE)
    assert r.status_code == 201, r.text
    fn = r.json()
    assert {"id", "workspace_id", "project_id", "name", "namespace", "runtime", "handler",
            "status", "active_version", "created_at", "updated_at"} <= set(fn)
    assert re.fullmatch(r"func-\d+", fn["id"])
    assert fn["workspace_id"] == fn["project_id"] == fn["namespace"] == "ws-789"
    assert fn["runtime"] == "python3.9" and fn["status"] == "ready"
    assert fn["active_version"] == "v1" and TIMESTAMP.match(fn["created_at"])
    fid = fn["id"]

    # List Functions, Get Function.
    r = await client.get(f"{WS}/functions?project_id=ws-789", headers=reader)
    assert r.status_code == 200, r.text
    [listed] = r.json()["functions"]
    assert set(listed) == {"id", "name", "runtime", "status", "active_version", "created_at"}
    assert listed["id"] == fid and listed["runtime"] == "python3.9"
    r = await client.get(f"{WS}/functions/{fid}", headers=reader)
    assert r.status_code == 200, r.text
    assert r.json()["labels"] == {"team": "backend", "env": "production"}
    assert r.json()["annotations"] == {}

    # Invoke Function (Synchronous): the handler's {status, body} is the HTTP answer.
    r = await client.post(f"{WS}/functions/{fid}/invoke", headers=admin, json=INVOKE)
    assert r.status_code == 200, r.text
    out = r.json()
    assert set(out) == {"status_code", "headers", "body", "duration", "cold_start",
                        "invocation_id"}
    assert out["status_code"] == 200 and base64.b64decode(out["body"]) == b"Hello World"
    assert out["headers"]["Content-Type"] == ["text/plain; charset=utf-8"]
    assert isinstance(out["duration"], int) and isinstance(out["cold_start"], bool)
    assert re.fullmatch(r"inv-[0-9a-f-]{36}", out["invocation_id"])

    # Invoke Function (Asynchronous), Get Invocation Status, List Invocations.
    r = await client.post(f"{WS}/functions/{fid}/invoke-async", headers=admin, json=INVOKE)
    assert r.status_code == 202, r.text
    assert set(r.json()) == {"invocation_id"}
    inv = r.json()["invocation_id"]

    async def completed() -> Any:
        got = await client.get(f"{WS}/functions/invocations/{inv}", headers=admin)
        assert got.status_code == 200, got.text
        return got.json() if got.json()["status"] == "completed" else None

    status = await wait_for(completed, timeout_s=30, interval_s=0.2)
    assert {"invocation_id", "workspace_id", "function_id", "status", "started_at",
            "completed_at", "result"} <= set(status)
    assert status["function_id"] == fid and status["workspace_id"] == "ws-789"
    assert status["result"] == {"status_code": 200, "body": b64("Hello World")}
    r = await client.get(f"{WS}/functions/{fid}/invocations?limit=50", headers=admin)
    assert r.status_code == 200, r.text
    assert [i["invocation_id"] for i in r.json()["invocations"]] == [inv, out["invocation_id"]]

    # Deploy Version: the example's "image" cannot be honoured (no custom images) → 400 in
    # the document's shape; the same without it deploys version 2.
    r = await client.post(f"{WS}/functions/{fid}/versions", headers=admin, json=VERSION)
    assert assert_error(r, 400, "INVALID_REQUEST")["details"]["field"] == "image"
    sent = {k: v for k, v in VERSION.items() if k != "image"}
    r = await client.post(f"{WS}/functions/{fid}/versions", headers=admin, json=sent)
    assert r.status_code == 201, r.text
    ver = r.json()
    assert set(ver) == {"id", "workspace_id", "function_id", "function_name", "version",
                        "build_status", "created_at", "is_active"}
    assert re.fullmatch(r"ver-\d+", ver["id"]) and ver["version"] == 2
    assert ver["function_id"] == fid and ver["is_active"] is False
    assert ver["build_status"] in ("building", "success")

    # List Versions, Set Active Version, Rollback Version.
    r = await client.get(f"{WS}/functions/{fid}/versions", headers=reader)
    assert r.status_code == 200, r.text
    versions = r.json()["versions"]
    assert [v["version"] for v in versions] == [2, 1]
    assert set(versions[0]) == {"id", "version", "build_status", "created_at", "is_active"}
    r = await client.put(f"{WS}/functions/{fid}/versions/{ver['id']}/active", headers=admin)
    assert r.status_code == 200 and r.json() == {"message": "Version activated successfully"}
    r = await client.post(f"{WS}/functions/{fid}/invoke", headers=admin, json=INVOKE)
    assert base64.b64decode(r.json()["body"]) == b"Version 2", r.text
    r = await client.post(f"{WS}/functions/{fid}/rollback", headers=admin)
    assert r.status_code == 200 and r.json() == {"message": "Rollback successful"}
    r = await client.get(f"{WS}/functions/{fid}", headers=reader)
    assert r.json()["active_version"] == "v1"

    # Triggers: create both examples, list, update, delete.
    r = await client.post(f"{WS}/functions/{fid}/triggers", headers=admin, json=HTTP_TRIGGER)
    assert r.status_code == 201, r.text
    trg = r.json()
    assert {"id", "workspace_id", "function_id", "name", "type", "enabled", "config",
            "created_at"} <= set(trg)
    assert re.fullmatch(r"trg-\d+", trg["id"]) and trg["type"] == "http"
    assert trg["config"]["method"] == "GET" and trg["config"]["path"] == "/api/hello"
    r = await client.post(f"{WS}/functions/{fid}/triggers", headers=admin, json=CRON_TRIGGER)
    assert r.status_code == 201, r.text
    assert r.json()["type"] == "schedule" and r.json()["config"]["cron"] == "0 */5 * * *"
    r = await client.get(f"{WS}/functions/{fid}/triggers", headers=reader)
    assert [t["name"] for t in r.json()["triggers"]] == ["http-trigger", "cron-trigger"]
    r = await client.put(f"{WS}/functions/{fid}/triggers/{trg['id']}", headers=admin,
                         json={"enabled": False})
    assert r.status_code == 200 and r.json()["enabled"] is False, r.text
    r = await client.delete(f"{WS}/functions/{fid}/triggers/{trg['id']}", headers=admin)
    assert r.status_code == 204, r.text

    # Monitoring: logs, metrics (start/end/resolution), events.
    r = await client.get(f"{WS}/functions/{fid}/metrics", headers=admin, params={
        "start": "2020-01-01T00:00:00Z", "end": "2100-01-01T00:00:00Z", "resolution": "5m"})
    assert r.status_code == 200, r.text
    metrics = r.json()
    assert set(metrics) == {"invocations", "errors", "duration", "cold_starts", "concurrency"}
    assert metrics["invocations"] == 3 and metrics["errors"] == 0
    assert set(metrics["duration"]) == {"min", "max", "avg", "p50", "p95", "p99"}
    assert {"min", "max", "avg"} <= set(metrics["concurrency"])
    r = await client.get(f"{WS}/functions/{fid}/metrics", headers=admin,
                         params={"end": "2020-01-01T00:00:00Z"})
    assert r.json()["invocations"] == 0, r.text
    r = await client.get(f"{WS}/functions/{fid}/events?limit=100", headers=admin)
    assert r.status_code == 200, r.text
    events = r.json()["events"]
    assert {"id", "type", "description", "metadata", "created_at"} <= set(events[0])
    assert re.fullmatch(r"evt-\d+", events[0]["id"]) and events[0]["type"] == "trigger_removed"
    assert "rolled_back" in [e["type"] for e in events]
    r = await client.get(f"{WS}/functions/{fid}/logs", headers=admin)
    assert r.status_code == 200 and r.json() == {"logs": []}, r.text

    # Provider.
    r = await client.get(f"{WS}/functions/provider/capabilities", headers=reader)
    assert r.status_code == 200, r.text
    caps = r.json()
    assert "python3.9" in caps["supported_runtimes"] and caps["supports_versioning"] is True
    assert {"http", "schedule"} <= set(caps["supported_trigger_types"])
    assert caps["supports_custom_images"] is False and caps["max_timeout_secs"] == 300
    r = await client.get(f"{WS}/functions/provider/health", headers=reader)
    assert r.status_code == 200 and r.json() == {"status": "healthy"}, r.text

    # Update Function (its handler change makes version 3), Delete Function.
    r = await client.put(f"{WS}/functions/{fid}", headers=admin, json={
        "name": "updated-function", "handler": "main.new_handler",
        "environment": {"NEW_VAR": "value"}, "resources": {"memory": "512Mi", "cpu": "200m"}})
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "updated-function" and r.json()["active_version"] == "v3"
    r = await client.get("/api/v1/functions/updated-function", headers=admin)
    assert r.json()["memory_mb"] == 512 and r.json()["cpu_millis"] == 200
    r = await client.delete(f"{WS}/functions/{fid}", headers=admin)
    assert r.status_code == 204 and r.content == b""
    assert_error(await client.get(f"{WS}/functions/{fid}", headers=admin), 404,
                 "FUNCTION_NOT_FOUND")


async def http_shaped_event_logs_and_the_native_view(api: Api) -> None:
    client, admin = api.client, api.mint(ADMIN)
    r = await client.post(f"{WS}/functions", headers=admin, json={
        "name": "echo", "runtime": "python3.9", "handler": "main.handler",
        "source_code": b64(ECHO)})
    assert r.status_code == 201, r.text
    fid = r.json()["id"]
    r = await client.post(f"{WS}/functions/{fid}/invoke", headers=admin, json=INVOKE)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["status_code"] == 201 and out["headers"]["X-Echo"] == ["yes"]
    event = json.loads(base64.b64decode(out["body"]))
    assert event["method"] == "POST" and event["path"] == "/process"
    assert event["headers"]["x-custom-header"] == "value"
    assert event["query"] == {"param1": "value1", "param2": "value2"}
    assert event["body"] == {"data": "test"} and event["isBase64Encoded"] is False

    r = await client.get(f"{WS}/functions/{fid}/logs", headers=admin)
    [line] = r.json()["logs"]
    assert set(line) == {"timestamp", "level", "message", "container", "pod"}
    assert line["level"] == "info" and line["message"] == "Processing request"
    assert line["container"] == out["invocation_id"]
    # Its query parameters: since/until (RFC 3339) and limit; a window before the run has
    # no lines.
    r = await client.get(f"{WS}/functions/{fid}/logs", headers=admin, params={
        "since": "2020-01-01T00:00:00Z", "until": "2100-01-01T00:00:00Z", "limit": 1})
    assert r.status_code == 200 and r.json()["logs"] == [line], r.text
    r = await client.get(f"{WS}/functions/{fid}/logs", headers=admin,
                         params={"until": "2020-01-01T00:00:00Z"})
    assert r.status_code == 200 and r.json() == {"logs": []}, r.text
    # follow=true: the same entries as Server-Sent Events, those already there first.
    async with asyncio.timeout(30), client.stream(
            "GET", f"{WS}/functions/{fid}/logs", headers=admin,
            params={"follow": "true", "since": "2020-01-01T00:00:00Z"}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        followed = None
        async for text in r.aiter_lines():
            if text.startswith("data: "):
                followed = json.loads(text.removeprefix("data: "))
                break
    assert followed == line
    # Metrics' metrics[]: only the named ones.
    r = await client.get(f"{WS}/functions/{fid}/metrics", headers=admin,
                         params=[("metrics[]", "invocations"), ("metrics[]", "errors")])
    assert r.status_code == 200 and r.json() == {"invocations": 1, "errors": 0}, r.text

    # The same function natively, and through the project-functions dialect.
    r = await client.get("/api/v1/functions/echo", headers=admin)
    assert r.status_code == 200 and r.json()["project"] == "ws-789", r.text
    assert r.json()["id"] == int(fid.removeprefix("func-"))
    r = await client.post("/api/v1/functions/echo/invoke", headers=admin, json={"n": 1})
    assert r.status_code == 200 and r.json()["result"]["body"] == {"n": 1}, r.text
    r = await client.post("/compat/project-functions/api/v1/functions/ws-789/echo/invoke",
                          headers=admin, json={"n": 2})
    assert r.status_code == 200 and r.json()["result"]["body"] == {"n": 2}, r.text

    # Another workspace does not see it.
    r = await client.get(f"/api/v1/workspaces/ws-other/functions/{fid}", headers=admin)
    assert_error(r, 404, "FUNCTION_NOT_FOUND")

    # The JavaScript SDK's handler, as nodejs18.
    r = await client.post(f"{WS}/functions", headers=admin, json={
        "name": "js-function", "runtime": "nodejs18", "handler": "index.handler",
        "source_code": b64(NODE)})
    assert r.status_code == 201 and r.json()["runtime"] == "nodejs18", r.text
    r = await client.post(f"{WS}/functions/{r.json()['id']}/invoke", headers=admin,
                          json={"body": {"message": "test"}})
    assert r.status_code == 200, r.text
    assert base64.b64decode(r.json()["body"]) == b'{"message":"Hello World"}'


async def errors_are_in_the_documents_shape(api: Api) -> None:
    client, admin, reader = api.client, api.mint(ADMIN), api.mint(READER)
    for runtime in ("java11", "cobol"):
        r = await client.post(f"{WS}/functions", headers=admin, json={**CREATE,
                                                                      "runtime": runtime})
        assert_error(r, 400, "INVALID_RUNTIME")
    assert_error(await client.get(f"{WS}/functions/func-999", headers=admin), 404,
                 "FUNCTION_NOT_FOUND")
    assert_error(await client.get(f"{WS}/functions/invocations/inv-nope", headers=admin),
                 404, "INVOCATION_NOT_FOUND")
    assert_error(await client.get(f"{WS}/functions/provider/nothing", headers=admin), 404,
                 "NOT_FOUND")
    r = await client.get(f"{WS}/functions?project_id=proj-456", headers=admin)
    assert_error(r, 400, "INVALID_REQUEST")
    r = await client.get(f"{WS}/functions")
    assert_error(r, 401, "UNAUTHORIZED")
    assert r.headers["www-authenticate"].startswith("Bearer")
    r = await client.post(f"{WS}/functions", headers=reader, json=CREATE)
    assert assert_error(r, 403, "FORBIDDEN")["details"]["required_scope"] == "write:functions"

    r = await client.post(f"{WS}/functions", headers=admin, json={
        "name": "boom", "runtime": "python3.9", "source_code": b64(
            "def handler(event):\n    raise ValueError('bad input')\n")})
    fid = r.json()["id"]
    r = await client.post(f"{WS}/functions/{fid}/invoke", headers=admin, json=INVOKE)
    body = assert_error(r, 500, "INVOCATION_FAILED")
    assert body["details"]["type"] == "ValueError"
    r = await client.post(f"{WS}/functions/{fid}/triggers", headers=admin,
                          json={"name": "e", "type": "event", "config": {}})
    assert_error(r, 400, "INVALID_REQUEST")
    r = await client.get(f"{WS}/functions/{fid}/logs?previous=true", headers=admin)
    assert_error(r, 400, "INVALID_REQUEST")


FLOWS: dict[str, Flow] = {
    "every_example_of_the_document": every_example_of_the_document,
    "http_shaped_event_logs_and_the_native_view": http_shaped_event_logs_and_the_native_view,
    "errors_are_in_the_documents_shape": errors_are_in_the_documents_shape,
}
