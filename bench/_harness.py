"""Start a real ``fngate serve`` and the bare baseline side by side, and time calls."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

__all__ = ["Harness", "harness", "median_ms", "timed_ms"]

# High enough never to refuse the benchmark, so the limiter's cost is still measured.
BENCH_RATE_LIMITS = ("execute=10000000/minute|10000000/minute; read=10000000/minute|10000000/"
                     "minute; write=10000000/minute|10000000/minute")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _fngate() -> list[str]:
    script = shutil.which("fngate", path=os.path.dirname(sys.executable))
    return [script] if script else [sys.executable, "-m", "gateway.cli"]


def _wait(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{proc.args} exited with {proc.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not come up")


@dataclass(frozen=True, slots=True)
class Harness:
    """A running gateway (``client`` with an admin token) and the bare echo URL."""

    client: httpx.Client
    bare_url: str


def timed_ms(client: httpx.Client, url: str, body: object,
             headers: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    r = client.post(url, json=body, headers=headers)
    elapsed = (time.perf_counter() - start) * 1000
    r.raise_for_status()
    return elapsed


def median_ms(client: httpx.Client, url: str, body: object, calls: int,
              headers: dict[str, str] | None = None, warmup: int = 10) -> float:
    for _ in range(warmup):
        timed_ms(client, url, body, headers)
    return statistics.median(timed_ms(client, url, body, headers) for _ in range(calls))


@contextlib.contextmanager
def harness() -> Iterator[Harness]:
    """``fngate serve`` (embedded PostgreSQL unless FNGATE_DATABASE_URL is set) + baseline."""
    data = Path(tempfile.mkdtemp(prefix="fngate-bench-")) / "data"
    gw_port, bare_port = _port(), _port()
    env = {k: v for k, v in os.environ.items() if k != "FNGATE_DATA_DIR"}
    env["FNGATE_RATE_LIMITS"] = BENCH_RATE_LIMITS
    token = subprocess.run(
        [*_fngate(), "token", "--data-dir", str(data), "--sub", "bench", "--scope", "admin"],
        check=True, capture_output=True, text=True, env=env,
    ).stdout.strip()
    gateway = subprocess.Popen([*_fngate(), "serve", "--data-dir", str(data), "--port",
                                str(gw_port)], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    bare = subprocess.Popen([sys.executable, "-m", "bench.bare_echo", str(bare_port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{gw_port}"
        _wait(base + "/health", gateway)
        _wait(f"http://127.0.0.1:{bare_port}/", bare)
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"},
                          timeout=60) as client:
            yield Harness(client=client, bare_url=f"http://127.0.0.1:{bare_port}/echo")
    finally:
        for proc in (gateway, bare):
            proc.send_signal(signal.SIGTERM)
        for proc in (gateway, bare):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
