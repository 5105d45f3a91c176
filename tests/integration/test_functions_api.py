"""The functions API against a real PostgreSQL: success and every documented error."""

from __future__ import annotations

import base64

import httpx
import pytest

from tests.conftest import auth, running_app, token

PY_ECHO = "def handler(event):\n    return event\n"
WRITER = auth("write:functions read:functions execute:all")
READER = auth("read:functions")


async def create(client: httpx.AsyncClient, name: str = "echo", runtime: str = "python",
                 code: str = PY_ECHO, **extra: object) -> httpx.Response:
    body = {"name": name, "runtime": runtime, "code": code, **extra}
    return await client.post("/api/v1/functions", json=body, headers=WRITER)


def assert_error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert body["request_id"] == response.headers["x-request-id"]
    return body


async def test_create_returns_the_function_with_defaults(client: httpx.AsyncClient) -> None:
    r = await create(client, environment={"GREETING": "hi"}, labels={"team": "a"})
    assert r.status_code == 201, r.text
    f = r.json()
    assert f["name"] == "echo" and f["runtime"] == "python" and f["language"] == "python"
    assert f["title"] == "echo" and f["language_title"] == "python-echo"
    assert f["endpoint"] == "/api/v1/functions/echo/invoke"
    assert f["handler"] == "handler" and f["execution_type"] == "sync"
    assert f["timeout_ms"] == 30000 and f["memory_mb"] == 256
    assert f["max_concurrency"] == 10 and f["min_warm"] == 0 and f["cache_ttl"] == 3600
    assert f["cache_scope"] == "caller" and f["max_retries"] == 0 and f["rate_limit"] is None
    assert f["status"] == "ready" and f["active_version"] == 1 and f["project"] == "default"
    assert f["environment"] == {"GREETING": "hi"} and f["code"] == PY_ECHO
    assert f["created_at"].endswith("Z") and isinstance(f["id"], int)


@pytest.mark.parametrize(("alias", "family"), [
    ("python3", "python"), ("python3.11", "python"), ("python39", "python"),
    ("nodejs18", "nodejs"), ("node", "nodejs"), ("nodejs", "nodejs"),
])
async def test_runtime_aliases_are_normalized(client: httpx.AsyncClient, alias: str,
                                              family: str) -> None:
    code = PY_ECHO if family == "python" else "function handler(e) { return e }"
    r = await create(client, name="fn-" + alias.replace(".", ""), runtime=alias, code=code)
    assert r.status_code == 201, r.text
    assert r.json()["runtime"] == family


async def test_source_code_base64_and_dotted_handler(client: httpx.AsyncClient) -> None:
    src = base64.b64encode(b"def main(event):\n    return 1\n").decode()
    r = await client.post("/api/v1/functions", headers=WRITER, json={
        "name": "b64", "runtime": "python", "source_code": src, "handler": "index.main"})
    assert r.status_code == 201, r.text
    assert r.json()["handler"] == "main" and "def main" in r.json()["code"]


async def test_multipart_create_with_code_file(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/api/v1/functions", headers=WRITER,
        data={"name": "multi", "runtime": "python", "timeout_ms": "5000",
              "labels": '{"a": "b"}'},
        files={"code": ("handler.py", PY_ECHO.encode(), "text/x-python")},
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["code"] == PY_ECHO and body["timeout_ms"] == 5000 and body["labels"] == {"a": "b"}


@pytest.mark.parametrize(("body", "code"), [
    ({"runtime": "python", "code": PY_ECHO}, "INVALID_REQUEST"),
    ({"name": "x", "code": PY_ECHO}, "INVALID_REQUEST"),
    ({"name": "x", "runtime": "python"}, "INVALID_REQUEST"),
    ({"name": "Bad.Name", "runtime": "python", "code": PY_ECHO}, "INVALID_REQUEST"),
    ({"name": "x", "runtime": "cobol", "code": PY_ECHO}, "INVALID_RUNTIME"),
    ({"name": "x", "runtime": "ruby", "code": PY_ECHO}, "INVALID_RUNTIME"),
    ({"name": "x", "runtime": "python", "code": PY_ECHO, "timeout_ms": "5"}, "INVALID_REQUEST"),
    ({"name": "x", "runtime": "python", "code": PY_ECHO, "timeout_ms": 10**9}, "INVALID_REQUEST"),
    ({"name": "x", "runtime": "python", "code": PY_ECHO, "memory_mb": 1}, "INVALID_REQUEST"),
    ({"name": "x", "runtime": "python", "code": PY_ECHO, "execution_type": "later"},
     "INVALID_REQUEST"),
    ({"name": "x", "runtime": "python", "code": PY_ECHO, "environment": {"A": 1}},
     "INVALID_REQUEST"),
    ({"name": "x", "runtime": "python", "code": PY_ECHO, "dependencies": ["--index-url=x"]},
     "INVALID_REQUEST"),
    ({"name": "x", "runtime": "python", "code": PY_ECHO, "dependencies": ["git+https://x/y"]},
     "INVALID_REQUEST"),
    ({"name": "x", "runtime": "python", "code": PY_ECHO, "dependencies": ["./local"]},
     "INVALID_REQUEST"),
    ({"name": "x", "runtime": "nodejs", "code": "x", "dependencies": ["lodash@http://x"]},
     "INVALID_REQUEST"),
    ({"name": "x", "runtime": "python", "code": PY_ECHO, "dependencies": "six"},
     "INVALID_REQUEST"),
    ({"name": "x", "runtime": "python", "code": PY_ECHO, "schema": {"params": {"type": 5}}},
     "INVALID_REQUEST"),
    ({"name": "x", "runtime": "python", "code": PY_ECHO, "rate_limit": "lots"},
     "INVALID_REQUEST"),
    ({"name": "x", "runtime": "python", "code": PY_ECHO, "source_code": "!!"}, "INVALID_REQUEST"),
    ({"name": "x", "runtime": "python", "source_code": "!!"}, "INVALID_REQUEST"),
    ({"name": "x", "runtime": "python", "code": PY_ECHO, "min_warm": 5, "max_concurrency": 2},
     "INVALID_REQUEST"),
])
async def test_create_rejects_bad_input(client: httpx.AsyncClient, body: dict,
                                        code: str) -> None:
    r = await client.post("/api/v1/functions", json=body, headers=WRITER)
    assert_error(r, 400, code)


async def test_create_rejects_malformed_json(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/v1/functions", content=b"{not json",
                          headers={**WRITER, "content-type": "application/json"})
    assert_error(r, 400, "INVALID_REQUEST")


async def test_name_taken_and_ambiguous_names_conflict(client: httpx.AsyncClient) -> None:
    assert (await create(client, name="calc")).status_code == 201
    assert_error(await create(client, name="calc"), 409, "CONFLICT")
    # 'python-calc' is the language_title of 'calc'
    assert_error(await create(client, name="python-calc"), 409, "CONFLICT")
    assert (await create(client, name="nodejs-tool")).status_code == 201
    # a 'tool' nodejs function would have language_title 'nodejs-tool'
    r = await create(client, name="tool", runtime="nodejs", code="function handler(e){return e}")
    assert_error(r, 409, "CONFLICT")


async def test_get_by_id_name_and_language_title(client: httpx.AsyncClient) -> None:
    f = (await create(client, name="getme")).json()
    for ref in (str(f["id"]), "getme", "python-getme"):
        r = await client.get(f"/api/v1/functions/{ref}", headers=READER)
        assert r.status_code == 200, ref
        assert r.json()["id"] == f["id"]
    assert_error(await client.get("/api/v1/functions/nope", headers=READER), 404,
                 "FUNCTION_NOT_FOUND")


async def test_environment_is_masked_for_readers(client: httpx.AsyncClient) -> None:
    await create(client, name="secretive", environment={"API_KEY": "s3cr3t"})
    r = await client.get("/api/v1/functions/secretive", headers=READER)
    assert r.json()["environment"] == {"API_KEY": "***"}
    listing = await client.get("/api/v1/functions", headers=READER)
    assert "s3cr3t" not in listing.text
    r = await client.get("/api/v1/functions/secretive", headers=WRITER)
    assert r.json()["environment"] == {"API_KEY": "s3cr3t"}


async def test_list_paginates_and_filters(client: httpx.AsyncClient) -> None:
    for i in range(5):
        await create(client, name=f"p{i}", project="alpha" if i < 2 else "default",
                     labels={"tier": "gold" if i % 2 else "free"})
    await create(client, name="n1", runtime="nodejs", code="function handler(e){return e}")
    r = await client.get("/api/v1/functions?page=2&per_page=2", headers=READER)
    body = r.json()
    assert body["total"] == 6 and body["page"] == 2 and body["per_page"] == 2
    assert [f["name"] for f in body["functions"]] == ["p2", "p3"]
    assert "code" not in body["functions"][0]
    r = await client.get("/api/v1/functions?language=node", headers=READER)
    assert [f["name"] for f in r.json()["functions"]] == ["n1"]
    r = await client.get("/api/v1/functions?project=alpha", headers=READER)
    assert [f["name"] for f in r.json()["functions"]] == ["p0", "p1"]
    r = await client.get("/api/v1/functions?label=tier:gold", headers=READER)
    assert [f["name"] for f in r.json()["functions"]] == ["p1", "p3"]
    assert_error(await client.get("/api/v1/functions?per_page=101", headers=READER), 400,
                 "INVALID_REQUEST")
    assert_error(await client.get("/api/v1/functions?page=zero", headers=READER), 400,
                 "INVALID_REQUEST")
    assert_error(await client.get("/api/v1/functions?label=nocolon", headers=READER), 400,
                 "INVALID_REQUEST")


async def test_update_in_place_and_new_version(client: httpx.AsyncClient) -> None:
    await create(client, name="upd")
    r = await client.put("/api/v1/functions/upd", json={"description": "d", "timeout_ms": 1000},
                         headers=WRITER)
    assert r.status_code == 200, r.text
    assert r.json()["description"] == "d" and r.json()["active_version"] == 1
    r = await client.put("/api/v1/functions/upd", json={"code": "def handler(e):\n  return 2\n"},
                         headers=WRITER)
    assert r.json()["active_version"] == 2 and "return 2" in r.json()["code"]
    r = await client.put("/api/v1/functions/upd", json={"name": "renamed"}, headers=WRITER)
    assert r.json()["name"] == "renamed"
    assert_error(await client.get("/api/v1/functions/upd", headers=READER), 404,
                 "FUNCTION_NOT_FOUND")
    assert_error(await client.put("/api/v1/functions/renamed", json={"memory_mb": "x"},
                                  headers=WRITER), 400, "INVALID_REQUEST")
    assert_error(await client.put("/api/v1/functions/ghost", json={}, headers=WRITER), 404,
                 "FUNCTION_NOT_FOUND")


async def test_delete_then_gone(client: httpx.AsyncClient) -> None:
    await create(client, name="gone")
    r = await client.delete("/api/v1/functions/gone", headers=WRITER)
    assert r.status_code == 204 and r.content == b""
    assert_error(await client.get("/api/v1/functions/gone", headers=READER), 404,
                 "FUNCTION_NOT_FOUND")
    assert_error(await client.delete("/api/v1/functions/gone", headers=WRITER), 404,
                 "FUNCTION_NOT_FOUND")


async def test_auth_errors(client: httpx.AsyncClient) -> None:
    assert_error(await client.get("/api/v1/functions"), 401, "UNAUTHORIZED")
    assert_error(await client.get("/api/v1/functions", headers={"Authorization": "Bearer x.y.z"}),
                 401, "UNAUTHORIZED")
    expired = token(ttl_s=-60)
    assert_error(await client.get("/api/v1/functions",
                                  headers={"Authorization": f"Bearer {expired}"}),
                 401, "UNAUTHORIZED")
    body = assert_error(await client.post("/api/v1/functions", headers=auth("execute:all"),
                                          json={"name": "x"}), 403, "FORBIDDEN")
    assert body["error"]["details"]["required_scope"] == "write:functions"
    assert_error(await client.get("/api/v1/functions", headers=auth("execute:all")), 403,
                 "FORBIDDEN")
    assert (await client.get("/api/v1/functions", headers=auth("admin"))).status_code == 200


async def test_unknown_route_and_wrong_method_come_before_auth(client: httpx.AsyncClient) -> None:
    assert_error(await client.get("/api/v1/nothing-here"), 404, "NOT_FOUND")
    r = await client.patch("/api/v1/functions")
    assert r.status_code == 405
    assert r.json()["error"]["code"] == "INVALID_REQUEST"


async def test_request_id_is_echoed_or_generated(client: httpx.AsyncClient) -> None:
    r = await client.get("/health", headers={"X-Request-ID": "abc-123:x.y"})
    assert r.headers["x-request-id"] == "abc-123:x.y"
    r = await client.get("/health", headers={"X-Request-ID": "bad id!"})
    assert r.headers["x-request-id"] != "bad id!" and len(r.headers["x-request-id"]) == 36
    r = await client.get("/api/v1/functions", headers={"X-Request-ID": "req-1"})
    assert r.json()["request_id"] == "req-1"


async def test_body_over_the_limit_is_413(settings_factory) -> None:
    async with running_app(settings_factory(max_body_bytes=1024)) as c:
        r = await c.post("/api/v1/functions", headers=WRITER,
                         json={"name": "big", "runtime": "python", "code": "#" * 5000})
        assert_error(r, 413, "PAYLOAD_TOO_LARGE")

        async def chunks():
            for _ in range(10):
                yield b"x" * 512

        r = await c.post("/api/v1/functions", headers=WRITER, content=chunks())
        assert_error(r, 413, "PAYLOAD_TOO_LARGE")


async def test_health_ready_status(client: httpx.AsyncClient) -> None:
    h = (await client.get("/health")).json()
    assert h["status"] == "ok" and h["components"]["database"] == "ok"
    assert h["components"]["runtimes"] == {"python": "ok", "nodejs": "ok", "go": "ok",
                                           "rust": "ok"}
    assert (await client.get("/ready")).json() == {"status": "ready"}
    await create(client, name="counted")
    s = (await client.get("/status")).json()
    assert s["status"] == "running" and s["total_functions"] == 1
    assert s["memory_usage_bytes"] > 0 and s["uptime_seconds"] >= 0
