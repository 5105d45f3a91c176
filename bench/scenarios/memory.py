"""Memory: RSS of an idle warm Python worker vs a bare interpreter; the gateway's RSS.

The worker's pid comes from the function itself (``os.getpid()``) and is checked to be a
child of the gateway. The bare process is the same interpreter binary the workers run,
started as ``python3 -c 'import time; time.sleep(30)'``. The gateway's RSS is read once
the scenario starts (on its own gateway, just up) and again with N more warm workers
(N functions, each invoked once).
"""

from __future__ import annotations

import asyncio
import subprocess
import time

import httpx

from bench._report import Outcome, Row, Target
from bench.scenarios._common import (
    Config,
    Gateways,
    create_function,
    interpreters,
    rss_kb,
    uid_of,
    worker_exe,
)

__all__ = ["memory"]

PID_CODE = (
    "import os\n\ndef handler(event):\n    return {'pid': os.getpid(), 'uid': os.getuid()}\n"
)
_SETTLE_S = 0.5
_CONCURRENCY = 8


def _bare_rss_kb(argv: list[str]) -> int:
    proc = subprocess.Popen([*argv, "-c", "import time; time.sleep(30)"])
    try:
        time.sleep(_SETTLE_S)
        return rss_kb(proc.pid)
    finally:
        proc.kill()
        proc.wait()


async def _warm_up(base_url: str, token: str, names: list[str]) -> None:
    sem = asyncio.Semaphore(_CONCURRENCY)
    async with httpx.AsyncClient(base_url=base_url, timeout=120,
                                 headers={"Authorization": f"Bearer {token}"}) as client:

        async def one(name: str) -> None:
            async with sem:
                r = await client.post(f"/api/v1/functions/{name}/invoke", json={})
            r.raise_for_status()
            if r.json()["status"] != "success":
                raise RuntimeError(f"invoke of {name} failed: {r.text}")

        await asyncio.gather(*(one(n) for n in names))


def worker_pid(gateway_pid: int, seen: dict[str, int]) -> int:
    """The host pid of the worker that answered ``seen`` (its own pid and uid): in the
    namespace sandbox the pid is its namespace's and the uid is the worker's own."""
    workers = interpreters(gateway_pid, "python")
    if seen["pid"] in workers:
        return seen["pid"]
    mine = [p for p in workers if uid_of(p) == seen["uid"]]
    if len(mine) != 1:
        raise RuntimeError(f"no single worker of uid {seen['uid']} under the gateway")
    return mine[0]


def memory(cfg: Config, gateways: Gateways) -> Outcome:
    """Idle worker RSS over bare interpreter RSS (≤ 1.5×); gateway RSS with N warm workers."""
    n = cfg.memory_workers
    with gateways() as h:
        time.sleep(_SETTLE_S)
        gateway_idle = rss_kb(h.gateway_pid)
        exe = worker_exe(h.gateway_pid, "python")
        names = [f"mem-{i:03d}" for i in range(n)]
        for name in names:
            create_function(h.client, name, "python", PID_CODE)
        r = h.client.post(f"/api/v1/functions/{names[0]}/invoke", json={})
        r.raise_for_status()
        pid = worker_pid(h.gateway_pid, r.json()["result"])
        time.sleep(_SETTLE_S)
        worker = rss_kb(pid)
        bare = _bare_rss_kb([exe])
        bare_isolated = _bare_rss_kb([exe, "-I", "-S"])
        asyncio.run(_warm_up(h.base_url, h.token, names[1:]))
        time.sleep(_SETTLE_S)
        gateway_loaded = rss_kb(h.gateway_pid)
        workers = interpreters(h.gateway_pid, "python")
        workers_kb = sum(rss_kb(p) for p in workers)
    rows = [
        Row(metric="idle python worker RSS", unit="MB", fngate=worker / 1024,
            baseline=bare / 1024, target=Target(on="ratio", op="<=", bound=1.5)),
        Row(metric=f"gateway RSS, +{n} warm workers", unit="MB", fngate=gateway_loaded / 1024,
            baseline=gateway_idle / 1024),
        Row(metric=f"all {len(workers)} python workers", unit="MB", fngate=workers_kb / 1024),
    ]
    return Outcome(scenario="memory", rows=rows, details={
        "interpreter": exe, "worker_kb": worker, "bare_kb": bare,
        "bare_isolated_kb (-I -S)": bare_isolated, "gateway_idle_kb": gateway_idle,
        "gateway_loaded_kb": gateway_loaded, "python_workers": len(workers),
        "python_workers_kb": workers_kb,
    })
