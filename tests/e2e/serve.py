"""Running ``fngate serve`` as a user does: the command, a clean environment, a port,
readiness, SIGTERM; and :class:`Gateway`, one such process with a client. Shared by the
end-to-end tier and the few integration tests that need a real gateway process."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from tests.conftest import IN_CI, need_tool

__all__ = ["ADMIN_SCOPES", "Gateway", "clean_env", "fngate_argv", "free_port", "need_sandbox",
           "poll", "wait_ready"]

T = TypeVar("T")

ADMIN_SCOPES = "admin execute:all read:functions write:functions read:jobs"


def fngate_argv() -> list[str]:
    """The installed ``fngate`` command (or the module, when the script is missing)."""
    script = shutil.which("fngate", path=os.path.dirname(sys.executable))
    return [script] if script else [sys.executable, "-m", "gateway.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any ``FNGATE_*`` setting, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FNGATE_")}
    env.update(extra)
    return env


def poll(probe: Callable[[], T | None], *, timeout_s: float, what: str,
         interval_s: float = 0.2) -> T:
    """Call ``probe`` until it returns something truthy (returned); fail after ``timeout_s``
    saying ``what`` was awaited and what the probe returned last."""
    deadline = time.monotonic() + timeout_s
    last: T | None = None
    while True:
        last = probe()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout_s} s (last: {last!r})")
        time.sleep(interval_s)


def need_sandbox() -> None:
    """Skip (fail under CI=true) unless a root gateway can run its namespace sandbox."""
    need_tool("bwrap", "bubblewrap")
    need_tool("pasta", "passt")
    if os.geteuid() != 0:
        message = "the end-to-end tier runs fngate serve as root (uids per worker, egress filter)"
        if IN_CI:
            pytest.fail(message + " (CI=true: run it as root)")
        pytest.skip(message)


def wait_ready(url: str, proc: subprocess.Popen[bytes], *, timeout_s: float = 90,
               log_tail: Callable[[], str] = str) -> None:
    """Poll ``/ready`` until it answers 200; fail at once (with ``log_tail()``) if the
    process exits first."""

    def ready() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"fngate serve exited with {proc.returncode}:\n" + log_tail())
        with contextlib.suppress(httpx.HTTPError):
            return httpx.get(url + "/ready", timeout=2).status_code == 200
        return False

    poll(ready, timeout_s=timeout_s, what="fngate serve ready")


class Gateway:
    """One ``fngate serve`` process (started and stopped on demand) and a client for it."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root = root
        self.data_dir = root / "data"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = env
        self.log_path = root / "serve.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def mint(self, scopes: str = ADMIN_SCOPES, sub: str = "alice") -> dict[str, str]:
        """Authorization headers with a token from ``fngate token`` (the README's way)."""
        minted = subprocess.run(
            [*fngate_argv(), "token", "--data-dir", str(self.data_dir), "--sub", sub,
             "--scope", scopes],
            check=True, capture_output=True, text=True, env=self.env, timeout=60,
        )
        return {"Authorization": f"Bearer {minted.stdout.strip()}"}

    def start(self, timeout_s: float = 90) -> None:
        """Start it (in a process group of its own, which :meth:`kill` ends) and wait
        until it is ready."""
        assert self.proc is None
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [*fngate_argv(), "serve", "--data-dir", str(self.data_dir),
                 "--port", str(self.port)],
                env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        wait_ready(self.url, self.proc, log_tail=self.log_tail, timeout_s=timeout_s)

    def kill(self) -> None:
        """``kill -9`` of the gateway and everything in its process group, as a crash."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM, as an operator stops it; fail when it does not stop in time."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            pytest.fail("fngate serve did not stop on SIGTERM")

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        kwargs.setdefault("timeout", 60)
        return httpx.request(method, self.url + path, **kwargs)
