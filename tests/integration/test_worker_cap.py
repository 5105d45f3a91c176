"""FNGATE_MAX_WORKERS: a burst over many functions never has more live worker processes
than the cap; sync calls past it queue, then run or get 429 CONCURRENCY_LIMIT; async jobs
wait and all finish.

Live workers are counted three ways while the burst runs: the pools' own set, ``/status``,
and the processes the executors started that the kernel still holds (``/proc``, read by a
thread of its own so it sees the process table between any two steps of the loop).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

import config
from executors import CallContext, CapacityExhausted, CodeSpec, WorkerPools, pool, spawn
from tests.conftest import IN_CI, auth, running_app, wait_for
from tests.integration.test_compiled_api import ready
from tests.integration.test_functions_api import assert_error, create
from tests.integration.test_invoke_api import NODE_ECHO, finished_job, invoke

CAP = 3
FUNCTIONS = 6
SYNC_PER_FUNCTION = 4
ASYNC_PER_FUNCTION = 2
SLEEPY = "import time\ndef handler(event):\n    time.sleep(event.get('s', 0))\n    return event\n"
_ids = itertools.count(70_000)


class ProcessCount:
    """The most processes started through ``spawn.start`` alive at once (zombies count: a
    process is gone once reaped), sampled by a thread every millisecond."""

    def __init__(self) -> None:
        self.pids: list[int] = []
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _alive(self) -> int:
        return sum(1 for pid in list(self.pids) if os.path.exists(f"/proc/{pid}"))

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._alive())
            time.sleep(0.001)

    def __enter__(self) -> ProcessCount:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@pytest.fixture
def processes(monkeypatch: pytest.MonkeyPatch) -> Iterator[ProcessCount]:
    count = ProcessCount()
    real_start = spawn.start

    def recording_start(*args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
        popen = real_start(*args, **kwargs)
        count.pids.append(popen.pid)
        return popen

    monkeypatch.setattr(spawn, "start", recording_start)
    with count:
        yield count


def pool_peak(pools: WorkerPools, stop: asyncio.Event) -> asyncio.Task[int]:
    async def sample() -> int:
        peak = 0
        while not stop.is_set():
            peak = max(peak, len(pools._all))  # test-only peek: alive, or dying unreaped
            await asyncio.sleep(0)
        return peak

    return asyncio.create_task(sample())


async def test_a_burst_over_many_functions_stays_within_the_worker_cap(
    settings_factory: Callable[..., Any], processes: ProcessCount,
) -> None:
    settings = settings_factory(max_workers=CAP, prewarm_per_runtime=1)
    async with running_app(settings) as client:
        pools: WorkerPools = client.app.state.services.pools  # type: ignore[attr-defined]
        names = [f"capped{i}" for i in range(FUNCTIONS)]
        for name in names:
            r = await create(client, name=name, code=SLEEPY, timeout_ms=3000)
            assert r.status_code == 201, r.text
        stop = asyncio.Event()
        in_pools = pool_peak(pools, stop)
        status_peak = 0

        async def watch_status() -> None:
            nonlocal status_peak
            while not stop.is_set():
                body = (await client.get("/status")).json()
                status_peak = max(status_peak, body.get("live_workers", 0))
                await asyncio.sleep(0.02)

        watcher = asyncio.create_task(watch_status())
        accepted = await asyncio.gather(*(
            invoke(client, name, {"s": 0.2, "n": n}, path="invoke-async")
            for name in names for n in range(ASYNC_PER_FUNCTION)))
        assert all(r.status_code == 202 for r in accepted), [r.text for r in accepted]
        sync = await asyncio.wait_for(asyncio.gather(*(
            invoke(client, name, {"s": 0.2, "n": n})
            for name in names for n in range(SYNC_PER_FUNCTION))), timeout=120)
        jobs = await asyncio.wait_for(asyncio.gather(*(
            finished_job(client, r.json()["id"]) for r in accepted)), timeout=120)
        stop.set()
        await watcher
        peak_in_pools = await in_pools

        for r in sync:
            if r.status_code == 429:
                assert r.json()["error"]["code"] == "CONCURRENCY_LIMIT", r.text
                assert r.headers["retry-after"] == "1"
            else:
                assert r.status_code == 200, r.text
                assert r.json()["status"] == "success", r.text
        assert any(r.status_code == 200 for r in sync)
        assert [j["status"] for j in jobs] == ["success"] * len(jobs), jobs
        assert processes.peak <= CAP, f"{processes.peak} worker processes at once"
        assert peak_in_pools <= CAP and status_peak <= CAP
        assert processes.peak >= 1 and peak_in_pools >= 1
        body = (await client.get("/status")).json()
        assert body["max_workers"] == CAP and body["workers_waiting"] == 0
        assert (await client.get("/health")).json()["status"] == "ok"


async def test_a_sync_call_that_gets_no_worker_in_its_timeout_is_429_concurrency_limit(
    settings_factory: Callable[..., Any],
) -> None:
    async with running_app(settings_factory(max_workers=1, prewarm_per_runtime=0)) as client:
        pools: WorkerPools = client.app.state.services.pools  # type: ignore[attr-defined]
        for name, timeout_ms in (("holder", 10_000), ("latecomer", 1000)):
            r = await create(client, name=name, code=SLEEPY, timeout_ms=timeout_ms)
            assert r.status_code == 201, r.text
        holding = asyncio.create_task(invoke(client, "holder", {"s": 3}))
        await wait_for(lambda: len(pools._busy) == 1)  # the one worker runs "holder"
        r = await invoke(client, "latecomer", {}, headers={"Idempotency-Key": "late-1"})
        body = assert_error(r, 429, "CONCURRENCY_LIMIT")
        assert r.headers["retry-after"] == "1" and body["error"]["details"]["max_workers"] == 1
        assert (await holding).json()["status"] == "success"
        # Refused before it ran: the key is not spent, and the retry runs.
        r = await invoke(client, "latecomer", {}, headers={"Idempotency-Key": "late-1"})
        assert r.status_code == 200 and r.json()["status"] == "success", r.text


async def test_a_runtime_at_its_share_queues_or_gets_429_while_other_runtimes_run(
    settings_factory: Callable[..., Any],
) -> None:
    """FNGATE_MAX_WORKERS_PER_RUNTIME=python=1 under a cap of 4: a second Python function's
    call waits on Python's share (shown in /status), gets 429 at its timeout, while a
    Node.js call runs; the share's worker ending lets the next Python call in."""
    settings = settings_factory(max_workers=4, max_workers_per_runtime=("python=1",),
                                prewarm_per_runtime=0)
    async with running_app(settings) as client:
        for name, timeout_ms in (("holder", 10_000), ("latecomer", 1500)):
            r = await create(client, name=name, code=SLEEPY, timeout_ms=timeout_ms)
            assert r.status_code == 201, r.text
        r = await create(client, name="js", runtime="nodejs", code=NODE_ECHO)
        assert r.status_code == 201, r.text
        holding = asyncio.create_task(invoke(client, "holder", {"s": 4}))

        async def holder_runs() -> bool:
            body = (await client.get("/status")).json()
            return body["runtime_workers"].get("python", {}).get("live_workers") == 1

        await wait_for(holder_runs, timeout_s=10)
        late = asyncio.create_task(invoke(client, "latecomer", {}))

        async def latecomer_waits() -> dict[str, Any] | None:
            body: dict[str, Any] = (await client.get("/status")).json()
            return body if body["workers_waiting"] == 1 else None

        status = await wait_for(latecomer_waits, timeout_s=10)
        assert status["runtime_workers"]["python"] == {
            "max_workers": 1, "live_workers": 1, "workers_waiting": 1}
        assert status["live_workers"] < status["max_workers"] == 4
        # Node.js is not held up by Python's queue.
        r = await invoke(client, "js", {"n": 1})
        assert r.status_code == 200 and r.json()["status"] == "success", r.text
        refused = await late
        assert_error(refused, 429, "CONCURRENCY_LIMIT")
        error = refused.json()["error"]
        assert "FNGATE_MAX_WORKERS_PER_RUNTIME python=1" in error["message"]  # not the cap's
        assert error["details"]["runtime"] == "python"
        assert error["details"]["runtime_max_workers"] == 1
        assert (await holding).json()["status"] == "success"
        r = await invoke(client, "latecomer", {})  # the holder's worker makes room
        assert r.status_code == 200 and r.json()["status"] == "success", r.text
        status = (await client.get("/status")).json()
        assert status["runtime_workers"]["python"]["live_workers"] <= 1


# --- the pools alone -----------------------------------------------------------------


@pytest_asyncio.fixture
async def capped(tmp_path: Path) -> AsyncIterator[WorkerPools]:
    """Two worker slots, none pre-started, idle workers kept for a minute."""
    p = WorkerPools(config.load({}, data_dir=str(tmp_path), max_workers=2,
                                prewarm_per_runtime=0, worker_idle_ttl_s=60.0))
    await p.start()
    try:
        yield p
    finally:
        await p.close()


def spec(**kw: Any) -> CodeSpec:
    return CodeSpec(function_id=next(_ids), function_name="fn", version=1, runtime="python",
                    code=SLEEPY, **kw)


def ctx() -> CallContext:
    return CallContext(job_id="j", function_name="fn", version=1, trigger="http",
                       deadline_ms=int(time.time() * 1000) + 10_000)


async def test_at_the_cap_an_idle_worker_of_another_function_makes_room(
    capped: WorkerPools,
) -> None:
    warm_one, warm_two, third = spec(min_warm=1), spec(), spec()
    for s in (warm_one, warm_two):
        assert (await capped.run(s, {}, ctx(), timeout_ms=5000)).ok
    assert capped.worker_capacity().live == 2
    r = await capped.run(third, {"s": 0}, ctx(), timeout_ms=5000, wait_s=10)
    assert r.ok and r.cold_start
    assert capped.worker_capacity().live <= 2 and len(capped._all) <= 2
    # The one above its min_warm went first; the min_warm one is still warm.
    assert not (await capped.run(warm_one, {}, ctx(), timeout_ms=5000, wait_s=10)).cold_start


async def test_a_bounded_call_at_the_cap_gives_up_and_an_unbounded_one_waits(
    capped: WorkerPools,
) -> None:
    busy = [asyncio.create_task(capped.run(spec(), {"s": 1.5}, ctx(), timeout_ms=5000))
            for _ in range(2)]
    await asyncio.sleep(0.5)  # both running
    assert capped.worker_capacity().live == 2
    with pytest.raises(CapacityExhausted):
        await capped.run(spec(), {}, ctx(), timeout_ms=5000, wait_s=0.1)
    waited = await asyncio.wait_for(capped.run(spec(), {}, ctx(), timeout_ms=5000), 30)
    assert waited.ok
    assert all(r.ok for r in await asyncio.gather(*busy))
    assert capped.worker_capacity().waiting == 0 and len(capped._all) <= 2


async def test_a_worker_of_the_waiting_function_is_handed_over_warm(
    capped: WorkerPools,
) -> None:
    s = spec()
    first = [asyncio.create_task(capped.run(s, {"s": 0.5}, ctx(), timeout_ms=5000))
             for _ in range(2)]
    await asyncio.sleep(0.3)
    third = await asyncio.wait_for(capped.run(s, {}, ctx(), timeout_ms=5000, wait_s=10), 30)
    assert third.ok and not third.cold_start
    await asyncio.gather(*first)


async def test_pools_never_pre_start_past_the_cap(tmp_path: Path) -> None:
    p = WorkerPools(config.load({}, data_dir=str(tmp_path), max_workers=1,
                                prewarm_per_runtime=3))
    await p.start()
    try:
        await asyncio.sleep(0.3)
        assert len(p._all) <= 1 and p.worker_capacity().live <= 1
    finally:
        await p.close()


def _need_go(client: Any) -> WorkerPools:
    """The app's pools; skips (fails under CI=true) without a Go toolchain."""
    pools: WorkerPools = client.app.state.services.pools
    if not pools.available_runtimes()["go"]:
        message = "no go toolchain here (deploy/system-packages.sh installs it)"
        if IN_CI:
            pytest.fail(message + " (CI=true)")
        pytest.skip(message)
    return pools


def _fresh_go_echo() -> str:
    """A Go echo of its own source: a real compile, not the machine's cached build."""
    return (f"package main\n\n// {uuid.uuid4().hex}\n"
            "func Handler(event map[string]any) (any, error) {\n\treturn event, nil\n}\n")


async def test_a_deploy_build_waits_for_a_slot_of_the_worker_cap(
    settings_factory: Callable[..., Any], processes: ProcessCount,
) -> None:
    """FNGATE_MAX_WORKERS=1 held by a running call: a Go deploy's compile waits for the slot
    (shown in /status as a waiting worker, no compiler started), then builds once the
    call's worker makes room; never more than one process of the executors at once."""
    settings = settings_factory(max_workers=1, prewarm_per_runtime=0)
    async with running_app(settings) as client:
        pools = _need_go(client)
        r = await create(client, name="holder", code=SLEEPY, timeout_ms=20_000)
        assert r.status_code == 201, r.text
        holding = asyncio.create_task(invoke(client, "holder", {"s": 5}))
        await wait_for(lambda: len(pools._busy) == 1)
        compiles = pools.compiler.builds_run

        code = _fresh_go_echo()
        r = await create(client, name="gobuild", runtime="go", code=code)
        assert r.status_code == 201 and r.json()["status"] == "building", r.text

        async def build_waits() -> dict[str, Any] | None:
            body: dict[str, Any] = (await client.get("/status")).json()
            return body if body["workers_waiting"] == 1 else None

        status = await wait_for(build_waits, timeout_s=10)
        assert status["live_workers"] == status["max_workers"] == 1
        assert pools.compiler.builds_run == compiles, "a compiler ran past the cap"
        assert not holding.done()

        assert (await holding).json()["status"] == "success"
        await ready(client, "gobuild")
        assert pools.compiler.builds_run == compiles + 1
        r = await invoke(client, "gobuild", {"n": 7})
        assert r.status_code == 200 and r.json()["result"] == {"n": 7}, r.text
        assert processes.peak <= 1, f"{processes.peak} executor processes at once"


async def test_a_sync_call_whose_build_is_missing_here_gets_429_when_no_slot_comes_free(
    settings_factory: Callable[..., Any], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A replica without a version's build rebuilds it for a call; with FNGATE_MAX_WORKERS=1
    held by a running call, the rebuild waits for the slot only as long as the sync call's
    own timeout: 429 CONCURRENCY_LIMIT (``details.waiting_for: "build"``), not a wait for as
    long as the other call runs; a session's warm-up gives up after its own wait (the
    session is made, as when a warm-up fails). The build stays queued, runs once the slot
    is free, and the next call runs on it."""
    monkeypatch.setattr(pool, "WARM_WAIT_S", 0.2)
    settings = settings_factory(max_workers=1, prewarm_per_runtime=0)
    async with running_app(settings) as client:
        pools = _need_go(client)
        code = _fresh_go_echo()
        r = await create(client, name="gomissing", runtime="go", code=code, timeout_ms=1000)
        assert r.status_code == 201, r.text
        function = await ready(client, "gomissing")
        built = pools.compiler.cached("go", code, function["handler"])
        assert built is not None
        shutil.rmtree(built)  # as on a replica that never built it
        r = await create(client, name="holder", code=SLEEPY, timeout_ms=30_000)
        assert r.status_code == 201, r.text
        holding = asyncio.create_task(invoke(client, "holder", {"s": 6}))
        await wait_for(lambda: len(pools._busy) == 1)  # the one slot runs "holder"
        compiles = pools.compiler.builds_run

        r = await asyncio.wait_for(invoke(client, "gomissing", {"n": 1}), 30)
        body = assert_error(r, 429, "CONCURRENCY_LIMIT")
        assert body["error"]["details"] == {"max_workers": 1, "waiting_for": "build"}
        assert r.headers["retry-after"] == "1"
        r = await asyncio.wait_for(client.post(
            "/api/v1/initialize", json={}, headers={**auth("execute:all"),
                                                    "Language-Title": "go-gomissing"}), 30)
        assert r.status_code == 200 and r.json()["status"] == "initialized", r.text
        assert not holding.done() and pools.compiler.builds_run == compiles

        assert (await holding).json()["status"] == "success"
        await wait_for(lambda: pools.compiler.cached("go", code, function["handler"]),
                       timeout_s=120)  # the queued rebuild ran once the slot was free
        r = await invoke(client, "gomissing", {"n": 2})
        assert r.status_code == 200 and r.json()["result"] == {"n": 2}, r.text
        assert pools.compiler.builds_run == compiles + 1
