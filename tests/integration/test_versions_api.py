"""Versions and rollback: adding, listing, activating and rolling back versions."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import httpx
import pytest

from executors import BuildResult
from tests.conftest import auth, running_app, wait_for
from tests.integration.test_functions_api import READER, WRITER, assert_error, create
from tests.integration.test_webhooks import add_webhook, receiving, settings_for

RUNNER = auth("execute:all")
OPS = auth("read:jobs", sub="ops")
BOB = auth("write:functions", sub="bob")


def code_returning(value: int) -> str:
    return f"def handler(event):\n    return {value}\n"


async def _add(client: httpx.AsyncClient, name: str, headers: dict[str, str] = WRITER,
               **body: Any) -> dict[str, Any]:
    r = await client.post(f"/api/v1/functions/{name}/versions", json=body, headers=headers)
    assert r.status_code == 201, r.text
    version: dict[str, Any] = r.json()
    return version


async def _versions(client: httpx.AsyncClient, name: str) -> list[dict[str, Any]]:
    r = await client.get(f"/api/v1/functions/{name}/versions", headers=READER)
    assert r.status_code == 200, r.text
    versions: list[dict[str, Any]] = r.json()["versions"]
    return versions


async def _invoke(client: httpx.AsyncClient, name: str) -> Any:
    r = await client.post(f"/api/v1/functions/{name}/invoke", json={}, headers=RUNNER)
    assert r.status_code == 200, r.text
    return r.json()["result"]


async def _insert_version(database_url: str, function_id: int, version: int,
                          status: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            "INSERT INTO function_versions (function_id, version, runtime, code, handler,"
            " dependencies, build_status, build_log)"
            " VALUES ($1, $2, 'python', $3, 'handler', $4::jsonb, $5, $6)",
            function_id, version, code_returning(version), json.dumps(["nope==1.0"]), status,
            "ERROR: no matching distribution" if status == "failed" else "")
    finally:
        await conn.close()


async def _events(client: httpx.AsyncClient, name: str) -> list[dict[str, Any]]:
    r = await client.get(f"/api/v1/functions/{name}/events", headers=OPS)
    assert r.status_code == 200, r.text
    events: list[dict[str, Any]] = r.json()["events"]
    return events


async def test_create_versions_and_list_them_newest_first(client: httpx.AsyncClient) -> None:
    r = await create(client, name="ver", code=code_returning(1))
    assert r.status_code == 201, r.text
    function_id = r.json()["id"]

    v2 = await _add(client, "ver", code=code_returning(2))
    assert v2["version"] == 2 and v2["function_id"] == function_id
    assert v2["is_active"] is False and v2["build_status"] == "success"
    assert v2["code"] == code_returning(2) and v2["handler"] == "handler"
    assert v2["dependencies"] == [] and v2["build_log"] == ""
    assert v2["created_at"].endswith("Z") and isinstance(v2["id"], int)
    f = (await client.get("/api/v1/functions/ver", headers=READER)).json()
    assert f["active_version"] == 1 and f["code"] == code_returning(1)

    # Merged over the newest version: the code of v2, a new handler.
    v3 = await _add(client, "ver", handler="main.handler", activate=True)
    assert v3["version"] == 3 and v3["is_active"] is True
    assert v3["code"] == code_returning(2) and v3["handler"] == "handler"
    # An empty body copies the newest version.
    r = await client.post("/api/v1/functions/ver/versions", headers=WRITER)
    assert r.status_code == 201, r.text
    assert r.json()["version"] == 4 and r.json()["code"] == code_returning(2)
    assert r.headers["location"] == "/api/v1/functions/ver/versions"

    versions = await _versions(client, "ver")
    assert [v["version"] for v in versions] == [4, 3, 2, 1]
    assert [v["is_active"] for v in versions] == [False, True, False, False]
    f = (await client.get(f"/api/v1/functions/{function_id}", headers=READER)).json()
    assert f["active_version"] == 3 and f["code"] == code_returning(2)
    assert await _invoke(client, "ver") == 2


async def test_activate_an_older_version_and_invoke_runs_it(client: httpx.AsyncClient) -> None:
    await create(client, name="act", code=code_returning(1))
    await _add(client, "act", code=code_returning(2), activate=True)
    assert await _invoke(client, "act") == 2

    r = await client.put("/api/v1/functions/act/versions/1/active", headers=WRITER)
    assert r.status_code == 200, r.text
    f = r.json()
    assert f["name"] == "act" and f["active_version"] == 1 and f["code"] == code_returning(1)
    assert f["status"] == "ready"
    assert await _invoke(client, "act") == 1
    assert [v["is_active"] for v in await _versions(client, "act")] == [False, True]

    # Activating the active one again changes nothing.
    r = await client.put("/api/v1/functions/act/versions/1/active", headers=WRITER)
    assert r.status_code == 200 and r.json()["active_version"] == 1
    # Forward again, by the language_title ref.
    r = await client.put("/api/v1/functions/python-act/versions/2/active", headers=WRITER)
    assert r.status_code == 200 and r.json()["active_version"] == 2
    assert await _invoke(client, "act") == 2


async def test_rollback_goes_to_the_previous_built_version(
    client: httpx.AsyncClient, database_url: str,
) -> None:
    function_id = (await create(client, name="rb", code=code_returning(1))).json()["id"]
    await _add(client, "rb", code=code_returning(2), activate=True)
    await _insert_version(database_url, function_id, 3, "failed")
    await _insert_version(database_url, function_id, 4, "building")
    v5 = await _add(client, "rb", code=code_returning(5), dependencies=[], activate=True)
    assert v5["version"] == 5 and v5["is_active"] is True
    assert await _invoke(client, "rb") == 5

    r = await client.post("/api/v1/functions/rb/rollback", headers=WRITER)
    assert r.status_code == 200, r.text
    assert r.json()["active_version"] == 2 and r.json()["code"] == code_returning(2)
    assert await _invoke(client, "rb") == 2
    r = await client.post("/api/v1/functions/rb/rollback", headers=WRITER)
    assert r.status_code == 200 and r.json()["active_version"] == 1
    assert await _invoke(client, "rb") == 1
    body = assert_error(await client.post("/api/v1/functions/rb/rollback", headers=WRITER),
                        409, "CONFLICT")
    assert body["error"]["details"] == {"active_version": 1}
    assert [v["is_active"] for v in await _versions(client, "rb")] == [
        False, False, False, False, True]


async def test_rollback_with_a_single_version_is_a_conflict(client: httpx.AsyncClient) -> None:
    await create(client, name="single")
    assert_error(await client.post("/api/v1/functions/single/rollback", headers=WRITER),
                 409, "CONFLICT")
    f = (await client.get("/api/v1/functions/single", headers=READER)).json()
    assert f["active_version"] == 1


async def test_unknown_versions_and_functions_are_404(client: httpx.AsyncClient) -> None:
    await create(client, name="known")
    for version in ("9", "0", "abc", "1.0", "99999999999999999999"):
        r = await client.put(f"/api/v1/functions/known/versions/{version}/active",
                             headers=WRITER)
        assert_error(r, 404, "VERSION_NOT_FOUND")
    assert_error(await client.get("/api/v1/functions/nope/versions", headers=READER),
                 404, "FUNCTION_NOT_FOUND")
    assert_error(await client.post("/api/v1/functions/nope/versions", json={},
                                   headers=WRITER), 404, "FUNCTION_NOT_FOUND")
    assert_error(await client.put("/api/v1/functions/nope/versions/1/active",
                                  headers=WRITER), 404, "FUNCTION_NOT_FOUND")
    assert_error(await client.post("/api/v1/functions/nope/rollback", headers=WRITER),
                 404, "FUNCTION_NOT_FOUND")


@pytest.mark.parametrize("status", ["failed", "building"])
async def test_activating_a_failed_or_building_version_is_a_conflict(
    client: httpx.AsyncClient, database_url: str, status: str,
) -> None:
    function_id = (await create(client, name="bad")).json()["id"]
    await _insert_version(database_url, function_id, 2, status)
    r = await client.put("/api/v1/functions/bad/versions/2/active", headers=WRITER)
    body = assert_error(r, 409, "CONFLICT")
    assert body["error"]["details"] == {"version": 2, "build_status": status}
    assert (await client.get("/api/v1/functions/bad", headers=READER)).json()[
        "active_version"] == 1


async def test_versions_with_dependencies_build_and_activate_as_asked(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch,
) -> None:
    services = client.app.state.services  # type: ignore[attr-defined]
    release = asyncio.Event()
    outcomes = iter([True, True, False])

    async def fake_build(runtime: str, dependencies: list[str], **_: Any) -> BuildResult:
        await release.wait()
        ok = next(outcomes)
        return BuildResult(ok=ok, log="installed" if ok else "ERROR: nope", path=None)

    monkeypatch.setattr(services.pools.builder, "build", fake_build)
    await create(client, name="deps", code=code_returning(1))

    # Not activated, even once built.
    v2 = await _add(client, "deps", code=code_returning(2), dependencies=["six==1.16.0"])
    assert v2["build_status"] == "building" and v2["is_active"] is False
    assert v2["dependencies"] == ["six==1.16.0"]
    assert_error(await client.put("/api/v1/functions/deps/versions/2/active", headers=WRITER),
                 409, "CONFLICT")
    release.set()
    await services.builds.wait_idle()
    v = {x["version"]: x for x in await _versions(client, "deps")}
    assert v[2]["build_status"] == "success" and v[2]["build_log"] == "installed"
    assert v[1]["is_active"] is True and v[2]["is_active"] is False

    # Activated once its build succeeds.
    v3 = await _add(client, "deps", code=code_returning(3), activate=True)
    assert v3["dependencies"] == ["six==1.16.0"]  # merged over v2
    await services.builds.wait_idle()
    f = (await client.get("/api/v1/functions/deps", headers=READER)).json()
    assert f["active_version"] == 3 and f["status"] == "ready"

    # A failed build leaves the active version as it is.
    await _add(client, "deps", code=code_returning(4), activate=True)
    await services.builds.wait_idle()
    f = (await client.get("/api/v1/functions/deps", headers=READER)).json()
    assert f["active_version"] == 3
    assert_error(await client.put("/api/v1/functions/deps/versions/4/active", headers=WRITER),
                 409, "CONFLICT")
    # Version 2 is built: it can be activated by hand.
    r = await client.put("/api/v1/functions/deps/versions/2/active", headers=WRITER)
    assert r.status_code == 200 and r.json()["active_version"] == 2


async def test_rollback_restores_the_runtime_of_the_version(client: httpx.AsyncClient) -> None:
    await create(client, name="rt")
    r = await client.put("/api/v1/functions/rt", headers=WRITER, json={
        "runtime": "nodejs", "code": "exports.handler = async (e) => e;"})
    assert r.status_code == 200 and r.json()["runtime"] == "nodejs", r.text
    r = await client.post("/api/v1/functions/rt/rollback", headers=WRITER)
    assert r.status_code == 200, r.text
    assert r.json()["runtime"] == "python" and r.json()["language_title"] == "python-rt"
    assert r.json()["active_version"] == 1


async def test_scopes(client: httpx.AsyncClient) -> None:
    await create(client, name="scoped")
    r = await client.get("/api/v1/functions/scoped/versions", headers=READER)
    assert r.status_code == 200 and len(r.json()["versions"]) == 1
    assert (await client.get("/api/v1/functions/scoped/versions", headers=BOB)).status_code \
        == 200
    body = assert_error(await client.get("/api/v1/functions/scoped/versions", headers=RUNNER),
                        403, "FORBIDDEN")
    assert body["error"]["details"]["required_scope"] == "read:functions"
    for method, path in (("POST", "versions"), ("PUT", "versions/1/active"),
                         ("POST", "rollback")):
        r = await client.request(method, f"/api/v1/functions/scoped/{path}", json={},
                                 headers=READER)
        body = assert_error(r, 403, "FORBIDDEN")
        assert body["error"]["details"]["required_scope"] == "write:functions"
        r = await client.request(method, f"/api/v1/functions/scoped/{path}", json={})
        assert_error(r, 401, "UNAUTHORIZED")
    assert_error(await client.get("/api/v1/functions/scoped/versions"), 401, "UNAUTHORIZED")
    # The admin scope does it all.
    r = await client.post("/api/v1/functions/scoped/versions", json={},
                          headers=auth("admin"))
    assert r.status_code == 201
    assert len(await _versions(client, "scoped")) == 2


@pytest.mark.parametrize(("body", "field"), [
    ({"activate": "yes"}, "activate"),
    ({"activate": 1}, "activate"),
    ({"code": 5}, "code"),
    ({"code": "x", "source_code": "eA=="}, "source_code"),
    ({"source_code": "not base64!"}, "source_code"),
    ({"handler": "1bad"}, "handler"),
    ({"handler": ""}, "handler"),
    ({"dependencies": "six"}, "dependencies"),
    ({"dependencies": [1]}, "dependencies"),
    ({"dependencies": ["lodash@^4"]}, "dependencies"),  # npm syntax on a python function
    ({"dependencies": ["six", "--index-url=http://evil"]}, "dependencies"),
    ({"dependencies": ["git+https://github.com/a/b"]}, "dependencies"),
    ({"runtime": "nodejs"}, "runtime"),
])
async def test_bad_version_bodies_are_400(client: httpx.AsyncClient, body: dict,
                                          field: str) -> None:
    await create(client, name="strict")
    r = await client.post("/api/v1/functions/strict/versions", json=body, headers=WRITER)
    err = assert_error(r, 400, "INVALID_REQUEST")
    assert err["error"]["details"].get("field") == field
    assert len(await _versions(client, "strict")) == 1


async def test_non_object_bodies_are_400(client: httpx.AsyncClient) -> None:
    await create(client, name="strict")
    for content in (b"[1]", b"{nope", b'"code"'):
        r = await client.post("/api/v1/functions/strict/versions", content=content,
                              headers={**WRITER, "content-type": "application/json"})
        assert_error(r, 400, "INVALID_REQUEST")
    assert len(await _versions(client, "strict")) == 1


async def test_nodejs_dependencies_use_npm_syntax(client: httpx.AsyncClient) -> None:
    await create(client, name="nd", runtime="nodejs", code="exports.handler = (e) => e;")
    r = await client.post("/api/v1/functions/nd/versions", headers=WRITER,
                          json={"dependencies": ["requests>=2"]})
    assert_error(r, 400, "INVALID_REQUEST")


async def test_changes_are_recorded_as_events(client: httpx.AsyncClient) -> None:
    await create(client, name="aud", code=code_returning(1))
    await _add(client, "aud", headers=BOB, code=code_returning(2))
    await _add(client, "aud", code=code_returning(3), activate=True)
    r = await client.put("/api/v1/functions/aud/versions/2/active", headers=BOB)
    assert r.status_code == 200
    r = await client.post("/api/v1/functions/aud/rollback", headers=WRITER)
    assert r.status_code == 200
    # Failures and no-ops record nothing.
    await client.post("/api/v1/functions/aud/rollback", headers=WRITER)
    await client.put("/api/v1/functions/aud/versions/1/active", headers=WRITER)
    await client.put("/api/v1/functions/aud/versions/7/active", headers=WRITER)

    events = await _events(client, "aud")
    assert [(e["type"], e["actor"]) for e in events] == [
        ("rolled_back", "alice"), ("activated", "bob"), ("activated", "alice"),
        ("deployed", "alice"), ("deployed", "bob"), ("created", "alice")]
    rolled_back, activated, activated_new, deployed3, deployed2, _ = events
    assert rolled_back["metadata"] == {"version": 1, "previous_version": 2}
    assert activated["metadata"] == {"version": 2, "previous_version": 3}
    assert activated_new["metadata"] == {"version": 3, "previous_version": 1}
    assert deployed3["metadata"] == {"version": 3, "status": "ready", "activate": True}
    assert deployed2["metadata"] == {"version": 2, "status": "ready", "activate": False}
    assert "rolled back from version 2 to version 1" in rolled_back["description"]


async def test_activation_is_announced_on_the_change_channel(
    client: httpx.AsyncClient, database_url: str,
) -> None:
    function_id = (await create(client, name="ann", code=code_returning(1))).json()["id"]
    await _add(client, "ann", code=code_returning(2))
    conn = await asyncpg.connect(database_url)
    seen: list[str] = []
    try:
        await conn.add_listener("fngate_changes", lambda *args: seen.append(args[-1]))
        r = await client.put("/api/v1/functions/ann/versions/2/active", headers=WRITER)
        assert r.status_code == 200
        r = await client.post("/api/v1/functions/ann/rollback", headers=WRITER)
        assert r.status_code == 200
        for _ in range(100):
            if len(seen) >= 2:
                break
            await asyncio.sleep(0.02)
    finally:
        await conn.close()
    assert seen.count(f"function:{function_id}") >= 2


@pytest.fixture
async def hooked(settings_factory: Callable[..., Any]) -> AsyncIterator[httpx.AsyncClient]:
    """An app whose webhooks may reach a local receiver."""
    async with running_app(settings_for(settings_factory)) as c:
        yield c


async def test_every_activation_queues_function_deployed(hooked: httpx.AsyncClient) -> None:
    async with receiving() as receiver:
        await add_webhook(hooked, receiver.url, ["function.deployed"])
        await create(hooked, name="hook", code=code_returning(1))
        await wait_for(lambda: len(receiver.requests) >= 1)  # version 1
        await _add(hooked, "hook", code=code_returning(2))  # not activated: nothing
        await _add(hooked, "hook", code=code_returning(3), activate=True)
        await wait_for(lambda: len(receiver.requests) >= 2)
        r = await hooked.put("/api/v1/functions/hook/versions/2/active", headers=WRITER)
        assert r.status_code == 200
        await wait_for(lambda: len(receiver.requests) >= 3)
        r = await hooked.post("/api/v1/functions/hook/rollback", headers=WRITER)
        assert r.status_code == 200
        await wait_for(lambda: len(receiver.requests) >= 4)
        await asyncio.sleep(0.2)
        bodies = [r.json() for r in receiver.requests]
    assert [b["event"] for b in bodies] == ["function.deployed"] * 4
    assert [b["data"]["version"] for b in bodies] == [1, 3, 2, 1]
    assert [b["data"]["active_version"] for b in bodies[1:]] == [3, 2, 1]
    assert all("code" not in b["data"] for b in bodies)
