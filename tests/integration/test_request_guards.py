"""The request-target guard against the real app: control characters and invalid UTF-8
in a path or query parameter answer 400 ``INVALID_REQUEST`` on every route, before
authentication, and never reach PostgreSQL; NULs inside JSON bodies answer 400 too."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import jwt
import pytest
from starlette.routing import Route

from gateway.api.routes import all_routes
from tests.conftest import TEST_SECRET, auth, running_app
from tests.integration.test_functions_api import WRITER, assert_error, create

ADMIN = auth("admin read:jobs read:functions write:functions execute:all")
_PARAM = re.compile(r"\{([^}:]+)(?::[^}]+)?\}")
# A value for the other parameters of a template: names, ids and versions alike.
_FILLER = {"trigger_id": "1", "version": "1", "job_id": "00000000-0000-0000-0000-000000000000"}


def _route_cases(bad: str) -> list[tuple[str, str]]:
    """``(method, path)`` for every route of the app and method it serves, with ``bad`` in
    each path parameter in turn (the others filled with a plausible value)."""
    cases = []
    for route in all_routes():
        assert isinstance(route, Route), route  # a new kind of route needs this test extended
        names = _PARAM.findall(route.path)
        for method in sorted((route.methods or set()) - {"HEAD"}):
            for target in names:
                path = _PARAM.sub(
                    lambda m, t=target: "a" + bad if m.group(1) == t  # type: ignore[misc]
                    else _FILLER.get(m.group(1), "calc"), route.path)
                cases.append((method, path))
    return cases


def _expected_request_id(path: str, response: httpx.Response) -> str:
    # API.md: on the session routes an error body's request_id is the session id of the path.
    session = re.fullmatch(r"/api/v1/(?:execute|sessions)/([^/]+)", path)
    if session is None:
        return response.headers["x-request-id"]
    from urllib.parse import unquote

    return unquote(session.group(1), errors="replace")


@pytest.fixture
async def raw_client(settings_factory: Callable[..., Any]) -> AsyncIterator[httpx.AsyncClient]:
    """The app behind a client that reports a 500 as a response rather than raising."""
    async with running_app(settings_factory()) as client:
        transport = httpx.ASGITransport(app=client.app,  # type: ignore[attr-defined]
                                        raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://fngate.test",
                                     timeout=60) as raw:
            raw.app = client.app  # type: ignore[attr-defined]
            yield raw


async def _still_serving(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health")).json()["components"]["database"] == "ok"
    r = await create(client, name="after")
    assert r.status_code == 201, r.text
    assert (await client.get("/api/v1/functions/after", headers=ADMIN)).status_code == 200


# %00 as the issue found it; other C0 controls, DEL, a C1 control (U+0085) and bytes
# that are not UTF-8 (the server would have turned them into U+FFFD).
@pytest.mark.parametrize("bad", ["%00", "%0A", "%1F", "%7F", "%C2%85", "%FF", "%C3"])
async def test_every_route_refuses_a_control_character_in_any_path_parameter(
        raw_client: httpx.AsyncClient, bad: str) -> None:
    await create(raw_client, name="calc")
    cases = _route_cases(bad)
    assert any(path.startswith("/fn/") for _, path in cases)
    wrong = []
    for method, path in cases:
        r = await raw_client.request(method, path, headers=ADMIN, json={})
        body = r.json()
        if (r.status_code != 400 or body["error"]["code"] != "INVALID_REQUEST"
                or body["error"]["details"] != {"in": "path"}
                or body["request_id"] != _expected_request_id(path, r)):
            wrong.append((method, path, r.status_code, r.text[:200]))
    assert wrong == []
    await _still_serving(raw_client)


_QUERY_CASES = [
    "/api/v1/functions?project=a%00",
    "/api/v1/functions?label=k:a%00",
    "/api/v1/functions?language=python%00",
    "/api/v1/functions/calc/jobs?status=success%00",
    "/api/v1/functions/calc/jobs?before=a%00",
    "/api/v1/functions/calc/logs?job_id=a%00",
    "/api/v1/functions/calc/logs?since=2020%00",
    "/api/v1/functions/calc/metrics?since=a%00",
    "/api/v1/functions/calc/events?limit=1%00",
    "/api/v1/functions?project=a%09b",
    "/api/v1/functions?project=%FF",
    "/api/v1/functions?a%00=1",
    "/api/v1/functions?page=1&project=x+%7F",
    "/health?anything=%00",
]


async def test_query_parameters_with_control_characters_are_400(
        raw_client: httpx.AsyncClient) -> None:
    await create(raw_client, name="calc")
    wrong = []
    for path in _QUERY_CASES:
        r = await raw_client.get(path, headers=ADMIN)
        body = r.json()
        if (r.status_code != 400 or body["error"]["code"] != "INVALID_REQUEST"
                or body["error"]["details"].get("in") != "query"):
            wrong.append((path, r.status_code, r.text[:200]))
    assert wrong == []
    r = await raw_client.get("/api/v1/functions?project=a%00", headers=ADMIN)
    assert r.json()["error"]["details"] == {"in": "query", "parameter": "project"}
    await _still_serving(raw_client)


async def test_a_bad_path_is_refused_before_the_token_is_looked_at(
        raw_client: httpx.AsyncClient) -> None:
    for path in ("/api/v1/functions/a%00", "/api/v1/no-such-route%00", "/fn/a%00",
                 "/api/v1/functions?project=%00"):
        for headers in ({}, {"Authorization": "Bearer not-a-token"}, ADMIN):
            r = await raw_client.get(path, headers=headers)
            # Routed or not, with or without a token: the same answer (no route is revealed).
            assert_error(r, 400, "INVALID_REQUEST")


async def test_http_trigger_routes_refuse_nul_but_pass_other_controls_in_their_query(
        raw_client: httpx.AsyncClient) -> None:
    await create(raw_client, name="echo")
    r = await raw_client.post("/api/v1/functions/echo/triggers", headers=WRITER,
                              json={"type": "http", "config": {"path": "/echo",
                                                               "public": True}})
    assert r.status_code == 201, r.text
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        assert_error(await raw_client.request(method, "/fn/a%00"), 400, "INVALID_REQUEST")
    assert_error(await raw_client.get("/fn/echo?q=a%00"), 400, "INVALID_REQUEST")
    assert_error(await raw_client.get("/fn/echo?q=%FF"), 400, "INVALID_REQUEST")
    assert_error(await raw_client.get("/fn/echo%0A?q=x"), 400, "INVALID_REQUEST")
    # A form's text area: the query is the function's input, newlines and all.
    r = await raw_client.get("/fn/echo?q=line1%0D%0Aline2")
    assert r.status_code == 200, r.text
    assert r.json()["query"] == {"q": "line1\r\nline2"}


async def test_printable_unicode_in_paths_and_queries_is_not_refused(
        raw_client: httpx.AsyncClient) -> None:
    # é, U+FFFD written on purpose, and a space: not control characters.
    for path in ("/api/v1/functions/caf%C3%A9", "/api/v1/functions/%EF%BF%BD",
                 "/api/v1/functions/a%20b"):
        assert_error(await raw_client.get(path, headers=ADMIN), 404, "FUNCTION_NOT_FOUND")
    r = await raw_client.get("/api/v1/functions?project=caf%C3%A9&label=k:%E2%9C%93",
                             headers=ADMIN)
    assert r.status_code == 200 and r.json()["total"] == 0


def _json(body: bytes) -> dict[str, Any]:
    return {"content": body, "headers": {**ADMIN, "content-type": "application/json"}}


_NUL_BODIES = [
    ("POST", "/api/v1/functions", b'{"name": "a\\u0000", "runtime": "python", "code": "x"}'),
    ("POST", "/api/v1/functions",
     b'{"name": "n", "runtime": "python", "code": "x", "description": "d\\u0000"}'),
    ("POST", "/api/v1/functions", b'{"name": "n", "runtime": "python", "code": "#\\u0000"}'),
    ("POST", "/api/v1/functions",
     b'{"name": "n", "runtime": "python", "code": "x", "environment": {"K": "\\u0000"}}'),
    ("POST", "/api/v1/functions",
     b'{"name": "n", "runtime": "python", "code": "x", "environment": {"K\\u0000": "v"}}'),
    ("POST", "/api/v1/functions",
     b'{"name": "n", "runtime": "python", "code": "x", "labels": {"k": "v\\u0000"}}'),
    ("PUT", "/api/v1/functions/calc", b'{"description": "\\u0000"}'),
    ("POST", "/api/v1/functions/calc/triggers",
     b'{"type": "http", "config": {"path": "/p\\u0000"}}'),
    ("POST", "/api/v1/functions/calc/triggers",
     b'{"type": "cron", "config": {"schedule": "* * * * *", "payload": {"a": "\\u0000"}}}'),
    ("POST", "/api/v1/functions/calc/triggers",
     b'{"type": "http", "name": "\\u0000", "config": {"path": "/p"}}'),
    ("POST", "/api/v1/projects", b'{"name": "p", "environment": {"K": "\\u0000"}}'),
    ("PUT", "/api/v1/projects/default/env", b'{"data": {"K": "\\u0000"}}'),
    ("PUT", "/api/v1/env/system", b'{"data": {"K": "\\u0000"}}'),
    ("POST", "/api/v1/initialize", b'{"context": {"user_id": "\\u0000"}}'),
]


async def test_nul_in_json_body_strings_is_400(raw_client: httpx.AsyncClient) -> None:
    await create(raw_client, name="calc")
    wrong = []
    for method, path, body in _NUL_BODIES:
        headers = {**ADMIN, "content-type": "application/json",
                   "Language-Title": "python-calc"}
        r = await raw_client.request(method, path, content=body, headers=headers)
        if r.status_code != 400 or r.json()["error"]["code"] != "INVALID_REQUEST":
            wrong.append((method, path, body, r.status_code, r.text[:200]))
    assert wrong == []
    await _still_serving(raw_client)


async def test_a_session_id_with_a_nul_is_refused_and_echoed_as_the_error_request_id(
        raw_client: httpx.AsyncClient) -> None:
    await create(raw_client, name="calc")
    r = await raw_client.post("/api/v1/initialize", json={},
                              headers={**ADMIN, "Language-Title": "python-calc"})
    assert r.status_code == 200, r.text
    for method, path in (("POST", "/api/v1/execute/a%00"), ("GET", "/api/v1/sessions/a%00"),
                         ("DELETE", "/api/v1/sessions/a%00")):
        r = await raw_client.request(method, path, json={"params": {}}, headers=ADMIN)
        assert r.status_code == 400, r.text
        body = r.json()
        assert body["error"]["code"] == "INVALID_REQUEST"
        assert body["request_id"] == "a\x00"  # API.md: the session id of the path


@pytest.mark.parametrize("field", ["environment", "labels", "triggers", "dependencies"])
async def test_nul_in_json_form_fields_of_a_multipart_deploy_is_400(
        raw_client: httpx.AsyncClient, field: str) -> None:
    value = {"environment": '{"K": "\\u0000"}', "labels": '{"k": "\\u0000"}',
             "triggers": '[{"type": "http", "config": {"path": "/\\u0000"}}]',
             "dependencies": '["six\\u0000"]'}[field]
    r = await raw_client.post(
        "/api/v1/functions", headers=ADMIN,
        data={"name": "mp", "runtime": "python", field: value},
        files={"code": ("main.py", b"def handler(e):\n    return 1\n")})
    body = assert_error(r, 400, "INVALID_REQUEST")
    assert body["error"]["details"] == {"field": field}
    await _still_serving(raw_client)


@pytest.mark.parametrize("claims", [{"exp": "9999999999"}, {"exp": 10**400},
                                    {"nbf": True}, {"iat": "0"}], ids=repr)
async def test_a_token_whose_time_claims_are_not_numbers_is_401(
        raw_client: httpx.AsyncClient, claims: dict[str, Any]) -> None:
    payload = {"sub": "alice", "scope": "admin", "exp": int(time.time()) + 600, **claims}
    bearer = jwt.encode(payload, TEST_SECRET, algorithm="HS256")
    r = await raw_client.get("/api/v1/functions", headers={"Authorization": f"Bearer {bearer}"})
    body = assert_error(r, 401, "UNAUTHORIZED")
    assert "must be a number" in body["error"]["message"]
