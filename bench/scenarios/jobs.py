"""Async jobs: N ``invoke-async`` calls, timed from the first until every job is ``success``.

The calls come from the load generator process (32 keep-alive connections, exactly N
requests). Completion is then polled through the function's job list (no job left
``pending`` or ``running``, every 50 ms), and the function's ``success`` jobs are
counted: none may be missing.
"""

from __future__ import annotations

import time

import httpx

from bench._report import Outcome, Row, Target
from bench.scenarios._common import PY_ECHO, Config, Gateways, create_function, loadgen

__all__ = ["async_jobs"]

_CONNECTIONS = 32
_NAME = "jobs-echo"
_LIST = f"/api/v1/functions/{_NAME}/jobs"


def _unfinished(client: httpx.Client) -> bool:
    for status in ("pending", "running"):
        r = client.get(_LIST, params={"status": status, "limit": 1})
        if r.raise_for_status().json()["jobs"]:
            return True
    return False


def _count(client: httpx.Client, status: str) -> int:
    count = 0
    params: dict[str, str | int] = {"status": status, "limit": 500}
    while True:
        page = client.get(_LIST, params=params).raise_for_status().json()
        count += len(page["jobs"])
        if not page["next_before"]:
            return count
        params["before"] = page["next_before"]


def async_jobs(cfg: Config, gateways: Gateways) -> Outcome:
    """Jobs per second from the first submit to the last success; none may be lost."""
    n = cfg.jobs
    with gateways() as h:
        create_function(h.client, _NAME, "python", PY_ECHO)
        h.client.post(f"/api/v1/functions/{_NAME}/invoke", json={}).raise_for_status()
        before = _count(h.client, "success")
        sent = loadgen(h.base_url + f"/api/v1/functions/{_NAME}/invoke-async", cfg,
                       body={"n": 1}, headers=[h.auth_header], connections=_CONNECTIONS,
                       requests=n)
        deadline = time.monotonic() + 600
        while _unfinished(h.client):
            if time.monotonic() > deadline:
                raise RuntimeError("async jobs did not finish in 10 minutes")
            time.sleep(0.05)
        seconds = time.time() - sent["started_at"]
        succeeded = _count(h.client, "success") - before
        failed = _count(h.client, "failed")
    accepted = sent["statuses"].get("202", 0)
    rows = [
        Row(metric=f"{n} jobs to success", unit="jobs/s", fngate=n / seconds,
            target=Target(on="value", op=">=", bound=500)),
        Row(metric=f"{n} jobs accepted (202)", unit="req/s", fngate=sent["rps"]),
        Row(metric="jobs lost", unit="", fngate=n - succeeded,
            target=Target(on="value", op="<=", bound=0)),
    ]
    outcome = Outcome(scenario="async-jobs", rows=rows, details={
        "submitted": n, "accepted": accepted, "success": succeeded, "failed": failed,
        "seconds": seconds, "accept_seconds": sent["seconds"], "loadgen": sent})
    if accepted != n or succeeded != n:
        outcome.status = "error"
        outcome.reason = f"{accepted} of {n} accepted, {succeeded} succeeded, {failed} failed"
    return outcome
