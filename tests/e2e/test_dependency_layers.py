"""Project dependencies under ``fngate serve`` (uvloop, the namespace sandbox, as root where
the suite runs as root): a failing change leaves a function on its build with a
``build_failed`` event, a change rebuilds in the background while it keeps serving, and
what it serves with survives a restart.

Needs PyPI: skipped when it is unreachable, and without bubblewrap, except under CI=true.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import IN_CI, needs_bwrap
from tests.e2e.test_cli_serve import _env, _fngate, _free_port, _stop, _wait_ready, own_dir
from tests.integration.test_builds_api import _registry_reachable

__all__ = ["own_dir"]  # the fixture, imported for pytest

pytestmark = needs_bwrap

_SIX = ("def handler(event):\n"
        "    try:\n"
        "        import six\n"
        "    except ImportError:\n"
        "        return None\n"
        "    return six.__version__\n")
_MISSING = "fngate-no-such-package-xyz==1.0"


def _until(check: Callable[[], Any], what: str, timeout_s: float = 300) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what} did not happen within {timeout_s:.0f} s")


def _serve(data: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [*_fngate(), "serve", "--data-dir", str(data), "--port", str(port)],
            env=_env(), stdout=out, stderr=subprocess.STDOUT)
    _wait_ready(f"http://127.0.0.1:{port}", proc)
    return proc


def test_project_dependencies_rebuild_in_the_background_under_fngate_serve(
        own_dir: Path) -> None:  # noqa: F811 (the imported fixture)
    if not _registry_reachable():
        if IN_CI:
            pytest.fail("package registries unreachable (CI=true)")
        pytest.skip("package registries unreachable")
    data, port = own_dir / "data", _free_port()
    token = subprocess.run(
        [*_fngate(), "token", "--data-dir", str(data), "--sub", "alice", "--scope",
         "admin execute:all read:functions write:functions read:jobs"],
        check=True, capture_output=True, text=True, env=_env(), timeout=60).stdout.strip()
    api = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120,
                       headers={"Authorization": f"Bearer {token}"})

    def invoke() -> dict[str, Any]:
        r = api.post("/api/v1/functions/layered/invoke", json={})
        assert r.status_code == 200, r.text
        job: dict[str, Any] = r.json()
        assert job["status"] == "success", job
        return job

    def version() -> dict[str, Any]:
        versions = api.get("/api/v1/functions/layered/versions").json()["versions"]
        (active,) = [v for v in versions if v["is_active"]]
        return active  # type: ignore[no-any-return]

    def put_dependencies(data: list[str]) -> None:
        r = api.put("/api/v1/projects/default/dependencies", json={"data": data})
        assert r.status_code == 200, r.text

    def build_failed_events() -> list[dict[str, Any]]:
        events = api.get("/api/v1/functions/layered/events").json()["events"]
        return [e for e in events if e["type"] == "build_failed"]

    spec = f"six!=0.0.{uuid.uuid4().int % 10**9}"  # a set no build cache has seen
    proc = _serve(data, port, own_dir / "serve.log")
    try:
        assert api.get("/health").json()["isolation"] == "namespaces"
        r = api.post("/api/v1/functions", json={"name": "layered", "runtime": "python",
                                                "code": _SIX})
        assert r.status_code == 201, r.text
        assert invoke()["result"] is None

        # A set that cannot build: invokes keep running on the build they have.
        put_dependencies([_MISSING])
        assert invoke()["result"] is None  # never a build on the request path
        _until(lambda: (version().get("rebuild") or {}).get("status") == "failed",
               "the failed rebuild")
        assert invoke()["result"] is None
        (failed,) = build_failed_events()
        assert failed["metadata"]["rebuild"] is True
        assert _MISSING in failed["metadata"]["build_log"]

        # A set that builds: served by the old build meanwhile, then by the new one.
        put_dependencies([spec])
        invoke()  # by the build it has, or the new one if that was already swapped in
        assert api.get("/api/v1/functions/layered").json()["status"] == "ready"
        _until(lambda: version()["resolved_dependencies"] == [spec], "the rebuild")
        assert version()["rebuild"] is None
        built = version()["build_finished_at"]
        served = invoke()["result"]
        assert isinstance(served, str)
    finally:
        _stop(proc)

    proc = _serve(data, port, own_dir / "serve.log")
    try:
        assert invoke()["result"] == served
        after = version()
        assert after["resolved_dependencies"] == [spec] and after["rebuild"] is None
        assert after["build_finished_at"] == built  # nothing rebuilt at start-up
        assert len(build_failed_events()) == 1
    finally:
        _stop(proc)
        api.close()
