"""The sandbox's price: warm invoke throughput and cold starts, namespaces vs process.

Two gateways in the same run, one after the other: the default (``FNGATE_SANDBOX``
unset: bubblewrap namespaces, pasta, a uid per worker, the freezer) and one with
``FNGATE_SANDBOX=process``. Each serves the same warm Python echo to the same load
generator; the baseline of every row is the process-mode figure. With ``--quick`` the
default one is the run's shared gateway.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from bench._report import Outcome, Row, Target
from bench.scenarios._common import (
    PY_ECHO,
    Config,
    Gateways,
    cold_room,
    create_function,
    loadgen,
)

__all__ = ["sandbox_overhead"]

_BODY = {"hello": "world", "n": 1}
_COLD_GAP_S = 0.3


def _measure(cfg: Config, gateways: Gateways,
             env: dict[str, str] | None) -> dict[str, Any]:
    with gateways(env) as h:
        health = h.client.get("/health").json()
        create_function(h.client, "sandbox-echo", "python", PY_ECHO)
        url = "/api/v1/functions/sandbox-echo/invoke"
        h.client.post(url, json=_BODY).raise_for_status()
        load = loadgen(h.base_url + url, cfg, body=_BODY, headers=[h.auth_header])
        colds = []
        for i in range(cfg.cold_functions):
            name = f"sandbox-cold-{i}"
            create_function(h.client, name, "python", PY_ECHO)
            time.sleep(_COLD_GAP_S)
            started = time.perf_counter()
            r = h.client.post(f"/api/v1/functions/{name}/invoke", json=_BODY)
            colds.append((time.perf_counter() - started) * 1000)
            r.raise_for_status()
    return {"isolation": health.get("isolation"), "load": load,
            "cold_p50_ms": statistics.median(colds), "cold_ms": colds}


def sandbox_overhead(cfg: Config, gateways: Gateways) -> Outcome:
    """Warm throughput with the sandbox ≥ 0.9× the same gateway in process mode."""
    # --quick (the suite's smoke run): the shared gateway, which runs the default
    # sandbox (namespaces, as the check below makes sure), instead of starting another.
    # Both with room for every cold function's worker (cold_room), as the cold-start
    # scenario: past the cap, each cold start timed an eviction and a sandbox start.
    room = cold_room(cfg)
    namespaces = _measure(cfg, gateways,
                          None if cfg.quick else {"FNGATE_SANDBOX": "namespaces", **room})
    process = _measure(cfg, gateways, {"FNGATE_SANDBOX": "process", **room})
    if namespaces["isolation"] != "namespaces" or process["isolation"] != "process":
        raise RuntimeError(f"isolation reported {namespaces['isolation']!r} and"
                           f" {process['isolation']!r}, not namespaces and process")
    ns, pr = namespaces["load"], process["load"]
    rows = [
        Row(metric="warm invoke, namespaces/process", unit="req/s", fngate=ns["rps"],
            baseline=pr["rps"], target=Target(on="ratio", op=">=", bound=0.9)),
        Row(metric="warm invoke p50", unit="ms", fngate=ns["p50_ms"], baseline=pr["p50_ms"]),
        Row(metric="cold start p50", unit="ms", fngate=namespaces["cold_p50_ms"],
            baseline=process["cold_p50_ms"]),
    ]
    return Outcome(scenario="sandbox", rows=rows,
                   details={"namespaces": namespaces, "process": process})
