"""Warm sync invoke (Python, Node.js) and session execute cache hits, 16 connections.

fngate and the bare Starlette echo on Hypercorn are driven by the same load generator
process, one after the other, with the same JSON body.
"""

from __future__ import annotations

from typing import Any

from bench._harness import Harness
from bench._report import Outcome, Row, Target
from bench.scenarios._common import NODE_ECHO, PY_ECHO, Config, Gateways, create_function, loadgen

__all__ = ["invoke_nodejs", "invoke_python", "session_cache_hit"]

BODY = {"hello": "world", "n": 1}
CALC = "function handler(p) { return { value: p.values.reduce((a, b) => a + b, 0) } }"


def _compare(h: Harness, cfg: Config, url: str, body: object) -> tuple[dict[str, Any], ...]:
    bare = loadgen(h.bare_url, cfg, body=body)
    fngate = loadgen(h.base_url + url, cfg, body=body, headers=[h.auth_header])
    return bare, fngate


def _invoke(name: str, runtime: str, code: str, cfg: Config, gateways: Gateways,
            target: float, with_p99: bool) -> Outcome:
    url = f"/api/v1/functions/echo-{runtime}/invoke"
    with gateways() as h:
        create_function(h.client, f"echo-{runtime}", runtime, code)
        h.client.post(url, json=BODY).raise_for_status()
        bare, fngate = _compare(h, cfg, url, BODY)
    rows = [Row(metric="throughput", unit="req/s", fngate=fngate["rps"], baseline=bare["rps"],
                target=Target(on="ratio", op=">=", bound=target))]
    rows.append(Row(metric="p99", unit="ms", fngate=fngate["p99_ms"], baseline=bare["p99_ms"],
                    target=Target(on="value", op="<=", bound=15.0) if with_p99 else None))
    rows.append(Row(metric="p50", unit="ms", fngate=fngate["p50_ms"], baseline=bare["p50_ms"]))
    return Outcome(scenario=name, rows=rows, details={"fngate": fngate, "baseline": bare})


def invoke_python(cfg: Config, gateways: Gateways) -> Outcome:
    """``POST /functions/echo/invoke`` on a warm Python echo vs the bare echo."""
    return _invoke("invoke-python", "python", PY_ECHO, cfg, gateways, 0.5, with_p99=True)


def invoke_nodejs(cfg: Config, gateways: Gateways) -> Outcome:
    """``POST /functions/echo/invoke`` on a warm Node.js echo vs the bare echo."""
    return _invoke("invoke-nodejs", "nodejs", NODE_ECHO, cfg, gateways, 0.4, with_p99=False)


def session_cache_hit(cfg: Config, gateways: Gateways) -> Outcome:
    """``POST /execute/{id}`` with the same params every time (a result cache hit)."""
    body = {"params": {"operation": "add", "values": [1, 2, 3]}}
    with gateways() as h:
        create_function(h.client, "calculator", "nodejs", CALC)
        r = h.client.post("/api/v1/initialize", json={},
                          headers={"Language-Title": "nodejs-calculator"})
        r.raise_for_status()
        url = f"/api/v1/execute/{r.json()['request_id']}"
        h.client.post(url, json=body).raise_for_status()
        again = h.client.post(url, json=body)
        again.raise_for_status()
        if again.headers.get("x-cache") != "HIT":
            raise RuntimeError(f"a repeated execute was not a cache hit: {again.headers}")
        bare, fngate = _compare(h, cfg, url, body)
    rows = [
        Row(metric="throughput", unit="req/s", fngate=fngate["rps"], baseline=bare["rps"],
            target=Target(on="ratio", op=">=", bound=0.7)),
        Row(metric="p99", unit="ms", fngate=fngate["p99_ms"], baseline=bare["p99_ms"]),
    ]
    return Outcome(scenario="session-cache-hit", rows=rows,
                   details={"fngate": fngate, "baseline": bare})
