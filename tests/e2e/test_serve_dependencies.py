"""Dependency builds under ``fngate serve`` (uvloop, the sandbox on, real pip and npm):
a function's own list (Python and Node.js), a multipart deploy with a requirements file,
and the project's and the system's lists layered under a function's."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.serve import Gateway, poll

BUILD_TIMEOUT_S = 240  # a first build downloads from the registry

SIX_CODE = "import six\n\ndef handler(event):\n    return {'six': six.__version__}\n"
LEFT_PAD_CODE = (
    "const leftPad = require('left-pad');\n"
    "exports.handler = async (event) => ({padded: leftPad(event.s, 5, '0')});\n"
)


def need_registries() -> None:
    from tests.conftest import need_service

    need_service("PyPI (pypi.org)", "pypi.org", 443)
    need_service("PyPI files (files.pythonhosted.org)", "files.pythonhosted.org", 443)
    need_service("the npm registry (registry.npmjs.org)", "registry.npmjs.org", 443)


@pytest.fixture(scope="module")
def gw(server: Gateway) -> Gateway:
    need_registries()
    return server


@pytest.fixture(scope="module")
def admin(gw: Gateway) -> dict[str, str]:
    return gw.mint()


def create(gw: Gateway, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    r = gw.request("POST", "/api/v1/functions", headers=headers, json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


def wait_ready(gw: Gateway, headers: dict[str, str], name: str) -> dict[str, Any]:
    """Poll the function until its build is over; fail with the build log if it failed."""
    def built() -> dict[str, Any] | None:
        r = gw.request("GET", f"/api/v1/functions/{name}", headers=headers)
        assert r.status_code == 200, r.text
        return r.json() if r.json()["status"] != "building" else None

    function = poll(built, timeout_s=BUILD_TIMEOUT_S, what=f"the build of {name}")
    if function["status"] != "ready":
        versions = gw.request("GET", f"/api/v1/functions/{name}/versions", headers=headers)
        pytest.fail(f"{name}: {function['status']}\n{versions.text[-3000:]}\n{gw.log_tail()}")
    return function


def invoke(gw: Gateway, headers: dict[str, str], name: str, event: Any) -> dict[str, Any]:
    r = gw.request("POST", f"/api/v1/functions/{name}/invoke", headers=headers, json=event)
    assert r.status_code == 200, r.text
    job = r.json()
    assert job["status"] == "success", job
    return dict(job)


def test_python_function_with_its_own_dependencies_builds_and_imports_them(
    gw: Gateway, admin: dict[str, str],
) -> None:
    created = create(gw, admin, name="py-six", runtime="python", code=SIX_CODE,
                     dependencies=["six==1.16.0"])
    assert created["status"] == "building"
    wait_ready(gw, admin, "py-six")
    assert invoke(gw, admin, "py-six", {})["result"] == {"six": "1.16.0"}
    versions = gw.request("GET", "/api/v1/functions/py-six/versions", headers=admin).json()
    assert versions["versions"][0]["build_status"] == "success"


def test_node_function_with_its_own_dependencies_builds_and_requires_them(
    gw: Gateway, admin: dict[str, str],
) -> None:
    created = create(gw, admin, name="node-pad", runtime="nodejs", code=LEFT_PAD_CODE,
                     dependencies=["left-pad@1.3.0"])
    assert created["status"] == "building"
    wait_ready(gw, admin, "node-pad")
    assert invoke(gw, admin, "node-pad", {"s": "7"})["result"] == {"padded": "00007"}


def test_multipart_deploy_with_a_requirements_file(gw: Gateway, admin: dict[str, str]) -> None:
    code = "import six\n\ndef handler(event):\n    return {'text': six.text_type.__name__}\n"
    requirements = "# pinned\nsix==1.16.0\n\n"
    r = gw.request(
        "POST", "/api/v1/functions", headers=admin,
        data={"name": "py-multipart", "runtime": "python", "timeout_ms": "20000"},
        files={"code": ("handler.py", code.encode(), "text/x-python"),
               "requirements": ("requirements.txt", requirements.encode(), "text/plain")},
    )
    assert r.status_code == 201, r.text
    assert r.json()["dependencies"] == ["six==1.16.0"]
    assert r.json()["timeout_ms"] == 20000
    wait_ready(gw, admin, "py-multipart")
    assert invoke(gw, admin, "py-multipart", {})["result"] == {"text": "str"}


def test_project_and_system_dependencies_reach_the_projects_functions(
    gw: Gateway, admin: dict[str, str],
) -> None:
    r = gw.request("POST", "/api/v1/projects", headers=admin, json={"name": "layered"})
    assert r.status_code == 201, r.text
    # A ready function of the project, before the project has dependencies.
    create(gw, admin, name="early", project="layered", runtime="python",
           code="def handler(event):\n    return 'early'\n")
    assert invoke(gw, admin, "early", {})["result"] == "early"

    r = gw.request("PUT", "/api/v1/projects/layered/dependencies", headers=admin,
                   json={"data": ["six"]})
    assert r.status_code == 200, r.text
    r = gw.request("PUT", "/api/v1/dependencies/system", headers=admin,
                   json={"data": ["left-pad@1.3.0"]})
    assert r.status_code == 200, r.text
    try:
        # The function that was ready keeps answering (never a 500).
        r = gw.request("POST", "/api/v1/functions/early/invoke", headers=admin, json={})
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "success", r.json()

        # A function deployed now gets the union: the project's six (bare names fit every
        # runtime) for Python, the system's left-pad (npm syntax) for Node.js.
        create(gw, admin, name="late-py", project="layered", runtime="python", code=SIX_CODE)
        create(gw, admin, name="late-node", project="layered", runtime="nodejs",
               code=LEFT_PAD_CODE)
        wait_ready(gw, admin, "late-py")
        wait_ready(gw, admin, "late-node")
        assert invoke(gw, admin, "late-py", {})["result"]["six"]
        assert invoke(gw, admin, "late-node", {"s": "1"})["result"] == {"padded": "00001"}
    finally:
        gw.request("PUT", "/api/v1/dependencies/system", headers=admin, json={"data": []})
