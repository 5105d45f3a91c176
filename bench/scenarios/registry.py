"""Registry scale: list and invoke latency with N functions registered vs with 10.

One gateway: 10 functions first (or what a shared ``--quick`` gateway already holds),
measured; then the rest up to N registered through the API (concurrently, as a deploy
script would), and the same requests measured again. Latency is one connection's
sequential calls, so it is a per-request cost, not a queue. The figure is the p50 of the
quietest second of each run: both states are measured once, minutes apart, so a burst of
load from elsewhere on a shared machine would otherwise decide the ratio; the plain p50s
are in the details.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from bench._harness import Harness
from bench._report import Outcome, Row, Target
from bench.scenarios._common import PY_ECHO, Config, Gateways, create_function, loadgen

__all__ = ["registry_scale"]

_SMALL = 10
_CONNECTIONS = 16


async def _register(base_url: str, token: str, names: list[str]) -> None:
    sem = asyncio.Semaphore(_CONNECTIONS)
    limits = httpx.Limits(max_connections=_CONNECTIONS + 2)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=120,
                                 headers={"Authorization": f"Bearer {token}"}) as client:

        async def one(index: int, name: str) -> None:
            async with sem:
                r = await client.post("/api/v1/functions", json={
                    "name": name, "runtime": "python", "code": PY_ECHO,
                    "labels": {"batch": str(index % 10)}})  # a label, as real ones have
            r.raise_for_status()

        await asyncio.gather(*(one(i, n) for i, n in enumerate(names)))


def _measure(h: Harness, cfg: Config) -> dict[str, dict[str, Any]]:
    def one(path: str, method: str) -> dict[str, Any]:
        result = loadgen(h.base_url + path, cfg, method=method, body={"x": 1},
                         headers=[h.auth_header], connections=1, duration_s=cfg.latency_s)
        result["quiet_p50_ms"] = min(result["p50_by_second_ms"] or [result["p50_ms"]])
        return result

    return {
        "invoke": one("/api/v1/functions/reg-echo/invoke", "POST"),
        "list": one("/api/v1/functions?per_page=20", "GET"),
        "get": one("/api/v1/functions/reg-echo", "GET"),
    }


def registry_scale(cfg: Config, gateways: Gateways) -> Outcome:
    """p50 of invoke, list (first page) and get by name: N functions over 10."""
    many = cfg.registry_functions
    with gateways() as h:
        create_function(h.client, "reg-echo", "python", PY_ECHO)
        for i in range(max(0, _SMALL - _total(h))):
            create_function(h.client, f"reg-{i:05d}", "python", PY_ECHO)
        few = _total(h)
        small = _measure(h, cfg)
        start = time.perf_counter()
        asyncio.run(_register(h.base_url, h.token,
                              [f"reg-{i:05d}" for i in range(_SMALL, _SMALL + many - few)]))
        register_s = time.perf_counter() - start
        total = _total(h)
        large = _measure(h, cfg)
    if total != many:
        raise RuntimeError(f"{total} functions registered, expected {many}")
    rows = [
        Row(metric=f"invoke p50, {many} vs {few} fns", unit="ms",
            fngate=large["invoke"]["quiet_p50_ms"], baseline=small["invoke"]["quiet_p50_ms"],
            target=Target(on="ratio", op="<=", bound=1.2)),
        Row(metric=f"list p50, {many} vs {few} fns", unit="ms",
            fngate=large["list"]["quiet_p50_ms"], baseline=small["list"]["quiet_p50_ms"]),
        Row(metric=f"get p50, {many} vs {few} fns", unit="ms",
            fngate=large["get"]["quiet_p50_ms"], baseline=small["get"]["quiet_p50_ms"]),
        Row(metric=f"register {many - few} fns", unit="fns/s",
            fngate=(many - few) / register_s),
    ]
    return Outcome(scenario="registry-scale", rows=rows,
                   details={"functions": many, "before": few,
                            "register_seconds": register_s, "small": small, "large": large})


def _total(h: Harness) -> int:
    r = h.client.get("/api/v1/functions", params={"per_page": 1})
    return int(r.raise_for_status().json()["total"])
