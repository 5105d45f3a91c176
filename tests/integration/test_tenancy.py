"""Two tenants (tokens qualified ``@alpha`` and ``@beta``) and an operator (unqualified
scopes) through every route class: a tenant reaches nothing of the other's (404, never
403), cannot create there nor touch what is system-wide (403), and sees only its own
project in lists; the operator reaches everything."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.conftest import auth, running_app

_ALL = ("read:functions", "write:functions", "execute:all", "read:jobs", "admin")


def tenant(project: str) -> dict[str, str]:
    return auth(" ".join(f"{scope}@{project}" for scope in _ALL), sub=f"{project}-team")


ALPHA, BETA, OPERATOR = tenant("alpha"), tenant("beta"), auth(" ".join(_ALL), sub="ops")
ECHO = "def handler(event):\n    print('ran')\n    return event\n"


@dataclass(frozen=True)
class World:
    """What beta owns, by id."""

    client: httpx.AsyncClient
    trigger_id: int
    job_id: str
    session_id: str


@pytest.fixture
async def world(settings_factory: Callable[..., Any]) -> AsyncIterator[World]:
    async with running_app(settings_factory()) as client:
        for name in ("alpha", "beta"):
            r = await client.post("/api/v1/projects", headers=OPERATOR, json={"name": name})
            assert r.status_code == 201, r.text
        for name, project, headers in (("a-fn", "alpha", ALPHA), ("b-fn", "beta", BETA)):
            r = await client.post("/api/v1/functions", headers=headers, json={
                "name": name, "runtime": "python", "code": ECHO, "project": project})
            assert r.status_code == 201, r.text
        r = await client.post("/api/v1/functions/b-fn/triggers", headers=BETA, json={
            "type": "http", "config": {"path": "/b-path"}})
        assert r.status_code == 201, r.text
        trigger_id = r.json()["id"]
        r = await client.post("/api/v1/functions/b-fn/invoke", headers=BETA, json={"x": 1})
        assert r.status_code == 200, r.text
        job_id = r.headers["x-job-id"]
        r = await client.post("/api/v1/initialize", headers={**BETA,
                                                             "Language-Title": "python-b-fn"})
        assert r.status_code == 200, r.text
        yield World(client, trigger_id, job_id, r.json()["request_id"])


# Every route of something of beta's: (method, path, body). ``{t}``, ``{j}`` and ``{s}``
# are its trigger, job and session.
BETAS: list[tuple[str, str, Any]] = [
    ("GET", "/api/v1/functions/b-fn", None),
    ("PUT", "/api/v1/functions/b-fn", {"description": "mine now"}),
    ("GET", "/api/v1/functions/b-fn/versions", None),
    ("POST", "/api/v1/functions/b-fn/versions", {}),
    ("PUT", "/api/v1/functions/b-fn/versions/1/active", None),
    ("POST", "/api/v1/functions/b-fn/rollback", None),
    ("GET", "/api/v1/functions/b-fn/triggers", None),
    ("POST", "/api/v1/functions/b-fn/triggers", {"type": "http", "config": {"path": "/b2"}}),
    ("GET", "/api/v1/functions/b-fn/triggers/{t}", None),
    ("PUT", "/api/v1/functions/b-fn/triggers/{t}", {"enabled": True}),
    ("POST", "/api/v1/functions/b-fn/invoke", {}),
    ("POST", "/api/v1/functions/b-fn/invoke-async", {}),
    ("POST", "/fn/b-path", {}),
    ("GET", "/api/v1/functions/b-fn/jobs", None),
    ("GET", "/api/v1/jobs/{j}", None),
    ("GET", "/api/v1/jobs/{j}/logs", None),
    ("GET", "/api/v1/functions/b-fn/logs", None),
    ("GET", "/api/v1/functions/b-fn/metrics", None),
    ("GET", "/api/v1/functions/b-fn/events", None),
    ("POST", "/api/v1/execute/{s}", {"params": {}}),
    ("GET", "/api/v1/sessions/{s}", None),
    ("GET", "/api/v1/projects/beta", None),
    ("PUT", "/api/v1/projects/beta", {"description": "mine now"}),
    ("GET", "/api/v1/projects/beta/events", None),
    ("POST", "/api/v1/webhooks", {"url": "https://example.com/h", "events": ["job.failed"],
                                  "secret": "s", "project": "beta"}),
    ("GET", "/api/v1/projects/beta/env", None),
    ("PUT", "/api/v1/projects/beta/env", {"data": {"A": "1"}}),
    ("GET", "/api/v1/projects/beta/dependencies", None),
    ("PUT", "/api/v1/projects/beta/dependencies", {"data": []}),
    ("GET", "/api/v1/projects/beta/secrets", None),
    ("PUT", "/api/v1/projects/beta/secrets", {"data": {"S": "x"}}),
    ("POST", "/api/v1/projects/beta/stop", None),
    ("POST", "/api/v1/projects/beta/start", None),
    ("DELETE", "/api/v1/sessions/{s}", None),
    ("DELETE", "/api/v1/functions/b-fn/triggers/{t}", None),
    ("DELETE", "/api/v1/functions/b-fn", None),
]
# What is system-wide, or would put something into beta: 403 for a tenant.
SYSTEM: list[tuple[str, str, Any]] = [
    ("POST", "/api/v1/functions", {"name": "intruder", "runtime": "python", "code": ECHO,
                                   "project": "beta"}),
    ("POST", "/api/v1/functions", {"name": "intruder", "runtime": "python", "code": ECHO}),
    ("PUT", "/api/v1/functions/a-fn", {"project": "beta"}),
    ("POST", "/api/v1/projects", {"name": "gamma"}),
    ("PUT", "/api/v1/projects/alpha", {"quotas": {"max_functions": 100}}),
    ("DELETE", "/api/v1/projects/alpha", None),
    ("GET", "/api/v1/env/system", None),
    ("PUT", "/api/v1/env/system", {"data": {}}),
    ("GET", "/api/v1/dependencies/system", None),
    ("GET", "/api/v1/secrets/system", None),
    ("PUT", "/api/v1/secrets/system", {"data": {}}),
    ("POST", "/api/v1/webhooks", {"url": "https://example.com/h", "events": ["job.failed"],
                                  "secret": "s"}),
]


async def call(world: World, headers: dict[str, str], method: str, path: str,
               body: Any, extra: dict[str, str] | None = None) -> httpx.Response:
    path = path.format(t=world.trigger_id, j=world.job_id, s=world.session_id)
    return await world.client.request(method, path, json=body, headers={**headers,
                                                                        **(extra or {})})


async def test_a_tenant_reaches_nothing_of_another_and_nothing_system_wide(
    world: World,
) -> None:
    wrong = []
    for method, path, body in BETAS:
        r = await call(world, ALPHA, method, path, body)
        if r.status_code != 404:
            wrong.append((method, path, r.status_code, r.text[:200]))
    r = await call(world, ALPHA, "GET", "/api/v1/functions/b-fn/logs?follow=true", None)
    if r.status_code != 404:
        wrong.append(("GET", "logs?follow=true", r.status_code, r.text[:200]))
    r = await call(world, ALPHA, "POST", "/api/v1/initialize", None,
                   {"Language-Title": "python-b-fn"})
    if r.status_code != 404:
        wrong.append(("POST", "/api/v1/initialize", r.status_code, r.text[:200]))
    for method, path, body in SYSTEM:
        r = await call(world, ALPHA, method, path, body)
        if r.status_code != 403:
            wrong.append((method, path, r.status_code, r.text[:200]))
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
    for method, path, body in [*BETAS, *SYSTEM]:
        r = await call(world, OPERATOR, method, path, body)
        if r.status_code in (401, 403, 404):
            wrong.append((method, path, r.status_code, r.text[:200]))
    assert wrong == []
    r = await call(world, OPERATOR, "GET", "/api/v1/projects", None)
    assert {p["name"] for p in r.json()["projects"]} >= {"beta", "gamma"}  # gamma: made
