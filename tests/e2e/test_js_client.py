"""The TypeScript client (``clients/js``) against ``fngate serve``: ``npm ci`` (run again only
when the lockfile changed: ``node_modules`` stays in ``clients/js``), the check that
``src/schema.ts`` is what openapi-typescript makes of the stored ``openapi.json``, the build,
and ``node --test`` with ``FNGATE_URL`` and ``FNGATE_TOKEN`` set — its live tests create a
function, invoke it sync and async, read its logs and meet the API's errors."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import need_tool
from tests.e2e.serve import Gateway

JS = Path(__file__).resolve().parents[2] / "clients" / "js"
STAMP = JS / "node_modules" / ".fngate-lockfile-sha256"


@pytest.fixture(scope="module", autouse=True)
def node_and_npm() -> None:
    """Skip (fail under CI=true) without node or npm, before a gateway is started for nothing."""
    need_tool("node", "nodejs")
    need_tool("npm", "npm")


def _npm(*args: str, env: dict[str, str] | None = None, timeout: int = 300) -> str:
    """Run ``npm ARGS`` in clients/js; fail with its whole output when it fails."""
    done = subprocess.run(["npm", *args], cwd=JS, env=env, capture_output=True, text=True,
                          timeout=timeout)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"npm {' '.join(args)} exited {done.returncode}:\n{output}"
    return output


def _install() -> None:
    """``npm ci`` unless node_modules was installed from this very lockfile."""
    lock = hashlib.sha256((JS / "package-lock.json").read_bytes()).hexdigest()
    if STAMP.is_file() and STAMP.read_text() == lock:
        return
    _npm("ci", "--prefer-offline", "--no-audit", "--no-fund")
    STAMP.write_text(lock)


def test_typescript_client_against_the_gateway(server: Gateway) -> None:
    _install()
    _npm("run", "generate:check")
    token = server.mint()["Authorization"].removeprefix("Bearer ")
    env = {**os.environ, "FNGATE_URL": server.url, "FNGATE_TOKEN": token}
    output = _npm("test", env=env, timeout=600)
    # The live suite skips itself without the variables: it must have run, every test passing.
    assert "# SKIP" not in output, output
    assert re.search(r"^# fail 0$", output, re.M), output
    written = sum(len(re.findall(r"^\s*test\(", path.read_text(), re.M))
                  for path in (JS / "test").glob("*.test.ts"))
    assert re.search(rf"^# pass {written}$", output, re.M), output
