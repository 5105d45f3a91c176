"""Sessions end to end: the worked example of API.md, expiry, ownership, cache directives."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from tests.conftest import auth, running_app
from tests.integration.test_functions_api import WRITER, assert_error

CALCULATOR = """
module.exports.handler = async (params) => {
  const v = params.values;
  switch (params.operation) {
    case 'add': return { value: v.reduce((a, b) => a + b, 0) };
    case 'subtract': return { value: v.slice(1).reduce((a, b) => a - b, v[0]) };
    case 'multiply': return { value: v.reduce((a, b) => a * b, 1) };
    case 'divide':
      if (v.slice(1).some((x) => x === 0)) throw new Error('division by zero');
      return { value: v.slice(1).reduce((a, b) => a / b, v[0]) };
  }
};
"""
SCHEMA = {
    "params": {"type": "object", "properties": {
        "operation": {"type": "string", "enum": ["add", "subtract", "multiply", "divide"]},
        "values": {"type": "array", "items": {"type": "number"}}},
        "required": ["operation", "values"]},
    "result": {"type": "object", "properties": {"value": {"type": "number"}}},
}
EXAMPLE = {"description": "add", "request": {"params": {"operation": "add", "values": [1, 2, 3]}},
           "response": {"result": {"value": 6}}}
ALICE = auth("execute:all", "alice")
TITLE = {"Language-Title": "nodejs-calculator"}


async def _calculator(client: httpx.AsyncClient, **extra: object) -> None:
    r = await client.post("/api/v1/functions", headers=WRITER, json={
        "name": "calculator", "runtime": "nodejs", "code": CALCULATOR, "schema": SCHEMA,
        "examples": [EXAMPLE], **extra})
    assert r.status_code == 201, r.text


async def _init(client: httpx.AsyncClient, headers: dict | None = None,
                context: dict | None = None) -> str:
    body = {"context": context} if context is not None else {}
    r = await client.post("/api/v1/initialize", json=body,
                          headers={**ALICE, **TITLE, **(headers or {})})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "initialized" and r.json()["expires_at"].endswith("Z")
    return str(r.json()["request_id"])


async def _exec(client: httpx.AsyncClient, sid: str, params: object,
                headers: dict | None = None) -> httpx.Response:
    return await client.post(f"/api/v1/execute/{sid}", json={"params": params},
                             headers={**ALICE, **(headers or {})})


async def test_worked_example(client: httpx.AsyncClient) -> None:
    await _calculator(client)
    detail = (await client.get("/api/v1/functions/nodejs-calculator",
                               headers=auth("read:functions"))).json()
    assert detail["schema"] == SCHEMA and detail["examples"] == [EXAMPLE]
    sid = await _init(client)
    add = {"operation": "add", "values": [1, 2, 3]}
    first = await _exec(client, sid, add)
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["result"] == {"value": 6} and body["cached"] is False
    assert body["request_id"] == sid and body["language_title"] == "nodejs-calculator"
    assert isinstance(body["execution_time"], int)
    assert first.headers["x-cache"] == "MISS"
    second = await _exec(client, sid, add)
    assert second.json()["cached"] is True and second.json()["result"] == {"value": 6}
    assert second.headers["x-cache"] == "HIT" and int(second.headers["age"]) >= 0
    fresh = await _exec(client, sid, add, {"X-Cache-Control": "no-cache"})
    assert fresh.json()["cached"] is False and fresh.headers["x-cache"] == "BYPASS"
    boom = await _exec(client, sid, {"operation": "divide", "values": [1, 0]})
    err = assert_error_session(boom, 500, "RUNTIME_ERROR", sid)
    assert err["details"]["type"] == "Error" and "division by zero" in err["message"]
    bad = await _exec(client, sid, {"operation": "pow", "values": [1]})
    err = assert_error_session(bad, 400, "INVALID_PARAMS", sid)
    assert err["details"]["errors"][0]["path"] == "$.operation"
    status = (await client.get(f"/api/v1/sessions/{sid}", headers=ALICE)).json()
    assert status["status"] == "active" and status["execution_count"] == 4
    assert status["language_title"] == "nodejs-calculator" and status["last_executed_at"]


def assert_error_session(r: httpx.Response, status: int, code: str, sid: str) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["error"]["code"] == code and body["request_id"] == sid
    return dict(body["error"])


async def test_initialize_errors(client: httpx.AsyncClient) -> None:
    await _calculator(client)
    r = await client.post("/api/v1/initialize", json={}, headers=ALICE)
    assert_error(r, 400, "INVALID_REQUEST")
    r = await client.post("/api/v1/initialize", json={},
                          headers={**ALICE, "Language-Title": "nodejs-nope"})
    assert_error(r, 404, "FUNCTION_NOT_FOUND")
    r = await client.post("/api/v1/initialize", json={},
                          headers={**auth("execute:python"), **TITLE})
    assert_error(r, 403, "FORBIDDEN")
    r = await client.post("/api/v1/initialize", json={}, headers=TITLE)
    assert_error(r, 401, "UNAUTHORIZED")
    r = await client.post("/api/v1/initialize", json={"context": {"timeout_ms": "soon"}},
                          headers={**ALICE, **TITLE})
    assert_error(r, 400, "INVALID_REQUEST")
    r = await client.post("/api/v1/initialize", json={"context": []},
                          headers={**ALICE, **TITLE})
    assert_error(r, 400, "INVALID_REQUEST")


async def test_request_id_makes_initialize_idempotent_per_caller(
        client: httpx.AsyncClient) -> None:
    await _calculator(client)
    sid = str(uuid.uuid4())
    assert await _init(client, {"X-Request-ID": sid}) == sid
    assert await _init(client, {"X-Request-ID": sid}) == sid
    r = await client.post("/api/v1/initialize", json={},
                          headers={**auth("execute:all", "bob"), **TITLE, "X-Request-ID": sid})
    assert_error(r, 409, "CONFLICT")
    other = await _init(client, {"X-Request-ID": "not-a-uuid"})
    assert other != "not-a-uuid" and uuid.UUID(other)


async def test_other_callers_sessions_are_not_found(client: httpx.AsyncClient) -> None:
    await _calculator(client)
    sid = await _init(client)
    bob = auth("execute:all", "bob")
    r = await client.post(f"/api/v1/execute/{sid}", json={"params": {}}, headers=bob)
    assert_error_session(r, 404, "SESSION_NOT_FOUND", sid)
    r = await client.get(f"/api/v1/sessions/{sid}", headers=bob)
    assert_error_session(r, 404, "SESSION_NOT_FOUND", sid)
    r = await client.delete(f"/api/v1/sessions/{sid}", headers=bob)
    assert_error_session(r, 404, "SESSION_NOT_FOUND", sid)
    assert (await client.get(f"/api/v1/sessions/{sid}", headers=auth("admin", "root"))) \
        .status_code == 200
    r = await _exec(client, str(uuid.uuid4()), {})
    assert r.status_code == 404


async def test_retain_session_false_closes_after_one_execute(client: httpx.AsyncClient) -> None:
    await _calculator(client)
    sid = await _init(client, context={"retain_session": False, "user_id": "u1"})
    add = {"operation": "add", "values": [2, 2]}
    runs = await asyncio.gather(_exec(client, sid, add), _exec(client, sid, add))
    assert sorted(r.status_code for r in runs) == [200, 404]
    status = (await client.get(f"/api/v1/sessions/{sid}", headers=ALICE)).json()
    assert status["status"] == "closed" and status["execution_count"] == 1


async def test_concurrent_executes_are_each_counted_and_a_single_use_session_runs_once(
        client: httpx.AsyncClient) -> None:
    """Executes of one session that arrive together share one counting UPDATE."""
    await _calculator(client)
    store = client.app.state.services.sessions  # type: ignore[attr-defined]
    counted: list[int] = []
    real = store._count_executes

    async def spy(session_id: str, owner: str, n: int) -> list:  # type: ignore[type-arg]
        counted.append(n)
        return await real(session_id, owner, n)

    store._count_executes = spy
    add = {"operation": "add", "values": [2, 3]}
    sid = await _init(client, context={"user_id": "u1"})
    for _ in range(4):
        runs = await asyncio.gather(*(_exec(client, sid, add) for _ in range(10)))
        assert [r.status_code for r in runs] == [200] * 10
    status = (await client.get(f"/api/v1/sessions/{sid}", headers=ALICE)).json()
    assert status["status"] == "active" and status["execution_count"] == 40
    assert sum(counted) == 40 and max(counted) > 1, counted
    once = await _init(client, context={"retain_session": False, "user_id": "u1"})
    runs = await asyncio.gather(*(_exec(client, once, add) for _ in range(10)))
    assert sorted(r.status_code for r in runs) == [200] + [404] * 9
    status = (await client.get(f"/api/v1/sessions/{once}", headers=ALICE)).json()
    assert status["status"] == "closed" and status["execution_count"] == 1
    assert store._counters == {}  # nothing kept once idle


async def test_delete_closes_the_session(client: httpx.AsyncClient) -> None:
    await _calculator(client)
    sid = await _init(client)
    assert (await client.delete(f"/api/v1/sessions/{sid}", headers=ALICE)).status_code == 204
    r = await _exec(client, sid, {"operation": "add", "values": [1]})
    assert_error_session(r, 404, "SESSION_NOT_FOUND", sid)
    assert (await client.get(f"/api/v1/sessions/{sid}", headers=ALICE)).json()["status"] == \
        "closed"


async def test_sessions_expire(settings_factory) -> None:
    async with running_app(settings_factory(session_ttl_s=1)) as c:
        await _calculator(c)
        sid = await _init(c)
        assert (await _exec(c, sid, {"operation": "add", "values": [1]})).status_code == 200
        await asyncio.sleep(1.2)
        r = await _exec(c, sid, {"operation": "add", "values": [1]})
        assert_error_session(r, 404, "SESSION_NOT_FOUND", sid)
        status = (await c.get(f"/api/v1/sessions/{sid}", headers=ALICE)).json()
        assert status["status"] == "expired"


async def test_timeout_is_504_and_context_reaches_the_function(
        client: httpx.AsyncClient) -> None:
    r = await client.post("/api/v1/functions", headers=WRITER, json={
        "name": "ctx", "runtime": "python", "timeout_ms": 5000, "code":
        "import time\ndef handler(p, context):\n    if p.get('sleep'):\n"
        "        time.sleep(p['sleep'])\n"
        "    return {'user': context.user_id, 'env': context.environment,"
        " 'trigger': context.trigger}\n"})
    assert r.status_code == 201
    r = await client.post("/api/v1/initialize", headers={**ALICE, "Language-Title": "python-ctx"},
                          json={"context": {"user_id": "u7", "environment": "production",
                                            "timeout_ms": 300}})
    sid = r.json()["request_id"]
    ok = await _exec(client, sid, {})
    assert ok.json()["result"] == {"user": "u7", "env": "production", "trigger": "session"}
    slow = await _exec(client, sid, {"sleep": 2}, {"X-Cache-Control": "no-store"})
    assert_error_session(slow, 504, "TIMEOUT", sid)


async def test_pinned_version_and_new_version_miss_the_cache(client: httpx.AsyncClient) -> None:
    await client.post("/api/v1/functions", headers=WRITER, json={
        "name": "ver", "runtime": "python", "code": "def handler(p):\n    return 1\n"})
    title = {"Language-Title": "python-ver"}
    old = (await client.post("/api/v1/initialize", json={}, headers={**ALICE, **title})).json()
    assert (await _exec(client, old["request_id"], {"a": 1})).json()["result"] == 1
    await client.put("/api/v1/functions/ver", headers=WRITER,
                     json={"code": "def handler(p):\n    return 2\n"})
    new = (await client.post("/api/v1/initialize", json={}, headers={**ALICE, **title})).json()
    r = await _exec(client, new["request_id"], {"a": 1})
    assert r.json()["result"] == 2 and r.json()["cached"] is False
    r = await _exec(client, old["request_id"], {"a": 1})
    assert r.json()["result"] == 1 and r.json()["cached"] is True
    await client.delete("/api/v1/functions/ver", headers=WRITER)
    r = await _exec(client, old["request_id"], {"a": 2})
    assert_error_session(r, 409, "CONFLICT", old["request_id"])


@pytest.mark.parametrize("header", ["max-age=abc", "private", "no-cache, no-store", ""])
async def test_invalid_cache_control_is_400(client: httpx.AsyncClient, header: str) -> None:
    await _calculator(client)
    sid = await _init(client)
    r = await _exec(client, sid, {"operation": "add", "values": [1]}, {"X-Cache-Control": header})
    assert_error_session(r, 400, "INVALID_REQUEST", sid)


async def test_cache_directives(client: httpx.AsyncClient) -> None:
    await _calculator(client)
    sid = await _init(client)
    p = {"operation": "multiply", "values": [2, 3]}
    r = await _exec(client, sid, p, {"X-Cache-Control": "no-store"})
    assert r.json()["cached"] is False and r.headers["x-cache"] == "BYPASS"
    r = await _exec(client, sid, p)
    assert r.json()["cached"] is False, "no-store must not have written the cache"
    r = await _exec(client, sid, p)
    assert r.json()["cached"] is True
    await asyncio.sleep(1.1)
    r = await _exec(client, sid, p, {"X-Cache-Control": "max-age=1"})
    assert r.json()["cached"] is False, "an entry older than max-age is not served"
    r = await _exec(client, sid, p, {"X-Cache-Control": "max-age=60"})
    assert r.json()["cached"] is True
    r = await _exec(client, sid, p, {"X-Cache-Control": "max-age=0"})
    assert r.json()["cached"] is False


async def test_cache_scope_caller_and_shared(client: httpx.AsyncClient) -> None:
    await _calculator(client)
    await client.post("/api/v1/functions", headers=WRITER, json={
        "name": "shared", "runtime": "python", "cache_scope": "shared",
        "code": "def handler(p):\n    return p\n"})
    await client.post("/api/v1/functions", headers=WRITER, json={
        "name": "nocache", "runtime": "python", "cache_ttl": 0,
        "code": "def handler(p):\n    return p\n"})
    bob = auth("execute:all", "bob")
    p = {"operation": "add", "values": [5]}
    a = await _init(client)
    b = (await client.post("/api/v1/initialize", json={}, headers={**bob, **TITLE})).json()
    await _exec(client, a, p)
    r = await client.post(f"/api/v1/execute/{b['request_id']}", json={"params": p}, headers=bob)
    assert r.json()["cached"] is False, "caller scope must not share results across callers"
    sa = (await client.post("/api/v1/initialize", json={},
                            headers={**ALICE, "Language-Title": "python-shared"})).json()
    sb = (await client.post("/api/v1/initialize", json={},
                            headers={**bob, "Language-Title": "python-shared"})).json()
    await _exec(client, sa["request_id"], {"x": 1})
    r = await client.post(f"/api/v1/execute/{sb['request_id']}", json={"params": {"x": 1}},
                          headers=bob)
    assert r.json()["cached"] is True
    nc = (await client.post("/api/v1/initialize", json={},
                            headers={**ALICE, "Language-Title": "python-nocache"})).json()
    for _ in range(2):
        r = await _exec(client, nc["request_id"], {"x": 1})
        assert r.json()["cached"] is False and r.headers["x-cache"] == "BYPASS"


async def test_invoke_uses_the_cache_only_when_asked(client: httpx.AsyncClient) -> None:
    await client.post("/api/v1/functions", headers=WRITER, json={
        "name": "counter", "runtime": "python",
        "code": "import time\ndef handler(p):\n    return time.time()\n"})
    url = "/api/v1/functions/counter/invoke"
    a = (await client.post(url, json={"k": 1}, headers=ALICE)).json()
    b = (await client.post(url, json={"k": 1}, headers=ALICE)).json()
    assert a["result"] != b["result"] and a["cached"] is False
    r1 = await client.post(url, json={"k": 2}, headers={**ALICE, "X-Cache-Control": "max-age=60"})
    assert r1.headers["x-cache"] == "MISS" and r1.json()["cached"] is False
    r2 = await client.post(url, json={"k": 2}, headers={**ALICE, "X-Cache-Control": "max-age=60"})
    assert r2.headers["x-cache"] == "HIT" and r2.json()["cached"] is True
    assert r2.json()["result"] == r1.json()["result"] and r2.json()["id"] != r1.json()["id"]
    stored = (await client.get(f"/api/v1/jobs/{r2.json()['id']}", headers=ALICE)).json()
    assert stored["cached"] is True and stored["status"] == "success"
    r3 = await client.post(url, json={"k": 2}, headers=ALICE)
    assert r3.json()["cached"] is False and "x-cache" not in r3.headers
    r4 = await client.post(url, json={"k": 2}, headers={**ALICE, "X-Cache-Control": "bogus"})
    assert_error(r4, 400, "INVALID_REQUEST")
