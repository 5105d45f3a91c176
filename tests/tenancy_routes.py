"""Two tenants and an operator, shared by the tenancy tests of the integration tier (an
in-process app) and of the end-to-end tier (``fngate serve``): what beta owns
(:func:`build_world`), every route that reaches something of beta's through the native API
and through each compatibility dialect, the routes that are system-wide, and how to read
an error in each API's own shape."""

from __future__ import annotations

import base64
import dataclasses
from dataclasses import dataclass
from typing import Any

import httpx

__all__ = ["DIALECT_BETAS", "DIALECT_SYSTEM", "ECHO", "FA", "FS", "KS", "NATIVE_BETAS",
           "NATIVE_SYSTEM", "PF", "Form", "Row", "World", "build_world", "error_code",
           "operator_pass", "send", "unlike"]

FA = "/compat/function-api"
KS = "/compat/kube-serverless/api/v1"
PF = "/compat/project-functions"
FS = "/api/v1/workspaces"

ECHO = "def handler(event):\n    print('ran')\n    return event\n"


@dataclass(frozen=True)
class Form:
    """A multipart body (the project-functions deploy)."""

    data: dict[str, str]
    files: dict[str, tuple[str, bytes, str]]


@dataclass(frozen=True)
class Row:
    """One request: ``path`` may name beta's things as ``{f}`` (function id), ``{t}``
    (trigger id), ``{j}`` (job id), ``{s}`` (session), ``{v}`` (a version's record id).
    ``cross``: it names beta's thing under alpha's path, 404 for everyone (the operator
    too)."""

    method: str
    path: str
    body: Any = None
    cross: bool = False


def _deploy(name: str) -> Form:
    return Form({"function_name": name}, {"code": ("main.py", ECHO.encode(), "text/x-python")})


@dataclass(frozen=True)
class World:
    """What beta owns (``b-fn`` and its things), by id; alpha owns ``a-fn``."""

    client: httpx.AsyncClient
    function_id: int
    trigger_id: int
    job_id: str
    session_id: str
    version_id: int
    alpha_function_id: int

    def path(self, template: str) -> str:
        return template.format(f=self.function_id, t=self.trigger_id, j=self.job_id,
                               s=self.session_id, v=self.version_id)


async def send(world: World, headers: dict[str, str], row: Row,
               extra: dict[str, str] | None = None) -> httpx.Response:
    """``row`` as ``headers``' holder sends it."""
    kwargs: dict[str, Any] = {"headers": {**headers, **(extra or {})}}
    if isinstance(row.body, Form):
        kwargs.update(data=row.body.data, files=row.body.files)
    elif row.body is not None:
        kwargs["json"] = row.body
    return await world.client.request(row.method, world.path(row.path), **kwargs)


async def build_world(client: httpx.AsyncClient, *, alpha: dict[str, str],
                      beta: dict[str, str], operator: dict[str, str]) -> World:
    """Projects ``alpha`` and ``beta`` (made by the operator), ``a-fn`` of alpha's and
    ``b-fn`` of beta's (each made by its tenant), and beta's trigger, job and session."""

    async def ok(method: str, path: str, headers: dict[str, str], **kwargs: Any) -> Any:
        r = await client.request(method, path, headers=headers, **kwargs)
        assert r.status_code < 300, (method, path, r.status_code, r.text)
        return r

    for name in ("alpha", "beta"):
        await ok("POST", "/api/v1/projects", operator, json={"name": name})
    ids = {}
    for name, project, headers in (("a-fn", "alpha", alpha), ("b-fn", "beta", beta)):
        r = await ok("POST", "/api/v1/functions", headers, json={
            "name": name, "runtime": "python", "code": ECHO, "project": project})
        ids[name] = int(r.json()["id"])
    r = await ok("POST", "/api/v1/functions/b-fn/triggers", beta,
                 json={"type": "http", "config": {"path": "/b-path"}})
    trigger_id = int(r.json()["id"])
    r = await ok("POST", "/api/v1/functions/b-fn/invoke", beta, json={"x": 1})
    job_id = r.headers["x-job-id"]
    r = await ok("POST", "/api/v1/initialize", {**beta, "Language-Title": "python-b-fn"})
    session_id = r.json()["request_id"]
    r = await ok("GET", f"{FS}/beta/functions/func-{ids['b-fn']}/versions", beta)
    version_id = int(r.json()["versions"][0]["id"].removeprefix("ver-"))
    return World(client, ids["b-fn"], trigger_id, job_id, session_id, version_id,
                 ids["a-fn"])


# Every native route to something of beta's: 404 for alpha (DELETEs last).
NATIVE_BETAS: list[Row] = [
    Row("GET", "/api/v1/functions/b-fn"),
    Row("PUT", "/api/v1/functions/b-fn", {"description": "mine now"}),
    Row("GET", "/api/v1/functions/b-fn/versions"),
    Row("POST", "/api/v1/functions/b-fn/versions", {}),
    Row("PUT", "/api/v1/functions/b-fn/versions/1/active"),
    Row("POST", "/api/v1/functions/b-fn/rollback"),
    Row("GET", "/api/v1/functions/b-fn/triggers"),
    Row("POST", "/api/v1/functions/b-fn/triggers", {"type": "http", "config": {"path": "/b2"}}),
    Row("GET", "/api/v1/functions/b-fn/triggers/{t}"),
    Row("PUT", "/api/v1/functions/b-fn/triggers/{t}", {"enabled": True}),
    Row("POST", "/api/v1/functions/b-fn/invoke", {}),
    Row("POST", "/api/v1/functions/b-fn/invoke-async", {}),
    Row("POST", "/fn/b-path", {}),
    Row("GET", "/api/v1/functions/b-fn/jobs"),
    Row("GET", "/api/v1/jobs/{j}"),
    Row("GET", "/api/v1/jobs/{j}/logs"),
    Row("GET", "/api/v1/functions/b-fn/logs"),
    Row("GET", "/api/v1/functions/b-fn/logs?follow=true"),
    Row("GET", "/api/v1/functions/b-fn/metrics"),
    Row("GET", "/api/v1/functions/b-fn/events"),
    Row("POST", "/api/v1/execute/{s}", {"params": {}}),
    Row("GET", "/api/v1/sessions/{s}"),
    Row("GET", "/api/v1/projects/beta"),
    Row("PUT", "/api/v1/projects/beta", {"description": "mine now"}),
    Row("GET", "/api/v1/projects/beta/events"),
    Row("POST", "/api/v1/webhooks", {"url": "https://example.com/h", "events": ["job.failed"],
                                     "secret": "s", "project": "beta"}),
    Row("GET", "/api/v1/projects/beta/env"),
    Row("PUT", "/api/v1/projects/beta/env", {"data": {"A": "1"}}),
    Row("GET", "/api/v1/projects/beta/dependencies"),
    Row("PUT", "/api/v1/projects/beta/dependencies", {"data": []}),
    Row("GET", "/api/v1/projects/beta/secrets"),
    Row("PUT", "/api/v1/projects/beta/secrets", {"data": {"S": "x"}}),
    Row("POST", "/api/v1/projects/beta/stop"),
    Row("POST", "/api/v1/projects/beta/start"),
    Row("DELETE", "/api/v1/sessions/{s}"),
    Row("DELETE", "/api/v1/functions/b-fn/triggers/{t}"),
    Row("DELETE", "/api/v1/functions/b-fn"),
]

# What is system-wide, or would put something into beta: 403 for a tenant.
NATIVE_SYSTEM: list[Row] = [
    Row("POST", "/api/v1/functions", {"name": "intruder", "runtime": "python", "code": ECHO,
                                      "project": "beta"}),
    Row("POST", "/api/v1/functions", {"name": "intruder", "runtime": "python", "code": ECHO}),
    Row("PUT", "/api/v1/functions/a-fn", {"project": "beta"}),
    Row("POST", "/api/v1/projects", {"name": "gamma"}),
    Row("PUT", "/api/v1/projects/alpha", {"quotas": {"max_functions": 100}}),
    Row("DELETE", "/api/v1/projects/alpha"),
    Row("GET", "/api/v1/env/system"),
    Row("PUT", "/api/v1/env/system", {"data": {}}),
    Row("GET", "/api/v1/dependencies/system"),
    Row("GET", "/api/v1/secrets/system"),
    Row("PUT", "/api/v1/secrets/system", {"data": {}}),
    Row("POST", "/api/v1/webhooks", {"url": "https://example.com/h", "events": ["job.failed"],
                                     "secret": "s"}),
]

_B64_ECHO = base64.b64encode(ECHO.encode()).decode()

# Every dialect route to something of beta's: 404 for alpha, in the dialect's error shape
# (DELETEs last in each dialect). The Function Service's paths under alpha's own workspace
# name beta's function, version, trigger and invocation by id.
DIALECT_BETAS: list[Row] = [
    # Function API: functions by name or numeric id, jobs by id.
    Row("GET", f"{FA}/functions/b-fn"),
    Row("GET", f"{FA}/functions/{{f}}"),
    Row("PUT", f"{FA}/functions/b-fn", {"execution_type": "sync"}),
    Row("GET", f"{FA}/functions/b-fn/metrics"),
    Row("POST", f"{FA}/functions/b-fn/invoke", {"x": 1}),
    Row("GET", f"{FA}/functions/b-fn/jobs"),
    Row("GET", f"{FA}/jobs/{{j}}"),
    Row("DELETE", f"{FA}/functions/{{f}}"),
    # Kube-Serverless: functions by name.
    Row("GET", f"{KS}/functions/b-fn"),
    Row("PUT", f"{KS}/functions/b-fn", {"minReplicas": 0}),
    Row("POST", f"{KS}/functions/b-fn/invoke", {"x": 1}),
    Row("GET", f"{KS}/functions/b-fn/metrics"),
    Row("DELETE", f"{KS}/functions/b-fn"),
    # Project functions: beta's project and functions under it, and beta's function under
    # alpha's project.
    Row("GET", f"{PF}/api/v1/projects/beta"),
    Row("GET", f"{PF}/api/v1/projects/beta/env"),
    Row("GET", f"{PF}/api/v1/projects/beta/dependencies"),
    Row("POST", f"{PF}/api/v1/projects/beta/stop"),
    Row("POST", f"{PF}/api/v1/projects/beta/start"),
    Row("GET", f"{PF}/api/v1/functions/beta"),
    Row("GET", f"{PF}/api/v1/functions/beta/b-fn"),
    Row("POST", f"{PF}/api/v1/functions/beta/b-fn/invoke", {"x": 1}),
    Row("POST", f"{PF}/api/v1/functions/beta/deploy", _deploy("b-fn")),
    Row("POST", f"{PF}/api/v1/functions/beta/deploy", _deploy("b-new-pf")),
    Row("GET", f"{PF}/api/v1/functions/alpha/b-fn", cross=True),
    Row("POST", f"{PF}/api/v1/functions/alpha/b-fn/invoke", {"x": 1}, cross=True),
    Row("DELETE", f"{PF}/api/v1/functions/alpha/b-fn", cross=True),
    Row("DELETE", f"{PF}/api/v1/functions/beta/b-fn"),
    # Function Service: every path under beta's workspace.
    Row("GET", f"{FS}/beta/functions"),
    Row("POST", f"{FS}/beta/functions", {"name": "b-new-fs", "runtime": "python3.9",
                                         "source_code": _B64_ECHO}),
    Row("GET", f"{FS}/beta/functions/func-{{f}}"),
    Row("PUT", f"{FS}/beta/functions/func-{{f}}", {"labels": {"owner": "alpha"}}),
    Row("GET", f"{FS}/beta/functions/func-{{f}}/versions"),
    Row("POST", f"{FS}/beta/functions/func-{{f}}/versions", {"source_code": _B64_ECHO}),
    Row("PUT", f"{FS}/beta/functions/func-{{f}}/versions/ver-{{v}}/active"),
    Row("POST", f"{FS}/beta/functions/func-{{f}}/rollback"),
    Row("GET", f"{FS}/beta/functions/func-{{f}}/triggers"),
    Row("POST", f"{FS}/beta/functions/func-{{f}}/triggers",
        {"type": "http", "config": {"method": "GET", "path": "/b3"}}),
    Row("PUT", f"{FS}/beta/functions/func-{{f}}/triggers/trg-{{t}}", {"enabled": True}),
    Row("POST", f"{FS}/beta/functions/func-{{f}}/invoke", {"body": {"x": 1}}),
    Row("POST", f"{FS}/beta/functions/func-{{f}}/invoke-async", {"body": {"x": 1}}),
    Row("GET", f"{FS}/beta/functions/invocations/inv-{{j}}"),
    Row("GET", f"{FS}/beta/functions/func-{{f}}/invocations"),
    Row("GET", f"{FS}/beta/functions/func-{{f}}/logs"),
    Row("GET", f"{FS}/beta/functions/func-{{f}}/logs?follow=true"),
    Row("GET", f"{FS}/beta/functions/func-{{f}}/metrics"),
    Row("GET", f"{FS}/beta/functions/func-{{f}}/events"),
    Row("GET", f"{FS}/beta/functions/provider/capabilities"),
    Row("GET", f"{FS}/beta/functions/provider/health"),
    # ... and beta's things named from alpha's own workspace.
    Row("GET", f"{FS}/alpha/functions/func-{{f}}", cross=True),
    Row("PUT", f"{FS}/alpha/functions/func-{{f}}", {"labels": {"owner": "alpha"}}, cross=True),
    Row("GET", f"{FS}/alpha/functions/func-{{f}}/versions", cross=True),
    Row("PUT", f"{FS}/alpha/functions/func-{{f}}/versions/ver-{{v}}/active", cross=True),
    Row("GET", f"{FS}/alpha/functions/func-{{f}}/triggers", cross=True),
    Row("POST", f"{FS}/alpha/functions/func-{{f}}/invoke", {"body": {"x": 1}}, cross=True),
    Row("GET", f"{FS}/alpha/functions/invocations/inv-{{j}}", cross=True),
    Row("GET", f"{FS}/alpha/functions/func-{{f}}/invocations", cross=True),
    Row("GET", f"{FS}/alpha/functions/func-{{f}}/logs?follow=true", cross=True),
    Row("GET", f"{FS}/alpha/functions/func-{{f}}/metrics", cross=True),
    Row("GET", f"{FS}/alpha/functions/func-{{f}}/events", cross=True),
    Row("DELETE", f"{FS}/alpha/functions/func-{{f}}", cross=True),
    Row("DELETE", f"{FS}/beta/functions/func-{{f}}/triggers/trg-{{t}}"),
    Row("DELETE", f"{FS}/beta/functions/func-{{f}}"),
]

# What is system-wide in the dialects: 403 for a tenant (even one with admin@ its project).
DIALECT_SYSTEM: list[Row] = [
    Row("GET", f"{PF}/api/v1/env/system"),
    Row("GET", f"{PF}/api/v1/dependencies/system"),
]


def error_code(path: str, response: httpx.Response) -> str:
    """The error code of ``response`` to a request for ``path``, asserting the body is in
    the error shape of the API that path belongs to (Kube-Serverless's has no code: ``""``).
    """
    body = response.json()
    if path.startswith(FA):
        assert body["success"] is False and set(body["error"]) == {"code", "message",
                                                                   "details"}, body
        return str(body["error"]["code"])
    if path.startswith(KS):
        assert set(body) == {"error"} and isinstance(body["error"], str), body
        return ""
    if path.startswith(PF):
        assert body["status"] == "error" and set(body) == {"status", "code", "message",
                                                           "details"}, body
        assert set(body["details"]) == {"field", "reason"}, body
        return str(body["code"])
    if path.startswith(FS + "/"):
        assert set(body) == {"error", "code", "details"} and isinstance(body["error"], str), body
        return str(body["code"])
    assert set(body) == {"error", "request_id"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    return str(body["error"]["code"])


Wrong = tuple[str, str, int, str]


async def unlike(world: World, headers: dict[str, str], rows: list[Row],
                 status: int) -> list[Wrong]:
    """The rows ``headers``' holder is not answered ``status`` to, in the error shape of
    the API the row's path belongs to (a wrong shape fails at once)."""
    wrong = []
    for row in rows:
        r = await send(world, headers, row)
        if r.status_code != status:
            wrong.append((row.method, row.path, r.status_code, r.text[:200]))
        else:
            error_code(row.path, r)
    return wrong


async def _rebuilt(world: World, beta: dict[str, str]) -> World:
    """``b-fn`` made again by beta (with its trigger) after the operator deleted it."""
    r = await world.client.post("/api/v1/functions", headers=beta, json={
        "name": "b-fn", "runtime": "python", "code": ECHO, "project": "beta"})
    assert r.status_code == 201, r.text
    t = await world.client.post("/api/v1/functions/b-fn/triggers", headers=beta,
                                json={"type": "http", "config": {"path": "/b-path"}})
    assert t.status_code == 201, t.text
    return dataclasses.replace(world, function_id=int(r.json()["id"]),
                               trigger_id=int(t.json()["id"]))


async def operator_pass(world: World, operator: dict[str, str], beta: dict[str, str],
                        rows: list[Row]) -> list[Wrong]:
    """The rows the operator is refused (401, 403, 404) or failed (5xx) on, beta's
    ``cross`` rows excepted (404 for everyone, checked so). The DELETEs run last; after
    each that deletes ``b-fn`` beta makes it again, so every route meets it. Followed
    logs are left out: a stream that does not end."""
    wrong = []
    rows = [row for row in rows if "follow=true" not in row.path]
    for row in [*(r for r in rows if r.method != "DELETE"),
                *(r for r in rows if r.method == "DELETE")]:
        r = await send(world, operator, row)
        if row.cross:
            if r.status_code != 404:
                wrong.append((row.method, row.path, r.status_code, r.text[:200]))
        elif r.status_code in (401, 403, 404) or r.status_code >= 500:
            wrong.append((row.method, row.path, r.status_code, r.text[:200]))
        elif row.method == "DELETE" and row.path.endswith(("b-fn", "{f}")):
            world = await _rebuilt(world, beta)
    return wrong
