"""Go and Rust functions through the API: deploy builds them, then sync and async
invocations, sessions (seed 002's calculator) and HTTP triggers run them.

The sources here are few and fixed, so their builds are cached (per replica, under the
builds base) after the first run. Needs the toolchains: skipped without them, except
under CI=true.
"""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import IN_CI, auth, wait_for
from tests.integration.test_functions_api import READER, WRITER, assert_error, create
from tests.integration.test_http_triggers import add_trigger
from tests.integration.test_invoke_api import finished_job, invoke
from tests.integration.test_sessions import SCHEMA

GO_ECHO = ("package main\n\nfunc Handler(event map[string]any) (any, error) {\n"
           "\treturn event, nil\n}\n")
RUST_ECHO = ("fn handler(event: Value, _ctx: &Context) -> Result<Value, "
             "Box<dyn std::error::Error>> {\n    Ok(event)\n}\n")
ECHO = {"go": GO_ECHO, "rust": RUST_ECHO}

GO_CALCULATOR = """package main

import "errors"

func Handler(params map[string]any) (any, error) {
	raw, _ := params["values"].([]any)
	v := make([]float64, len(raw))
	for i, x := range raw {
		v[i], _ = x.(float64)
	}
	acc := 0.0
	switch params["operation"] {
	case "add":
		for _, x := range v {
			acc += x
		}
	case "subtract":
		acc = v[0]
		for _, x := range v[1:] {
			acc -= x
		}
	case "multiply":
		acc = 1
		for _, x := range v {
			acc *= x
		}
	case "divide":
		acc = v[0]
		for _, x := range v[1:] {
			if x == 0 {
				return nil, errors.New("division by zero")
			}
			acc /= x
		}
	}
	return map[string]any{"value": acc}, nil
}
"""
RUST_CALCULATOR = """type Outcome = Result<Value, Box<dyn std::error::Error>>;

fn handler(params: Value, _ctx: &Context) -> Outcome {
    let v: Vec<f64> = params["values"].as_array().map(|a| a.iter()
        .filter_map(Value::as_f64).collect()).unwrap_or_default();
    let value = match params["operation"].as_str() {
        Some("add") => v.iter().sum(),
        Some("subtract") => v.iter().skip(1).fold(v[0], |a, b| a - b),
        Some("multiply") => v.iter().product(),
        Some("divide") => {
            if v.iter().skip(1).any(|x| *x == 0.0) {
                return Err("division by zero".into());
            }
            v.iter().skip(1).fold(v[0], |a, b| a / b)
        }
        _ => return Err("unknown operation".into()),
    };
    Ok(json!({"value": value}))
}
"""
CALCULATOR = {"go": GO_CALCULATOR, "rust": RUST_CALCULATOR}
RUNNER = auth("execute:all")


@pytest.fixture
async def toolchains(client: httpx.AsyncClient) -> httpx.AsyncClient:
    """The client of an app whose replica has both toolchains (skip, or fail in CI)."""
    runtimes = (await client.get("/health")).json()["components"]["runtimes"]
    missing = [rt for rt in ("go", "rust") if runtimes.get(rt) != "ok"]
    if missing:
        message = f"no toolchain for {missing} here (deploy/system-packages.sh installs them)"
        if IN_CI:
            pytest.fail(message + " (CI=true)")
        pytest.skip(message)
    return client


async def ready(client: httpx.AsyncClient, name: str, want: str = "ready") -> dict:
    async def check() -> dict | None:
        f = (await client.get(f"/api/v1/functions/{name}", headers=READER)).json()
        return f if f["status"] == want else None

    return dict(await wait_for(check, timeout_s=180, interval_s=0.1))


async def version_one(client: httpx.AsyncClient, name: str) -> dict:
    listing = (await client.get(f"/api/v1/functions/{name}/versions", headers=READER)).json()
    return next(v for v in listing["versions"] if v["version"] == 1)


@pytest.mark.parametrize(("runtime", "alias"), [("go", "go119"), ("rust", "rust1")])
async def test_an_echo_builds_at_deploy_then_round_trips_sync_and_async(
        toolchains: httpx.AsyncClient, runtime: str, alias: str) -> None:
    client = toolchains
    r = await create(client, name="echo", runtime=alias, code=ECHO[runtime])
    assert r.status_code == 201, r.text
    assert r.json()["runtime"] == runtime and r.json()["status"] == "building"
    assert r.json()["language_title"] == f"{runtime}-echo"
    await ready(client, "echo")
    version = await version_one(client, "echo")
    assert version["build_status"] == "success" and version["build_log"]
    first = await invoke(client, "echo", {"x": [1, 2, {"y": "z"}]},
                         headers=auth(f"execute:{runtime}"))
    assert first.status_code == 200, first.text
    assert first.json()["result"] == {"x": [1, 2, {"y": "z"}]} and first.json()["cold_start"]
    second = (await invoke(client, "echo", {"n": 2})).json()
    assert second["result"] == {"n": 2} and second["cold_start"] is False
    queued = await invoke(client, "echo", {"k": "bg"}, path="invoke-async")
    assert queued.status_code == 202, queued.text
    done = await finished_job(client, queued.json()["id"])
    assert done["status"] == "success" and done["result"] == {"k": "bg"}
    assert_error(await invoke(client, "echo", {}, headers=auth("execute:python")),
                 403, "FORBIDDEN")
    caps = (await client.get("/api/v1/provider/capabilities", headers=READER)).json()
    assert runtime in caps["supported_runtimes"]


async def test_a_compile_error_fails_the_version_with_the_line_in_its_build_log(
        toolchains: httpx.AsyncClient) -> None:
    client = toolchains
    code = ("package main\n\nfunc Handler(event map[string]any) (any, error) {\n"
            "\treturn missing, nil\n}\n")
    assert (await create(client, name="broken", runtime="go", code=code)).status_code == 201
    await ready(client, "broken", "failed")
    version = await version_one(client, "broken")
    assert version["build_status"] == "failed"
    log = version["build_log"]
    assert "compile error at line 4" in log and "handler.go:4:" in log and "missing" in log
    assert_error(await invoke(client, "broken", {}), 409, "CONFLICT")
    r = await client.put("/api/v1/functions/broken", headers=WRITER, json={"code": GO_ECHO})
    assert r.status_code == 200, r.text
    await ready(client, "broken")
    assert (await invoke(client, "broken", {"ok": 1})).json()["result"] == {"ok": 1}


@pytest.mark.parametrize("runtime", ["go", "rust"])
async def test_the_calculator_session_flow(toolchains: httpx.AsyncClient, runtime: str) -> None:
    client = toolchains
    r = await client.post("/api/v1/functions", headers=WRITER, json={
        "name": "calculator", "runtime": runtime, "code": CALCULATOR[runtime],
        "schema": SCHEMA})
    assert r.status_code == 201, r.text
    await ready(client, "calculator")
    title = {"Language-Title": f"{runtime}-calculator"}
    r = await client.post("/api/v1/initialize", json={}, headers={**RUNNER, **title})
    assert r.status_code == 200, r.text
    sid = r.json()["request_id"]

    async def execute(params: dict) -> httpx.Response:
        return await client.post(f"/api/v1/execute/{sid}", json={"params": params},
                                 headers=RUNNER)

    add = await execute({"operation": "add", "values": [1, 2, 3]})
    assert add.status_code == 200, add.text
    assert add.json()["result"] == {"value": 6} and add.json()["cached"] is False
    assert add.json()["language_title"] == f"{runtime}-calculator"
    divided = await execute({"operation": "divide", "values": [12, 4]})
    assert divided.json()["result"] == {"value": 3}
    boom = await execute({"operation": "divide", "values": [1, 0]})
    assert boom.status_code == 500, boom.text
    error = boom.json()["error"]
    assert error["code"] == "RUNTIME_ERROR" and "division by zero" in error["message"]
    bad = await execute({"operation": "pow", "values": [1]})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "INVALID_PARAMS"


async def test_a_go_function_behind_an_http_trigger_sets_status_and_body(
        toolchains: httpx.AsyncClient) -> None:
    client = toolchains
    code = ("package main\n\nfunc Handler(event map[string]any) (any, error) {\n"
            "\tquery, _ := event[\"query\"].(map[string]any)\n"
            "\treturn map[string]any{\"statusCode\": 201, \"headers\": map[string]string"
            "{\"X-Fn\": \"go\"}, \"body\": \"made \" + query[\"what\"].(string)}, nil\n}\n")
    assert (await create(client, name="maker", runtime="golang", code=code)).status_code == 201
    await ready(client, "maker")
    r = await add_trigger(client, "maker", {"type": "http", "config": {
        "path": "/make", "method": "GET", "public": True}})
    assert r.status_code == 201, r.text
    r = await client.get("/fn/make?what=tea")
    assert r.status_code == 201 and r.text == "made tea" and r.headers["x-fn"] == "go"

