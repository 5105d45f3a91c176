"""Functions with dependencies: background builds, 409 while building, activation rules.

Needs the package registries (PyPI, npm): skipped when they are unreachable, except
under CI=true.
"""

from __future__ import annotations

import httpx
import pytest

from bench.scenarios.dependency_build import registries_reachable
from tests.conftest import IN_CI, auth, wait_for
from tests.integration.test_functions_api import READER, WRITER, assert_error, create

RUNNER = auth("execute:all")


@pytest.fixture(autouse=True)
def _need_registries() -> None:
    if not registries_reachable():
        if IN_CI:
            pytest.fail("package registries unreachable (CI=true)")
        pytest.skip("package registries unreachable")


async def _status(client: httpx.AsyncClient, name: str, want: str) -> dict:
    async def check() -> dict | None:
        f = (await client.get(f"/api/v1/functions/{name}", headers=READER)).json()
        return f if f["status"] == want else None

    return await wait_for(check, timeout_s=180, interval_s=0.2)


async def test_python_dependencies_are_built_then_importable(client: httpx.AsyncClient) -> None:
    r = await create(client, name="withsix", dependencies=["six==1.16.0"],
                     code="import six\ndef handler(e):\n    return six.__version__\n")
    assert r.status_code == 201 and r.json()["status"] == "building"
    assert r.json()["dependencies"] == ["six==1.16.0"]
    early = await client.post("/api/v1/functions/withsix/invoke", json={}, headers=RUNNER)
    if early.status_code != 200:  # the build may already be done on a warm cache
        assert_error(early, 409, "CONFLICT")
    await _status(client, "withsix", "ready")
    job = (await client.post("/api/v1/functions/withsix/invoke", json={}, headers=RUNNER)).json()
    assert job["status"] == "success" and job["result"] == "1.16.0"


async def test_node_dependencies_are_built_then_requirable(client: httpx.AsyncClient) -> None:
    r = await create(client, name="isnum", runtime="nodejs", dependencies=["is-number@7.0.0"],
                     code="const isNumber = require('is-number');\n"
                          "exports.handler = async (e) => isNumber(e.v);\n")
    assert r.status_code == 201
    await _status(client, "isnum", "ready")
    job = (await client.post("/api/v1/functions/isnum/invoke", json={"v": "5"},
                             headers=RUNNER)).json()
    assert job["status"] == "success" and job["result"] is True


async def test_failed_build_of_a_new_function_blocks_invokes(client: httpx.AsyncClient) -> None:
    await create(client, name="nobuild", dependencies=["no-such-package-fngate-xyz==1.0"])
    await _status(client, "nobuild", "failed")
    r = await client.post("/api/v1/functions/nobuild/invoke", json={}, headers=RUNNER)
    assert_error(r, 409, "CONFLICT")


async def test_failed_build_of_an_update_keeps_the_previous_version(
        client: httpx.AsyncClient) -> None:
    await create(client, name="steady", code="def handler(e):\n    return 'v1'\n")
    r = await client.put("/api/v1/functions/steady", headers=WRITER, json={
        "code": "def handler(e):\n    return 'v2'\n",
        "dependencies": ["no-such-package-fngate-xyz==1.0"]})
    assert r.status_code == 200
    assert r.json()["active_version"] == 1 and r.json()["status"] == "ready"
    services = client.app.state.services  # type: ignore[attr-defined]
    await services.builds.wait_idle()
    version2 = await services.functions.get_version(r.json()["id"], 2)
    assert version2.build_status == "failed" and "no-such-package" in version2.build_log
    job = (await client.post("/api/v1/functions/steady/invoke", json={}, headers=RUNNER)).json()
    assert job["result"] == "v1"
    r = await client.put("/api/v1/functions/steady", headers=WRITER, json={
        "code": "import six\ndef handler(e):\n    return 'v3'\n", "dependencies": ["six==1.16.0"]})
    await services.builds.wait_idle()
    f = (await client.get("/api/v1/functions/steady", headers=READER)).json()
    assert f["active_version"] == 3 and f["status"] == "ready"
    job = (await client.post("/api/v1/functions/steady/invoke", json={}, headers=RUNNER)).json()
    assert job["result"] == "v3"
