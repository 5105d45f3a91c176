"""Go and Rust: build times, cold start, warm throughput and idle RSS, each beside its own
baseline measured in the same run.

One gateway with a build cache of its own (its ``TMPDIR`` is a fresh directory; not with
``--quick``), so the first build is a first build (for Rust: with the runtime crate and
serde_json compiled once, then reused). Per language:

- builds, seconds from the create request until ``ready``: the first function, a changed
  one-file function (what a redeploy costs), and the same source again (cached);
- cold start: each of N functions' first invoke minus a warm invoke made after the same
  pause, beside the exec of a hello-world binary built by the same toolchain in this run.
  That exec is bare (``subprocess.run`` from this process, no sandbox): the cold start
  starts from a sandbox made in advance (a pre-started stub), so what it should cost is
  the binary's own start, and the rest is the gateway's. The gateway has room for every
  cold function's worker (``FNGATE_MAX_WORKERS``, as in the cold-start scenario): at the
  cap a cold start also pays an eviction and a sandbox start, the cap's price;
- warm throughput of the echo beside the Python echo, same load generator, same gateway;
  the Python echo is measured before and after each compiled one, and its baseline is the
  mean of the two (the machine is shared: its load drifts within a run); each measured
  load follows an unmeasured one against the same function, so every side is measured
  with its workers started (a first Python run was as slow to ramp as a compiled one);
- idle worker RSS beside an idle Python worker's.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from bench._harness import Harness
from bench._report import Outcome, Row, Target
from bench.scenarios._common import (
    PY_ECHO,
    Config,
    Gateways,
    cold_room,
    cpu_s,
    create_function,
    descendants,
    loadgen,
    rss_kb,
)
from bench.scenarios.dependency_build import until_ready
from bench.scenarios.memory import PID_CODE, worker_pid

__all__ = ["compiled_runtimes"]

GAP_S = 0.3
ECHO = {
    "go": "package main\n\nfunc Handler(event map[string]any) (any, error) {\n"
          "\treturn event, nil // {n}\n}}\n",
    "rust": "fn handler(event: Value, _ctx: &Context) -> Result<Value, "
            "Box<dyn std::error::Error>> {{\n    Ok(event) // {n}\n}}\n",
}
HELLO = {
    "go": ("main.go", "package main\n\nimport \"os\"\n\n"
                      "func main() { os.Stdout.WriteString(\"1\\n\") }\n"),
    "rust": ("main.rs", "fn main() { println!(\"1\"); }\n"),
}
TOOL = {"go": ["/usr/lib/go-1.19/bin/go", "/usr/bin/go"], "rust": ["/usr/bin/rustc"]}


def _echo(runtime: str, n: int) -> str:
    return ECHO[runtime].replace("{n}", str(n)).replace("{{", "{").replace("}}", "}")


def _hello_binary(runtime: str, work: Path) -> str:
    """A hello-world built by the toolchain the gateway builds with."""
    tool = next(t for t in TOOL[runtime] if os.path.exists(t))
    folder = work / f"hello-{runtime}"
    folder.mkdir()
    name, text = HELLO[runtime]
    (folder / name).write_text(text)
    out = folder / "hello"
    env = {**os.environ, "GOCACHE": str(folder / "cache"), "GOPATH": str(folder / "gopath"),
           "CGO_ENABLED": "0", "GOFLAGS": "-mod=mod", "GO111MODULE": "off"}
    argv = ([tool, "build", "-o", str(out), name] if runtime == "go"
            else [tool, "-C", "opt-level=2", "-o", str(out), name])
    subprocess.run(argv, check=True, capture_output=True, cwd=folder, env=env, timeout=300)
    return str(out)


def _exec_ms(binary: str) -> float:
    started = time.perf_counter()
    subprocess.run([binary], check=True, stdout=subprocess.DEVNULL)
    return (time.perf_counter() - started) * 1000


def _invoke_ms(client: httpx.Client, name: str) -> tuple[float, bool]:
    started = time.perf_counter()
    r = client.post(f"/api/v1/functions/{name}/invoke", json={"x": 1})
    elapsed = (time.perf_counter() - started) * 1000
    r.raise_for_status()
    if r.json()["status"] != "success":
        raise RuntimeError(f"invoke of {name} failed: {r.text}")
    return elapsed, r.headers.get("x-cold-start") == "true"


def _cold(client: httpx.Client, runtime: str, hello: str, count: int) -> dict[str, Any]:
    """First invokes of ``count`` functions (one build, shared), each after a pause and
    right after one hello-world exec; then warm invokes after the same pause."""
    names = [f"cold-{runtime}-{i}" for i in range(count)]
    for name in names:
        until_ready(client, name, runtime, _echo(runtime, 0), [])
    for _ in range(3):
        _exec_ms(hello)  # page cache
    first, hello_ms, cold = [], [], 0
    for name in names:
        time.sleep(GAP_S)
        hello_ms.append(_exec_ms(hello))
        ms, was_cold = _invoke_ms(client, name)
        first.append(ms)
        cold += was_cold
    warm = []
    for _ in range(count):
        time.sleep(GAP_S)
        warm.append(_invoke_ms(client, names[0])[0])
    return {"first_ms": first, "warm_after_pause_ms": warm, "hello_exec_ms": hello_ms,
            "reported_cold": cold}


def _load(h: Harness, cfg: Config, path: str, *, warm: bool = False) -> dict[str, Any]:
    """The load generator's figures against ``path``, with the gateway process's own CPU
    milliseconds per request (``gateway_cpu_ms``): on a machine shared with other work,
    throughput follows the neighbours' load; the gateway's CPU per request much less.

    With ``warm``, an unmeasured run of the same load first: from one warm worker, the
    load generator's one-second warm-up holds the cold starts of the ten or so workers
    16 connections keep busy, but not the sandboxes the pool starts to replace its
    pre-started ones, which can spill into the measured seconds of a compiled echo (a
    warm-up second of 280-850 requests, 820-1600 for a Python echo already warm)."""
    if warm:
        loadgen(h.base_url + path, cfg, body={"hello": "world"}, headers=[h.auth_header],
                duration_s=cfg.duration_s / 2)
    cpu = cpu_s(h.gateway_pid)
    result = loadgen(h.base_url + path, cfg, body={"hello": "world"}, headers=[h.auth_header])
    result["gateway_cpu_ms"] = (cpu_s(h.gateway_pid) - cpu) * 1000 / result["requests"]
    return result


def _binary_workers(h: Harness) -> set[int]:
    """The gateway's workers whose command line is a compiled function's binary."""
    pids = set()
    for pid in descendants(h.gateway_pid):
        try:
            argv0 = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
        except OSError:
            continue
        if argv0.endswith("/fn"):
            pids.add(pid)
    return pids


def _worker_rss_kb(h: Harness, runtime: str, others: set[int]) -> int:
    """RSS of an idle worker of ``runtime`` (a binary worker not among ``others``, those
    of the runtime measured before), one that served its function's first calls only: as
    the Python worker it is compared with, not one grown by the throughput runs."""
    time.sleep(0.5)
    for pid in sorted(_binary_workers(h) - others):
        return rss_kb(pid)
    raise RuntimeError(f"no {runtime} worker running its function's binary")


def _python_worker_rss_kb(h: Harness) -> int:
    create_function(h.client, "rss-python", "python", PID_CODE)
    r = h.client.post("/api/v1/functions/rss-python/invoke", json={})
    r.raise_for_status()
    pid = worker_pid(h.gateway_pid, r.json()["result"])
    time.sleep(0.5)
    return rss_kb(pid)


def compiled_runtimes(cfg: Config, gateways: Gateways) -> Outcome:
    """Build seconds, cold start over a hello-world exec, throughput over the Python echo,
    idle RSS over a Python worker's: for Go and Rust."""
    work = Path(tempfile.mkdtemp(prefix="fngate-bench-compiled-"))
    outcome = Outcome(scenario="compiled-runtimes")
    try:
        builds_tmp = work / "tmp"
        builds_tmp.mkdir()
        os.chmod(work, 0o711)  # workers reach their build by its path, as under /tmp
        os.chmod(builds_tmp, 0o1777)
        # --quick (the suite's smoke run): the shared gateway and the machine's own build
        # cache, so the Rust crate is compiled at most once per machine (its "first build"
        # is then not a first build; the figures of a smoke run are not the point).
        env = None if cfg.quick else {"TMPDIR": str(builds_tmp), **cold_room(cfg)}
        with gateways(env) as h:
            runtimes = h.client.get("/health").json()["components"]["runtimes"]
            missing = [rt for rt in ("go", "rust") if runtimes.get(rt) != "ok"]
            if missing:
                return Outcome(scenario="compiled-runtimes", status="skipped",
                               reason=f"no toolchain for {missing} (deploy/system-packages.sh)")
            # Names of its own: with --quick the gateway is shared with the other scenarios.
            create_function(h.client, "compiled-python-echo", "python", PY_ECHO)
            echo = "/api/v1/functions/compiled-python-echo/invoke"
            h.client.post(echo, json={}).raise_for_status()

            def python_rps() -> dict[str, Any]:
                return _load(h, cfg, echo, warm=True)

            python_rss = _python_worker_rss_kb(h)
            before = python_rps()
            for runtime in ("go", "rust"):
                before = _measure(h, cfg, runtime, work, outcome, before, python_rps,
                                  python_rss)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return outcome


def _measure(h: Harness, cfg: Config, runtime: str, work: Path, outcome: Outcome,
             python_before: dict[str, Any], python_rps: Callable[[], dict[str, Any]],
             python_rss: int) -> dict[str, Any]:
    """The rows of one runtime; returns the Python echo's throughput measured last."""
    others = _binary_workers(h)
    first = until_ready(h.client, f"build-{runtime}-1", runtime, _echo(runtime, 1), [])
    changed = until_ready(h.client, f"build-{runtime}-2", runtime, _echo(runtime, 2), [])
    cached = until_ready(h.client, f"build-{runtime}-3", runtime, _echo(runtime, 1), [])
    hello = _hello_binary(runtime, work)
    cold = _cold(h.client, runtime, hello, cfg.cold_functions)
    cold_ms = statistics.median(cold["first_ms"]) - statistics.median(
        cold["warm_after_pause_ms"])
    hello_ms = statistics.median(cold["hello_exec_ms"])
    rss = _worker_rss_kb(h, runtime, others)
    url = f"/api/v1/functions/build-{runtime}-1/invoke"
    h.client.post(url, json={}).raise_for_status()
    rps = _load(h, cfg, url, warm=True)
    python_after = python_rps()
    python_mean = (python_before["rps"] + python_after["rps"]) / 2
    python_cpu = (python_before["gateway_cpu_ms"] + python_after["gateway_cpu_ms"]) / 2
    bound = 3.0 if runtime == "go" else 10.0
    outcome.rows += [
        Row(metric=f"{runtime} first build (create → ready)", unit="s", fngate=first),
        Row(metric=f"{runtime} changed one-file function build", unit="s", fngate=changed,
            target=Target(on="value", op="<=", bound=bound)),
        Row(metric=f"{runtime} cached build (same source)", unit="s", fngate=cached),
        Row(metric=f"{runtime} cold start p50 vs hello-world exec", unit="ms",
            fngate=cold_ms, baseline=hello_ms),
        Row(metric=f"{runtime} cold start above the hello-world exec", unit="ms",
            fngate=cold_ms - hello_ms, target=Target(on="value", op="<=", bound=3.0)),
        Row(metric=f"{runtime} warm throughput vs python echo", unit="req/s",
            fngate=rps["rps"], baseline=python_mean,
            target=Target(on="ratio", op=">=", bound=0.95)),
        Row(metric=f"{runtime} gateway CPU per warm request vs python echo", unit="ms",
            fngate=rps["gateway_cpu_ms"], baseline=python_cpu),
        Row(metric=f"{runtime} idle worker RSS vs python worker", unit="MB",
            fngate=rss / 1024, baseline=python_rss / 1024,
            target=Target(on="ratio", op="<=", bound=0.5)),
    ]
    outcome.details[runtime] = {
        "build_s": {"first": first, "changed": changed, "cached": cached},
        "cold": {k: [round(x, 2) for x in v] if isinstance(v, list) else v
                 for k, v in cold.items()},
        "throughput": rps, "python_throughput": [python_before, python_after],
        "rss_kb": rss, "python_rss_kb": python_rss,
    }
    return python_after
