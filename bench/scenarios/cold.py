"""Cold start: the first invoke of a never-run function vs starting its bare interpreter.

Each of the functions is invoked once, sequentially, with a pause between them so the
generic pre-started pool is refilled as between real arrivals. The baseline starts the
interpreter binary the gateway's own workers run (read from /proc) with a trivial
program, from this process, once beside each invoke: just before it for every other
function and just after it for the rest, so that what the first thing after the pause
pays (an idle machine waking up) falls on both alike.

For Python, each cold invoke is followed, after a pause of its own, by one request to
the floor (:mod:`bench.floor_echo`: the bare echo plus one round trip over pipes to a
Python process run by the workers' interpreter and one PostgreSQL commit made as the
gateway makes its sync job records': the least a sync invoke does before it answers), so
the table shows, from the same window, how much of the bare interpreter start those steps
alone take here and how far the cold start is above them.
"""

from __future__ import annotations

import contextlib
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from bench._harness import side_server
from bench._report import Outcome, Row, Target
from bench.scenarios._common import (
    NODE_ECHO,
    PY_ECHO,
    Config,
    Gateways,
    cold_room,
    create_function,
    worker_exe,
)

__all__ = ["cold_start"]

GAP_S = 0.3  # the generic pool refills 0.1 s after a worker is taken, plus its spawn
_RUNTIMES = {
    # runtime: (code, baseline program flags, target ratio)
    "python": (PY_ECHO, ["-c", "print(1)"], 0.3),
    "nodejs": (NODE_ECHO, ["-e", "console.log(1)"], 0.15),
}


def _bare_start_ms(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    return (time.perf_counter() - start) * 1000


def _cold_ms(client: httpx.Client, names: list[str], bare: list[str],
             floor: Callable[[], float] | None = None
             ) -> tuple[list[float], list[float], list[float], int]:
    """Each function's first invoke, each beside one bare start (so load from elsewhere
    on the machine falls on both sides alike), the first after the pause in turn; with
    ``floor``, one floor request after a pause of its own after each, in the same window.
    Returns the invokes', bare starts' and floor's times, and how many said cold."""
    for _ in range(3):  # page cache, not first-run disk reads
        _bare_start_ms(bare)
    times: list[float] = []
    bare_times: list[float] = []
    floor_times: list[float] = []
    cold = 0
    for i, name in enumerate(names):
        time.sleep(GAP_S)
        if i % 2 == 0:
            bare_times.append(_bare_start_ms(bare))
        start = time.perf_counter()
        r = client.post(f"/api/v1/functions/{name}/invoke", json={"x": 1})
        times.append((time.perf_counter() - start) * 1000)
        if i % 2 == 1:
            bare_times.append(_bare_start_ms(bare))
        r.raise_for_status()
        if r.json()["status"] != "success":
            raise RuntimeError(f"cold invoke of {name} failed: {r.text}")
        cold += r.headers.get("x-cold-start") == "true"
        if floor is not None:
            time.sleep(GAP_S)
            floor_times.append(floor())
    return times, bare_times, floor_times, cold


def _after_pause_ms(client: httpx.Client, url: str, body: object, calls: int) -> list[float]:
    """One request every GAP_S, as the cold invokes are made: what a pause alone costs."""
    times = []
    for _ in range(calls):
        time.sleep(GAP_S)
        times.append(_post_ms(client, url, body))
    return times


def _post_ms(client: httpx.Client, url: str, body: object) -> float:
    start = time.perf_counter()
    client.post(url, json=body).raise_for_status()
    return (time.perf_counter() - start) * 1000


@contextlib.contextmanager
def _floor(interpreter: str) -> Iterator[str]:
    """The floor's invoke URL, its worker run by ``interpreter``, committing to a private
    PostgreSQL started as ``fngate serve`` starts its own (never the gateway's database)."""
    import pgserver

    root = tempfile.mkdtemp(prefix="fngate-bench-floor-")
    server = pgserver.get_server(root, cleanup_mode="delete")  # type: ignore[attr-defined]
    try:
        with side_server("bench.floor_echo", server.get_uri(), interpreter) as base:
            yield base + "/invoke"
    finally:
        server.cleanup()
        shutil.rmtree(root, ignore_errors=True)


def cold_start(cfg: Config, gateways: Gateways) -> Outcome:
    """p50 of first invokes (Python, Node.js) over p50 of bare interpreter starts; and,
    to tell the cold start's own price from the machine's wake-up after a pause, each over
    a warm invoke and the bare echo made after the same pause."""
    outcome = Outcome(scenario="cold-start")
    with gateways(cold_room(cfg)) as h, httpx.Client() as plain:
        bare_echo = _after_pause_ms(plain, h.bare_url, {"x": 1}, cfg.cold_functions)
        outcome.rows.append(Row(metric="bare echo after the pause", unit="ms",
                                fngate=statistics.median(bare_echo)))
        outcome.details["bare_echo_after_pause_ms"] = [round(t, 2) for t in bare_echo]
        # Read before any function runs: once the first runtime's cold functions fill the
        # worker cap, the other runtime's idle pre-started workers may have been evicted.
        exes = {runtime: worker_exe(h.gateway_pid, runtime) for runtime in _RUNTIMES}
        with _floor(exes["python"]) as floor_url:
            for runtime, (code, flags, target) in _RUNTIMES.items():
                _runtime_rows(outcome, cfg, h.client, runtime, code, [exes[runtime], *flags],
                              target, (lambda: _post_ms(plain, floor_url, {"x": 1}))
                              if runtime == "python" else None)
    return outcome


def _runtime_rows(outcome: Outcome, cfg: Config, client: httpx.Client, runtime: str,
                  code: str, bare: list[str], target: float,
                  floor: Callable[[], float] | None) -> None:
    """One runtime's cold starts, against its bare start, a warm invoke after the same
    pause and (``floor``) the floor measured in the same window."""
    names = [f"cold-{runtime}-{i}" for i in range(cfg.cold_functions)]
    for name in names:
        create_function(client, name, runtime, code)
    times, bare_times, floor_times, cold = _cold_ms(client, names, bare, floor)
    outcome.rows.append(Row(
        metric=f"{runtime} p50", unit="ms", fngate=statistics.median(times),
        baseline=statistics.median(bare_times),
        target=Target(on="ratio", op="<=", bound=target)))
    warm = _after_pause_ms(client, f"/api/v1/functions/{names[0]}/invoke", {"x": 1},
                           cfg.cold_functions)
    outcome.rows.append(Row(
        metric=f"{runtime} p50 vs warm after the pause", unit="ms",
        fngate=statistics.median(times), baseline=statistics.median(warm)))
    details: dict[str, Any] = {
        "interpreter": bare, "functions": len(names), "reported_cold": cold,
        "fngate_ms": [round(t, 2) for t in times],
        "bare_ms": [round(t, 2) for t in bare_times],
        "warm_after_pause_ms": [round(t, 2) for t in warm],
    }
    if floor_times:
        outcome.rows.append(Row(
            metric="floor (echo + worker round trip + commit), same window", unit="ms",
            fngate=statistics.median(floor_times), baseline=statistics.median(bare_times)))
        outcome.rows.append(Row(
            metric=f"{runtime} p50 vs the floor", unit="ms", fngate=statistics.median(times),
            baseline=statistics.median(floor_times)))
        details["floor_ms"] = [round(t, 2) for t in floor_times]
    outcome.details[runtime] = details
