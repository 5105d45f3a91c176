"""Project and system dependency changes: rebuilt in the background, the serving build
kept until the new one is ready, a failed rebuild kept out of the way, one build per set.

Needs PyPI: skipped when it is unreachable, except under CI=true. Sets that must build
afresh name a unique, harmless exclusion (``six!=0.0.<n>``): the build cache outlives a
test run, and its key is the set.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from executors import BuildResult
from executors.build import Builder
from tests.conftest import auth, running_app
from tests.integration.test_builds_api import _need_registries  # noqa: F401 (autouse)
from tests.integration.test_functions_api import READER, create

ADMIN = auth("admin")
RUNNER = auth("execute:all")
OPS = auth("read:jobs")

# The version of six the function can import, or None.
SIX = ("def handler(event):\n"
       "    try:\n"
       "        import six\n"
       "    except ImportError:\n"
       "        return None\n"
       "    return six.__version__\n")


def _fresh_six() -> str:
    """A specifier of six no build cache has seen."""
    return f"six!=0.0.{uuid.uuid4().int % 10**9}"


async def _invoke(client: httpx.AsyncClient, name: str) -> dict[str, Any]:
    # Bounded: an invoke that waits for a build (held by _gate_builds) must fail, not hang.
    r = await asyncio.wait_for(
        client.post(f"/api/v1/functions/{name}/invoke", json={}, headers=RUNNER), 60)
    assert r.status_code == 200, r.text
    job: dict[str, Any] = r.json()
    return job


async def _active_version(client: httpx.AsyncClient, name: str) -> dict[str, Any]:
    r = await client.get(f"/api/v1/functions/{name}/versions", headers=READER)
    assert r.status_code == 200, r.text
    (active,) = [v for v in r.json()["versions"] if v["is_active"]]
    return active  # type: ignore[no-any-return]


async def _events(client: httpx.AsyncClient, name: str) -> list[dict[str, Any]]:
    r = await client.get(f"/api/v1/functions/{name}/events", headers=OPS)
    assert r.status_code == 200, r.text
    return r.json()["events"]  # type: ignore[no-any-return]


async def _put_project_dependencies(client: httpx.AsyncClient, project: str,
                                    data: list[str]) -> None:
    r = await client.put(f"/api/v1/projects/{project}/dependencies", headers=ADMIN,
                         json={"data": data})
    assert r.status_code == 200, r.text


def _gate_builds(client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch) -> asyncio.Event:
    """Hold every build of this app until the returned event is set (then it runs)."""
    builder = client.app.state.services.pools.builder  # type: ignore[attr-defined]
    real = builder.build
    go = asyncio.Event()

    async def gated(runtime: Any, dependencies: Any, **kwargs: Any) -> BuildResult:
        await go.wait()
        return await real(runtime, dependencies, **kwargs)  # type: ignore[no-any-return]

    monkeypatch.setattr(builder, "build", gated)
    return go


def _count_rebuilds(builds: Any, monkeypatch: pytest.MonkeyPatch) -> list[list[Any]]:
    """The members of every rebuild the build manager starts from now on."""
    started: list[list[Any]] = []
    real = builds._rebuild

    async def counted(runtime: str, dependencies: list[str], members: list[Any]) -> None:
        started.append(list(members))
        await real(runtime, dependencies, members)

    monkeypatch.setattr(builds, "_rebuild", counted)
    return started


async def _wait_idle(client: httpx.AsyncClient) -> None:
    builds = client.app.state.services.builds  # type: ignore[attr-defined]
    await asyncio.wait_for(builds.wait_idle(), 300)


async def test_project_dependencies_that_cannot_build_never_turn_invokes_into_500(
        client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch) -> None:
    # The reported case: uvloop refusing the build's spawn made every invoke of the
    # project's ready functions a 500 while the list stayed.
    await create(client, name="plain", code=SIX)
    assert (await _invoke(client, "plain"))["result"] is None

    async def refused(*_args: Any, **_kwargs: Any) -> tuple[int, str]:
        raise ValueError("unexpected kwargs: user, group, extra_groups")

    monkeypatch.setattr(Builder, "_run_tool", refused)
    await _put_project_dependencies(client, "default", [_fresh_six()])
    for _ in range(3):
        job = await _invoke(client, "plain")
        assert job["status"] == "success" and job["result"] is None
    await _wait_idle(client)
    job = await _invoke(client, "plain")
    assert job["status"] == "success" and job["result"] is None
    version = await _active_version(client, "plain")
    assert version["rebuild"]["status"] == "failed"
    assert "could not run" in version["rebuild"]["build_log"]
    assert version["resolved_dependencies"] == []


async def test_project_dependency_change_keeps_serving_then_swaps_to_the_new_build(
        client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch) -> None:
    await create(client, name="sixless", code=SIX)
    assert (await _invoke(client, "sixless"))["result"] is None
    go = _gate_builds(client, monkeypatch)
    spec = _fresh_six()
    await _put_project_dependencies(client, "default", [spec])

    # While the new set builds: the old build serves, the function stays ready.
    job = await _invoke(client, "sixless")
    assert job["status"] == "success" and job["result"] is None
    f = (await client.get("/api/v1/functions/sixless", headers=READER)).json()
    assert f["status"] == "ready" and f["active_version"] == 1
    version = await _active_version(client, "sixless")
    assert version["resolved_dependencies"] == []
    assert version["rebuild"]["status"] == "building"
    assert version["rebuild"]["dependencies"] == [spec]
    assert version["rebuild"]["started_at"].endswith("Z")

    go.set()
    await _wait_idle(client)
    job = await _invoke(client, "sixless")
    assert job["status"] == "success" and isinstance(job["result"], str), job
    version = await _active_version(client, "sixless")
    assert version["version"] == 1 and version["rebuild"] is None
    assert version["resolved_dependencies"] == [spec]
    assert isinstance(version["build_duration_ms"], int) and version["build_duration_ms"] >= 0
    assert version["build_finished_at"].endswith("Z")
    assert "six" in version["build_log"]
    deployed = [e for e in await _events(client, "sixless") if e["type"] == "deployed"]
    assert deployed and deployed[0]["metadata"]["rebuild"] is True


async def test_a_rebuild_under_way_is_not_started_again_by_later_changes(
        client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch) -> None:
    await create(client, name="busy", code=SIX)
    go = _gate_builds(client, monkeypatch)
    rebuilds = _count_rebuilds(client.app.state.services.builds,  # type: ignore[attr-defined]
                               monkeypatch)
    spec = _fresh_six()
    await _put_project_dependencies(client, "default", [spec])
    started = (await _active_version(client, "busy"))["rebuild"]["started_at"]
    # Each of these looks at the layers again while the rebuild for them is running.
    await _put_project_dependencies(client, "default", [spec])
    r = await client.put("/api/v1/functions/busy", headers=ADMIN, json={"description": "x"})
    assert r.status_code == 200, r.text
    assert (await _active_version(client, "busy"))["rebuild"]["started_at"] == started
    go.set()
    await _wait_idle(client)
    assert len(rebuilds) == 1
    assert (await _active_version(client, "busy"))["resolved_dependencies"] == [spec]


async def test_failing_project_dependency_keeps_the_old_build_and_records_build_failed(
        client: httpx.AsyncClient) -> None:
    await create(client, name="steadfast", code=SIX)
    await _put_project_dependencies(client, "default", ["fngate-no-such-package-xyz==1.0"])
    job = await _invoke(client, "steadfast")
    assert job["status"] == "success" and job["result"] is None
    await _wait_idle(client)
    job = await _invoke(client, "steadfast")
    assert job["status"] == "success" and job["result"] is None
    version = await _active_version(client, "steadfast")
    assert version["resolved_dependencies"] == [] and version["build_status"] == "success"
    assert version["rebuild"]["status"] == "failed"
    assert "fngate-no-such-package-xyz" in version["rebuild"]["build_log"]
    failed = [e for e in await _events(client, "steadfast") if e["type"] == "build_failed"]
    assert len(failed) == 1
    assert failed[0]["metadata"]["rebuild"] is True
    assert failed[0]["metadata"]["dependencies"] == ["fngate-no-such-package-xyz==1.0"]
    assert "fngate-no-such-package-xyz" in failed[0]["metadata"]["build_log"]

    # Clearing the list drops the failed rebuild: nothing is left pending.
    await _put_project_dependencies(client, "default", [])
    await _wait_idle(client)
    assert (await _active_version(client, "steadfast"))["rebuild"] is None


async def test_a_new_version_keeps_serving_the_build_while_the_layers_cannot_build(
        client: httpx.AsyncClient) -> None:
    # A code-only update under a project whose set fails: the new version serves the set the
    # old one served, never a build of the failing set on the request path.
    await create(client, name="patched", code=SIX)
    await _put_project_dependencies(client, "default", ["fngate-no-such-package-xyz==1.0"])
    await _wait_idle(client)
    r = await client.put("/api/v1/functions/patched", headers=ADMIN,
                         json={"code": SIX.replace("return None", "return 'none'")})
    assert r.status_code == 200, r.text
    version = await _active_version(client, "patched")
    assert version["version"] == 2 and version["resolved_dependencies"] == []
    job = await _invoke(client, "patched")
    assert job["status"] == "success" and job["result"] == "none", job


async def test_system_dependency_change_rebuilds_the_functions_it_applies_to(
        client: httpx.AsyncClient) -> None:
    await create(client, name="pyfn", code=SIX)
    r = await create(client, name="nodefn", runtime="nodejs",
                     code="exports.handler = async () => 'node';\n")
    assert r.status_code == 201, r.text
    spec = _fresh_six()  # pip syntax: it does not apply to Node.js functions
    r = await client.put("/api/v1/dependencies/system", headers=ADMIN, json={"data": [spec]})
    assert r.status_code == 200, r.text
    await _wait_idle(client)
    assert isinstance((await _invoke(client, "pyfn"))["result"], str)
    assert (await _active_version(client, "pyfn"))["resolved_dependencies"] == [spec]
    node = await _active_version(client, "nodefn")
    assert node["resolved_dependencies"] == [] and node["rebuild"] is None
    assert (await _invoke(client, "nodefn"))["result"] == "node"


async def test_functions_needing_the_same_set_share_one_build(
        client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("one", "two", "three"):
        r = await create(client, name=name, code=SIX, project="shared")
        assert r.status_code == 201, r.text
    services = client.app.state.services  # type: ignore[attr-defined]
    builder = services.pools.builder
    rebuilds = _count_rebuilds(services.builds, monkeypatch)
    before = builder.builds_run
    spec = _fresh_six()
    await _put_project_dependencies(client, "shared", [spec])
    await _wait_idle(client)
    assert builder.builds_run - before == 1
    # One rebuild for the three (the builder would share concurrent builds anyway).
    assert [len(members) for members in rebuilds] == [3]
    for name in ("one", "two", "three"):
        assert (await _active_version(client, name))["resolved_dependencies"] == [spec]
        assert isinstance((await _invoke(client, name))["result"], str)


async def test_a_function_created_under_dependency_layers_is_built_for_them_at_once(
        client: httpx.AsyncClient) -> None:
    # No dependencies of its own, but its project has some: built in the background like a
    # layer change, not by its first invoke on the request path.
    spec = _fresh_six()
    r = await client.post("/api/v1/projects", headers=ADMIN, json={"name": "layered"})
    assert r.status_code == 201, r.text
    await _put_project_dependencies(client, "layered", [spec])
    r = await create(client, name="newcomer", code=SIX, project="layered")
    assert r.status_code == 201, r.text
    await _wait_idle(client)
    version = await _active_version(client, "newcomer")
    assert version["resolved_dependencies"] == [spec] and version["rebuild"] is None
    assert isinstance((await _invoke(client, "newcomer"))["result"], str)


async def test_a_function_moved_to_another_project_is_built_for_its_layers(
        client: httpx.AsyncClient) -> None:
    spec = _fresh_six()
    r = await client.post("/api/v1/projects", headers=ADMIN, json={"name": "target"})
    assert r.status_code == 201, r.text
    await _put_project_dependencies(client, "target", [spec])
    await create(client, name="mover", code=SIX)
    assert (await _active_version(client, "mover"))["resolved_dependencies"] == []
    r = await client.put("/api/v1/functions/mover", headers=ADMIN, json={"project": "target"})
    assert r.status_code == 200, r.text
    await _wait_idle(client)
    assert (await _active_version(client, "mover"))["resolved_dependencies"] == [spec]
    assert isinstance((await _invoke(client, "mover"))["result"], str)


async def test_a_stale_rebuild_from_another_replica_is_cleared_when_it_fails(
        client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch) -> None:
    # Replica B read the layers before replica A's change, and marked its older set after
    # A's rebuild had swapped the new one in; B's build of that set then failed. The
    # version serves the right set, and nothing is pending: the failed mark must go.
    spec, stale = _fresh_six(), _fresh_six()
    await create(client, name="raced", code=SIX)
    await _put_project_dependencies(client, "default", [spec])
    await _wait_idle(client)
    assert (await _active_version(client, "raced"))["resolved_dependencies"] == [spec]
    services = client.app.state.services  # type: ignore[attr-defined]
    (serving,) = await services.builds._versions.serving(project="default")
    assert await services.builds._versions.begin_rebuild(serving.function_id,
                                                          serving.version, [stale])

    async def failing(runtime: Any, dependencies: Any, **_: Any) -> BuildResult:
        return BuildResult(ok=False, log="no such version", path=None)

    monkeypatch.setattr(services.pools.builder, "build", failing)
    await services.builds._rebuild("python", [stale], [serving])  # replica B's, as it ends
    await _wait_idle(client)
    version = await _active_version(client, "raced")
    assert version["resolved_dependencies"] == [spec] and version["rebuild"] is None


async def test_a_pending_rebuild_resumes_after_a_restart(
        settings_factory: Callable[..., Any], monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_factory()
    spec = _fresh_six()
    async with running_app(settings) as client:
        await create(client, name="survivor", code=SIX)
        _gate_builds(client, monkeypatch)  # never released: the gateway stops mid-rebuild
        await _put_project_dependencies(client, "default", [spec])
        assert (await _active_version(client, "survivor"))["rebuild"]["status"] == "building"
    monkeypatch.undo()
    async with running_app(settings) as client:
        await _wait_idle(client)
        version = await _active_version(client, "survivor")
        assert version["rebuild"] is None and version["resolved_dependencies"] == [spec]
        assert isinstance((await _invoke(client, "survivor"))["result"], str)


async def test_first_build_records_its_set_log_and_duration(
        client: httpx.AsyncClient) -> None:
    r = await create(client, name="timed", code=SIX, dependencies=["six==1.16.0"])
    assert r.status_code == 201 and r.json()["status"] == "building"
    building = await _active_version(client, "timed")
    assert building["build_duration_ms"] is None and building["build_finished_at"] is None
    await _wait_idle(client)
    version = await _active_version(client, "timed")
    assert version["build_status"] == "success"
    assert version["resolved_dependencies"] == ["six==1.16.0"]
    assert isinstance(version["build_duration_ms"], int) and version["build_duration_ms"] >= 0
    assert version["build_finished_at"].endswith("Z") and version["build_log"]


async def test_a_run_whose_build_cannot_run_here_is_a_failed_job_not_a_500(
        client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch) -> None:
    # As on a replica without the recorded build whose build tool cannot be spawned.
    await create(client, name="elsewhere", code=SIX, dependencies=["six==1.16.0"])
    await _wait_idle(client)
    builder = client.app.state.services.pools.builder  # type: ignore[attr-defined]

    async def refused(*_args: Any, **_kwargs: Any) -> BuildResult:
        raise OSError("the build tool cannot be spawned")

    monkeypatch.setattr(builder, "cached", lambda *_a: None)
    monkeypatch.setattr(builder, "build", refused)
    r = await client.post("/api/v1/functions/elsewhere/invoke", json={}, headers=RUNNER)
    assert r.status_code == 200, r.text
    job = r.json()
    assert job["status"] == "failed" and job["error"]["code"] == "RUNTIME_ERROR"
    assert job["error"]["details"]["type"] == "BuildFailed"
    assert r.headers["x-function-error"] == "RUNTIME_ERROR"
