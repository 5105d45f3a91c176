"""Finding the interpreters that run workers, and the command line for each runtime.

Python: the real binary behind ``sys.executable`` (never a pyenv shim, which
costs ~80 ms per start), started isolated (``-I -S``). When the workers run
as another user that cannot reach it (pyenv under a 0700 ``/root``), the
first system ``python3`` that user can run is used instead. Node.js:
``shutil.which("node")``. The runner programs are passed inline (``-c`` /
``-e``), so the worker user never needs to read the installation.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from executors import spawn
from executors.limits import WorkerUser
from executors.models import Runtime

__all__ = ["RuntimeCommand", "detect_runtimes"]

logger = logging.getLogger("fngate.executors")

SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"


@dataclass(frozen=True, slots=True, kw_only=True)
class RuntimeCommand:
    """How to start a generic worker of one runtime (fd numbers are appended)."""

    runtime: Runtime
    interpreter: str
    argv: tuple[str, ...]


@cache
def _runner_source(name: str) -> str:
    return (Path(__file__).parent / "runners" / name).read_text(encoding="utf-8")


def _probe(argv: list[str], user: WorkerUser) -> bool:
    try:
        proc = spawn.run(
            argv,
            env={"PATH": SYSTEM_PATH, "LANG": "C.UTF-8"},
            cwd="/",
            timeout=20,
            uid=user.uid,
            gid=user.gid,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return proc.returncode == 0


def _python_candidates() -> list[str]:
    found: list[str] = []
    names = [sys.executable, shutil.which("python3", path=SYSTEM_PATH) or ""]
    names += [f"/usr/bin/python3.{minor}" for minor in range(20, 9, -1)]
    for name in names:
        if not name:
            continue
        real = os.path.realpath(name)
        if "/shims/" in real or not os.access(real, os.X_OK) or real in found:
            continue
        found.append(real)
    return found


def _python(user: WorkerUser) -> RuntimeCommand | None:
    source = _runner_source("python_runner.py")
    check = "import sys; assert sys.version_info >= (3, 9)"
    for interpreter in _python_candidates():
        if _probe([interpreter, "-I", "-S", "-c", check], user):
            if interpreter != os.path.realpath(sys.executable):
                logger.warning(
                    "worker user cannot run %s; Python workers use %s",
                    os.path.realpath(sys.executable),
                    interpreter,
                )
            return RuntimeCommand(
                runtime="python",
                interpreter=interpreter,
                argv=(interpreter, "-I", "-S", "-u", "-X", "utf8", "-c", source),
            )
    return None


def _node(user: WorkerUser) -> RuntimeCommand | None:
    found = shutil.which("node") or shutil.which("node", path=SYSTEM_PATH)
    if not found:
        return None
    interpreter = os.path.realpath(found)
    if not _probe([interpreter, "-e", "0"], user):
        return None
    source = _runner_source("node_runner.js")
    return RuntimeCommand(
        runtime="nodejs", interpreter=interpreter, argv=(interpreter, "-e", source)
    )


def detect_runtimes(user: WorkerUser) -> dict[Runtime, RuntimeCommand | None]:
    """Find a working interpreter per runtime, as the worker user will run it (blocking)."""
    return {"python": _python(user), "nodejs": _node(user)}
