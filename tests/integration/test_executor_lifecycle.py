"""Worker lifecycle: warm reuse, idle TTL and min_warm, drop_function, concurrency, fallbacks."""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

import config
import executors.pool
import executors.sandbox
from executors import CallContext, CodeSpec, RuntimeUnavailable, WorkerPools
from executors.limits import CgroupRoot
from executors.owners import OwnerLock
from tests.conftest import needs_bwrap, sleepers

_ids = itertools.count(5000)
RUNTIMES = ["python", "nodejs"]
TTL_S = 0.5

PID_CODE = {
    "python": (
        "import os, time\n"
        "TOKEN = os.urandom(8).hex()  # one per worker process\n"
        "def handler(event):\n"
        "    time.sleep(event.get('s', 0))\n"
        "    return TOKEN\n"
    ),
    "nodejs": (
        "const TOKEN = require('crypto').randomBytes(8).toString('hex');\n"
        "exports.handler = async (event) => {\n"
        "  await new Promise((r) => setTimeout(r, (event.s || 0) * 1000));\n"
        "  return TOKEN;\n};\n"
    ),
}


def make_settings(tmp: Path, **kw: Any) -> config.Settings:
    base: dict[str, Any] = {"worker_idle_ttl_s": TTL_S, "prewarm_per_runtime": 1}
    base.update(kw)
    return config.load({}, data_dir=str(tmp), **base)


@pytest_asyncio.fixture(scope="module")
async def pools(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[WorkerPools]:
    p = WorkerPools(make_settings(tmp_path_factory.mktemp("data")))
    await p.start()
    try:
        yield p
    finally:
        await p.close()


def spec(runtime: str, function_id: int | None = None, **kw: Any) -> CodeSpec:
    return CodeSpec(
        function_id=next(_ids) if function_id is None else function_id,
        function_name="fn",
        version=1,
        runtime=runtime,  # type: ignore[arg-type]
        code=PID_CODE[runtime],
        **kw,
    )


def ctx() -> CallContext:
    return CallContext(
        job_id="j",
        function_name="fn",
        version=1,
        trigger="http",
        deadline_ms=int(time.time() * 1000) + 10_000,
    )


def live_workers(pools: WorkerPools, s: CodeSpec) -> int:
    # Test-only peek: the public count is per runtime, shared by every test.
    return sum(1 for w in pools._all if w.spec is not None and w.spec.key == s.key and w.alive)


async def eventually(cond: Callable[[], bool], within: float = 5.0) -> bool:
    end = time.monotonic() + within
    while time.monotonic() < end:
        if cond():
            return True
        await asyncio.sleep(0.05)
    return cond()


@pytest.mark.parametrize("runtime", RUNTIMES)
async def test_idle_workers_end_after_ttl(pools: WorkerPools, runtime: str) -> None:
    s = spec(runtime)
    r = await pools.run(s, {}, ctx(), timeout_ms=5000)
    assert r.ok, r.error
    assert live_workers(pools, s) == 1
    assert pools.warm_worker_count()[runtime] >= 1
    assert await eventually(lambda: live_workers(pools, s) == 0)
    r = await pools.run(s, {}, ctx(), timeout_ms=5000)
    assert r.ok and r.cold_start  # scaled to zero, so cold again


@pytest.mark.parametrize("runtime", RUNTIMES)
async def test_min_warm_keeps_one_worker_past_ttl(pools: WorkerPools, runtime: str) -> None:
    s = spec(runtime, min_warm=1)
    results = await asyncio.gather(
        *(pools.run(s, {"s": 0.2}, ctx(), timeout_ms=5000) for _ in range(2))
    )
    assert all(r.ok for r in results)
    assert len({r.result for r in results}) == 2
    assert await eventually(lambda: live_workers(pools, s) == 1)
    await asyncio.sleep(TTL_S * 3)
    assert live_workers(pools, s) == 1
    r = await pools.run(s, {}, ctx(), timeout_ms=5000)
    assert r.ok and not r.cold_start


@pytest.mark.parametrize("runtime", RUNTIMES)
async def test_drop_function_ends_its_workers(tmp_path: Path, runtime: str) -> None:
    p = WorkerPools(make_settings(tmp_path, worker_idle_ttl_s=60.0))
    await p.start()
    try:
        fid = next(_ids)
        v1 = spec(runtime, function_id=fid)
        v2 = CodeSpec(
            function_id=fid,
            function_name="fn",
            version=2,
            runtime=runtime,  # type: ignore[arg-type]
            code=PID_CODE[runtime],
        )
        other = spec(runtime)
        for s in (v1, v2, other):
            assert (await p.run(s, {}, ctx(), timeout_ms=5000)).ok
        assert p.warm_worker_count()[runtime] == 3
        await p.drop_function(fid)
        assert live_workers(p, v1) == 0 and live_workers(p, v2) == 0
        assert live_workers(p, other) == 1
        assert p.warm_worker_count()[runtime] == 1
        r = await p.run(v1, {}, ctx(), timeout_ms=5000)
        assert r.ok and r.cold_start
    finally:
        await p.close()


@pytest.mark.parametrize("runtime", RUNTIMES)
async def test_drop_function_retires_busy_workers_after_their_call(
    pools: WorkerPools, runtime: str
) -> None:
    s = spec(runtime)
    call = asyncio.create_task(pools.run(s, {"s": 0.3}, ctx(), timeout_ms=5000))
    await asyncio.sleep(0.1)
    await pools.drop_function(s.function_id)
    r = await call
    assert r.ok  # the call finishes...
    assert await eventually(lambda: live_workers(pools, s) == 0, 2.0)  # ...then its worker ends


@pytest.mark.parametrize("runtime", RUNTIMES)
async def test_concurrent_runs_use_distinct_workers(pools: WorkerPools, runtime: str) -> None:
    s = spec(runtime)
    results = await asyncio.gather(
        *(pools.run(s, {"s": 0.3}, ctx(), timeout_ms=10_000) for _ in range(4))
    )
    assert all(r.ok for r in results), [r.error for r in results]
    assert len({r.result for r in results}) == 4


@pytest.mark.parametrize("runtime", RUNTIMES)
async def test_warm_prepares_a_worker_once(pools: WorkerPools, runtime: str) -> None:
    s = spec(runtime)
    assert await pools.warm(s) is True
    assert await pools.warm(s) is False
    r = await pools.run(s, {}, ctx(), timeout_ms=5000)
    assert r.ok and r.cold_start is False


async def test_generic_pool_is_refilled_after_hand_out(pools: WorkerPools) -> None:
    for runtime in RUNTIMES:
        assert (await pools.run(spec(runtime), {}, ctx(), timeout_ms=5000)).ok
    assert await eventually(
        lambda: all(
            sum(1 for (r, _n, _s), ws in pools._generic.items() if r == rt for w in ws if w.alive)
            == 1
            for rt in ("python", "nodejs")
        )
    )


async def test_workers_and_their_dirs_are_gone_after_close(tmp_path: Path) -> None:
    p = WorkerPools(make_settings(tmp_path, prewarm_per_runtime=2))
    await p.start()
    r = await p.run(spec("python"), {}, ctx(), timeout_ms=5000)
    assert r.ok
    workers = list(p._all)
    assert len(workers) >= 4
    dirs = [w.workdir for w in workers if w.workdir is not None]
    pids = [w.pid for w in workers]
    await p.close()
    assert not any(d.exists() for d in dirs)
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


async def test_a_gateway_closing_never_fails_another_gateways_worker_start(
        tmp_path: Path) -> None:
    """Two gateways on one host share the cgroup root: the one that closes (its workers'
    cgroups gone, the root empty for a moment) must not take the root from the other."""
    first = WorkerPools(make_settings(tmp_path / "a", prewarm_per_runtime=0))
    second = WorkerPools(make_settings(tmp_path / "b", prewarm_per_runtime=0))
    await first.start()
    await second.start()
    try:
        assert (await first.run(spec("python"), {}, ctx(), timeout_ms=5000)).ok
        await first.close()
        r = await second.run(spec("python"), {}, ctx(), timeout_ms=5000)
        assert r.ok, r.error
    finally:
        await first.close()
        await second.close()


async def test_rss_watchdog_kills_memory_hog_without_cgroups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(CgroupRoot, "detect", classmethod(lambda cls, name="fngate": None))
    p = WorkerPools(make_settings(tmp_path, prewarm_per_runtime=1))
    await p.start()
    try:
        for runtime, code in (
            ("python", "def handler(e):\n    b = b'x' * (400 * 1024 * 1024)\n    return len(b)\n"),
            ("nodejs", "exports.handler = () => Buffer.alloc(400 * 1024 * 1024, 1).length;\n"),
        ):
            hog = CodeSpec(
                function_id=next(_ids),
                function_name="hog",
                version=1,
                runtime=runtime,
                code=code,
                memory_mb=64,  # type: ignore[arg-type]
            )
            r = await p.run(hog, {}, ctx(), timeout_ms=10_000)
            assert r.error is not None and r.error.type == "OutOfMemory", r.error
            assert (await p.run(spec(runtime), {}, ctx(), timeout_ms=5000)).ok
    finally:
        await p.close()


async def test_workdir_removal_and_rss_polls_run_off_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The RSS watchdog's /proc reads and the removal of a worker's directory run in a
    thread: the event loop's thread never calls them."""
    import executors.limits as limits

    loop_thread = threading.get_ident()
    calls: dict[str, list[bool]] = {"rss": [], "rmtree": []}
    real_rss, real_remove = limits.rss_of_group, limits.remove_workdir

    def rss(pid: int) -> int:
        calls["rss"].append(threading.get_ident() == loop_thread)
        return real_rss(pid)

    def remove(path: Path) -> None:
        calls["rmtree"].append(threading.get_ident() == loop_thread)
        real_remove(path)

    monkeypatch.setattr(limits, "rss_of_group", rss)
    monkeypatch.setattr(limits, "remove_workdir", remove)
    monkeypatch.setattr(CgroupRoot, "detect", classmethod(lambda cls, name="fngate": None))
    p = WorkerPools(make_settings(tmp_path, prewarm_per_runtime=0, sandbox="process"))
    await p.start()
    try:
        r = await p.run(spec("python", memory_mb=256), {}, ctx(), timeout_ms=5000)
        assert r.ok, r.error
        dirs = [w.workdir for w in p._all if w.workdir is not None]
        assert dirs
        assert await eventually(lambda: len(calls["rss"]) >= 2)
    finally:
        await p.close()
    assert not any(d.exists() for d in dirs)
    assert calls["rss"] and calls["rmtree"], calls
    assert not any(calls["rss"]) and not any(calls["rmtree"]), calls


async def test_missing_runtime_raises_runtime_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = executors.pool.detect_runtimes

    def without_node(user: Any) -> Any:
        found = real(user)
        found["nodejs"] = None
        return found

    monkeypatch.setattr(executors.pool, "detect_runtimes", without_node)
    p = WorkerPools(make_settings(tmp_path, prewarm_per_runtime=1))
    await p.start()
    try:
        assert p.available_runtimes() == {"python": True, "nodejs": False, "go": True,
                                          "rust": True}
        with pytest.raises(RuntimeUnavailable, match="nodejs"):
            await p.run(spec("nodejs"), {}, ctx(), timeout_ms=5000)
        assert (await p.run(spec("python"), {}, ctx(), timeout_ms=5000)).ok
    finally:
        await p.close()


async def test_namespace_sandbox_without_bwrap_starts_no_worker_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_which = shutil.which
    monkeypatch.setattr(
        executors.sandbox.shutil, "which",
        lambda n, *a, **k: None if n == "bwrap" else real_which(n),
    )
    p = WorkerPools(make_settings(tmp_path, sandbox="namespaces"))
    await p.start()
    try:
        status = p.sandbox_status()
        assert status["status"] == "down" and "bwrap" in status["error"]
        assert set(p.runtime_status().values()) <= {"down", "disabled"}
        r = await p.run(spec("python"), {}, ctx(), timeout_ms=5000)
        assert r.failure == "RUNTIME_ERROR" and r.error is not None
        assert r.error.type == "WorkerStartFailed"
        assert "FNGATE_SANDBOX=process" in r.error.message
    finally:
        await p.close()


@pytest.mark.parametrize("runtime", RUNTIMES)
async def test_cancelled_run_never_leaves_its_worker_for_the_next_call(
    pools: WorkerPools, runtime: str
) -> None:
    s = spec(runtime)
    first = await pools.run(s, {}, ctx(), timeout_ms=5000)
    call = asyncio.create_task(pools.run(s, {"s": 0.5}, ctx(), timeout_ms=5000))
    await asyncio.sleep(0.1)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    r = await pools.run(s, {}, ctx(), timeout_ms=5000)
    assert r.ok and r.cold_start and r.result != first.result


@needs_bwrap
async def test_namespace_sandbox_has_readonly_system_private_tmp_and_no_network(
    tmp_path: Path,
) -> None:
    code = (
        "import os, socket\n"
        "def handler(e):\n"
        "    out = {'tmp': sorted(os.listdir('/tmp'))}\n"
        "    try:\n"
        "        open('/usr/fngate-probe', 'w')\n"
        "    except OSError as exc:\n"
        "        out['ro'] = exc.errno\n"
        "    try:\n"
        "        socket.create_connection(('1.1.1.1', 80), timeout=1)\n"
        "    except OSError as exc:\n"
        "        out['net'] = exc.errno\n"
        "    return out\n"
    )
    p = WorkerPools(make_settings(tmp_path, sandbox="namespaces"))
    await p.start()
    try:
        s = CodeSpec(
            function_id=next(_ids), function_name="bw", version=1, runtime="python", code=code,
            network="none",
        )
        r = await p.run(s, {}, ctx(), timeout_ms=5000)
        assert r.ok, r.error
        assert r.result["tmp"] == ["handler.py"]  # its own private /tmp
        assert r.result["ro"] == 30  # EROFS
        assert r.result["net"] in (101, 113)  # ENETUNREACH / EHOSTUNREACH
        hog = CodeSpec(
            function_id=next(_ids),
            function_name="hog",
            version=1,
            runtime="nodejs",
            code="exports.handler = () => Buffer.alloc(400 * 1024 * 1024, 1).length;\n",
            memory_mb=64,
        )
        r = await p.run(hog, {}, ctx(), timeout_ms=10_000)
        assert r.error is not None and r.error.type == "OutOfMemory"
    finally:
        await p.close()


THREAD_THEN_PROCESS = (
    "import subprocess, threading\n"
    "state = {}\n"
    "def handler(event):\n"
    "    if event['step'] == 1:\n"
    "        stop = threading.Event()\n"
    "        t = threading.Thread(target=stop.wait, daemon=True)\n"
    "        t.start()\n"
    "        state['t'] = (t, stop)\n"
    "    else:\n"
    "        t, stop = state['t']\n"
    "        stop.set(); t.join()\n"
    "        subprocess.Popen(['sleep', '77'], start_new_session=True)\n"
    "    return event['step']\n"
)


@needs_bwrap
async def test_a_process_that_replaces_a_thread_still_dies_with_its_call(
    pools: WorkerPools,
) -> None:
    # A call that leaves a thread, then one that ends it and starts a detached process.
    s = CodeSpec(function_id=next(_ids), function_name="tp", version=1, runtime="python",
                 code=THREAD_THEN_PROCESS)
    assert (await pools.run(s, {"step": 1}, ctx(), timeout_ms=5000)).ok
    r = await pools.run(s, {"step": 2}, ctx(), timeout_ms=5000)
    assert r.ok, r.error
    assert await eventually(lambda: not sleepers("77")), sleepers("77")


async def test_a_gateway_keeps_an_empty_freezer_cgroup_frozen_while_it_runs(
        tmp_path: Path) -> None:
    """cgroup v1: with one cgroup always frozen, freezing and thawing a worker never
    switches the kernel's freezer static key (100-400 us each time, measured). Removed at
    close; one left by a gateway that died is removed by the next one."""
    p = WorkerPools(make_settings(tmp_path, prewarm_per_runtime=0))
    await p.start()
    root = p._cgroups
    try:
        if root is None or root.version != 1 or root.freezer is None:
            pytest.skip("no cgroup v1 freezer here: the frozen hold is for it alone")
        holds = [d for d in root.freezer.iterdir() if d.name == f"{p._prefix}-hold"]
        assert holds
        assert all((d / "freezer.state").read_text().strip() == "FROZEN" for d in holds)
        assert all(not (d / "cgroup.procs").read_text().split() for d in holds)
        assert (await p.run(spec("python"), {}, ctx(), timeout_ms=5000)).ok
    finally:
        await p.close()
    assert root._hold is not None and not root._hold.exists()
    gone = await asyncio.create_subprocess_exec("true")
    await gone.wait()
    stale = root.freezer / f"{gone.pid}-hold-0a0b0c"  # named as before the owner locks
    stale.mkdir()
    (stale / "freezer.state").write_text("FROZEN")
    root.sweep_dead()
    assert not stale.exists()


def _pid_not_here() -> int:
    """A pid no process has in this PID namespace (a gateway's in another one)."""
    return next(pid for pid in range(4_000_000, 4_100_000) if not os.path.exists(f"/proc/{pid}"))


async def test_the_sweep_goes_by_the_owner_lock_not_the_pid(tmp_path: Path) -> None:
    """A live gateway whose pid this PID namespace does not show (another container over
    the same cgroup tree) keeps its workers' cgroups; a dead one whose pid now names a
    live process here loses them."""
    root = CgroupRoot.detect()
    if root is None:
        pytest.skip("no writable cgroups here (not root)")
    locks = tmp_path / "gateways"
    live = f"{_pid_not_here()}-a1b2c3"
    dead = f"{os.getpid()}-d4e5f6"  # its pid is this test's: alive here, but not its owner
    lock = OwnerLock(locks, live)
    (locks / dead).touch()  # left by the dead gateway, held by no one
    kept, swept = root.create(f"{live}-1", 64), root.create(f"{dead}-1", 64)
    try:
        root.sweep_dead(locks)
        assert kept.pids.exists(), "a live gateway's worker cgroup was removed"
        assert not swept.pids.exists(), "a dead gateway's worker cgroup was kept"
        assert not (locks / dead).exists() and (locks / live).exists()
        lock.release()
        root.sweep_dead(locks)
        assert not kept.pids.exists()
    finally:
        lock.release()
        for cg in (kept, swept):
            cg.remove()


async def test_a_worker_that_does_not_start_says_what_it_printed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A start that fails before ``ready`` (an interpreter the uid may not run, a sandbox
    that cannot be made) fails the run with what the process printed, not an exit status
    alone."""
    from executors.runtimes import RuntimeCommand

    real = executors.pool.detect_runtimes

    def broken_node(user: Any) -> Any:
        found = real(user)
        found["nodejs"] = RuntimeCommand(
            runtime="nodejs", interpreter="/bin/sh",
            argv=("/bin/sh", "-c", "echo the runtime is broken >&2; exit 3"))
        return found

    monkeypatch.setattr(executors.pool, "detect_runtimes", broken_node)
    p = WorkerPools(make_settings(tmp_path, prewarm_per_runtime=0))
    await p.start()
    try:
        r = await p.run(spec("nodejs"), {}, ctx(), timeout_ms=5000)
    finally:
        await p.close()
    assert r.failure == "RUNTIME_ERROR" and r.error is not None
    assert r.error.type == "WorkerStartFailed"
    assert "did not start" in r.error.message and "the runtime is broken" in r.error.message
