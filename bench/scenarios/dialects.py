"""The compatibility dialects' price to the native routes: with them mounted and without.

Two gateways side by side for the whole scenario: one serving every dialect (the
default) and one with ``FNGATE_DIALECTS=none``. The same load generator, with the
connections of the other throughput scenarios, drives each in turn, in rounds whose
order alternates (with/without, then without/with, …) so that drift and load from
elsewhere on a shared machine fall on both alike. Three requests are measured this way:
a warm native invoke of a Python echo, a native GET of that function, and a path no
route serves (the 404 that only comes once the router has tried every route, dialects'
included). Each side's figure is its requests over its measured seconds, all rounds
together; the ratio is with / without (1.00: no cost). Beside throughput, the gateway
process's own CPU time per request (user + system from ``/proc``, over every request of
the round, warm-up included; workers not counted), which load from elsewhere on the
machine disturbs far less than throughput. The per-round ratios are in the details.
"""

from __future__ import annotations

from typing import Any

from bench._harness import Harness, cpu_seconds
from bench._report import Outcome, Row, Target
from bench.scenarios._common import PY_ECHO, Config, Gateways, create_function, loadgen

__all__ = ["dialect_cost"]

_ALL = ["function-api", "kube-serverless", "project-functions", "function-service"]
_FUNCTION = "dialects-echo"
_BODY = {"hello": "world", "n": 1}
# A dialect path: served by the gateway with dialects, the native 404 on the other.
_DIALECT_PATH = "/compat/function-api/functions"
_REQUESTS = {
    "warm invoke": ("POST", f"/api/v1/functions/{_FUNCTION}/invoke", 200),
    "native GET": ("GET", f"/api/v1/functions/{_FUNCTION}", 200),
    "unknown path (404)": ("GET", "/api/v1/no-such-resource", 404),
}


def _prepare(h: Harness, dialects: list[str]) -> None:
    """Check what ``h`` serves, then create the echo and warm its worker."""
    served = h.client.get("/status").raise_for_status().json()["dialects"]
    if served != dialects:
        raise RuntimeError(f"the gateway serves the dialects {served}, expected {dialects}")
    probe = h.client.get(_DIALECT_PATH)
    if (probe.status_code == 404) != (not dialects):
        raise RuntimeError(f"GET {_DIALECT_PATH} answered {probe.status_code}"
                           f" with dialects {dialects}")
    if not dialects and probe.json()["error"]["code"] != "NOT_FOUND":
        raise RuntimeError(f"an unmounted dialect path answered {probe.text}")
    create_function(h.client, _FUNCTION, "python", PY_ECHO)
    h.client.post(_REQUESTS["warm invoke"][1], json=_BODY).raise_for_status()


def _alternate(cfg: Config, sides: dict[str, Harness], method: str, path: str,
               status: int) -> dict[str, list[dict[str, Any]]]:
    """``cfg.ab_rounds`` load runs per side, the side going first alternating."""
    runs: dict[str, list[dict[str, Any]]] = {label: [] for label in sides}
    order = list(sides)
    for i in range(cfg.ab_rounds):
        for label in order if i % 2 == 0 else order[::-1]:
            h = sides[label]
            cpu = cpu_seconds(h.gateway_pid)
            run = loadgen(h.base_url + path, cfg, method=method, body=_BODY,
                          headers=[h.auth_header], expect=status)
            run["gateway_cpu_s"] = cpu_seconds(h.gateway_pid) - cpu
            runs[label].append(run)
    return runs


def _rps(runs: list[dict[str, Any]]) -> float:
    return float(sum(r["requests"] for r in runs) / sum(r["seconds"] for r in runs))


def _cpu_us(runs: list[dict[str, Any]]) -> float:
    """The gateway's CPU microseconds per request answered (warm-up included)."""
    return float(sum(r["gateway_cpu_s"] for r in runs) * 1e6 / sum(r["answered"] for r in runs))


def dialect_cost(cfg: Config, gateways: Gateways) -> Outcome:
    """Native throughput with the four dialects mounted over the same without them."""
    rows: list[Row] = []
    details: dict[str, Any] = {"rounds": cfg.ab_rounds, "connections": cfg.connections}
    with gateways() as mounted, gateways({"FNGATE_DIALECTS": "none"}) as bare:
        _prepare(mounted, _ALL)
        _prepare(bare, [])
        for metric, (method, path, status) in _REQUESTS.items():
            runs = _alternate(cfg, {"with": mounted, "without": bare}, method, path, status)
            native = status == 200
            rows.append(Row(metric=f"{metric}, with/without", unit="req/s",
                            fngate=_rps(runs["with"]), baseline=_rps(runs["without"]),
                            target=Target(on="ratio", op=">=", bound=0.95) if native else None))
            rows.append(Row(metric=f"{metric}, gateway CPU/request", unit="µs",
                            fngate=_cpu_us(runs["with"]), baseline=_cpu_us(runs["without"]),
                            target=Target(on="ratio", op="<=", bound=1.05) if native else None))
            pairs = list(zip(runs["with"], runs["without"], strict=True))
            details[metric] = {
                "path": f"{method} {path}",
                "round_ratios": [w["rps"] / wo["rps"] for w, wo in pairs],
                "round_cpu_ratios": [_cpu_us([w]) / _cpu_us([wo]) for w, wo in pairs],
                "with": runs["with"], "without": runs["without"],
            }
    return Outcome(scenario="dialects", rows=rows, details=details)
