"""Finding the interpreters that run workers, and the command line for each runtime.

Python: the real binary behind ``sys.executable`` (never a pyenv shim, which
costs ~80 ms per start), started isolated (``-I -S``). When the workers run
as another user that cannot reach it (pyenv under a 0700 ``/root``), the
first system ``python3`` that user can run is used instead. Node.js:
``shutil.which("node")``. The runner programs are passed inline (``-c`` /
``-e``), so the worker user never needs to read the installation.

Go and Rust are compiled at deploy (:mod:`executors.compile`): their entry is
the toolchain (``go``; ``rustc`` with the ``cargo`` beside it), again the first
one the worker user can run — the machine's own (``PATH``, ``/usr/local``)
before Debian's (``golang-1.19-go`` / ``golang-go``, ``rustc`` + ``cargo``), so
a rustup toolchain under a 0700 ``/root`` is passed over for Debian's. A
compiled function's worker is an exec of its own binary, never a generic one.
"""

from __future__ import annotations

import dataclasses
import glob
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

__all__ = ["DEBIAN_CRATES", "RuntimeCommand", "detect_runtimes"]

logger = logging.getLogger("fngate.executors")

SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"
# Debian's packaged Rust crates, the only source of a Rust build (no network).
DEBIAN_CRATES = "/usr/share/cargo/registry"


@dataclass(frozen=True, slots=True, kw_only=True)
class RuntimeCommand:
    """How to start a generic worker of one runtime (fd numbers are appended)."""

    runtime: Runtime
    interpreter: str  # go/rust: the compiler (``go``, ``rustc``)
    # go/rust: the pre-started worker that execs a function's binary (runners/exec_runner.py;
    # empty without a Python to run it: then each cold start starts a sandbox of its own).
    argv: tuple[str, ...]
    compiled: bool = False  # go/rust: a function's own binary is the worker
    cargo: str | None = None  # rust: the cargo that builds the runtime's crates once


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


def _first_runnable(names: list[str], version_arg: str, user: WorkerUser) -> str | None:
    seen: set[str] = set()
    for name in names:
        if not name:
            continue
        real = os.path.realpath(name)
        if real in seen or not os.access(real, os.X_OK):
            continue
        seen.add(real)
        if _probe([real, version_arg], user):
            return real
    return None


def _go(user: WorkerUser) -> RuntimeCommand | None:
    debian = sorted(glob.glob("/usr/lib/go-1.*/bin/go"),
                    key=lambda p: [int(x) for x in p.split("/go-")[1].split("/")[0].split(".")],
                    reverse=True)
    names = [shutil.which("go") or "", "/usr/local/go/bin/go", *debian, "/usr/bin/go"]
    found = _first_runnable(names, "version", user)
    if found is None:
        return None
    return RuntimeCommand(runtime="go", interpreter=found, argv=(), compiled=True)


def _rust(user: WorkerUser) -> RuntimeCommand | None:
    if not glob.glob(f"{DEBIAN_CRATES}/serde_json-1.*"):
        if shutil.which("rustc") or os.path.exists("/usr/bin/rustc"):
            logger.warning("Rust functions need Debian's packaged crates (apt-get install "
                           "librust-serde-json-dev): not found in %s", DEBIAN_CRATES)
        return None
    names = [shutil.which("rustc") or "", "/usr/local/bin/rustc", "/usr/bin/rustc"]
    for rustc in names:
        if not rustc:
            continue
        # The cargo of the same toolchain: beside the rustc (a rustup proxy is a link to
        # rustup, so beside the name first, then beside the real file).
        cargos = [os.path.join(os.path.dirname(rustc), "cargo"),
                  os.path.join(os.path.dirname(os.path.realpath(rustc)), "cargo")]
        found = _first_runnable([rustc], "--version", user)
        cargo = _first_runnable(cargos, "--version", user) if found else None
        if found is not None and cargo is not None:
            if names[0] and found != os.path.realpath(names[0]):
                logger.warning("the worker user cannot run %s; Rust functions build with %s",
                               names[0], found)
            return RuntimeCommand(runtime="rust", interpreter=found, argv=(), compiled=True,
                                  cargo=cargo)
    return None


def detect_runtimes(user: WorkerUser) -> dict[Runtime, RuntimeCommand | None]:
    """Find a working interpreter (or toolchain) per runtime, as the worker user will run
    it (blocking)."""
    python = _python(user)
    found: dict[Runtime, RuntimeCommand | None] = {"python": python, "nodejs": _node(user)}
    compiled: tuple[tuple[Runtime, RuntimeCommand | None], ...] = (
        ("go", _go(user)), ("rust", _rust(user)))
    for runtime, toolchain in compiled:
        if toolchain is not None and python is not None:
            # -S -I (not -I -S): a stub is told apart from a Python worker by its flags.
            stub = (python.interpreter, "-S", "-I", "-c", _runner_source("exec_runner.py"))
            toolchain = dataclasses.replace(toolchain, argv=stub)
        found[runtime] = toolchain
    return found
