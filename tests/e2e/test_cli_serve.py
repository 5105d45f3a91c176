"""``fngate serve`` on the embedded default, run as a user would: a subprocess."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import httpx
import pytest


def _fngate() -> list[str]:
    script = shutil.which("fngate", path=os.path.dirname(sys.executable))
    return [script] if script else [sys.executable, "-m", "gateway.cli"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("FNGATE_")}


def _wait_ready(base: str, proc: subprocess.Popen[bytes], timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"fngate serve exited with {proc.returncode}")
        try:
            if httpx.get(base + "/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError("fngate serve did not become ready")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=40)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail("fngate serve did not stop on SIGTERM")


@pytest.fixture
def own_dir() -> Iterator[Path]:
    """A directory outside pytest's: as root, pgserver's own user must traverse to it, and
    a pytest session starting meanwhile resets its base directory to 0700."""
    path = Path(tempfile.mkdtemp(prefix="fngate-e2e-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def test_serve_embedded_keeps_functions_across_restart(own_dir: Path) -> None:
    tmp_path = own_dir
    data = tmp_path / "data"
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    minted = subprocess.run(
        [*_fngate(), "token", "--data-dir", str(data), "--sub", "alice",
         "--scope", "execute:all read:functions write:functions"],
        check=True, capture_output=True, text=True, env=_env(), timeout=60,
    )
    headers = {"Authorization": f"Bearer {minted.stdout.strip()}"}
    assert (data.stat().st_mode & 0o777) == 0o700
    assert ((data / "jwt_secret").stat().st_mode & 0o777) == 0o600
    serve = [*_fngate(), "serve", "--data-dir", str(data), "--port", str(port)]
    with open(tmp_path / "serve.log", "wb") as log:
        _serve_twice(serve, base, headers, log)


def _serve_twice(serve: list[str], base: str, headers: dict[str, str],
                 log: BinaryIO) -> None:
    proc = subprocess.Popen(serve, env=_env(), stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_ready(base, proc)
        r = httpx.get(base + "/api/v1/functions", headers=headers, timeout=10)
        assert r.status_code == 200 and r.json()["total"] == 0
        r = httpx.post(base + "/api/v1/functions", headers=headers, timeout=10, json={
            "name": "keep", "runtime": "python", "code": "def handler(e):\n    return e\n"})
        assert r.status_code == 201, r.text
        r = httpx.post(base + "/api/v1/functions/keep/invoke", headers=headers, json={"a": 1},
                       timeout=30)
        assert r.json()["result"] == {"a": 1}
    finally:
        _stop(proc)
    proc = subprocess.Popen(serve, env=_env(), stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_ready(base, proc)
        r = httpx.get(base + "/api/v1/functions/keep", headers=headers, timeout=10)
        assert r.status_code == 200 and r.json()["name"] == "keep"
        r = httpx.post(base + "/api/v1/functions/keep/invoke", headers=headers, json={"b": 2},
                       timeout=30)
        assert r.json()["status"] == "success" and r.json()["result"] == {"b": 2}
    finally:
        _stop(proc)
