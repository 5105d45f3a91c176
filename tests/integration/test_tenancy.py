"""Two tenants (tokens qualified ``@alpha`` and ``@beta``) and an operator (unqualified
scopes) through every route class: a tenant reaches nothing of the other's (404, never
403), cannot create there nor touch what is system-wide (403), and sees only its own
project in lists; the operator reaches everything."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from tests.conftest import auth, running_app
from tests.tenancy_routes import ECHO, NATIVE_BETAS, NATIVE_SYSTEM, Row, World, build_world, send

_ALL = ("read:functions", "write:functions", "execute:all", "read:jobs", "admin")


def tenant(project: str) -> dict[str, str]:
    return auth(" ".join(f"{scope}@{project}" for scope in _ALL), sub=f"{project}-team")


ALPHA, BETA, OPERATOR = tenant("alpha"), tenant("beta"), auth(" ".join(_ALL), sub="ops")


@pytest.fixture
async def world(settings_factory: Callable[..., Any]) -> AsyncIterator[World]:
    async with running_app(settings_factory()) as client:
        yield await build_world(client, alpha=ALPHA, beta=BETA, operator=OPERATOR)


async def call(world: World, headers: dict[str, str], method: str, path: str,
               body: Any, extra: dict[str, str] | None = None) -> Any:
    return await send(world, headers, Row(method, path, body), extra)


async def test_a_tenant_reaches_nothing_of_another_and_nothing_system_wide(
    world: World,
) -> None:
    wrong = []
    for row in NATIVE_BETAS:
        r = await send(world, ALPHA, row)
        if r.status_code != 404:
            wrong.append((row.method, row.path, r.status_code, r.text[:200]))
    r = await call(world, ALPHA, "POST", "/api/v1/initialize", None,
                   {"Language-Title": "python-b-fn"})
    if r.status_code != 404:
        wrong.append(("POST", "/api/v1/initialize", r.status_code, r.text[:200]))
    for row in NATIVE_SYSTEM:
        r = await send(world, ALPHA, row)
        if r.status_code != 403:
            wrong.append((row.method, row.path, r.status_code, r.text[:200]))
    assert wrong == []

    # Lists hold alpha's own only; beta's things are all still there.
    r = await call(world, ALPHA, "GET", "/api/v1/functions", None)
    assert [f["name"] for f in r.json()["functions"]] == ["a-fn"]
    r = await call(world, ALPHA, "GET", "/api/v1/functions?project=beta", None)
    assert r.json()["functions"] == [] and r.json()["total"] == 0
    r = await call(world, ALPHA, "GET", "/api/v1/projects", None)
    assert [p["name"] for p in r.json()["projects"]] == ["alpha"]
    r = await call(world, BETA, "GET", "/api/v1/functions/b-fn", None)
    assert r.status_code == 200 and r.json()["description"] == ""
    r = await call(world, BETA, "GET", "/api/v1/functions/b-fn/triggers", None)
    assert len(r.json()["triggers"]) == 1


async def test_a_tenant_runs_its_own_project(world: World) -> None:
    ok = [
        ("GET", "/api/v1/functions/a-fn", None),
        ("PUT", "/api/v1/functions/a-fn", {"description": "ours"}),
        ("POST", "/api/v1/functions/a-fn/invoke", {}),
        ("GET", "/api/v1/functions/a-fn/logs", None),
        ("GET", "/api/v1/functions/a-fn/metrics", None),
        ("GET", "/api/v1/functions/a-fn/events", None),
        ("GET", "/api/v1/functions/a-fn/jobs", None),
        ("PUT", "/api/v1/projects/alpha/env", {"data": {"A": "1"}}),
        ("PUT", "/api/v1/projects/alpha/secrets", {"data": {"S": "x"}}),
        ("POST", "/api/v1/projects/alpha/stop", None),
        ("POST", "/api/v1/projects/alpha/start", None),
        ("POST", "/api/v1/functions", {"name": "a-two", "runtime": "python", "code": ECHO,
                                       "project": "alpha"}),
    ]
    wrong = []
    for method, path, body in ok:
        r = await call(world, ALPHA, method, path, body)
        if r.status_code >= 300:
            wrong.append((method, path, r.status_code, r.text[:200]))
    assert wrong == []
    r = await call(world, ALPHA, "GET", "/api/v1/projects/alpha/env", None)
    assert r.json() == {"data": {"A": "1"}}  # admin@alpha sees the values


async def test_a_narrower_tenant_scope_is_403_in_its_own_project(world: World) -> None:
    reader = auth("read:functions@alpha", sub="alpha-reader")
    r = await call(world, reader, "PUT", "/api/v1/functions/a-fn", {"description": "x"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "FORBIDDEN"
    r = await call(world, reader, "POST", "/api/v1/functions/a-fn/invoke", {})
    assert r.status_code == 403
    r = await call(world, reader, "GET", "/api/v1/functions/b-fn", None)
    assert r.status_code == 404
    r = await call(world, reader, "GET", "/api/v1/functions/a-fn", None)
    assert r.status_code == 200 and r.json()["environment"] == {}


async def test_the_operator_reaches_every_project(world: World) -> None:
    wrong = []
    for row in [*NATIVE_BETAS, *NATIVE_SYSTEM]:
        if "follow=true" in row.path:  # a stream: no end
            continue
        r = await send(world, OPERATOR, row)
        if r.status_code in (401, 403, 404):
            wrong.append((row.method, row.path, r.status_code, r.text[:200]))
    assert wrong == []
    r = await call(world, OPERATOR, "GET", "/api/v1/projects", None)
    assert {p["name"] for p in r.json()["projects"]} >= {"beta", "gamma"}  # gamma: made
