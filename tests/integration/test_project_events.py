"""A project's audit trail (``GET /api/v1/projects/{name}/events``) and webhooks of one
project, against a real PostgreSQL: every change names its actor (``sub`` and ``iss``), a
tenant reaches only its own project's, and secrets never show."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from tests.conftest import running_app, token
from tests.integration.test_cron import connect
from tests.integration.test_functions_api import assert_error

ECHO = "def handler(event):\n    return event\n"
SECRET_VALUE = "hunter2-never-shown"
ENV_VALUE = "plain-value-not-in-events"


def bearer(scopes: str, sub: str, issuer: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(scopes, sub, issuer=issuer)}"}


OPERATOR = bearer("admin", "ops", issuer="https://idp.example")
ALPHA = bearer("admin@alpha", "alice", issuer="https://idp.example")
BETA = bearer("admin@beta", "bob")
ALPHA_READER = bearer("read:functions@alpha", "reader")


@pytest.fixture
async def gateway(settings_factory: Callable[..., Any]) -> AsyncIterator[httpx.AsyncClient]:
    async with running_app(settings_factory(allow_private_callbacks=True)) as client:
        for name in ("alpha", "beta"):
            r = await client.post("/api/v1/projects", headers=OPERATOR, json={"name": name})
            assert r.status_code == 201, r.text
        yield client


async def events(client: httpx.AsyncClient, project: str = "alpha",
                 headers: dict[str, str] = ALPHA, **params: Any) -> list[dict[str, Any]]:
    r = await client.get(f"/api/v1/projects/{project}/events", headers=headers, params=params)
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()["events"]
    return found


async def test_every_change_of_a_project_is_in_its_trail_with_its_actor(
    gateway: httpx.AsyncClient,
) -> None:
    c = gateway
    steps = [
        c.put("/api/v1/projects/alpha/env", headers=ALPHA, json={"data": {"E": ENV_VALUE}}),
        c.put("/api/v1/projects/alpha/secrets", headers=ALPHA,
              json={"data": {"TOKEN": SECRET_VALUE}}),
        c.put("/api/v1/projects/alpha/dependencies", headers=ALPHA, json={"data": []}),
        c.post("/api/v1/projects/alpha/stop", headers=ALPHA),
        c.post("/api/v1/projects/alpha/start", headers=ALPHA),
        c.put("/api/v1/projects/alpha", headers=ALPHA, json={"description": "team a"}),
        c.put("/api/v1/projects/alpha", headers=OPERATOR,
              json={"quotas": {"max_functions": 5}}),
        c.post("/api/v1/functions", headers=ALPHA, json={
            "name": "fa", "runtime": "python", "code": ECHO, "project": "alpha",
            "secrets": {"OWN": SECRET_VALUE}}),
        c.post("/api/v1/functions/fa/triggers", headers=ALPHA,
               json={"type": "http", "config": {"path": "/fa"}}),
        c.put("/api/v1/functions/fa", headers=ALPHA, json={"code": "def handler(e):\n"
                                                                   "    return 2\n"}),
    ]
    for step in steps:
        r = await step
        assert r.status_code < 300, r.text
    r = await c.post("/api/v1/functions", headers=OPERATOR, json={
        "name": "fb", "runtime": "python", "code": ECHO, "project": "beta"})
    assert r.status_code == 201, r.text

    trail = await events(c)
    assert [(e["type"], e["function"]) for e in reversed(trail)] == [
        ("project_created", None), ("environment_changed", None),
        ("secrets_changed", None), ("dependencies_changed", None),
        ("project_stopped", None), ("project_started", None), ("project_updated", None),
        ("project_updated", None), ("quotas_changed", None), ("created", "fa"),
        ("trigger_added", "fa"), ("updated", "fa"), ("deployed", "fa"),
    ]
    by_type = {e["type"]: e for e in trail}
    assert by_type["project_created"]["actor"] == "ops"
    assert by_type["environment_changed"]["actor"] == "alice"
    assert by_type["environment_changed"]["actor_issuer"] == "https://idp.example"
    assert by_type["environment_changed"]["metadata"] == {"names": ["E"]}
    assert by_type["secrets_changed"]["metadata"] == {"names": ["TOKEN"]}
    assert by_type["quotas_changed"]["actor"] == "ops"
    assert by_type["quotas_changed"]["metadata"]["quotas"]["max_functions"] == 5
    assert by_type["quotas_changed"]["metadata"]["previous"]["max_functions"] is None
    assert by_type["created"]["actor"] == "alice"
    assert set(trail[0]) == {"id", "type", "description", "metadata", "actor",
                             "actor_issuer", "function", "created_at"}
    # Beta's function is not in alpha's trail; values never are.
    assert all(e["function"] != "fb" for e in trail)
    raw = (await c.get("/api/v1/projects/alpha/events", headers=OPERATOR)).text
    assert SECRET_VALUE not in raw and ENV_VALUE not in raw
    # The function's own trail carries the issuer too.
    r = await c.get("/api/v1/functions/fa/events", headers=ALPHA)
    assert {e["actor_issuer"] for e in r.json()["events"]} == {"https://idp.example"}
    assert len(await events(c, limit=2)) == 2


async def test_a_move_shows_in_both_projects_and_a_delete_in_its_own(
    gateway: httpx.AsyncClient,
) -> None:
    c = gateway
    r = await c.post("/api/v1/functions", headers=OPERATOR, json={
        "name": "mover", "runtime": "python", "code": ECHO, "project": "alpha"})
    assert r.status_code == 201, r.text
    r = await c.put("/api/v1/functions/mover", headers=OPERATOR, json={"project": "beta"})
    assert r.status_code == 200, r.text
    moved = (await events(c))[0]
    assert moved["type"] == "updated" and moved["function"] == "mover"
    assert moved["metadata"] == {"fields": ["project"], "from_project": "alpha"}
    assert (await events(c, "beta", BETA))[0]["id"] == moved["id"]
    assert (await c.delete("/api/v1/functions/mover", headers=BETA)).status_code == 204
    deleted = (await events(c, "beta", BETA))[0]
    assert (deleted["type"], deleted["actor"]) == ("deleted", "bob")
    assert (await events(c))[0]["id"] == moved["id"]  # not alpha's


async def test_project_events_errors(gateway: httpx.AsyncClient) -> None:
    c = gateway
    # Another project's trail does not exist for a tenant; the operator reads any.
    assert_error(await c.get("/api/v1/projects/beta/events", headers=ALPHA), 404,
                 "PROJECT_NOT_FOUND")
    assert_error(await c.get("/api/v1/projects/nope/events", headers=OPERATOR), 404,
                 "PROJECT_NOT_FOUND")
    assert len(await events(c, "beta", OPERATOR)) == 1
    # Reading the catalog is not reading the trail.
    r = await c.get("/api/v1/projects/alpha/events", headers=ALPHA_READER)
    assert assert_error(r, 403, "FORBIDDEN")["error"]["details"]["required_scope"] == \
        "read:jobs"
    assert_error(await c.get("/api/v1/projects/alpha/events"), 401, "UNAUTHORIZED")
    for limit in ("0", "1001", "x"):
        assert_error(await c.get("/api/v1/projects/alpha/events", headers=ALPHA,
                                 params={"limit": limit}), 400, "INVALID_REQUEST")
    # read:jobs@alpha suffices.
    assert len(await events(c, headers=bearer("read:jobs@alpha", "auditor"))) == 1


# -- webhooks of a project --------------------------------------------------------------------

HOOK = {"url": "http://127.0.0.1:9/hook", "events": ["function.created", "job.succeeded"],
        "secret": "webhook-secret-never-shown"}


async def test_a_project_admin_manages_only_its_projects_webhooks(
    gateway: httpx.AsyncClient,
) -> None:
    c = gateway
    r = await c.post("/api/v1/webhooks", headers=ALPHA, json={**HOOK, "project": "alpha"})
    assert r.status_code == 201, r.text
    mine = r.json()
    assert mine["project"] == "alpha" and mine["secret"] == "***"
    r = await c.post("/api/v1/webhooks", headers=OPERATOR, json=HOOK)
    assert r.status_code == 201 and r.json()["project"] is None
    operators = r.json()
    r = await c.post("/api/v1/webhooks", headers=BETA, json={**HOOK, "project": "beta"})
    beta_hook = r.json()

    # Every project's events: the operator's only. Another project: 404.
    r = await c.post("/api/v1/webhooks", headers=ALPHA, json=HOOK)
    assert assert_error(r, 403, "FORBIDDEN")["error"]["details"]["required_scope"] == "admin"
    assert_error(await c.post("/api/v1/webhooks", headers=ALPHA,
                              json={**HOOK, "project": "beta"}), 404, "PROJECT_NOT_FOUND")
    assert_error(await c.post("/api/v1/webhooks", headers=ALPHA_READER,
                              json={**HOOK, "project": "alpha"}), 403, "FORBIDDEN")
    bad = await c.post("/api/v1/webhooks", headers=OPERATOR, json={**HOOK, "project": "no pe"})
    assert assert_error(bad, 400, "INVALID_REQUEST")["error"]["details"]["field"] == "project"
    assert_error(await c.get("/api/v1/webhooks", headers=ALPHA_READER), 403, "FORBIDDEN")

    r = await c.get("/api/v1/webhooks", headers=ALPHA)
    assert [w["id"] for w in r.json()["webhooks"]] == [mine["id"]]
    r = await c.get("/api/v1/webhooks", headers=OPERATOR)
    assert [w["id"] for w in r.json()["webhooks"]] == [mine["id"], operators["id"],
                                                       beta_hook["id"]]
    for other in (operators, beta_hook):
        assert_error(await c.delete(f"/api/v1/webhooks/{other['id']}", headers=ALPHA), 404,
                     "NOT_FOUND")
    assert (await c.delete(f"/api/v1/webhooks/{mine['id']}", headers=ALPHA)).status_code == 204
    assert_error(await c.delete(f"/api/v1/webhooks/{mine['id']}", headers=ALPHA), 404,
                 "NOT_FOUND")
    trail = await events(c)
    assert [e["type"] for e in trail[:2]] == ["webhook_removed", "webhook_added"]
    assert trail[1]["metadata"]["webhook_id"] == mine["id"]
    assert "webhook-secret-never-shown" not in (await c.get(
        "/api/v1/projects/alpha/events", headers=ALPHA)).text


async def test_a_projects_webhook_receives_only_that_projects_events(
    gateway: httpx.AsyncClient, database_url: str,
) -> None:
    c = gateway
    ids = {}
    for who, body in (("alpha", {**HOOK, "project": "alpha"}), ("beta", {**HOOK,
                      "project": "beta"}), ("ops", HOOK)):
        r = await c.post("/api/v1/webhooks", headers=OPERATOR, json=body)
        assert r.status_code == 201, r.text
        ids[r.json()["id"]] = who
    r = await c.post("/api/v1/functions", headers=OPERATOR, json={
        "name": "bfn", "runtime": "python", "code": ECHO, "project": "beta",
        "secrets": {"S": "secret-in-no-payload"}})
    assert r.status_code == 201, r.text
    r = await c.post("/api/v1/functions/bfn/invoke", headers=OPERATOR, json={"x": 1})
    assert r.status_code == 200 and r.json()["status"] == "success", r.text
    async with connect(database_url) as conn:
        rows = await conn.fetch("SELECT webhook_id, event, payload::text AS payload"
                                " FROM webhook_deliveries WHERE kind = 'webhook'")
    got = sorted((ids[r["webhook_id"]], r["event"]) for r in rows)
    assert got == [("beta", "function.created"), ("beta", "job.succeeded"),
                   ("ops", "function.created"), ("ops", "job.succeeded")]
    assert all("secret-in-no-payload" not in (r["payload"] or "") for r in rows)


async def test_changes_through_the_dialects_name_their_actor_and_issuer(
    gateway: httpx.AsyncClient,
) -> None:
    c = gateway
    base = "/compat/project-functions/api/v1/projects/alpha"
    for step in ("stop", "start"):
        r = await c.post(f"{base}/{step}", headers=ALPHA)
        assert r.status_code == 200, r.text
    r = await c.post("/compat/function-api/functions", headers=ALPHA, json={
        "name": "via-dialect", "runtime": "python", "code": ECHO})
    assert r.status_code == 201, r.text
    trail = await events(c)
    latest = {e["type"]: e for e in reversed(trail)}
    for kind in ("project_stopped", "project_started", "created"):
        assert (latest[kind]["actor"], latest[kind]["actor_issuer"]) == (
            "alice", "https://idp.example"), kind
    assert latest["created"]["function"] == "via-dialect"
