"""Tenancy through the compatibility dialects: tokens qualified ``@alpha`` and ``@beta`` and
an operator (unqualified scopes) meet exactly the native rules in every dialect, in that
dialect's own error shape: another project's anything is 404 (never 403, and no more said
than for what does not exist), lists hold the token's projects only, creating needs
``write:functions`` where the function goes, and what is system-wide is 403."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from tests.conftest import auth, running_app
from tests.tenancy_routes import (
    DIALECT_BETAS,
    DIALECT_SYSTEM,
    ECHO,
    FA,
    FS,
    KS,
    PF,
    Form,
    Row,
    World,
    build_world,
    error_code,
    operator_pass,
    send,
    unlike,
)

_ALL = ("read:functions", "write:functions", "execute:all", "read:jobs", "admin")


def tenant(project: str) -> dict[str, str]:
    return auth(" ".join(f"{scope}@{project}" for scope in _ALL), sub=f"{project}-team")


ALPHA, BETA, OPERATOR = tenant("alpha"), tenant("beta"), auth(" ".join(_ALL), sub="ops")
READER = auth("read:functions@alpha", sub="alpha-reader")


@pytest.fixture
async def world(settings_factory: Callable[..., Any]) -> AsyncIterator[World]:
    async with running_app(settings_factory()) as client:
        yield await build_world(client, alpha=ALPHA, beta=BETA, operator=OPERATOR)


def _form(name: str) -> Form:
    return Form({"function_name": name}, {"code": ("main.py", ECHO.encode(), "text/x-python")})


async def test_a_tenant_reaches_nothing_of_another_through_any_dialect(world: World) -> None:
    assert await unlike(world, ALPHA, DIALECT_BETAS, 404) == []
    assert await unlike(world, ALPHA, DIALECT_SYSTEM, 403) == []
    r = await send(world, ALPHA, DIALECT_SYSTEM[0])
    assert error_code(DIALECT_SYSTEM[0].path, r) == "AUTHORIZATION_ERROR"

    # Beta's things are all still there, unchanged.
    r = await world.client.get("/api/v1/functions/b-fn", headers=BETA)
    assert r.status_code == 200 and r.json()["labels"] == {} and r.json()["min_warm"] == 0
    r = await world.client.get("/api/v1/functions/b-fn/triggers", headers=BETA)
    assert len(r.json()["triggers"]) == 1
    r = await world.client.get("/api/v1/functions/b-fn/versions", headers=BETA)
    assert [v["version"] for v in r.json()["versions"]] == [1]
    r = await world.client.get("/api/v1/projects/beta", headers=BETA)
    assert r.json()["status"] == "running"
    r = await world.client.get("/api/v1/functions/b-new-pf", headers=OPERATOR)
    assert r.status_code == 404


# Each pair: a path to something of beta's, and the same path to nothing at all. Alpha's
# answers to the two differ only by the name or id the path gave.
_TWINS = [
    (f"{FA}/functions/b-fn", f"{FA}/functions/zz-none", "b-fn", "zz-none"),
    (f"{FA}/functions/{{f}}", f"{FA}/functions/999999", "{f}", "999999"),
    (f"{FA}/jobs/{{j}}", f"{FA}/jobs/{uuid.UUID(int=1)}", "{j}", str(uuid.UUID(int=1))),
    (f"{KS}/functions/b-fn", f"{KS}/functions/zz-none", "b-fn", "zz-none"),
    (f"{PF}/api/v1/projects/beta", f"{PF}/api/v1/projects/zz-none", "beta", "zz-none"),
    (f"{PF}/api/v1/functions/beta/b-fn", f"{PF}/api/v1/functions/zz-none/b-fn", "beta",
     "zz-none"),
    (f"{PF}/api/v1/functions/alpha/b-fn", f"{PF}/api/v1/functions/alpha/zz-none", "b-fn",
     "zz-none"),
    (f"{FS}/beta/functions", f"{FS}/zz-none/functions", "beta", "zz-none"),
    (f"{FS}/alpha/functions/func-{{f}}", f"{FS}/alpha/functions/func-999999", "{f}",
     "999999"),
    (f"{FS}/alpha/functions/invocations/inv-{{j}}",
     f"{FS}/alpha/functions/invocations/inv-{uuid.UUID(int=1)}", "{j}", str(uuid.UUID(int=1))),
]


@pytest.mark.parametrize(("beta_path", "none_path", "beta_name", "none_name"), _TWINS)
async def test_a_tenants_404_says_no_more_than_for_nothing(
    world: World, beta_path: str, none_path: str, beta_name: str, none_name: str,
) -> None:
    seen = await send(world, ALPHA, Row("GET", beta_path))
    nothing = await send(world, ALPHA, Row("GET", none_path))
    assert seen.status_code == nothing.status_code == 404
    assert error_code(beta_path, seen) == error_code(none_path, nothing)
    said = seen.text.replace(world.path(beta_name), "<name>")
    assert said == nothing.text.replace(none_name, "<name>")


async def test_dialect_lists_hold_the_tokens_projects_only(world: World) -> None:
    client = world.client
    r = await client.get(f"{FA}/functions", headers=ALPHA)
    assert [f["name"] for f in r.json()["data"]["functions"]] == ["a-fn"]
    r = await client.get(f"{KS}/functions", headers=ALPHA)
    assert [f["name"] for f in r.json()] == ["a-fn"]
    r = await client.get(f"{PF}/api/v1/projects", headers=ALPHA)
    assert [(p["name"], p["functions"]) for p in r.json()["data"]] == [("alpha", ["a-fn"])]
    r = await client.get(f"{PF}/api/v1/functions/alpha", headers=ALPHA)
    assert [f["name"] for f in r.json()["functions"]] == ["a-fn"]
    r = await client.get(f"{FS}/alpha/functions", headers=ALPHA)
    assert [f["name"] for f in r.json()["functions"]] == ["a-fn"]
    # The operator lists both.
    r = await client.get(f"{FA}/functions", headers=OPERATOR)
    assert [f["name"] for f in r.json()["data"]["functions"]] == ["a-fn", "b-fn"]
    r = await client.get(f"{KS}/functions", headers=OPERATOR)
    assert [f["name"] for f in r.json()] == ["a-fn", "b-fn"]
    r = await client.get(f"{PF}/api/v1/projects", headers=OPERATOR)
    assert {p["name"] for p in r.json()["data"]} >= {"alpha", "beta"}


async def _project_of(client: httpx.AsyncClient, name: str) -> str:
    r = await client.get(f"/api/v1/functions/{name}", headers=OPERATOR)
    assert r.status_code == 200, r.text
    return str(r.json()["project"])


async def test_a_tenant_creates_and_runs_in_its_own_project_through_each_dialect(
    world: World,
) -> None:
    client = world.client
    # The Function API and Kube-Serverless have no project: a token writing functions in
    # one project creates there.
    r = await client.post(f"{FA}/functions", headers=ALPHA, json={
        "name": "a-fa", "runtime": "python", "code": ECHO})
    assert r.status_code == 201, r.text
    r = await client.post(f"{KS}/functions", headers=ALPHA, json={
        "name": "a-ks", "runtime": "python39", "handler": "handler.handler", "code": ECHO})
    assert r.status_code == 201, r.text
    r = await send(world, ALPHA, Row("POST", f"{PF}/api/v1/functions/alpha/deploy",
                                     _form("a-pf")))
    assert r.status_code == 200, r.text
    r = await client.post(f"{FS}/alpha/functions", headers=ALPHA, json={
        "name": "a-fs", "runtime": "python3.9", "source_code": "ZGVmIGhhbmRsZXIoZSk6IHJldHVybiBl"})
    assert r.status_code == 201, r.text
    for name in ("a-fa", "a-ks", "a-pf", "a-fs"):
        assert await _project_of(client, name) == "alpha", name

    # Each dialect runs alpha's function for alpha, and reads it.
    runs = [
        Row("POST", f"{FA}/functions/a-fn/invoke", {"x": 1}),
        Row("POST", f"{KS}/functions/a-fn/invoke", {"x": 1}),
        Row("POST", f"{PF}/api/v1/functions/alpha/a-fn/invoke", {"x": 1}),
        Row("POST", f"{FS}/alpha/functions/func-{world.alpha_function_id}/invoke",
            {"body": {"x": 1}}),
        Row("GET", f"{FA}/functions/a-fn/metrics"),
        Row("GET", f"{KS}/functions/a-fn/metrics"),
        Row("GET", f"{FS}/alpha/functions/func-{world.alpha_function_id}/logs"),
        Row("GET", f"{FS}/alpha/functions/func-{world.alpha_function_id}/events"),
        Row("GET", f"{FS}/alpha/functions/provider/capabilities"),
        Row("GET", f"{PF}/api/v1/projects/alpha/env"),
        Row("POST", f"{PF}/api/v1/projects/alpha/stop"),
        Row("POST", f"{PF}/api/v1/projects/alpha/start"),
        Row("DELETE", f"{KS}/functions/a-ks"),
    ]
    wrong = []
    for row in runs:
        r = await send(world, ALPHA, row)
        if r.status_code >= 300:
            wrong.append((row.method, row.path, r.status_code, r.text[:200]))
    assert wrong == []


@pytest.mark.parametrize(("scopes", "project"), [
    ("write:functions@alpha write:functions@beta", None),  # two projects: not for it to pick
    ("write:functions@default write:functions@alpha", "default"),
    ("admin@alpha", "alpha"),
])
async def test_a_dialect_without_projects_creates_in_the_tokens_only_project_else_default(
    world: World, scopes: str, project: str | None,
) -> None:
    headers = auth(scopes, sub="creator")
    r = await world.client.post(f"{FA}/functions", headers=headers, json={
        "name": "made-fa", "runtime": "python", "code": ECHO})
    k = await world.client.post(f"{KS}/functions", headers=headers, json={
        "name": "made-ks", "runtime": "python39", "code": ECHO})
    if project is None:
        assert r.status_code == 403 and error_code(FA, r) == "FORBIDDEN"
        assert r.json()["error"]["details"] == {"required_scope": "write:functions"}
        assert "write:functions@default" in r.json()["error"]["message"]
        assert k.status_code == 403 and "write:functions@default" in k.json()["error"]
        return
    assert r.status_code == 201 and k.status_code == 201, (r.text, k.text)
    assert await _project_of(world.client, "made-fa") == project
    assert await _project_of(world.client, "made-ks") == project


async def test_a_narrower_scope_is_403_in_each_dialects_shape(world: World) -> None:
    fid = world.alpha_function_id
    # Each: a route of alpha's that read:functions@alpha sees but may not use.
    refused = [
        Row("PUT", f"{FA}/functions/a-fn", {"execution_type": "async"}),
        Row("POST", f"{FA}/functions/a-fn/invoke", {}),
        Row("GET", f"{FA}/functions/a-fn/metrics"),
        Row("POST", f"{FA}/functions", {"name": "r-fa", "runtime": "python", "code": ECHO}),
        Row("PUT", f"{KS}/functions/a-fn", {"minReplicas": 1}),
        Row("POST", f"{KS}/functions/a-fn/invoke", {}),
        Row("DELETE", f"{KS}/functions/a-fn"),
        Row("POST", f"{PF}/api/v1/functions/alpha/a-fn/invoke", {}),
        Row("POST", f"{PF}/api/v1/functions/alpha/deploy", _form("r-pf")),
        Row("DELETE", f"{PF}/api/v1/functions/alpha/a-fn"),
        Row("POST", f"{PF}/api/v1/projects/alpha/stop"),
        Row("POST", f"{FS}/alpha/functions", {"name": "r-fs", "runtime": "python3.9",
                                              "source_code": "eA=="}),
        Row("PUT", f"{FS}/alpha/functions/func-{fid}", {"labels": {"a": "b"}}),
        Row("POST", f"{FS}/alpha/functions/func-{fid}/invoke", {}),
        Row("GET", f"{FS}/alpha/functions/func-{fid}/logs"),
        Row("DELETE", f"{FS}/alpha/functions/func-{fid}"),
    ]
    codes = {FA: "FORBIDDEN", KS: "", PF: "AUTHORIZATION_ERROR", FS: "FORBIDDEN"}
    wrong = []
    for row in refused:
        r = await send(world, READER, row)
        want = next(code for base, code in codes.items() if row.path.startswith(base))
        if r.status_code != 403 or error_code(row.path, r) != want:
            wrong.append((row.method, row.path, r.status_code, r.text[:200]))
    assert wrong == []
    # What it may do: read, with the project's environment values hidden.
    r = await world.client.put("/api/v1/projects/alpha/env", headers=ALPHA,
                               json={"data": {"TOKEN": "plain"}})
    assert r.status_code == 200, r.text
    r = await world.client.get(f"{PF}/api/v1/projects/alpha/env", headers=READER)
    assert r.status_code == 200 and r.json()["data"] == {"TOKEN": "***"}
    r = await world.client.get(f"{PF}/api/v1/projects/alpha/env", headers=ALPHA)
    assert r.json()["data"] == {"TOKEN": "plain"}  # admin@alpha sees the values
    r = await world.client.get(f"{FS}/alpha/functions/func-{fid}", headers=READER)
    assert r.status_code == 200 and r.json()["name"] == "a-fn"
    # A token that sees beta (reads there) but may not write: 403 for a create in beta.
    r = await world.client.post(f"{FS}/beta/functions", headers=auth("read:functions@beta"),
                                json={"name": "r-fs", "runtime": "python3.9",
                                      "source_code": "eA=="})
    assert r.status_code == 403 and error_code(f"{FS}/beta/functions", r) == "FORBIDDEN"
    assert r.json()["details"] == {"required_scope": "write:functions"}


async def test_a_deploy_over_another_projects_name_does_not_say_which(world: World) -> None:
    r = await send(world, ALPHA, Row("POST", f"{PF}/api/v1/functions/alpha/deploy",
                                     _form("b-fn")))
    assert r.status_code == 409 and error_code(PF, r) == "CONFLICT"
    assert "beta" not in r.text and "already in use" in r.json()["message"]
    r = await send(world, OPERATOR, Row("POST", f"{PF}/api/v1/functions/alpha/deploy",
                                        _form("b-fn")))
    assert r.status_code == 409 and "in project 'beta'" in r.json()["message"]


async def test_the_operator_reaches_every_project_through_every_dialect(world: World) -> None:
    assert await operator_pass(world, OPERATOR, BETA, [*DIALECT_BETAS, *DIALECT_SYSTEM]) == []
