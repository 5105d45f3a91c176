"""Dependency builds: a first build and a cached one, beside the package tool alone.

One gateway with a build cache of its own (its ``TMPDIR`` is a fresh directory, so the
first build is a first build however often the suite ran). For a small Python set and a
small npm set: a function with those dependencies is created and timed until it is
``ready`` (the first build), then a second function with the same set (the cached build:
the set is built once per replica and shared). The baseline of each is ``pip install
--target`` / ``npm install --prefix`` of the same set into an empty folder, run in the
same scenario, without the tool's download cache (a build has none either).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench._report import Outcome, Row
from bench.scenarios._common import Config, Gateways

__all__ = ["dependency_build", "until_ready"]

PYTHON_SET = ["six==1.16.0", "idna==3.7"]
NPM_SET = ["left-pad@1.3.0", "is-number@7.0.0"]
_PY_CODE = "import six, idna\ndef handler(event):\n    return six.__version__\n"
_NODE_CODE = ("const isNumber = require('is-number');\n"
              "exports.handler = async (event) => isNumber(5);\n")
_READY_TIMEOUT_S = 600.0


def registries_reachable() -> bool:
    """PyPI and the npm registry answer a TCP connect (the builds download from them)."""
    for host in ("pypi.org", "registry.npmjs.org"):
        try:
            socket.create_connection((host, 443), timeout=3).close()
        except OSError:
            return False
    return True


def until_ready(client: httpx.Client, name: str, runtime: str, code: str,
                 dependencies: list[str]) -> float:
    """Seconds from the create request until the function is ``ready``."""
    started = time.perf_counter()
    client.post("/api/v1/functions", json={
        "name": name, "runtime": runtime, "code": code, "dependencies": dependencies,
    }).raise_for_status()
    while time.perf_counter() - started < _READY_TIMEOUT_S:
        status = client.get(f"/api/v1/functions/{name}").raise_for_status().json()["status"]
        if status == "ready":
            return time.perf_counter() - started
        if status == "failed":
            versions = client.get(f"/api/v1/functions/{name}/versions").json()["versions"]
            raise RuntimeError(f"the build of {name} failed: {versions[0]['build_log'][-2000:]}")
        time.sleep(0.05)
    raise RuntimeError(f"{name} was not ready within {_READY_TIMEOUT_S:.0f} s")


def _check_runs(client: httpx.Client, name: str) -> None:
    job = client.post(f"/api/v1/functions/{name}/invoke", json={}).raise_for_status().json()
    if job["status"] != "success":
        raise RuntimeError(f"{name} did not run with its dependencies: {job['error']}")


def _build_of(client: httpx.Client, name: str) -> dict[str, Any]:
    """The gateway's own record of the build: its duration and whether it was cached."""
    (version,) = client.get(f"/api/v1/functions/{name}/versions").raise_for_status().json()[
        "versions"]
    return {"build_duration_ms": version["build_duration_ms"],
            "cached": version["build_log"] == "cached"}


def _tool_install(argv: list[str], folder: Path) -> float:
    """Seconds ``argv`` (a pip or npm install into ``folder``) took."""
    started = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True, timeout=_READY_TIMEOUT_S,
                   cwd=folder, env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    return time.perf_counter() - started


def _baselines(work: Path) -> dict[str, float]:
    pip_dir, npm_dir, npm_cache = work / "pip", work / "npm", work / "npm-cache"
    for folder in (pip_dir, npm_dir, npm_cache):
        folder.mkdir()
    npm = shutil.which("npm") or "npm"
    return {
        "pip": _tool_install([sys.executable, "-m", "pip", "install", "--no-cache-dir",
                              "--only-binary=:all:", "--target", str(pip_dir), *PYTHON_SET],
                             pip_dir),
        "npm": _tool_install([npm, "install", "--prefix", str(npm_dir), "--cache",
                              str(npm_cache), "--ignore-scripts", "--no-audit", "--no-fund",
                              "--no-save", "--no-package-lock", *NPM_SET], npm_dir),
    }


def dependency_build(cfg: Config, gateways: Gateways) -> Outcome:
    """Seconds to ``ready``: first and cached builds, beside pip / npm alone."""
    if not registries_reachable():
        return Outcome(scenario="dependency-build", status="skipped",
                       reason="PyPI or the npm registry is unreachable")
    work = Path(tempfile.mkdtemp(prefix="fngate-bench-deps-"))
    try:
        builds_tmp = work / "tmp"
        builds_tmp.mkdir()
        os.chmod(work, 0o711)  # workers reach their build by its path, as under /tmp
        os.chmod(builds_tmp, 0o1777)
        with gateways({"TMPDIR": str(builds_tmp)}) as h:
            figures: dict[str, Any] = {
                "python_first": until_ready(h.client, "deps-py-1", "python", _PY_CODE,
                                             PYTHON_SET),
                "python_cached": until_ready(h.client, "deps-py-2", "python", _PY_CODE,
                                              PYTHON_SET),
                "npm_first": until_ready(h.client, "deps-node-1", "nodejs", _NODE_CODE,
                                          NPM_SET),
                "npm_cached": until_ready(h.client, "deps-node-2", "nodejs", _NODE_CODE,
                                           NPM_SET),
            }
            builds = {}
            for name in ("deps-py-1", "deps-py-2", "deps-node-1", "deps-node-2"):
                _check_runs(h.client, name)
                builds[name] = _build_of(h.client, name)
        if builds["deps-py-1"]["cached"] or builds["deps-node-1"]["cached"]:
            raise RuntimeError(f"a first build came from a cache: {builds}")
        if not (builds["deps-py-2"]["cached"] and builds["deps-node-2"]["cached"]):
            raise RuntimeError(f"a second build of the same set was not shared: {builds}")
        baseline = _baselines(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    py, js = ", ".join(PYTHON_SET), ", ".join(NPM_SET)
    rows = [
        Row(metric=f"first build ({py}) vs pip install", unit="s",
            fngate=figures["python_first"], baseline=baseline["pip"]),
        Row(metric="cached build, same set vs pip install", unit="s",
            fngate=figures["python_cached"], baseline=baseline["pip"]),
        Row(metric=f"first build ({js}) vs npm install", unit="s",
            fngate=figures["npm_first"], baseline=baseline["npm"]),
        Row(metric="cached build, same set vs npm install", unit="s",
            fngate=figures["npm_cached"], baseline=baseline["npm"]),
    ]
    return Outcome(scenario="dependency-build", rows=rows,
                   details={"python_set": PYTHON_SET, "npm_set": NPM_SET,
                            "seconds": figures, "baseline_seconds": baseline,
                            "builds": builds,
                            "quick": cfg.quick})
