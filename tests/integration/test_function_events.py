"""Audit events: recorded with the actor for every change, read with ``GET …/events``."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from executors import BuildResult
from tests.conftest import auth
from tests.integration.test_functions_api import assert_error

OPS = auth("read:jobs", sub="ops")
ALICE = auth("write:functions read:functions", sub="alice")
BOB = auth("write:functions", sub="bob")
CODE = "def handler(event):\n    return event\n"


async def _events(client: httpx.AsyncClient, ref: str, **params: Any) -> list[dict]:
    r = await client.get(f"/api/v1/functions/{ref}/events", params=params, headers=OPS)
    assert r.status_code == 200, r.text
    events: list[dict] = r.json()["events"]
    return events


def _kinds(events: list[dict]) -> list[tuple[str, str | None]]:
    return [(e["type"], e["actor"]) for e in events]


async def test_create_update_and_delete_are_recorded_with_their_actor(
    client: httpx.AsyncClient,
) -> None:
    r = await client.post("/api/v1/functions", headers=ALICE, json={
        "name": "audited", "runtime": "python", "code": CODE,
        "triggers": [{"type": "http", "config": {"path": "/audited"}}]})
    assert r.status_code == 201, r.text
    function_id = r.json()["id"]
    r = await client.put("/api/v1/functions/audited", headers=BOB,
                         json={"description": "now described", "timeout_ms": 5000})
    assert r.status_code == 200
    r = await client.put("/api/v1/functions/audited", headers=ALICE,
                         json={"code": "def handler(event):\n    return 2\n"})
    assert r.status_code == 200 and r.json()["active_version"] == 2

    events = await _events(client, "audited")
    assert _kinds(events) == [("deployed", "alice"), ("updated", "alice"), ("updated", "bob"),
                              ("trigger_added", "alice"), ("created", "alice")]
    deployed, code_update, update, trigger, created = events
    assert created["metadata"] == {"version": 1, "runtime": "python", "status": "ready"}
    assert created["description"] == "function 'audited' created (python, version 1)"
    assert trigger["metadata"]["trigger_type"] == "http"
    assert "/audited" in trigger["description"]
    assert update["metadata"] == {"fields": ["description", "timeout_ms"]}
    assert code_update["metadata"] == {"fields": ["code"]}
    assert deployed["metadata"] == {"version": 2, "status": "ready"}
    assert [e["id"] for e in events] == sorted((e["id"] for e in events), reverse=True)
    assert all(e["created_at"].endswith("Z") for e in events)
    assert set(created) == {"id", "type", "description", "metadata", "actor", "actor_issuer",
                            "created_at"}

    assert (await client.delete("/api/v1/functions/audited", headers=BOB)).status_code == 204
    # A deleted function's trail stays readable by its name and its id.
    for ref in ("audited", str(function_id)):
        after = await _events(client, ref)
        assert after[0]["type"] == "deleted" and after[0]["actor"] == "bob"
        assert after[0]["description"] == "function 'audited' deleted"
        assert len(after) == 6
    # A new function of the same name starts a trail of its own.
    r = await client.post("/api/v1/functions", headers=ALICE,
                          json={"name": "audited", "runtime": "python", "code": CODE})
    assert _kinds(await _events(client, "audited")) == [("created", "alice")]


async def test_trigger_changes_are_recorded(client: httpx.AsyncClient) -> None:
    await client.post("/api/v1/functions", headers=ALICE,
                      json={"name": "trig", "runtime": "python", "code": CODE})
    r = await client.post("/api/v1/functions/trig/triggers", headers=BOB, json={
        "type": "cron", "name": "nightly", "config": {"schedule": "0 3 * * *"}})
    assert r.status_code == 201, r.text
    trigger_id = r.json()["id"]
    r = await client.delete(f"/api/v1/functions/trig/triggers/{trigger_id}", headers=ALICE)
    assert r.status_code == 204
    events = await _events(client, "trig")
    assert _kinds(events) == [("trigger_removed", "alice"), ("trigger_added", "bob"),
                              ("created", "alice")]
    for event in events[:2]:
        assert event["metadata"] == {"trigger_id": trigger_id, "trigger_type": "cron",
                                     "trigger_name": "nightly"}
    assert events[1]["description"] == f"cron trigger {trigger_id} (0 3 * * *) added"
    # A failed change records nothing: the event is in the change's transaction.
    r = await client.delete(f"/api/v1/functions/trig/triggers/{trigger_id}", headers=ALICE)
    assert_error(r, 404, "TRIGGER_NOT_FOUND")
    r = await client.post("/api/v1/functions", headers=ALICE,
                          json={"name": "trig", "runtime": "python", "code": CODE})
    assert_error(r, 409, "CONFLICT")
    assert len(await _events(client, "trig")) == 3


async def test_builds_record_activated_and_build_failed(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch,
) -> None:
    services = client.app.state.services  # type: ignore[attr-defined]
    outcomes = iter([BuildResult(ok=False, log="ERROR: no matching distribution", path=None),
                     BuildResult(ok=True, log="installed", path=None)])

    async def fake_build(runtime: str, dependencies: list[str], **_: Any) -> BuildResult:
        return next(outcomes)

    monkeypatch.setattr(services.pools.builder, "build", fake_build)
    await client.post("/api/v1/functions", headers=ALICE,
                      json={"name": "built", "runtime": "python", "code": CODE})
    for deps in (["nope==1.0"], ["six==1.16.0"]):
        r = await client.put("/api/v1/functions/built", headers=BOB,
                             json={"dependencies": deps})
        assert r.status_code == 200, r.text
        await services.builds.wait_idle()
    events = await _events(client, "built")
    assert _kinds(events) == [
        ("activated", "bob"), ("deployed", "bob"), ("updated", "bob"),
        ("build_failed", "bob"), ("deployed", "bob"), ("updated", "bob"), ("created", "alice")]
    assert events[0]["metadata"] == {"version": 3}
    assert events[1]["metadata"] == {"version": 3, "status": "building"}
    assert events[3]["metadata"]["version"] == 2
    assert "no matching distribution" in events[3]["metadata"]["build_log"]
    assert (await client.get("/api/v1/functions/built", headers=ALICE)).json()[
        "active_version"] == 3


async def test_limit_keeps_the_newest(client: httpx.AsyncClient) -> None:
    await client.post("/api/v1/functions", headers=ALICE,
                      json={"name": "many", "runtime": "python", "code": CODE})
    for n in range(3):
        await client.put("/api/v1/functions/many", headers=ALICE,
                         json={"description": str(n)})
    events = await _events(client, "many", limit=2)
    assert _kinds(events) == [("updated", "alice"), ("updated", "alice")]


@pytest.mark.parametrize("limit", ["0", "1001", "all"])
async def test_a_bad_limit_is_a_400(client: httpx.AsyncClient, limit: str) -> None:
    await client.post("/api/v1/functions", headers=ALICE,
                      json={"name": "calc", "runtime": "python", "code": CODE})
    r = await client.get("/api/v1/functions/calc/events", params={"limit": limit},
                         headers=OPS)
    body = assert_error(r, 400, "INVALID_REQUEST")
    assert body["error"]["details"] == {"parameter": "limit"}


async def test_unknown_function_404_and_missing_scope_403(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/functions/ghost/events", headers=OPS)
    body = assert_error(r, 404, "FUNCTION_NOT_FOUND")
    assert body["error"]["message"] == "function 'ghost' does not exist"
    r = await client.get("/api/v1/functions/123456/events", headers=OPS)
    assert_error(r, 404, "FUNCTION_NOT_FOUND")
    await client.post("/api/v1/functions", headers=ALICE,
                      json={"name": "calc", "runtime": "python", "code": CODE})
    r = await client.get("/api/v1/functions/calc/events", headers=ALICE)
    body = assert_error(r, 403, "FORBIDDEN")
    assert body["error"]["details"] == {"required_scope": "read:jobs"}
    assert_error(await client.get("/api/v1/functions/calc/events"), 401, "UNAUTHORIZED")
