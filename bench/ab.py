"""Two checkouts of fngate side by side: the same requests, in alternating rounds.

    python -m bench.ab OLD_TREE NEW_TREE [--rounds 8] [--requests 300] [PATH ...]

Each tree must hold an installed checkout (``OLD_TREE/.venv/bin/fngate``; make one with
``git worktree add /tmp/old <commit>`` and ``python3 -m venv .venv && .venv/bin/pip
install -e .`` inside it). Each gateway gets its own database on the PostgreSQL of
``FNGATE_BENCH_PG`` (default ``postgresql://postgres@127.0.0.1/test``), rate limits off,
and the same 25 functions. Then, for each path (default: the first page of the function
list and one function), rounds of sequential GETs alternate between the two, which one
goes first alternating too, so load from elsewhere falls on both alike. A path written
``POST /api/v1/functions/f3/invoke`` is POSTed with the body ``{}`` instead (a warm
invoke: the first request of each gateway starts the worker, before the rounds). It
prints the median over rounds of each round's p50, and NEW/OLD: the figure for "no worse
than before" claims (1.00 is the same; below is faster). It also prints the gateway
process's own CPU time per request (user + system, from ``/proc``; workers not counted),
which other load on the machine disturbs far less than latency does.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx

from bench.scenarios._common import cpu_s

_PG = os.environ.get("FNGATE_BENCH_PG", "postgresql://postgres@127.0.0.1/test")
_PATHS = ["/api/v1/functions?per_page=20", "/api/v1/functions/f3"]
_CODE = "def handler(event, context):\n    return event\n"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _fresh_database(name: str) -> str:
    conn = await asyncpg.connect(_PG)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()
    return _PG.rsplit("/", 1)[0] + "/" + name


async def _drop_database(name: str) -> None:
    conn = await asyncpg.connect(_PG)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await conn.close()


@contextlib.contextmanager
def _gateway(label: str, tree: Path) -> Iterator[tuple[httpx.Client, int]]:
    """``fngate serve`` of ``tree`` on a database of its own, with 25 functions."""
    fngate = str(tree / ".venv" / "bin" / "fngate")
    # Named by this run's pid too: two runs at once on one PostgreSQL (several people on
    # one machine) dropped each other's databases under their gateways.
    database = f"fngate_ab_{label}_{os.getpid()}"
    env = {**os.environ, "FNGATE_RATE_LIMITS": "off",
           "FNGATE_DATABASE_URL": asyncio.run(_fresh_database(database))}
    data = tempfile.mkdtemp(prefix=f"fngate-ab-{label}-")
    token = subprocess.run([fngate, "token", "--data-dir", data, "--sub", "ab", "--scope",
                            "admin"], env=env, capture_output=True, text=True,
                           check=True).stdout.strip()
    port = _port()
    proc = subprocess.Popen([fngate, "serve", "--data-dir", data, "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60,
                          headers={"Authorization": f"Bearer {token}"}) as client:
            _ready(client, proc)
            for i in range(25):
                client.post("/api/v1/functions", json={
                    "name": f"f{i}", "runtime": "python", "code": _CODE,
                    "environment": {"A": "1"}, "labels": {"team": "ab"},
                }).raise_for_status()
            yield client, proc.pid
    finally:
        proc.terminate()
        proc.wait(30)
        asyncio.run(_drop_database(database))


def _ready(client: httpx.Client, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"fngate serve exited with {proc.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if client.get("/ready").status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError("fngate serve was not ready within 120 s")


def _request(client: httpx.Client, path: str) -> None:
    """GET ``path``, or POST ``{}`` to what follows ``POST `` in it."""
    if path.startswith("POST "):
        client.post(path.removeprefix("POST "), json={}).raise_for_status()
    else:
        client.get(path).raise_for_status()


def _round(client: httpx.Client, pid: int, path: str, requests: int) -> tuple[float, float]:
    """The round's p50 in ms, and the gateway's CPU seconds it took."""
    latencies = []
    cpu = cpu_s(pid)
    for _ in range(requests):
        started = time.perf_counter()
        _request(client, path)
        latencies.append(time.perf_counter() - started)
    return statistics.median(latencies) * 1000, cpu_s(pid) - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("paths", nargs="*", default=_PATHS)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    with _gateway("old", args.old) as old, _gateway("new", args.new) as new:
        pair = {"old": old, "new": new}
        for client, _ in pair.values():  # warm: a worker per invoked function, caches filled
            for path in args.paths:
                _request(client, path)
        figures: dict[tuple[str, str], list[float]] = {(k, p): [] for k in pair
                                                       for p in args.paths}
        cpu: dict[tuple[str, str], float] = dict.fromkeys(figures, 0.0)
        for i in range(args.rounds):
            for label in (("old", "new") if i % 2 == 0 else ("new", "old")):
                for path in args.paths:
                    p50, used = _round(*pair[label], path, args.requests)
                    figures[(label, path)].append(p50)
                    cpu[(label, path)] += used
    per_request_us = 1e6 / (args.rounds * args.requests)
    for path in args.paths:
        old_ms = statistics.median(figures[("old", path)])
        new_ms = statistics.median(figures[("new", path)])
        old_cpu = cpu[("old", path)] * per_request_us
        new_cpu = cpu[("new", path)] * per_request_us
        print(f"{path}: old p50 {old_ms:.3f} ms, new p50 {new_ms:.3f} ms, "
              f"new/old {new_ms / old_ms:.2f}x; gateway CPU per request old "
              f"{old_cpu:.0f} µs, new {new_cpu:.0f} µs, new/old {new_cpu / old_cpu:.2f}x")


if __name__ == "__main__":
    main()
