"""FNGATE_MAX_WORKERS against ``fngate serve`` (issue 12): a burst of concurrent calls over
many functions never has more live worker processes than the cap, counted both by
``/status`` and by the kernel (the worker processes under the gateway, as ``ps`` shows
them), sampled throughout; the gateway stays healthy, and each call past the cap either
succeeds after queueing or gets 429 ``CONCURRENCY_LIMIT``.

The issue's figure is 50 functions × 20 calls. Here a cap of 4 meets 12 functions × 4
calls: 48 calls that each want a worker of their own at once, twelve times the cap, which
presses on it as hard as 1000 calls press on a cap of ~80, and the test stays within a few
seconds on a 2-core machine (tests/integration/test_worker_cap.py covers the same in
process, with async jobs too).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from bench.scenarios._common import children
from tests.e2e.serve import Gateway

CAP = 4
FUNCTIONS = 12
CALLS_PER_FUNCTION = 4
SLEEPY = "import time\ndef handler(event):\n    time.sleep(event['s'])\n    return event\n"


@pytest.fixture(scope="module")
def server_env() -> dict[str, str]:
    return {"FNGATE_MAX_WORKERS": str(CAP), "FNGATE_RATE_LIMITS": "off"}


def _workers(gateway_pid: int) -> int:
    """The gateway's worker processes, as ``ps --ppid`` lists them (zombies too: a worker
    holds its slot until it is reaped). Each is one child of the gateway: ``pasta … --
    bwrap … -- prlimit … <the runtime> <its runner>``, its sandbox; builds run in bwrap
    too, but none run here."""
    count = 0
    for pid in children(gateway_pid):
        with contextlib.suppress(OSError):  # gone meanwhile
            count += b"/bwrap\0" in Path(f"/proc/{pid}/cmdline").read_bytes()
    return count


@dataclass
class Peaks:
    """The most seen at once by ``/status`` and among the gateway's processes."""

    status: int = 0
    processes: int = 0
    waiting: int = 0
    samples: int = 0
    max_workers: set[int] = field(default_factory=set)


@contextlib.contextmanager
def sampled(gw: Gateway) -> Iterator[Peaks]:
    """Sample ``/status`` and the gateway's worker processes every 20 ms, from a thread
    of its own, while the block runs."""
    assert gw.proc is not None
    pid, peaks, done = gw.proc.pid, Peaks(), threading.Event()

    def sample() -> None:
        with httpx.Client(base_url=gw.url, timeout=10) as client:
            while not done.is_set():
                body = client.get("/status").json()
                peaks.status = max(peaks.status, body["live_workers"])
                peaks.waiting = max(peaks.waiting, body["workers_waiting"])
                peaks.max_workers.add(body["max_workers"])
                peaks.processes = max(peaks.processes, _workers(pid))
                peaks.samples += 1
                time.sleep(0.02)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield peaks
    finally:
        done.set()
        thread.join()


@pytest.fixture(scope="module")
def capped(server: Gateway) -> dict[str, str]:
    """Authorization headers, and the functions of the burst created."""
    headers = server.mint()
    for i in range(FUNCTIONS):
        r = server.request("POST", "/api/v1/functions", headers=headers, json={
            "name": f"burst{i}", "runtime": "python", "code": SLEEPY, "timeout_ms": 4000})
        assert r.status_code == 201, r.text
    return headers


def test_a_burst_over_many_functions_never_has_more_live_workers_than_the_cap(
    server: Gateway, capped: dict[str, str],
) -> None:
    def call(i: int) -> httpx.Response:
        return server.request("POST", f"/api/v1/functions/burst{i % FUNCTIONS}/invoke",
                              headers=capped, json={"s": 0.3, "n": i})

    calls = FUNCTIONS * CALLS_PER_FUNCTION
    with sampled(server) as peaks, ThreadPoolExecutor(calls) as threads:
        replies = list(threads.map(call, range(calls)))
    outcomes: dict[str, int] = {}
    for r in replies:
        if r.status_code == 429:
            assert r.json()["error"]["code"] == "CONCURRENCY_LIMIT", r.text
            outcomes["429"] = outcomes.get("429", 0) + 1
        else:
            assert r.status_code == 200 and r.json()["status"] == "success", r.text
            outcomes["200"] = outcomes.get("200", 0) + 1
    assert peaks.max_workers == {CAP}
    assert peaks.processes <= CAP, f"{peaks.processes} worker processes at once"
    assert peaks.status <= CAP, f"/status said {peaks.status} live workers"
    # The burst did press on the cap: calls queued, and the samples saw workers running.
    assert peaks.waiting >= 1 and peaks.processes >= 1, peaks
    assert outcomes.get("200", 0) >= CAP, outcomes
    health = server.request("GET", "/health").json()
    assert health["status"] == "ok", health
    status = server.request("GET", "/status").json()
    assert status["workers_waiting"] == 0 and status["live_workers"] <= CAP, status
