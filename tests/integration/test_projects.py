"""Projects, the system layer and their effect on runs, against a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.conftest import auth, running_app, wait_for
from tests.integration.test_cron import EVERY_SECOND, add_cron, connect, fires
from tests.integration.test_functions_api import WRITER, assert_error, create

ADMIN = auth("admin")
READER = auth("read:functions")
EXECUTOR = auth("execute:all")

ENV_ECHO = (
    "import os\n\n"
    "def handler(event):\n"
    "    return {k: v for k, v in os.environ.items()"
    " if k.startswith(('LAYER_', 'FNGATE')) or k in ('ONLY_SYSTEM', 'ONLY_PROJECT')}\n"
)


async def make_project(client: httpx.AsyncClient, name: str = "shop",
                       **extra: Any) -> httpx.Response:
    return await client.post("/api/v1/projects", headers=ADMIN, json={"name": name, **extra})


# -- CRUD -----------------------------------------------------------------------------------

async def test_create_get_list_and_delete_a_project(client: httpx.AsyncClient) -> None:
    r = await make_project(client, description="the shop", environment={"A": "1"},
                           dependencies=["requests>=2", "lodash@^4", "requests>=2"])
    assert r.status_code == 201, r.text
    assert r.headers["location"] == "/api/v1/projects/shop"
    body = r.json()
    assert body["name"] == "shop" and body["status"] == "running"
    assert body["description"] == "the shop" and body["functions"] == []
    assert body["environment"] == {"A": "1"}
    assert body["dependencies"] == ["requests>=2", "lodash@^4"]
    assert body["created_at"].endswith("Z") and body["updated_at"].endswith("Z")

    r = await client.get("/api/v1/projects", headers=READER)
    assert r.status_code == 200, r.text
    names = [p["name"] for p in r.json()["projects"]]
    assert names == ["default", "shop"]

    r = await client.get("/api/v1/projects/shop", headers=ADMIN)
    assert r.status_code == 200 and r.json()["environment"] == {"A": "1"}

    assert (await client.delete("/api/v1/projects/shop", headers=ADMIN)).status_code == 204
    assert_error(await client.get("/api/v1/projects/shop", headers=ADMIN), 404,
                 "PROJECT_NOT_FOUND")


async def test_project_lists_its_functions_and_masks_env_for_readers(
    client: httpx.AsyncClient,
) -> None:
    assert (await make_project(client, environment={"SECRET": "s3"})).status_code == 201
    for name in ("b-fn", "a-fn"):
        assert (await create(client, name=name, project="shop")).status_code == 201
    r = await client.get("/api/v1/projects/shop", headers=READER)
    assert r.status_code == 200, r.text
    assert r.json()["functions"] == ["a-fn", "b-fn"]
    assert r.json()["environment"] == {"SECRET": "***"}
    r = await client.get("/api/v1/projects/shop/env", headers=READER)
    assert r.status_code == 200 and r.json() == {"data": {"SECRET": "***"}}
    # Projects are admin's: a function writer does not see their values either.
    r = await client.get("/api/v1/projects/shop/env", headers=WRITER)
    assert r.json() == {"data": {"SECRET": "***"}}
    r = await client.get("/api/v1/projects/shop/env", headers=ADMIN)
    assert r.json() == {"data": {"SECRET": "s3"}}
    r = await client.get("/api/v1/projects", headers=READER)
    shop = next(p for p in r.json()["projects"] if p["name"] == "shop")
    assert shop["environment"] == {"SECRET": "***"}


async def test_creating_a_function_in_an_unknown_project_creates_the_project(
    client: httpx.AsyncClient,
) -> None:
    assert (await create(client, name="f", project="fresh")).status_code == 201
    r = await client.get("/api/v1/projects/fresh", headers=READER)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "running" and r.json()["functions"] == ["f"]
    # Moving it elsewhere creates that project too.
    r = await client.put("/api/v1/functions/f", headers=WRITER, json={"project": "other"})
    assert r.status_code == 200 and r.json()["project"] == "other"
    assert (await client.get("/api/v1/projects/other", headers=READER)).json()["functions"] \
        == ["f"]


async def test_delete_with_functions_is_409_and_unknown_is_404(
    client: httpx.AsyncClient,
) -> None:
    assert (await create(client, name="f", project="shop")).status_code == 201
    body = assert_error(await client.delete("/api/v1/projects/shop", headers=ADMIN), 409,
                        "CONFLICT")
    assert "functions" in body["error"]["message"]
    assert (await client.delete("/api/v1/functions/f", headers=WRITER)).status_code == 204
    assert (await client.delete("/api/v1/projects/shop", headers=ADMIN)).status_code == 204
    assert_error(await client.delete("/api/v1/projects/shop", headers=ADMIN), 404,
                 "PROJECT_NOT_FOUND")


async def test_duplicate_project_is_409(client: httpx.AsyncClient) -> None:
    assert (await make_project(client)).status_code == 201
    assert_error(await make_project(client), 409, "CONFLICT")
    assert_error(await make_project(client, name="default"), 409, "CONFLICT")


@pytest.mark.parametrize("body", [
    {"name": "Bad_Name"},
    {"name": ""},
    {},
    {"name": 5},
    {"name": "ok", "environment": {"1BAD": "x"}},
    {"name": "ok", "environment": {"A": 1}},
    {"name": "ok", "environment": ["A"]},
    {"name": "ok", "dependencies": ["--index-url=http://evil"]},
    {"name": "ok", "dependencies": ["git+https://x/y.git"]},
    {"name": "ok", "dependencies": "requests"},
    {"name": "ok", "description": 7},
    {"name": "ok", "description": 0},
    {"name": "ok", "environment": []},
    {"name": "ok", "dependencies": ""},
    {"name": "ok", "dependencies": False},
])
async def test_create_rejects_bad_bodies(client: httpx.AsyncClient, body: Any) -> None:
    r = await client.post("/api/v1/projects", headers=ADMIN, json=body)
    assert_error(r, 400, "INVALID_REQUEST")


async def test_create_rejects_non_json_and_non_object(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/v1/projects", headers=ADMIN, content=b"{nope")
    assert_error(r, 400, "INVALID_REQUEST")
    r = await client.post("/api/v1/projects", headers=ADMIN, json=["shop"])
    assert_error(r, 400, "INVALID_REQUEST")


_ADMIN_ONLY = [
    ("POST", "/api/v1/projects", {"name": "x"}),
    ("DELETE", "/api/v1/projects/default", None),
    ("POST", "/api/v1/projects/default/start", None),
    ("POST", "/api/v1/projects/default/stop", None),
    ("PUT", "/api/v1/projects/default/env", {"data": {}}),
    ("PUT", "/api/v1/projects/default/dependencies", {"data": []}),
    ("GET", "/api/v1/env/system", None),
    ("PUT", "/api/v1/env/system", {"data": {}}),
    ("GET", "/api/v1/dependencies/system", None),
    ("PUT", "/api/v1/dependencies/system", {"data": []}),
]
_READ = [
    ("GET", "/api/v1/projects", None),
    ("GET", "/api/v1/projects/default", None),
    ("GET", "/api/v1/projects/default/env", None),
    ("GET", "/api/v1/projects/default/dependencies", None),
]


@pytest.mark.parametrize(("method", "path", "body"), _ADMIN_ONLY + _READ)
async def test_every_route_needs_a_token(client: httpx.AsyncClient, method: str, path: str,
                                         body: Any) -> None:
    r = await client.request(method, path, json=body)
    assert_error(r, 401, "UNAUTHORIZED")


@pytest.mark.parametrize(("method", "path", "body"), _ADMIN_ONLY)
async def test_changes_and_the_system_layer_need_admin(
    client: httpx.AsyncClient, method: str, path: str, body: Any,
) -> None:
    r = await client.request(method, path, json=body, headers=WRITER)
    err = assert_error(r, 403, "FORBIDDEN")
    assert err["error"]["details"] == {"required_scope": "admin"}


@pytest.mark.parametrize(("method", "path", "body"), _READ)
async def test_reading_needs_a_catalog_scope(client: httpx.AsyncClient, method: str,
                                             path: str, body: Any) -> None:
    err = assert_error(await client.request(method, path, headers=EXECUTOR), 403, "FORBIDDEN")
    assert err["error"]["details"] == {"required_scope": "read:functions"}
    assert (await client.request(method, path, headers=READER)).status_code == 200


@pytest.mark.parametrize(("method", "path", "body"), [
    ("GET", "/api/v1/projects/nope", None),
    ("DELETE", "/api/v1/projects/nope", None),
    ("POST", "/api/v1/projects/nope/start", None),
    ("POST", "/api/v1/projects/nope/stop", None),
    ("GET", "/api/v1/projects/nope/env", None),
    ("PUT", "/api/v1/projects/nope/env", {"data": {}}),
    ("GET", "/api/v1/projects/nope/dependencies", None),
    ("PUT", "/api/v1/projects/nope/dependencies", {"data": []}),
    ("GET", "/api/v1/projects/NOT_A_NAME", None),
])
async def test_unknown_project_is_404(client: httpx.AsyncClient, method: str, path: str,
                                      body: Any) -> None:
    r = await client.request(method, path, json=body, headers=ADMIN)
    body_ = assert_error(r, 404, "PROJECT_NOT_FOUND")
    assert "nope" in body_["error"]["message"] or "NOT_A_NAME" in body_["error"]["message"]


async def test_env_and_dependencies_round_trip(client: httpx.AsyncClient) -> None:
    assert (await make_project(client)).status_code == 201
    r = await client.put("/api/v1/projects/shop/env", headers=ADMIN,
                         json={"data": {"A": "1", "B": "2"}})
    assert r.status_code == 200 and r.json() == {"data": {"A": "1", "B": "2"}}
    r = await client.put("/api/v1/projects/shop/env", headers=ADMIN, json={"data": {"C": "3"}})
    assert r.json() == {"data": {"C": "3"}}  # replaced whole
    assert (await client.get("/api/v1/projects/shop/env", headers=ADMIN)).json() == {
        "data": {"C": "3"}}
    r = await client.put("/api/v1/projects/shop/dependencies", headers=ADMIN,
                         json={"data": ["requests==2.31.0", "lodash@^4"]})
    assert r.status_code == 200 and r.json() == {"data": ["requests==2.31.0", "lodash@^4"]}
    assert (await client.get("/api/v1/projects/shop/dependencies", headers=READER)).json() \
        == {"data": ["requests==2.31.0", "lodash@^4"]}

    r = await client.put("/api/v1/env/system", headers=ADMIN, json={"data": {"S": "x"}})
    assert r.status_code == 200 and r.json() == {"data": {"S": "x"}}
    assert (await client.get("/api/v1/env/system", headers=ADMIN)).json() == {
        "data": {"S": "x"}}
    r = await client.put("/api/v1/dependencies/system", headers=ADMIN, json={"data": ["six"]})
    assert r.status_code == 200 and r.json() == {"data": ["six"]}
    assert (await client.get("/api/v1/dependencies/system", headers=ADMIN)).json() == {
        "data": ["six"]}


@pytest.mark.parametrize("path", ["/api/v1/projects/default/env", "/api/v1/env/system"])
@pytest.mark.parametrize("body", [{}, {"data": []}, {"data": {"A": 1}}, {"data": {"-": "x"}},
                                  ["x"], {"env": {}}])
async def test_env_put_rejects_bad_bodies(client: httpx.AsyncClient, path: str,
                                          body: Any) -> None:
    assert_error(await client.put(path, headers=ADMIN, json=body), 400, "INVALID_REQUEST")


@pytest.mark.parametrize("path", ["/api/v1/projects/default/dependencies",
                                  "/api/v1/dependencies/system"])
@pytest.mark.parametrize("body", [{}, {"data": {}}, {"data": [1]}, {"data": ["-e ."]},
                                  {"data": ["https://x/y.tgz"]}])
async def test_dependencies_put_rejects_bad_bodies(client: httpx.AsyncClient, path: str,
                                                   body: Any) -> None:
    assert_error(await client.put(path, headers=ADMIN, json=body), 400, "INVALID_REQUEST")


# -- environment layering -------------------------------------------------------------------

async def test_environment_layers_system_then_project_then_function(
    client: httpx.AsyncClient,
) -> None:
    r = await client.put("/api/v1/env/system", headers=ADMIN, json={"data": {
        "ONLY_SYSTEM": "sys", "LAYER_ALL": "system", "LAYER_SP": "system"}})
    assert r.status_code == 200
    assert (await make_project(client, environment={
        "ONLY_PROJECT": "proj", "LAYER_ALL": "project", "LAYER_SP": "project"})).status_code \
        == 201
    r = await create(client, name="env", code=ENV_ECHO, project="shop",
                     environment={"LAYER_ALL": "function", "LAYER_FN": "fn"})
    assert r.status_code == 201, r.text
    r = await client.post("/api/v1/functions/env/invoke", headers=WRITER, json={})
    assert r.status_code == 200 and r.json()["status"] == "success", r.text
    assert r.json()["result"] == {
        "ONLY_SYSTEM": "sys", "ONLY_PROJECT": "proj", "LAYER_ALL": "function",
        "LAYER_SP": "project", "LAYER_FN": "fn",
    }  # and no FNGATE_* variable of the gateway

    # A change of a layer applies to the next run (new worker for the new environment).
    r = await client.put("/api/v1/projects/shop/env", headers=ADMIN,
                         json={"data": {"LAYER_SP": "project-2"}})
    assert r.status_code == 200
    r = await client.put("/api/v1/env/system", headers=ADMIN,
                         json={"data": {"LAYER_SP": "system-2", "ONLY_SYSTEM": "sys-2"}})
    assert r.status_code == 200
    r = await client.post("/api/v1/functions/env/invoke", headers=WRITER, json={})
    assert r.json()["result"] == {"ONLY_SYSTEM": "sys-2", "LAYER_SP": "project-2",
                                  "LAYER_ALL": "function", "LAYER_FN": "fn"}
    # The function's own environment in its API object is still only its own.
    f = (await client.get("/api/v1/functions/env", headers=WRITER)).json()
    assert f["environment"] == {"LAYER_ALL": "function", "LAYER_FN": "fn"}


async def test_result_cache_keys_on_the_layered_environment(
    client: httpx.AsyncClient,
) -> None:
    assert (await make_project(client, environment={"LAYER_X": "1"})).status_code == 201
    assert (await create(client, name="env", code=ENV_ECHO, project="shop")).status_code == 201
    headers = {**WRITER, "X-Cache-Control": "max-age=600"}
    first = await client.post("/api/v1/functions/env/invoke", headers=headers, json={})
    assert first.json()["result"] == {"LAYER_X": "1"}
    again = await client.post("/api/v1/functions/env/invoke", headers=headers, json={})
    assert again.headers["x-cache"] == "HIT"
    await client.put("/api/v1/projects/shop/env", headers=ADMIN, json={"data": {"LAYER_X": "2"}})
    after = await client.post("/api/v1/functions/env/invoke", headers=headers, json={})
    assert after.headers["x-cache"] == "MISS" and after.json()["result"] == {"LAYER_X": "2"}


# -- start / stop ---------------------------------------------------------------------------

async def test_stopped_project_refuses_runs_until_started(client: httpx.AsyncClient) -> None:
    assert (await create(client, name="f", project="shop")).status_code == 201
    r = await client.post("/api/v1/functions/f/triggers", headers=WRITER,
                          json={"type": "http", "config": {"path": "/shop-f", "public": True}})
    assert r.status_code == 201, r.text
    r = await client.post("/api/v1/projects/shop/stop", headers=ADMIN)
    assert r.status_code == 200 and r.json()["status"] == "stopped"
    assert r.json()["functions"] == ["f"]
    assert (await client.get("/api/v1/projects/shop", headers=READER)).json()["status"] \
        == "stopped"

    body = assert_error(await client.post("/api/v1/functions/f/invoke", headers=WRITER,
                                          json={}), 409, "PROJECT_STOPPED")
    assert body["error"]["details"] == {"project": "shop"}
    assert_error(await client.post("/api/v1/functions/f/invoke-async", headers=WRITER,
                                   json={}), 409, "PROJECT_STOPPED")
    assert_error(await client.post("/api/v1/functions/f/invoke?async=true", headers=WRITER,
                                   json={}), 409, "PROJECT_STOPPED")
    assert_error(await client.post("/fn/shop-f", json={}), 409, "PROJECT_STOPPED")
    r = await client.post("/api/v1/initialize", headers={**WRITER,
                                                         "Language-Title": "python-f"})
    assert_error(r, 409, "PROJECT_STOPPED")
    # Other projects are untouched.
    assert (await create(client, name="g")).status_code == 201
    r = await client.post("/api/v1/functions/g/invoke", headers=WRITER, json={})
    assert r.status_code == 200, r.text

    r = await client.post("/api/v1/projects/shop/start", headers=ADMIN)
    assert r.status_code == 200 and r.json()["status"] == "running"
    r = await client.post("/api/v1/functions/f/invoke", headers=WRITER, json={"a": 1})
    assert r.status_code == 200 and r.json()["result"] == {"a": 1}, r.text
    assert (await client.post("/fn/shop-f", json={"b": 2})).status_code == 200


async def test_stop_refuses_executes_of_an_open_session(client: httpx.AsyncClient) -> None:
    assert (await create(client, name="f", project="shop")).status_code == 201
    r = await client.post("/api/v1/initialize", headers={**WRITER, "Language-Title": "python-f"})
    assert r.status_code == 200, r.text
    session = r.json()["request_id"]
    r = await client.post(f"/api/v1/execute/{session}", headers=WRITER, json={"params": {"x": 1}})
    assert r.status_code == 200, r.text
    assert (await client.post("/api/v1/projects/shop/stop", headers=ADMIN)).status_code == 200
    # Refused even though the same params would be a cache hit.
    r = await client.post(f"/api/v1/execute/{session}", headers=WRITER, json={"params": {"x": 1}})
    assert_error_rid = r.json()
    assert r.status_code == 409 and assert_error_rid["error"]["code"] == "PROJECT_STOPPED"
    assert (await client.post("/api/v1/projects/shop/start", headers=ADMIN)).status_code == 200
    r = await client.post(f"/api/v1/execute/{session}", headers=WRITER, json={"params": {"x": 2}})
    assert r.status_code == 200 and r.json()["result"] == {"x": 2}


async def test_stopped_project_skips_cron_fires_until_started(
    settings_factory: Callable[..., Any], database_url: str,
) -> None:
    async with running_app(settings_factory()) as client, connect(database_url) as conn:
        assert (await create(client, name="tick", project="shop")).status_code == 201
        assert (await client.post("/api/v1/projects/shop/stop", headers=ADMIN)).status_code \
            == 200
        trigger = await add_cron(client, "tick", {"schedule": EVERY_SECOND, "misfire": "skip"})

        async def skipped() -> bool:
            text = (await client.get("/metrics")).text
            return any(line.startswith("fngate_cron_fires_total") and 'function="tick"' in line
                       and 'outcome="skipped"' in line and not line.rstrip().endswith(" 0.0")
                       for line in text.splitlines())

        await wait_for(skipped, timeout_s=10)
        assert await fires(conn, trigger["id"]) == []  # nothing recorded, no job
        assert (await client.post("/api/v1/projects/shop/start", headers=ADMIN)).status_code \
            == 200

        async def ran() -> bool:
            return any(f["status"] == "success" for f in await fires(conn, trigger["id"]))

        await wait_for(ran, timeout_s=15)


# -- /status --------------------------------------------------------------------------------

async def test_status_counts_only_running_projects_with_functions(
    client: httpx.AsyncClient,
) -> None:
    assert (await make_project(client, name="empty")).status_code == 201
    for name, project in (("a", "default"), ("b", "shop")):
        assert (await create(client, name=name, project=project)).status_code == 201
    assert (await client.get("/status")).json()["active_projects"] == 2
    assert (await client.post("/api/v1/projects/shop/stop", headers=ADMIN)).status_code == 200
    assert (await client.get("/status")).json()["active_projects"] == 1
    assert (await client.post("/api/v1/projects/shop/start", headers=ADMIN)).status_code == 200
    assert (await client.get("/status")).json()["active_projects"] == 2
