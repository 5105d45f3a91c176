"""Project dependencies under ``fngate serve`` (uvloop, the namespace sandbox, as root): a
failing change leaves a function on its build with a ``build_failed`` event, a change
rebuilds in the background while it keeps serving, and what it serves with survives a
restart."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.e2e.serve import Gateway, poll
from tests.e2e.test_serve_dependencies import need_registries

_SIX = ("def handler(event):\n"
        "    try:\n"
        "        import six\n"
        "    except ImportError:\n"
        "        return None\n"
        "    return six.__version__\n")
_MISSING = "fngate-no-such-package-xyz==1.0"
_BUILD_TIMEOUT_S = 300


def test_project_dependencies_rebuild_in_the_background_under_fngate_serve(
        server: Gateway) -> None:
    need_registries()
    api = httpx.Client(base_url=server.url, timeout=120, headers=server.mint())

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
    try:
        assert api.get("/health").json()["isolation"] == "namespaces"
        r = api.post("/api/v1/functions", json={"name": "layered", "runtime": "python",
                                                "code": _SIX})
        assert r.status_code == 201, r.text
        assert invoke()["result"] is None

        # A set that cannot build: invokes keep running on the build they have.
        put_dependencies([_MISSING])
        assert invoke()["result"] is None  # never a build on the request path
        poll(lambda: (version().get("rebuild") or {}).get("status") == "failed",
             timeout_s=_BUILD_TIMEOUT_S, what="the failed rebuild")
        assert invoke()["result"] is None
        (failed,) = build_failed_events()
        assert failed["metadata"]["rebuild"] is True
        assert _MISSING in failed["metadata"]["build_log"]

        # A set that builds: served by the old build meanwhile, then by the new one.
        put_dependencies([spec])
        invoke()  # by the build it has, or the new one if that was already swapped in
        assert api.get("/api/v1/functions/layered").json()["status"] == "ready"
        poll(lambda: version()["resolved_dependencies"] == [spec],
             timeout_s=_BUILD_TIMEOUT_S, what="the rebuild")
        assert version()["rebuild"] is None
        built = version()["build_finished_at"]
        served = invoke()["result"]
        assert isinstance(served, str)
        server.stop()
        server.start()
        assert invoke()["result"] == served
        after = version()
        assert after["resolved_dependencies"] == [spec] and after["rebuild"] is None
        assert after["build_finished_at"] == built  # nothing rebuilt at start-up
        assert len(build_failed_events()) == 1
    finally:
        api.close()
