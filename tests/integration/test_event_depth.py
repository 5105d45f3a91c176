"""Events nested deeper than the documented bound are a 400 at the gateway, on every entry
point that takes one from an HTTP body (they used to fail in the worker)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from gateway.schemas.json_depth import MAX_JSON_DEPTH
from tests.integration.test_functions_api import WRITER, assert_error, create


def _nested(depth: int) -> Any:
    value: Any = "leaf"
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


def _assert_too_deep(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "INVALID_REQUEST"
    assert error["details"] == {"max_depth": MAX_JSON_DEPTH}


async def test_an_event_at_the_bound_runs_and_one_deeper_is_refused(
    client: httpx.AsyncClient,
) -> None:
    assert (await create(client, name="echo")).status_code == 201
    at_bound = _nested(MAX_JSON_DEPTH)
    r = await client.post("/api/v1/functions/echo/invoke", json=at_bound, headers=WRITER)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "success" and r.json()["result"] == at_bound
    r = await client.post("/api/v1/functions/echo/invoke", headers=WRITER,
                          json=_nested(MAX_JSON_DEPTH + 1))
    _assert_too_deep(r)
    jobs = (await client.get("/api/v1/functions/echo/jobs", headers=WRITER)).json()["jobs"]
    assert len(jobs) == 1


@pytest.mark.parametrize("depth", [300, 1024, 5000])
@pytest.mark.parametrize("path", ["/api/v1/functions/echo/invoke",
                                  "/api/v1/functions/echo/invoke?async=true",
                                  "/api/v1/functions/echo/invoke-async"])
async def test_deep_events_never_reach_a_worker(client: httpx.AsyncClient, path: str,
                                                depth: int) -> None:
    await create(client, name="echo")
    body = b"[" * depth + b"]" * depth  # past orjson's own 1024 levels too
    r = await client.post(path, content=body, headers={**WRITER,
                                                       "Content-Type": "application/json"})
    _assert_too_deep(r)
    jobs = (await client.get("/api/v1/functions/echo/jobs", headers=WRITER)).json()["jobs"]
    assert jobs == []


async def test_session_params_and_context_are_bounded(client: httpx.AsyncClient) -> None:
    await create(client, name="echo")
    r = await client.post("/api/v1/initialize", headers={**WRITER, "Language-Title": "echo"},
                          json={"context": {"user_id": "u", "extra": _nested(300)}})
    _assert_too_deep(r)
    r = await client.post("/api/v1/initialize", headers={**WRITER, "Language-Title": "echo"})
    assert r.status_code == 200, r.text
    r = await client.post(f"/api/v1/execute/{r.json()['request_id']}", headers=WRITER,
                          json={"params": _nested(300)})
    _assert_too_deep(r)


async def test_a_deep_json_body_on_an_http_trigger_is_400(client: httpx.AsyncClient) -> None:
    await create(client, name="echo", triggers=[
        {"type": "http", "config": {"path": "/echo", "public": True}}])
    _assert_too_deep(await client.post("/fn/echo", json=_nested(300)))
    # As text it is not JSON to the gateway: it reaches the function as a string.
    r = await client.post("/fn/echo", content=b"[" * 300, headers={"Content-Type": "text/plain"})
    assert r.status_code == 200, r.text
    assert r.json()["body"] == "[" * 300


async def test_create_bodies_are_bounded_too(client: httpx.AsyncClient) -> None:
    r = await create(client, name="deep", labels=_nested(300))
    assert_error(r, 400, "INVALID_REQUEST")


async def test_a_multipart_json_form_field_nested_too_deep_is_refused(
    client: httpx.AsyncClient,
) -> None:
    r = await client.post(
        "/api/v1/functions", headers=WRITER,
        data={"name": "deepform", "runtime": "python",
              "labels": "{}", "examples": '[{"request": {"x": ' + "[" * 300 + "]" * 300 + "}}]"},
        files={"code": ("handler.py", b"def handler(e):\n    return e\n", "text/x-python")})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["details"] == {"max_depth": MAX_JSON_DEPTH}


async def test_a_schema_within_the_bound_but_too_deep_to_check_is_400(
    client: httpx.AsyncClient,
) -> None:
    schema: Any = {"type": "object"}
    for _ in range(MAX_JSON_DEPTH - 3):  # with the body and "schema": just within the bound
        schema = {"not": schema}
    r = await create(client, name="deepschema", schema={"params": schema})
    error = assert_error(r, 400, "INVALID_REQUEST")["error"]
    assert error["details"] == {"field": "schema", "errors": [
        {"path": "schema", "message": "'params' nests too deeply to be checked"}]}
