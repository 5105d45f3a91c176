"""The project-functions document's examples (seed 003), verbatim, under
``/compat/project-functions``: each of its example requests (base URL and token aside),
answered in its shapes, over the same functions and projects as the native API."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.conftest import wait_for
from tests.dialect_examples.harness import Api, Flow

__all__ = ["ADMIN", "BASE", "FLOWS", "READER", "REGISTRY_FLOWS", "WRITER", "assert_error",
           "deploy"]

BASE = "/compat/project-functions"
ADMIN = "admin"
WRITER = "write:functions execute:all read:functions"
READER = "read:functions"

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")

# The document's handler: takes the JSON body, returns the function's result.
CODE = (
    "import os\n\n"
    "def handler(event):\n"
    "    return {'got': event, 'api_key': os.environ.get('API_KEY')}\n"
)
SIX_CODE = "import six\n\ndef handler(event):\n    return {'six': six.__version__}\n"
FAILING = "def handler(event):\n    raise ValueError('bad input')\n"


def assert_error(r: httpx.Response, status: int, code: str, field: Any = ...) -> dict[str, Any]:
    """The document's error shape: ``{status: error, code, message, details: {field,
    reason}}``."""
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"status", "code", "message", "details"}, body
    assert body["status"] == "error" and body["code"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    assert set(body["details"]) == {"field", "reason"}, body
    if field is not ...:
        assert body["details"]["field"] == field, body
    return body


async def deploy(api: Api, project: str, name: str, code: str = CODE,
                 **fields: str) -> httpx.Response:
    """``POST /api/v1/functions/{project_name}/deploy`` as the document's multipart form."""
    files: dict[str, Any] = {"code": ("main.py", code.encode(), "text/x-python")}
    if "requirements" in fields:
        files["requirements"] = ("requirements.txt", fields.pop("requirements").encode(),
                                 "text/plain")
    return await api.client.post(f"{BASE}/api/v1/functions/{project}/deploy",
                                 headers=api.mint(WRITER),
                                 data={"function_name": name, **fields}, files=files)


async def every_example_of_the_document(api: Api) -> None:
    client = api.client
    admin, writer, reader = api.mint(ADMIN), api.mint(WRITER), api.mint(READER)
    # 基础接口: GET /health, GET /status (no token, as the native probes).
    r = await client.get(f"{BASE}/health")
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"status", "version", "timestamp"}
    assert body["status"] == "healthy" and TIMESTAMP.match(body["timestamp"])

    r = await client.get(f"{BASE}/status")
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"status", "uptime", "active_projects", "total_functions",
                         "memory_usage"}
    assert body["status"] == "running" and re.fullmatch(r"(\d+h )?\d+m", body["uptime"])
    assert re.fullmatch(r"\d+MB", body["memory_usage"])
    assert body["total_functions"] == 0

    # 部署函数: multipart with function_name, code, requirements, env_vars (a JSON object).
    r = await deploy(api, "project1", "func1", env_vars='{"API_KEY": "your_api_key"}')
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "success" and body["message"] == "Function deployed successfully"
    assert set(body["function"]) == {"name", "project", "status", "deployed_at"}
    assert body["function"]["name"] == "func1" and body["function"]["project"] == "project1"
    assert body["function"]["status"] == "active"
    assert TIMESTAMP.match(body["function"]["deployed_at"])

    # 调用函数: POST …/invoke with the document's body.
    r = await client.post(f"{BASE}/api/v1/functions/project1/func1/invoke", headers=writer,
                          json={"key": "value"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"status", "result", "execution_time", "timestamp"}
    assert body["status"] == "success"
    assert body["result"] == {"got": {"key": "value"}, "api_key": "your_api_key"}
    assert re.fullmatch(r"\d+(\.\d+)?s", body["execution_time"])
    assert TIMESTAMP.match(body["timestamp"])

    # 获取函数列表 / 获取函数详情.
    r = await client.get(f"{BASE}/api/v1/functions/project1", headers=reader)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "success"
    [listed] = body["functions"]
    assert set(listed) == {"name", "description", "status", "last_executed"}
    assert listed["name"] == "func1" and listed["status"] == "active"
    assert TIMESTAMP.match(listed["last_executed"])

    r = await client.get(f"{BASE}/api/v1/functions/project1/func1", headers=reader)
    assert r.status_code == 200, r.text
    function = r.json()["function"]
    assert set(function) == {"name", "description", "parameters", "status", "created_at",
                             "updated_at", "last_executed", "execution_count"}
    assert function["execution_count"] == 1 and function["parameters"] == {}

    # 项目管理接口: list, detail, stop, start.
    r = await client.get(f"{BASE}/api/v1/projects", headers=reader)
    assert r.status_code == 200, r.text
    projects = {p["name"]: p for p in r.json()["data"]}
    assert set(projects["project1"]) == {"name", "status", "functions", "created_at",
                                         "updated_at"}
    assert projects["project1"]["functions"] == ["func1"]
    assert projects["project1"]["status"] == "running"

    r = await client.get(f"{BASE}/api/v1/projects/project1", headers=admin)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert set(data) == {"name", "status", "functions", "env", "dependencies", "created_at",
                         "updated_at"}
    assert data["functions"][0]["name"] == "func1" and data["env"] == {}

    r = await client.post(f"{BASE}/api/v1/projects/project1/stop", headers=admin)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "success" and body["message"] == "项目停止成功"
    assert set(body["project"]) == {"name", "status", "stop_time"}
    assert body["project"]["status"] == "stopped"
    r = await client.post(f"{BASE}/api/v1/functions/project1/func1/invoke", headers=writer,
                          json={"key": "value"})
    assert_error(r, 409, "PROJECT_STOPPED")
    r = await client.post(f"{BASE}/api/v1/projects/project1/start", headers=admin)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["message"] == "项目启动成功" and set(body["project"]) == {"name", "status",
                                                                       "start_time"}
    assert body["project"]["status"] == "running"

    # 环境变量 / 依赖: the system layer (admin) and the project's.
    for path in ("/api/v1/env/system", "/api/v1/projects/project1/env"):
        r = await client.get(BASE + path, headers=admin)
        assert r.status_code == 200 and r.json() == {"status": "success", "data": {}}, r.text
    for path in ("/api/v1/dependencies/system", "/api/v1/projects/project1/dependencies"):
        r = await client.get(BASE + path, headers=admin)
        assert r.status_code == 200 and r.json() == {"status": "success", "data": []}, r.text

    # 删除函数.
    r = await client.delete(f"{BASE}/api/v1/functions/project1/func1", headers=writer)
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "success", "message": "Function deleted successfully"}
    r = await client.get(f"{BASE}/api/v1/functions/project1/func1", headers=reader)
    assert_error(r, 404, "FUNCTION_NOT_FOUND")


async def deployed_function_is_native_and_env_vars_take_key_value_lines(api: Api) -> None:
    client = api.client
    admin, writer, reader = api.mint(ADMIN), api.mint(WRITER), api.mint(READER)
    r = await deploy(api, "shop", "calc", env_vars="# the key\nAPI_KEY=from-lines\n\nX=1")
    assert r.status_code == 200, r.text
    r = await client.get("/api/v1/functions/calc", headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["project"] == "shop" and r.json()["runtime"] == "python"
    assert r.json()["environment"] == {"API_KEY": "from-lines", "X": "1"}
    r = await client.post("/api/v1/functions/calc/invoke", headers=writer, json={"n": 1})
    assert r.status_code == 200 and r.json()["result"]["api_key"] == "from-lines", r.text

    # A second deploy of the name is a new version of the same function.
    r = await deploy(api, "shop", "calc", code=CODE.replace("'got'", "'v2'"))
    assert r.status_code == 200, r.text
    r = await client.get("/api/v1/functions/calc", headers=admin)
    assert r.json()["active_version"] == 2
    assert r.json()["environment"] == {"API_KEY": "from-lines", "X": "1"}  # kept

    # Another project's function of that name: names are unique across projects.
    assert_error(await deploy(api, "other", "calc"), 409, "CONFLICT", "function_name")
    # Not this project's: as if it did not exist.
    r = await client.get(f"{BASE}/api/v1/functions/default/calc", headers=reader)
    assert_error(r, 404, "FUNCTION_NOT_FOUND")
    r = await client.get(f"{BASE}/api/v1/functions/other/calc", headers=reader)
    assert_error(r, 404, "PROJECT_NOT_FOUND")


async def errors_are_in_the_documents_shape(api: Api) -> None:
    client = api.client
    writer, reader = api.mint(WRITER), api.mint(READER)
    r = await client.get(f"{BASE}/api/v1/projects/nope", headers=reader)
    assert_error(r, 404, "PROJECT_NOT_FOUND")
    r = await client.get(f"{BASE}/api/v1/no/such/route", headers=reader)
    assert_error(r, 404, "NOT_FOUND")

    r = await client.get(f"{BASE}/api/v1/projects")
    assert_error(r, 401, "AUTHENTICATION_ERROR")
    assert r.headers["www-authenticate"].startswith("Bearer")
    r = await client.get(f"{BASE}/api/v1/env/system", headers=reader)
    assert_error(r, 403, "AUTHORIZATION_ERROR", "admin")

    # Bad env_vars and requirements: the document's ENV_ERROR and DEPENDENCY_ERROR.
    assert_error(await deploy(api, "shop", "f1", env_vars="NOT A PAIR"), 400, "ENV_ERROR",
                 "env_vars")
    assert_error(await deploy(api, "shop", "f1", env_vars='{"A": 1}'), 400, "ENV_ERROR",
                 "env_vars")
    assert_error(await deploy(api, "shop", "f1", env_vars="1BAD=x"), 400, "ENV_ERROR",
                 "environment")
    assert_error(await deploy(api, "shop", "f1", requirements="--index-url http://x\n"),
                 400, "DEPENDENCY_ERROR")
    r = await client.post(f"{BASE}/api/v1/functions/shop/deploy", headers=writer,
                          files={"code": ("main.py", b"x", "text/plain")})
    assert_error(r, 400, "INVALID_PARAMETERS", "function_name")

    # A failed run: EXECUTION_ERROR with the run's own reason.
    assert (await deploy(api, "shop", "boom", code=FAILING)).status_code == 200
    r = await client.post(f"{BASE}/api/v1/functions/shop/boom/invoke", headers=writer,
                          json={})
    body = assert_error(r, 500, "EXECUTION_ERROR")
    assert "bad input" in body["details"]["reason"]


async def deploy_with_requirements_example(api: Api) -> None:
    """部署函数 with its optional requirements file: the deploy answers at once (the
    dependencies build meanwhile), the function is active once they are built and runs
    with them. Needs the package registry."""
    client, reader, writer = api.client, api.mint(READER), api.mint(WRITER)
    r = await deploy(api, "project1", "func1", code=SIX_CODE, requirements="six==1.16.0\n")
    assert r.status_code == 200, r.text
    assert r.json()["function"]["status"] in ("building", "active")

    async def built() -> str | None:
        r = await client.get(f"{BASE}/api/v1/functions/project1/func1", headers=reader)
        assert r.status_code == 200, r.text
        status: str = r.json()["function"]["status"]
        return None if status == "building" else status

    # Under the read limit (60/minute) for a long build.
    assert await wait_for(built, timeout_s=240, interval_s=1.5) == "active"
    r = await client.post(f"{BASE}/api/v1/functions/project1/func1/invoke", headers=writer,
                          json={"key": "value"})
    assert r.status_code == 200 and r.json()["result"] == {"six": "1.16.0"}, r.text


#: The flows that build dependencies (they need the package registry).
REGISTRY_FLOWS: dict[str, Flow] = {
    "deploy_with_requirements_example": deploy_with_requirements_example,
}

FLOWS: dict[str, Flow] = {
    "every_example_of_the_document": every_example_of_the_document,
    "deployed_function_is_native_and_env_vars_take_key_value_lines":
        deployed_function_is_native_and_env_vars_take_key_value_lines,
    "errors_are_in_the_documents_shape": errors_are_in_the_documents_shape,
}
