"""``fngate serve`` on the embedded default, run as a user would: a subprocess, stopped
with SIGTERM and started again on the same data directory, keeping everything."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.serve import ADMIN_SCOPES, Gateway, clean_env, need_sandbox, poll


@pytest.fixture
def own_dir() -> Iterator[Path]:
    """A directory outside pytest's: as root, pgserver's own user must traverse to it, and
    a pytest session starting meanwhile resets its base directory to 0700."""
    path = Path(tempfile.mkdtemp(prefix="fngate-e2e-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def test_serve_embedded_keeps_everything_across_restart(own_dir: Path) -> None:
    need_sandbox()
    gw = Gateway(own_dir, clean_env())  # no FNGATE_*: the embedded PostgreSQL, as the README
    headers = gw.mint(ADMIN_SCOPES)  # minted before the first start, as the README does
    assert (gw.data_dir.stat().st_mode & 0o777) == 0o700
    assert ((gw.data_dir / "jwt_secret").stat().st_mode & 0o777) == 0o600
    gw.start()
    try:
        before = _populate(gw, headers)
    finally:
        gw.stop()
    gw.start()
    try:
        _check_kept(gw, headers, before)
    finally:
        gw.stop()


def _populate(gw: Gateway, headers: dict[str, str]) -> dict[str, Any]:
    r = gw.request("GET", "/api/v1/functions", headers=headers)
    assert r.status_code == 200 and r.json()["total"] == 0, r.text
    r = gw.request("POST", "/api/v1/functions", headers=headers, json={
        "name": "keep", "runtime": "python", "code": "def handler(e):\n    return e\n",
        "triggers": [{"type": "http", "config": {"path": "/keep", "public": True}},
                     {"type": "cron", "config": {"schedule": "0 0 1 1 *"}}]})
    assert r.status_code == 201, r.text
    r = gw.request("PUT", "/api/v1/functions/keep", headers=headers,
                   json={"code": "def handler(e):\n    return {'v2': e}\n"})
    assert r.status_code == 200 and r.json()["active_version"] == 2, r.text
    r = gw.request("POST", "/api/v1/functions/keep/invoke?async=true", headers=headers,
                   json={"a": 1})
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    job = poll(lambda: (j := gw.request("GET", f"/api/v1/jobs/{job_id}",
                                        headers=headers).json())["status"] == "success" and j,
               timeout_s=60, what="the async job")
    triggers = gw.request("GET", "/api/v1/functions/keep/triggers", headers=headers).json()
    return {"job": job, "triggers": triggers["triggers"]}


def _check_kept(gw: Gateway, headers: dict[str, str], before: dict[str, Any]) -> None:
    # The token minted before the first start still verifies: the secret was kept.
    r = gw.request("GET", "/api/v1/functions/keep", headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "keep" and r.json()["active_version"] == 2
    versions = gw.request("GET", "/api/v1/functions/keep/versions", headers=headers).json()
    assert [v["version"] for v in versions["versions"]] == [2, 1]
    triggers = gw.request("GET", "/api/v1/functions/keep/triggers", headers=headers).json()
    assert triggers["triggers"] == before["triggers"]
    job = gw.request("GET", f"/api/v1/jobs/{before['job']['id']}", headers=headers).json()
    assert job == before["job"]
    logs = gw.request("GET", f"/api/v1/jobs/{job['id']}/logs", headers=headers)
    assert logs.status_code == 200, logs.text

    r = gw.request("POST", "/api/v1/functions/keep/invoke", headers=headers, json={"b": 2})
    assert r.json()["status"] == "success" and r.json()["result"] == {"v2": {"b": 2}}
    r = poll(lambda: (resp := gw.request("POST", "/fn/keep", json={"c": 3})).status_code
             != 404 and resp, timeout_s=10, what="the HTTP trigger after the restart")
    assert r.status_code == 200 and r.json()["v2"]["body"] == {"c": 3}, r.text
