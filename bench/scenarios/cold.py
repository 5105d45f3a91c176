"""Cold start: the first invoke of a never-run function vs starting its bare interpreter.

Each of the functions is invoked once, sequentially, with a pause between them so the
generic pre-started pool is refilled as between real arrivals. The baseline starts the
interpreter binary the gateway's own workers run (read from /proc) with a trivial
program, from this process, once beside each invoke: just before it for every other
function and just after it for the rest, so that what the first thing after the pause
pays (an idle machine waking up) falls on both alike.

Beside them, after the same pause, alternating: the bare echo, and the floor
(:mod:`bench.floor_echo`: the bare echo plus one round trip to a Python process over
pipes and one PostgreSQL commit, the least a sync invoke does before it answers), so the
table shows how much of the bare interpreter start those steps alone take here.
"""

from __future__ import annotations

import contextlib
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator

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


def _cold_ms(client: httpx.Client, names: list[str],
             bare: list[str]) -> tuple[list[float], list[float], int]:
    """Each function's first invoke, each beside one bare start (so load from elsewhere
    on the machine falls on both sides alike), the first after the pause in turn."""
    for _ in range(3):  # page cache, not first-run disk reads
        _bare_start_ms(bare)
    times, bare_times, cold = [], [], 0
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
    return times, bare_times, cold


def _after_pause_ms(client: httpx.Client, url: str, body: object, calls: int) -> list[float]:
    """One request every GAP_S, as the cold invokes are made: what a pause alone costs."""
    return _taking_turns_ms(client, [url], body, calls)[0]


def _taking_turns_ms(client: httpx.Client, urls: list[str], body: object,
                     calls: int) -> list[list[float]]:
    """:func:`_after_pause_ms` of each of ``urls``, taking turns; their times in order."""
    times: list[list[float]] = [[] for _ in urls]
    for _ in range(calls):
        for n, url in enumerate(urls):
            time.sleep(GAP_S)
            start = time.perf_counter()
            client.post(url, json=body).raise_for_status()
            times[n].append((time.perf_counter() - start) * 1000)
    return times


@contextlib.contextmanager
def _floor() -> Iterator[str]:
    """The floor's invoke URL, committing to a private PostgreSQL started as ``fngate
    serve`` starts its own (never the gateway's database)."""
    import pgserver

    root = tempfile.mkdtemp(prefix="fngate-bench-floor-")
    server = pgserver.get_server(root, cleanup_mode="delete")  # type: ignore[attr-defined]
    try:
        with side_server("bench.floor_echo", server.get_uri()) as base:
            yield base + "/invoke"
    finally:
        server.cleanup()
        shutil.rmtree(root, ignore_errors=True)


def cold_start(cfg: Config, gateways: Gateways) -> Outcome:
    """p50 of first invokes (Python, Node.js) over p50 of bare interpreter starts; and,
    to tell the cold start's own price from the machine's wake-up after a pause, each over
    a warm invoke and the bare echo made after the same pause."""
    outcome = Outcome(scenario="cold-start")
    with gateways(cold_room(cfg) or None) as h, _floor() as floor_url:
        with httpx.Client() as plain:
            bare_echo, floor = _taking_turns_ms(plain, [h.bare_url, floor_url], {"x": 1},
                                                cfg.cold_functions)
        outcome.rows.append(Row(metric="bare echo after the pause", unit="ms",
                                fngate=statistics.median(bare_echo)))
        # Read before any function runs: once the first runtime's cold functions fill the
        # worker cap, the other runtime's idle pre-started workers may have been evicted.
        exes = {runtime: worker_exe(h.gateway_pid, runtime) for runtime in _RUNTIMES}
        for runtime, (code, flags, target) in _RUNTIMES.items():
            exe = exes[runtime]
            names = [f"cold-{runtime}-{i}" for i in range(cfg.cold_functions)]
            for name in names:
                create_function(h.client, name, runtime, code)
            times, bare, cold = _cold_ms(h.client, names, [exe, *flags])
            outcome.rows.append(Row(
                metric=f"{runtime} p50", unit="ms", fngate=statistics.median(times),
                baseline=statistics.median(bare),
                target=Target(on="ratio", op="<=", bound=target)))
            warm = _after_pause_ms(h.client, f"/api/v1/functions/{names[0]}/invoke", {"x": 1},
                                   cfg.cold_functions)
            outcome.rows.append(Row(
                metric=f"{runtime} p50 vs warm after the pause", unit="ms",
                fngate=statistics.median(times), baseline=statistics.median(warm)))
            if runtime == "python":
                outcome.rows.append(Row(
                    metric="floor (echo + worker round trip + commit) after the pause",
                    unit="ms", fngate=statistics.median(floor),
                    baseline=statistics.median(bare)))
            outcome.details[runtime] = {
                "interpreter": [exe, *flags], "functions": len(names),
                "reported_cold": cold, "fngate_ms": [round(t, 2) for t in times],
                "bare_ms": [round(t, 2) for t in bare],
                "warm_after_pause_ms": [round(t, 2) for t in warm],
            }
        outcome.details["bare_echo_after_pause_ms"] = [round(t, 2) for t in bare_echo]
        outcome.details["floor_after_pause_ms"] = [round(t, 2) for t in floor]
    return outcome
