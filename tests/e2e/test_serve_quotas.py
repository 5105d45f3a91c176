"""Project quotas and the project audit trail against ``fngate serve`` (issue 16): the
operator sets the quotas, a tenant's next function and its next concurrent call are
refused with 429 ``QUOTA_EXCEEDED``, it cannot raise its own quotas, and the project's
events name who did what."""

from __future__ import annotations

import threading
from typing import Any

import httpx

from tests.e2e.serve import Gateway, poll

PROJECT = "quota-e2e"
TENANT_SCOPES = " ".join(f"{scope}@{PROJECT}" for scope in (
    "admin", "read:functions", "write:functions", "execute:all", "read:jobs"))
SLOW = "import time\n\ndef handler(event):\n    time.sleep(event.get('s', 0))\n    return event\n"


def _quota(r: httpx.Response, quota: str) -> dict[str, Any]:
    assert r.status_code == 429, r.text
    error: dict[str, Any] = r.json()["error"]
    assert error["code"] == "QUOTA_EXCEEDED" and error["details"]["quota"] == quota, error
    return error


def test_quotas_refuse_the_next_function_and_call_and_the_trail_names_the_actors(
    server: Gateway,
) -> None:
    ops, tenant = server.mint(sub="ops"), server.mint(TENANT_SCOPES, sub="tenant-e2e")
    r = server.request("POST", "/api/v1/projects", headers=ops, json={
        "name": PROJECT, "quotas": {"max_functions": 2, "max_concurrency": 1}})
    assert r.status_code == 201, r.text
    r = server.request("PUT", f"/api/v1/projects/{PROJECT}", headers=tenant,
                       json={"quotas": {"max_functions": 50}})
    assert r.status_code == 403 and r.json()["error"]["code"] == "FORBIDDEN", r.text

    for name in ("q-slow", "q-other"):
        r = server.request("POST", "/api/v1/functions", headers=tenant, json={
            "name": name, "runtime": "python", "code": SLOW, "project": PROJECT,
            "timeout_ms": 20_000})
        assert r.status_code == 201, r.text
    r = server.request("POST", "/api/v1/functions", headers=tenant, json={
        "name": "q-third", "runtime": "python", "code": SLOW, "project": PROJECT})
    error = _quota(r, "max_functions")
    assert error["details"] == {"project": PROJECT, "quota": "max_functions", "limit": 2,
                                "current": 2}

    answers: list[httpx.Response] = []
    holder = threading.Thread(target=lambda: answers.append(server.request(
        "POST", "/api/v1/functions/q-slow/invoke", headers=tenant, json={"s": 4})))
    holder.start()
    try:
        def running() -> bool:
            r = server.request("GET", "/api/v1/functions/q-slow/metrics", headers=tenant)
            return bool(r.status_code == 200 and r.json()["concurrency"]["current"] == 1)

        poll(running, timeout_s=30, what="q-slow running")
        r = server.request("POST", "/api/v1/functions/q-other/invoke", headers=tenant,
                           json={})
        _quota(r, "max_concurrency")
        assert r.headers["retry-after"] == "1"
    finally:
        holder.join(timeout=60)
    assert answers and answers[0].status_code == 200, answers
    assert answers[0].json()["status"] == "success", answers[0].text
    r = server.request("POST", "/api/v1/functions/q-other/invoke", headers=tenant,
                       json={"n": 1})
    assert r.status_code == 200 and r.json()["result"] == {"n": 1}, r.text

    r = server.request("GET", f"/api/v1/projects/{PROJECT}/events", headers=tenant)
    assert r.status_code == 200, r.text
    trail = [(e["type"], e["function"], e["actor"]) for e in reversed(r.json()["events"])]
    assert trail == [("project_created", None, "ops"), ("created", "q-slow", "tenant-e2e"),
                     ("created", "q-other", "tenant-e2e")], trail
