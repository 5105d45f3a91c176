"""The dialects' cost in one process: two apps, with every dialect and with none, A/B.

    python -m bench.dialect_ab [--rounds 8] [--requests 300]

Both apps (``FNGATE_DIALECTS`` unset and ``none``) run in this process on one fresh
database of the PostgreSQL of ``FNGATE_BENCH_PG`` (default
``postgresql://postgres@127.0.0.1/test``), rate limits high enough never to refuse, and
are called through httpx's ASGI transport: no sockets, no second process, so the only
difference between the two is what the dialects add to a request's path. Per round each
app takes the same sequential requests — a warm native invoke of a Python echo, a native
GET of that function, an unknown path (404) — the app going first alternating. It prints
the median over rounds of this process's CPU time per request (user + system; the
workers are other processes) with and without, and the median and quartiles of each
round's ratio with/without (1.00: no cost). Load from
elsewhere on the machine disturbs this far less than the ``dialects`` scenario's
throughput over HTTP.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx

from auth import mint_token
from bench._harness import BENCH_RATE_LIMITS
from config import load
from gateway.app import create_app

__all__ = ["main"]

_PG = os.environ.get("FNGATE_BENCH_PG", "postgresql://postgres@127.0.0.1/test")
_SECRET = "dialect-ab-" + "x" * 40
_REQUESTS = {
    "warm invoke": ("POST", "/api/v1/functions/echo/invoke", 200),
    "native GET": ("GET", "/api/v1/functions/echo", 200),
    "unknown path (404)": ("GET", "/api/v1/no-such-resource", 404),
}


@contextlib.asynccontextmanager
async def _database() -> AsyncIterator[str]:
    name = f"fngate_dialect_ab_{os.getpid()}"
    conn = await asyncpg.connect(_PG)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await conn.execute(f"CREATE DATABASE {name}")
        yield _PG.rsplit("/", 1)[0] + "/" + name
    finally:
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await conn.close()


@contextlib.asynccontextmanager
async def _app(dsn: str, root: Path, dialects: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = load({}, toml_path=root / "none.toml", data_dir=str(root / dialects),
                    database_url=dsn, jwt_secret=_SECRET, dialects=dialects,
                    rate_limits=BENCH_RATE_LIMITS)
    app = create_app(settings)
    token = mint_token(secret=_SECRET, subject="dialect-ab", scopes="admin", ttl_s=3600)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://fngate.test", timeout=60,
            headers={"Authorization": f"Bearer {token}"}) as client:
        yield client


async def _call(client: httpx.AsyncClient, method: str, path: str, status: int) -> None:
    r = await client.request(method, path, json={"n": 1} if method == "POST" else None)
    if r.status_code != status:
        raise RuntimeError(f"{method} {path} answered {r.status_code}: {r.text}")


async def _run(rounds: int, requests: int) -> dict[str, dict[str, list[float]]]:
    figures: dict[str, dict[str, list[float]]] = {
        metric: {"with": [], "without": []} for metric in _REQUESTS}
    async with contextlib.AsyncExitStack() as stack:
        # Both data directories (generated secrets among them) go when the run ends.
        root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="fngate-dialect-ab-")))
        dsn = await stack.enter_async_context(_database())
        with_ = await stack.enter_async_context(_app(dsn, root, "all"))
        without = await stack.enter_async_context(_app(dsn, root, "none"))
        apps = {"with": with_, "without": without}
        (await with_.post("/api/v1/functions", json={
            "name": "echo", "runtime": "python",
            "code": "def handler(event):\n    return event\n"})).raise_for_status()
        for client in apps.values():  # warm: a worker each, caches filled
            for method, path, status in _REQUESTS.values():
                for _ in range(20):
                    await _call(client, method, path, status)
        for i in range(rounds):
            for label in ("with", "without") if i % 2 == 0 else ("without", "with"):
                for metric, (method, path, status) in _REQUESTS.items():
                    cpu = time.process_time()
                    for _ in range(requests):
                        await _call(apps[label], method, path, status)
                    figures[metric][label].append((time.process_time() - cpu) / requests)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    figures = asyncio.run(_run(args.rounds, args.requests))
    for metric, sides in figures.items():
        with_us = statistics.median(sides["with"]) * 1e6
        without_us = statistics.median(sides["without"]) * 1e6
        # Each round's pair measured back to back: their ratio cancels slower drift.
        ratios = sorted(w / wo for w, wo in zip(sides["with"], sides["without"], strict=True))
        low, mid, high = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else ratios * 3
        print(f"{metric}: CPU per request with {with_us:.0f} µs, without {without_us:.0f} µs;"
              f" with/without per round: median {mid:.2f}x (quartiles {low:.2f}-{high:.2f})")


if __name__ == "__main__":
    main()
