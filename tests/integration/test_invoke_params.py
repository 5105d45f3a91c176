"""/invoke, /invoke-async and /execute check the event against ``schema.params`` alike;
HTTP-trigger events (the gateway's own envelope) are not checked."""

from __future__ import annotations

import httpx
import pytest

from gateway.schemas.params import MAX_PARAM_ERRORS
from tests.integration.test_functions_api import WRITER, assert_error, create

CALC = (
    "def handler(event):\n"
    "    values = event.get('values', [])\n"
    "    op = event.get('operation')\n"
    "    return {'value': sum(values)} if op == 'add' else {}\n"
)
SCHEMA = {
    "params": {
        "type": "object",
        "properties": {
            "operation": {"type": "string", "enum": ["add", "subtract", "multiply", "divide"]},
            "values": {"type": "array", "items": {"type": "number"}},
        },
        "required": ["operation", "values"],
    },
    "result": {"type": "object", "properties": {"value": {"type": "number"}}},
}
POW = {"operation": "pow", "values": [2, 3]}


async def _calculator(client: httpx.AsyncClient, **extra: object) -> None:
    r = await create(client, name="calculator", code=CALC, schema=SCHEMA, **extra)
    assert r.status_code == 201, r.text


def _assert_invalid_params(response: httpx.Response) -> None:
    body = assert_error(response, 400, "INVALID_PARAMS")
    errors = body["error"]["details"]["errors"]
    assert [e["path"] for e in errors] == ["$.operation"], errors
    assert "pow" in errors[0]["message"]


async def _jobs(client: httpx.AsyncClient) -> list[dict[str, object]]:
    r = await client.get("/api/v1/functions/calculator/jobs", headers=WRITER)
    assert r.status_code == 200, r.text
    jobs: list[dict[str, object]] = r.json()["jobs"]
    return jobs


@pytest.mark.parametrize(("path", "headers"), [
    ("/api/v1/functions/calculator/invoke", {}),
    ("/api/v1/functions/calculator/invoke", {"X-Cache-Control": "no-cache"}),
    ("/api/v1/functions/calculator/invoke", {"Idempotency-Key": "k1"}),
    ("/api/v1/functions/calculator/invoke?async=true", {}),
    ("/api/v1/functions/calculator/invoke", {"Prefer": "respond-async"}),
    ("/api/v1/functions/calculator/invoke-async", {}),
    ("/api/v1/functions/python-calculator/invoke-async", {"Idempotency-Key": "k2"}),
], ids=["sync", "cache", "idempotent", "async-query", "prefer", "invoke-async",
        "invoke-async-idempotent"])
async def test_invoke_refuses_params_outside_the_schema_and_records_no_job(
    client: httpx.AsyncClient, path: str, headers: dict[str, str],
) -> None:
    await _calculator(client)
    _assert_invalid_params(await client.post(path, json=POW, headers={**WRITER, **headers}))
    assert await _jobs(client) == []


async def test_an_empty_body_is_the_event_checked(client: httpx.AsyncClient) -> None:
    await _calculator(client)
    r = await client.post("/api/v1/functions/calculator/invoke", headers=WRITER)
    body = assert_error(r, 400, "INVALID_PARAMS")
    assert {e["path"] for e in body["error"]["details"]["errors"]} == {"$"}


async def test_an_async_function_is_checked_before_it_is_queued(
    client: httpx.AsyncClient,
) -> None:
    await _calculator(client, execution_type="async")
    _assert_invalid_params(await client.post("/api/v1/functions/calculator/invoke",
                                             json=POW, headers=WRITER))
    assert await _jobs(client) == []


async def test_params_within_the_schema_run(client: httpx.AsyncClient) -> None:
    await _calculator(client)
    r = await client.post("/api/v1/functions/calculator/invoke", headers=WRITER,
                          json={"operation": "add", "values": [1, 2, 3]})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "success" and r.json()["result"] == {"value": 6}


async def test_invoke_and_execute_give_the_same_answer(client: httpx.AsyncClient) -> None:
    await _calculator(client)
    invoked = await client.post("/api/v1/functions/calculator/invoke", json=POW,
                                headers=WRITER)
    r = await client.post("/api/v1/initialize",
                          headers={**WRITER, "Language-Title": "python-calculator"})
    assert r.status_code == 200, r.text
    executed = await client.post(f"/api/v1/execute/{r.json()['request_id']}",
                                 json={"params": POW}, headers=WRITER)
    assert executed.status_code == 400, executed.text  # its request_id is the session's
    assert invoked.status_code == 400, invoked.text
    assert invoked.json()["error"] == executed.json()["error"]
    assert invoked.json()["error"]["code"] == "INVALID_PARAMS"


async def test_http_trigger_events_are_not_checked(client: httpx.AsyncClient) -> None:
    await _calculator(client, triggers=[
        {"type": "http", "config": {"path": "/calc", "public": True}}])
    # The event is the request envelope, which the params schema does not describe.
    r = await client.post("/fn/calc", json=POW)
    assert r.status_code == 200, r.text
    assert r.json() == {}


async def test_a_mismatch_lists_a_bounded_number_of_errors(client: httpx.AsyncClient) -> None:
    # 100,000 wrong items made 100,000 errors, collected and sorted on the event loop.
    await _calculator(client)
    r = await client.post("/api/v1/functions/calculator/invoke", headers=WRITER,
                          json={"operation": "add", "values": ["x"] * 100_000})
    body = assert_error(r, 400, "INVALID_PARAMS")
    assert len(body["error"]["details"]["errors"]) == MAX_PARAM_ERRORS
    assert "there may be more" in body["error"]["message"]
