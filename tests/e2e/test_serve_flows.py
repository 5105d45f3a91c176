"""The README's flows and the main features against ``fngate serve`` (uvloop, the sandbox
on): a token from ``fngate token``, sync and async invokes with their job and logs, a
session, an HTTP trigger and a cron trigger; and the inputs that once answered 500 from it."""

from __future__ import annotations

import time
from typing import Any

import httpx
import jwt
import pytest

from tests.e2e.serve import Gateway, poll

README_SCOPES = "execute:all read:functions write:functions"
# What `curl -d` sends when the README's commands give no Content-Type.
CURL_FORM = {"Content-Type": "application/x-www-form-urlencoded"}

CALCULATOR = """
function handler(event) {
  const values = event.values;
  switch (event.operation) {
    case "add": return {value: values.reduce((a, b) => a + b, 0)};
    case "subtract": return {value: values.slice(1).reduce((a, b) => a - b, values[0])};
    case "multiply": return {value: values.reduce((a, b) => a * b, 1)};
    case "divide":
      if (values.slice(1).includes(0)) throw new Error("division by zero");
      return {value: values.slice(1).reduce((a, b) => a / b, values[0])};
  }
}
"""
CALCULATOR_SCHEMA = {
    "params": {
        "type": "object",
        "properties": {
            "operation": {"type": "string",
                          "enum": ["add", "subtract", "multiply", "divide"]},
            "values": {"type": "array", "items": {"type": "number"}},
        },
        "required": ["operation", "values"],
    },
    "result": {"type": "object", "properties": {"value": {"type": "number"}}},
}


@pytest.fixture(scope="module")
def readme(server: Gateway) -> dict[str, str]:
    """The README's token: ``fngate token --sub alice --scope "execute:all read:functions
    write:functions"``."""
    return server.mint(README_SCOPES)


def job_of(gw: Gateway, headers: dict[str, str], job_id: str) -> dict[str, Any]:
    r = gw.request("GET", f"/api/v1/jobs/{job_id}", headers=headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_readme_first_function_sync_then_async_with_its_job_and_logs(
    server: Gateway, readme: dict[str, str],
) -> None:
    r = server.request("POST", "/api/v1/functions", headers=readme, json={
        "name": "echo", "runtime": "python",
        "code": "def handler(event):\n    print('got', event)\n    return event\n"})
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "ready"

    r = server.request("POST", "/api/v1/functions/echo/invoke",
                       headers={**readme, **CURL_FORM}, content=b'{"hi": 1}')
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "success" and r.json()["result"] == {"hi": 1}
    assert r.headers["X-Job-ID"] == r.json()["id"]

    r = server.request("POST", "/api/v1/functions/echo/invoke?async=true",
                       headers={**readme, **CURL_FORM}, content=b'{"hi": 2}')
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]  # the README's `jq -r .id`
    assert r.headers["Location"] == f"/api/v1/jobs/{job_id}"
    job = poll(lambda: (j := job_of(server, readme, job_id))["status"] in ("success", "failed")
               and j, timeout_s=60, what="the async job")
    assert job["status"] == "success" and job["result"] == {"hi": 2}
    assert job["trigger"] == "invoke"

    r = server.request("GET", f"/api/v1/jobs/{job_id}/logs", headers=readme)
    assert r.status_code == 200, r.text
    assert [line["message"] for line in r.json()["logs"]] == ["got {'hi': 2}"]


def test_readme_nodejs_function(server: Gateway, readme: dict[str, str]) -> None:
    r = server.request("POST", "/api/v1/functions", headers=readme, json={
        "name": "echo-node", "runtime": "nodejs",
        "code": "function handler(event) { return event }"})
    assert r.status_code == 201, r.text
    r = server.request("POST", "/api/v1/functions/echo-node/invoke", headers=readme,
                       json={"hi": 3})
    assert r.status_code == 200 and r.json()["result"] == {"hi": 3}, r.text


COMPILED_ECHO = {
    "go": "func Handler(event map[string]any) (any, error) { return event, nil }\n",
    "rust": "fn handler(event: Value, _ctx: &Context) -> Result<Value, "
            "Box<dyn std::error::Error>> { Ok(event) }\n",
}


@pytest.mark.parametrize("runtime", ["go", "rust"])
def test_compiled_echo_builds_then_round_trips_sync_and_async(
    server: Gateway, readme: dict[str, str], runtime: str,
) -> None:
    name = f"echo-{runtime}"
    r = server.request("POST", "/api/v1/functions", headers=readme, json={
        "name": name, "runtime": runtime, "code": COMPILED_ECHO[runtime]})
    assert r.status_code == 201 and r.json()["status"] == "building", r.text
    function = poll(lambda: (f := server.request("GET", f"/api/v1/functions/{name}",
                                                 headers=readme).json())["status"] != "building"
                    and f, timeout_s=300, what=f"the {runtime} build",
                    interval_s=1.5)  # under the read rate limit (60/minute) for a long build
    assert function["status"] == "ready", server.log_tail()
    r = server.request("POST", f"/api/v1/functions/{name}/invoke", headers=readme,
                       json={"hi": runtime})
    assert r.status_code == 200 and r.json()["result"] == {"hi": runtime}, r.text
    r = server.request("POST", f"/api/v1/functions/{name}/invoke?async=true", headers=readme,
                       json={"again": 1})
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    job = poll(lambda: (j := job_of(server, readme, job_id))["status"] in ("success", "failed")
               and j, timeout_s=60, what="the async job")
    assert job["status"] == "success" and job["result"] == {"again": 1}


def test_session_initialize_and_execute_the_calculator(server: Gateway) -> None:
    headers = server.mint("execute:nodejs write:functions read:functions", sub="carol")
    r = server.request("POST", "/api/v1/functions", headers=headers, json={
        "name": "calculator", "runtime": "nodejs", "code": CALCULATOR,
        "schema": CALCULATOR_SCHEMA})
    assert r.status_code == 201, r.text

    r = server.request("POST", "/api/v1/initialize",
                       headers={**headers, "Language-Title": "nodejs-calculator"}, json={})
    assert r.status_code == 200, r.text
    session = r.json()["request_id"]
    assert r.json()["status"] == "initialized"

    def execute(params: dict[str, Any]) -> Any:
        return server.request("POST", f"/api/v1/execute/{session}", headers=headers,
                              json={"params": params})

    add = {"operation": "add", "values": [1, 2, 3]}
    first, second = execute(add), execute(add)
    assert first.status_code == 200, first.text
    assert first.json()["result"] == {"value": 6} and first.json()["cached"] is False
    assert first.json()["language_title"] == "nodejs-calculator"
    assert second.json()["result"] == {"value": 6} and second.json()["cached"] is True

    r = execute({"operation": "pow", "values": [2, 3]})
    assert r.status_code == 400 and r.json()["error"]["code"] == "INVALID_PARAMS", r.text
    r = execute({"operation": "divide", "values": [1, 0]})
    assert r.status_code == 500 and r.json()["error"]["code"] == "RUNTIME_ERROR", r.text

    r = server.request("GET", f"/api/v1/sessions/{session}", headers=headers)
    assert r.status_code == 200 and r.json()["execution_count"] >= 3, r.text
    assert server.request("DELETE", f"/api/v1/sessions/{session}",
                          headers=headers).status_code == 204


def test_http_trigger_serves_the_function_publicly(
    server: Gateway, readme: dict[str, str],
) -> None:
    r = server.request("POST", "/api/v1/functions", headers=readme, json={
        "name": "greeter", "runtime": "python",
        "code": "def handler(event):\n"
                "    return {'statusCode': 201, 'headers': {'x-greeting': 'hi'},\n"
                "            'body': {'method': event['method'], 'who': event['query']}}\n",
        "triggers": [{"type": "http", "config": {"path": "/hello", "methods": ["GET", "POST"],
                                                 "public": True}}]})
    assert r.status_code == 201, r.text

    # Trigger changes reach the router within seconds.
    def served() -> httpx.Response | None:
        resp = server.request("GET", "/fn/hello?who=bob")
        return resp if resp.status_code != 404 else None

    r = poll(served, timeout_s=10, what="the HTTP trigger's route")
    assert r.status_code == 201, r.text
    assert r.headers["x-greeting"] == "hi"
    assert r.json() == {"method": "GET", "who": {"who": "bob"}}


def test_cron_trigger_with_a_seconds_field_fires(
    server: Gateway, readme: dict[str, str],
) -> None:
    r = server.request("POST", "/api/v1/functions", headers=readme, json={
        "name": "ticker", "runtime": "python",
        "code": "def handler(event):\n    return event['payload']\n"})
    assert r.status_code == 201, r.text
    r = server.request("POST", "/api/v1/functions/ticker/triggers", headers=readme, json={
        "type": "cron", "config": {"schedule": "*/2 * * * * *", "payload": {"tick": True}}})
    assert r.status_code == 201, r.text
    assert r.json()["next_run_at"]

    reader = server.mint("read:functions read:jobs")

    def fired() -> list[dict[str, Any]]:
        resp = server.request("GET", "/api/v1/functions/ticker/jobs?status=success",
                              headers=reader)
        assert resp.status_code == 200, resp.text
        return [j for j in resp.json()["jobs"] if j["trigger"] == "cron"]

    jobs = poll(fired, timeout_s=30, interval_s=0.5, what="a cron run")
    assert jobs[0]["result"] == {"tick": True}



def _deep(levels: int) -> str:
    return '{"a":' * (levels - 1) + "{}" + "}" * (levels - 1)


def test_the_inputs_that_reached_a_500_are_client_errors_under_fngate_serve(
    server: Gateway, readme: dict[str, str],
) -> None:
    """Each input that answered 500 from ``fngate serve`` (Hypercorn's decoding of the
    target, uvloop) answers its 4xx here, and the names the seeds write are accepted."""
    py = {"runtime": "python", "code": "def handler(event):\n    return event\n"}
    r = server.request("POST", "/api/v1/functions", headers=readme,
                       json={"name": "myFunction", **py,
                             "resources": {"cpu": "500m", "memory": "128Mi"},
                             "schema": {"params": {"type": "object", "properties": {
                                 "operation": {"enum": ["add"]}}}}})
    assert r.status_code == 201, r.text
    assert (r.json()["cpu_millis"], r.json()["memory_mb"]) == (500, 128)
    r = server.request("PUT", "/api/v1/functions/myfunction", headers=readme,
                       json={"name": "myUpdatedFunction"})
    assert r.status_code == 200 and r.json()["language_title"] == "python-myUpdatedFunction"

    expires = int(time.time()) + 600
    secret = (server.data_dir / "jwt_secret").read_text().strip()
    as_text = jwt.encode({"sub": "alice", "scope": "admin", "exp": str(expires)},
                         secret, algorithm="HS256")
    fn = "/api/v1/functions"
    cases: list[tuple[str, str, dict[str, Any], int, str]] = [
        *[(method, f"{fn}/a%00{tail}", {}, 400, "INVALID_REQUEST")
          for method, tail in (("GET", ""), ("PUT", ""), ("DELETE", ""), ("POST", "/invoke"),
                               ("GET", "/jobs"), ("GET", "/versions"), ("GET", "/triggers"),
                               ("POST", "/rollback"))],
        ("GET", f"{fn}?project=a%00", {}, 400, "INVALID_REQUEST"),
        ("GET", f"{fn}?label=k:a%00", {}, 400, "INVALID_REQUEST"),
        ("GET", "/fn/a%00", {"auth": False}, 400, "INVALID_REQUEST"),
        ("POST", fn, {"json": {"name": "t", **py,
                               "triggers": [{"type": {}, "config": {"path": "/"}}]}},
         400, "INVALID_REQUEST"),
        ("POST", f"{fn}/myUpdatedFunction/invoke", {"content": _deep(129)},
         400, "INVALID_REQUEST"),
        ("POST", f"{fn}/myUpdatedFunction/invoke", {"json": {"operation": "pow"}},
         400, "INVALID_PARAMS"),
        ("GET", fn, {"headers": {"Authorization": f"Bearer {as_text}"}}, 401, "UNAUTHORIZED"),
        ("POST", fn, {"json": {"name": "u", **py, "evil": 1}}, 400, "INVALID_REQUEST"),
        ("POST", fn, {"json": {"name": "u", **py, "image": "python:3.11"}},
         400, "INVALID_REQUEST"),
    ]
    wrong = []
    for method, path, options, status, code in cases:
        kwargs = {k: v for k, v in options.items() if k != "auth"}
        if options.get("auth", True):
            kwargs["headers"] = {**readme, **kwargs.get("headers", {})}
        r = server.request(method, path, **kwargs)
        if r.status_code != status or r.json()["error"]["code"] != code:
            wrong.append((method, path, r.status_code, r.text[:200]))
    assert wrong == []
    r = server.request("POST", f"{fn}/myUpdatedFunction/invoke", headers=readme,
                       content=_deep(128))
    assert r.status_code == 200 and r.json()["status"] == "success", r.text
