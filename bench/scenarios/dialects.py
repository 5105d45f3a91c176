"""The compatibility dialects' price to the native routes: with them mounted and without.

Two gateways side by side for the whole scenario: one serving every dialect (the
default) and one with ``FNGATE_DIALECTS=none``. The same load generator, with the
connections of the other throughput scenarios, drives each in turn, in rounds whose
order alternates (with/without, then without/with, …) so that drift and load from
elsewhere on a shared machine fall on both alike. Three requests are measured this way:
a warm native invoke of a Python echo, a native GET of that function, and a path no
route serves (the 404 that only comes once the router has tried every route, dialects'
included). Each side's figure is its requests over its measured seconds, all rounds
together; the ratio is with / without (1.00: no cost). The per-round ratios are in the
details.
"""

from __future__ import annotations

from typing import Any

from bench._harness import Harness
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
            runs[label].append(loadgen(h.base_url + path, cfg, method=method, body=_BODY,
                                       headers=[h.auth_header], expect=status))
    return runs


def _rps(runs: list[dict[str, Any]]) -> float:
    return float(sum(r["requests"] for r in runs) / sum(r["seconds"] for r in runs))


def dialect_cost(cfg: Config, gateways: Gateways) -> Outcome:
    """Native throughput with the four dialects mounted over the same without them."""
    rows: list[Row] = []
    details: dict[str, Any] = {"rounds": cfg.ab_rounds, "connections": cfg.connections}
    with gateways() as mounted, gateways({"FNGATE_DIALECTS": "none"}) as bare:
        _prepare(mounted, _ALL)
        _prepare(bare, [])
        for metric, (method, path, status) in _REQUESTS.items():
            runs = _alternate(cfg, {"with": mounted, "without": bare}, method, path, status)
            with_rps, without_rps = _rps(runs["with"]), _rps(runs["without"])
            rows.append(Row(metric=f"{metric}, with/without", unit="req/s", fngate=with_rps,
                            baseline=without_rps,
                            target=Target(on="ratio", op=">=", bound=0.95)
                            if status == 200 else None))
            details[metric] = {
                "path": f"{method} {path}",
                "round_ratios": [w["rps"] / wo["rps"]
                                 for w, wo in zip(runs["with"], runs["without"], strict=True)],
                "with": runs["with"], "without": runs["without"],
            }
    return Outcome(scenario="dialects", rows=rows, details=details)
