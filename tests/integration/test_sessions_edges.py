"""Sessions at their edges: re-initialize, bounds, best-effort warming, error ids, schemas."""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import asyncpg
import httpx
import orjson
import pytest

from gateway.core.jsoncodec import isoformat
from tests.conftest import auth, running_app
from tests.integration.test_functions_api import WRITER, assert_error
from tests.integration.test_sessions import (
    ALICE,
    TITLE,
    _calculator,
    _exec,
    _init,
    assert_error_session,
)

ADD = {"operation": "add", "values": [1, 2]}


async def _echo(client: httpx.AsyncClient, name: str = "echo") -> None:
    r = await client.post("/api/v1/functions", headers=WRITER, json={
        "name": name, "runtime": "python", "code": "def handler(p):\n    return p\n"})
    assert r.status_code == 201, r.text


# -- re-initialize ----------------------------------------------------------------------


async def test_reinitialize_with_another_language_title_is_409(
        client: httpx.AsyncClient) -> None:
    await _calculator(client)
    await _echo(client)
    sid = str(uuid.uuid4())
    assert await _init(client, {"X-Request-ID": sid}) == sid
    r = await client.post("/api/v1/initialize", json={},
                          headers={**ALICE, "Language-Title": "python-echo", "X-Request-ID": sid})
    assert_error(r, 409, "CONFLICT")
    assert r.json()["error"]["details"] == {"language_title": "nodejs-calculator"}
    # the function's name names the same function: still the same session
    assert await _init(client, {"X-Request-ID": sid, "Language-Title": "calculator"}) == sid


async def test_reinitialize_a_closed_session_is_409(client: httpx.AsyncClient) -> None:
    await _calculator(client)
    sid = str(uuid.uuid4())
    await _init(client, {"X-Request-ID": sid})
    assert (await client.delete(f"/api/v1/sessions/{sid}", headers=ALICE)).status_code == 204
    r = await client.post("/api/v1/initialize", json={},
                          headers={**ALICE, **TITLE, "X-Request-ID": sid})
    body = assert_error(r, 409, "CONFLICT")
    assert body["error"]["details"] == {"status": "closed"}


async def test_reinitialize_an_expired_session_is_409(settings_factory: Callable[..., Any]) -> None:
    async with running_app(settings_factory(session_ttl_s=1)) as client:
        await _calculator(client)
        sid = str(uuid.uuid4())
        await _init(client, {"X-Request-ID": sid})
        await asyncio.sleep(1.1)
        r = await client.post("/api/v1/initialize", json={},
                              headers={**ALICE, **TITLE, "X-Request-ID": sid})
        body = assert_error(r, 409, "CONFLICT")
        assert body["error"]["details"] == {"status": "expired"}


# -- context.timeout_ms -----------------------------------------------------------------


@pytest.mark.parametrize("timeout_ms", [2**31, 10**20, 300_001, 0, -5, 1.5, True])
async def test_timeout_ms_out_of_bounds_is_400(client: httpx.AsyncClient,
                                               timeout_ms: Any) -> None:
    await _calculator(client)
    r = await client.post("/api/v1/initialize", json={"context": {"timeout_ms": timeout_ms}},
                          headers={**ALICE, **TITLE})
    body = assert_error(r, 400, "INVALID_REQUEST")
    assert body["error"]["details"] == {"field": "context.timeout_ms", "errors": [
        {"path": "context.timeout_ms", "message": "must be an integer between 1 and 300000"}]}
    assert "between 1 and 300000" in body["error"]["message"]


async def test_timeout_ms_up_to_the_configured_maximum_is_accepted(
        settings_factory: Callable[..., Any]) -> None:
    async with running_app(settings_factory(max_timeout_ms=20_000)) as client:
        await _calculator(client)
        sid = await _init(client, context={"timeout_ms": 20_000})
        assert (await _exec(client, sid, ADD)).status_code == 200
        # the default (30 s) is capped by the maximum rather than refused
        assert await _init(client)
        r = await client.post("/api/v1/initialize", json={"context": {"timeout_ms": 20_001}},
                              headers={**ALICE, **TITLE})
        assert_error(r, 400, "INVALID_REQUEST")


# -- warming is best effort -------------------------------------------------------------


async def test_initialize_succeeds_when_warming_fails(
        client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture) -> None:
    await _calculator(client)
    dispatcher = client.app.state.services.dispatcher  # type: ignore[attr-defined]

    async def broken(function: Any) -> bool:
        raise RuntimeError("injected warm fault")

    dispatcher.warm = broken
    try:
        with caplog.at_level(logging.WARNING, logger="fngate.sessions"):
            sid = await _init(client)
    finally:
        del dispatcher.warm
    assert "warming a worker for a new session failed" in [r.getMessage() for r in caplog.records]
    r = await _exec(client, sid, ADD)
    assert r.status_code == 200 and r.json()["result"] == {"value": 3}


# -- timestamps -------------------------------------------------------------------------


async def test_timestamps_are_stored_as_returned(client: httpx.AsyncClient,
                                                 database_url: str) -> None:
    await _calculator(client)
    sids = []
    for _ in range(3):
        r = await client.post("/api/v1/initialize", json={}, headers={**ALICE, **TITLE})
        sids.append((r.json()["request_id"], r.json()["expires_at"]))
    await _exec(client, sids[0][0], ADD)
    conn = await asyncpg.connect(database_url)
    try:
        for sid, expires_at in sids:
            row = await conn.fetchrow(
                "SELECT created_at, expires_at, last_executed_at FROM sessions WHERE id = $1",
                uuid.UUID(sid))
            assert isoformat(row["expires_at"]) == expires_at
            stored = [row["created_at"], row["expires_at"], row["last_executed_at"]]
            assert all(t.microsecond % 1000 == 0 for t in stored if t is not None)
            status = (await client.get(f"/api/v1/sessions/{sid}", headers=ALICE)).json()
            assert status["created_at"] == isoformat(row["created_at"])
    finally:
        await conn.close()


# -- error bodies carry the session id --------------------------------------------------


async def test_rate_limited_session_requests_carry_the_session_id(
        settings_factory: Callable[..., Any]) -> None:
    settings = settings_factory(rate_limits="execute=2/minute|1/minute")
    async with running_app(settings) as client:
        await _calculator(client)
        sid = await _init(client)
        assert (await _exec(client, sid, ADD)).status_code == 200
        for r in (await _exec(client, sid, ADD),
                  await client.get(f"/api/v1/sessions/{sid}", headers=ALICE),
                  await client.delete(f"/api/v1/sessions/{sid}", headers=ALICE)):
            err = assert_error_session(r, 429, "RATE_LIMITED", sid)
            assert err["details"]["route_class"] == "execute"
            assert r.headers["x-request-id"] != sid and "retry-after" in r.headers


async def test_wrong_method_on_session_routes_carries_the_session_id(
        client: httpx.AsyncClient) -> None:
    sid = str(uuid.uuid4())
    for r in (await client.get(f"/api/v1/execute/{sid}", headers=ALICE),
              await client.put(f"/api/v1/sessions/{sid}", headers=ALICE)):
        err = assert_error_session(r, 405, "INVALID_REQUEST", sid)
        assert "not allowed" in err["message"]
    r = await client.get("/api/v1/initialize", headers=ALICE)
    assert_error(r, 405, "INVALID_REQUEST")  # not a session id route: the X-Request-ID


async def test_oversized_execute_body_carries_the_session_id(
        settings_factory: Callable[..., Any]) -> None:
    async with running_app(settings_factory(max_body_bytes=1024)) as client:
        await _calculator(client)
        sid = await _init(client)
        big = orjson.dumps({"params": {"s": "x" * 2000}})
        r = await client.post(f"/api/v1/execute/{sid}", content=big,
                              headers={**ALICE, "Content-Type": "application/json"})
        err = assert_error_session(r, 413, "PAYLOAD_TOO_LARGE", sid)
        assert err["details"] == {"max_bytes": 1024}

        async def chunks() -> Any:  # no Content-Length: the limit trips while reading
            yield big[:1000]
            yield big[1000:]

        r = await client.post(f"/api/v1/execute/{sid}", content=chunks(), headers=ALICE)
        assert_error_session(r, 413, "PAYLOAD_TOO_LARGE", sid)


@contextlib.asynccontextmanager
async def _raw_client(client: httpx.AsyncClient) -> Any:
    # A 500 re-raises inside the app; this client reports it as the HTTP response only.
    transport = httpx.ASGITransport(app=client.app,  # type: ignore[attr-defined]
                                    raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as raw:
        yield raw


@pytest.mark.parametrize(("fault", "status", "code"), [
    (RuntimeError("injected"), 500, "INTERNAL_ERROR"),
    (ConnectionRefusedError("injected"), 503, "UNAVAILABLE"),
])
async def test_gateway_faults_on_session_routes_carry_the_session_id(
        client: httpx.AsyncClient, fault: Exception, status: int, code: str) -> None:
    sessions = client.app.state.services.sessions  # type: ignore[attr-defined]

    async def broken(session_id: str) -> Any:
        raise fault

    sessions.get = broken
    try:
        async with _raw_client(client) as raw:
            sid = str(uuid.uuid4())
            rid = "req-" + uuid.uuid4().hex
            for r in (await _exec(raw, sid, ADD, {"X-Request-ID": rid}),
                      await raw.get(f"/api/v1/sessions/{sid}",
                                    headers={**ALICE, "X-Request-ID": rid})):
                assert_error_session(r, status, code, sid)
                assert r.headers["x-request-id"] == rid and "injected" not in r.text
    finally:
        del sessions.get


# -- params schemas ---------------------------------------------------------------------


async def test_saving_a_schema_with_a_remote_ref_is_400(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/v1/functions", headers=WRITER, json={
        "name": "ssrf", "runtime": "python", "code": "def handler(p):\n    return p\n",
        "schema": {"params": {"$ref": "http://169.254.169.254/latest/meta-data"}}})
    body = assert_error(r, 400, "INVALID_REQUEST")
    assert body["error"]["details"] == {
        "field": "schema.params", "ref": "http://169.254.169.254/latest/meta-data",
        "errors": [{"path": "schema.params",
                    "message": "has $ref 'http://169.254.169.254/latest/meta-data': only "
                               "references within the schema (starting with '#') are "
                               "allowed"}]}
    await _echo(client)
    r = await client.put("/api/v1/functions/echo", headers=WRITER,
                         json={"schema": {"result": {"$ref": "https://example.com/r.json"}}})
    assert_error(r, 400, "INVALID_REQUEST")


@contextlib.contextmanager
def _schema_server() -> Iterator[tuple[str, list[str]]]:
    """A local HTTP server that serves a schema and records every path asked for."""
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
            hits.append(self.path)
            body = b'{"type": "object"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/schema.json", hits
    finally:
        server.shutdown()
        server.server_close()


async def test_a_stored_remote_ref_is_never_fetched(client: httpx.AsyncClient,
                                                    database_url: str) -> None:
    await _echo(client)
    with _schema_server() as (url, hits):
        # As a schema saved before remote refs were refused.
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute("UPDATE functions SET schema = $1::jsonb WHERE name = 'echo'",
                               orjson.dumps({"params": {"$ref": url}}).decode())
        finally:
            await conn.close()
        client.app.state.services.functions.forget()  # type: ignore[attr-defined]
        r = await client.post("/api/v1/initialize", json={},
                              headers={**ALICE, "Language-Title": "python-echo"})
        sid = r.json()["request_id"]
        r = await _exec(client, sid, {"a": 1})
        err = assert_error_session(r, 400, "INVALID_REQUEST", sid)
        assert "resolves nowhere" in err["message"]
        assert hits == []


async def test_non_object_params_are_a_clean_invalid_params(client: httpx.AsyncClient) -> None:
    await _calculator(client)
    sid = await _init(client)
    r = await _exec(client, sid, None)
    err = assert_error_session(r, 400, "INVALID_PARAMS", sid)
    assert err["details"] == {"errors": [{"path": "$", "message": "expected object, got null"}]}


async def test_a_lowered_cache_ttl_shortens_cached_results(client: httpx.AsyncClient) -> None:
    await _calculator(client)
    sid = await _init(client)
    assert (await _exec(client, sid, ADD)).json()["cached"] is False
    assert (await _exec(client, sid, ADD)).json()["cached"] is True
    r = await client.put("/api/v1/functions/calculator", headers=WRITER, json={"cache_ttl": 1})
    assert r.status_code == 200, r.text
    await asyncio.sleep(1.1)
    r = await _exec(client, sid, ADD)
    assert r.json()["cached"] is False and r.headers["x-cache"] == "MISS"


async def test_a_failed_cache_write_still_answers_the_execute(
        client: httpx.AsyncClient) -> None:
    await _calculator(client)
    sid = await _init(client)
    cache = client.app.state.services.cache  # type: ignore[attr-defined]

    async def broken(*args: Any, **kwargs: Any) -> None:
        raise ConnectionRefusedError("injected")

    cache.put = broken
    try:
        r = await _exec(client, sid, ADD)
    finally:
        del cache.put
    assert r.status_code == 200 and r.json()["result"] == {"value": 3}


async def test_session_routes_use_the_default_x_request_id_elsewhere(
        client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/sessions", headers=auth("execute:all"))
    assert_error(r, 404, "NOT_FOUND")
