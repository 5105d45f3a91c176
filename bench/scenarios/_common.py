"""What every scenario shares: sizes, the load generator process, the gateway's workers."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench._harness import Harness, harness

__all__ = ["Config", "Gateways", "children", "cold_room", "cpu_s", "create_function", "loadgen",
           "rss_kb", "worker_exe"]

PY_ECHO = "def handler(event):\n    return event\n"
NODE_ECHO = "function handler(event) { return event }"


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    """How much each scenario does: the issue's sizes, or fewer with ``--quick``."""

    quick: bool
    duration_s: float
    warmup_s: float
    connections: int
    latency_s: float
    cold_functions: int
    jobs: int
    messages: int
    registry_functions: int
    memory_workers: int
    #: Rounds per side of an alternating A/B comparison (the ``dialects`` scenario).
    ab_rounds: int

    @classmethod
    def full(cls) -> Config:
        return cls(quick=False, duration_s=5.0, warmup_s=1.0, connections=16, latency_s=3.0,
                   cold_functions=30, jobs=2000, messages=2000, registry_functions=5000,
                   memory_workers=100, ab_rounds=4)

    @classmethod
    def small(cls) -> Config:
        return cls(quick=True, duration_s=0.5, warmup_s=0.2, connections=16, latency_s=0.5,
                   cold_functions=3, jobs=200, messages=200, registry_functions=100,
                   memory_workers=5, ab_rounds=1)


def cold_room(cfg: Config) -> dict[str, str]:
    """Settings that give a gateway room for every cold function's worker (none with
    ``--quick``): at the worker cap, a cold start would also pay an eviction, and the
    generic pools could not refill (that is the cap's price, not a cold start's; the
    worker-cap tests cover it)."""
    return {} if cfg.quick else {"FNGATE_MAX_WORKERS": str(4 * cfg.cold_functions + 32)}


class Gateways:
    """Hands each scenario a running gateway: a fresh one every time, or with ``shared``
    (``--quick``) one gateway, started with ``shared``'s settings, for the whole run.

    Scenarios must therefore not assume an empty registry: a smoke test runs them all
    against one gateway; the full run gives each its own.
    """

    def __init__(self, *, shared: Mapping[str, str] | None = None) -> None:
        self._shared = dict(shared) if shared is not None else None
        self._stack = contextlib.ExitStack()
        self._open: Harness | None = None

    @contextlib.contextmanager
    def __call__(self, env: Mapping[str, str] | None = None) -> Iterator[Harness]:
        env = env or {}
        shared = self._shared
        if shared is None or any(shared.get(k) != v for k, v in env.items()):
            with harness(env) as h:
                yield h
            return
        if self._open is None:
            self._open = self._stack.enter_context(harness(shared))
        yield self._open

    def close(self) -> None:
        self._stack.close()


def loadgen(url: str, cfg: Config, *, method: str = "POST", body: object = None,
            headers: list[str] | None = None, connections: int | None = None,
            duration_s: float | None = None, requests: int | None = None,
            expect: int | None = None) -> dict[str, Any]:
    """Run ``bench.loadgen`` in its own process against ``url``; return its figures (every
    response a 2xx, or ``expect``)."""
    duration_s = duration_s or cfg.duration_s
    argv = [sys.executable, "-m", "bench.loadgen", url, "--method", method,
            "--connections", str(connections or cfg.connections),
            "--duration", str(duration_s), "--warmup", str(cfg.warmup_s),
            "--body", json.dumps(body if body is not None else {})]
    if requests is not None:
        argv += ["--requests", str(requests)]
    if expect is not None:
        argv += ["--expect", str(expect)]
    for header in headers or []:
        argv += ["--header", header]
    out = subprocess.run(argv, check=True, capture_output=True, text=True,
                         timeout=duration_s + cfg.warmup_s + 600)
    result: dict[str, Any] = json.loads(out.stdout)
    if result["errors"] or not result["requests"]:
        raise RuntimeError(f"load generator against {url}: {result}")
    return result


def create_function(client: httpx.Client, name: str, runtime: str, code: str,
                    **fields: Any) -> None:
    r = client.post("/api/v1/functions",
                    json={"name": name, "runtime": runtime, "code": code, **fields})
    r.raise_for_status()


def children(pid: int) -> list[int]:
    """Direct child processes of ``pid`` (Linux /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # The comm field may hold spaces; the parent pid is the 2nd field after ")".
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry))
    return found


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (workers sit under pasta and bubblewrap)."""
    out: list[int] = []
    todo = children(pid)
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children(p))
    return out


def interpreters(gateway_pid: int, runtime: str) -> list[int]:
    """The worker processes of ``runtime`` under the gateway (by their command line)."""
    flags = [b"-I", b"-S"] if runtime == "python" else [b"-e"]
    found = []
    for pid in descendants(gateway_pid):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv[1:1 + len(flags)] == flags:
            found.append(pid)
    return found


def uid_of(pid: int) -> int:
    """The real uid of ``pid``."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise RuntimeError(f"no Uid for pid {pid}")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (its children not counted)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kb(pid: int) -> int:
    """VmRSS of ``pid`` in kB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def worker_exe(gateway_pid: int, runtime: str, timeout_s: float = 10.0) -> str:
    """The interpreter binary a running worker of ``runtime`` was started with."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for pid in interpreters(gateway_pid, runtime):
            try:
                return os.readlink(f"/proc/{pid}/exe")
            except OSError:
                continue
        time.sleep(0.1)
    raise RuntimeError(f"the gateway runs no {runtime} worker")
