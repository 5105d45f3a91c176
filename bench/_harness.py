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
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

__all__ = ["Harness", "cpu_seconds", "harness", "median_ms", "side_server", "timed_ms"]

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
            raise SystemExit(f"{proc.args!r} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


def _cpu_ticks(pid: int) -> int:
    """CPU clock ticks of ``pid`` and its direct children (0 once gone)."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry) == pid or int(fields[1]) == pid:
            total += int(fields[11]) + int(fields[12])
    return total


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (its children not counted)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _settle(pid: int, timeout_s: float = 10.0) -> None:
    """Wait until the gateway's start-up work (pre-started workers, background pip/npm
    probes) is done — under 20% of a core for a whole second — so it is not measured."""
    deadline = time.monotonic() + timeout_s
    hz = os.sysconf("SC_CLK_TCK")
    quiet = 0
    while time.monotonic() < deadline and quiet < 4:
        before = _cpu_ticks(pid)
        time.sleep(0.25)
        quiet = quiet + 1 if (_cpu_ticks(pid) - before) / hz < 0.05 else 0


@dataclass(frozen=True, slots=True)
class Harness:
    """A running gateway (``client`` with an admin token) and the bare echo URL."""

    client: httpx.Client
    bare_url: str
    base_url: str
    token: str
    gateway_pid: int

    @property
    def auth_header(self) -> str:
        return f"Authorization: Bearer {self.token}"


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


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def side_server(module: str, *args: str) -> Iterator[str]:
    """``python -m module PORT *args`` (a baseline server of bench/), its base URL while
    it runs; stopped on exit."""
    port = _port()
    proc = subprocess.Popen([sys.executable, "-m", module, str(port), *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait(base + "/", proc)
        yield base
    finally:
        _stop([proc])


@contextlib.contextmanager
def harness(env: Mapping[str, str] | None = None) -> Iterator[Harness]:
    """``fngate serve`` (embedded PostgreSQL unless FNGATE_DATABASE_URL is set) + baseline.

    ``env`` adds ``FNGATE_*`` settings for this gateway. Everything it started is stopped,
    and its data directory removed, on exit.
    """
    root = Path(tempfile.mkdtemp(prefix="fngate-bench-"))
    data = root / "data"
    gw_port = _port()
    gw_env = {k: v for k, v in os.environ.items() if k != "FNGATE_DATA_DIR"}
    gw_env["FNGATE_RATE_LIMITS"] = BENCH_RATE_LIMITS
    gw_env.update(env or {})
    procs: list[subprocess.Popen[bytes]] = []
    try:
        token = subprocess.run(
            [*_fngate(), "token", "--data-dir", str(data), "--sub", "bench", "--scope", "admin"],
            check=True, capture_output=True, text=True, env=gw_env,
        ).stdout.strip()
        gateway = subprocess.Popen([*_fngate(), "serve", "--data-dir", str(data), "--port",
                                    str(gw_port)], env=gw_env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        procs.append(gateway)
        with side_server("bench.bare_echo") as bare:
            base = f"http://127.0.0.1:{gw_port}"
            _wait(base + "/ready", gateway)
            _settle(gateway.pid)
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"},
                              timeout=60) as client:
                yield Harness(client=client, bare_url=bare + "/echo", base_url=base,
                              token=token, gateway_pid=gateway.pid)
    finally:
        _stop(procs)
        # The embedded cluster lives beside the data directory (as root): both go.
        shutil.rmtree(root, ignore_errors=True)
