"""Every process ``executors/`` starts is reaped: whatever fails around it, whoever gave up.

A Popen dropped unreaped shows up much later, as a ``ResourceWarning: subprocess N is
still running`` in whichever test the garbage collector happens to run in. Each test here
makes one way of losing a process happen on purpose, then checks the process is gone and
that collecting the garbage warns of nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import io
import itertools
import os
import signal
import subprocess
import time
import types
import warnings
from collections.abc import AsyncIterator, Awaitable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

import config
from executors import CallContext, CodeSpec, WorkerPools, buildrun, spawn
from tests.conftest import wait_for

ENV = {"PATH": "/usr/bin:/bin"}
_ids = itertools.count(9000)


def spec() -> CodeSpec:
    return CodeSpec(function_id=next(_ids), function_name="fn", version=1, runtime="python",
                    code="def handler(event):\n    return 1\n")


def ctx() -> CallContext:
    return CallContext(job_id="j", function_name="fn", version=1, trigger="http",
                       deadline_ms=int(time.time() * 1000) + 10_000)


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Every Popen ``spawn`` starts from now on (killed at the end if a test left one)."""
    popens: list[subprocess.Popen[bytes]] = []
    real_start = spawn.start

    def recording_start(*args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
        popens.append(real_start(*args, **kwargs))
        return popens[-1]

    monkeypatch.setattr(spawn, "start", recording_start)
    yield popens
    for popen in popens:
        if popen.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(popen.pid, signal.SIGKILL)
            popen.wait()


def assert_all_reaped(popens: list[subprocess.Popen[bytes]]) -> None:
    """Each child was waited for (its pid is free again), and dropping the Popens warns
    of nothing."""
    assert popens and [p.pid for p in popens if p.returncode is None] == []
    for popen in popens:
        with pytest.raises(ProcessLookupError):
            os.kill(popen.pid, 0)  # a zombie would still take a signal
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        popens.clear()
        gc.collect()
    assert [str(w.message) for w in caught if w.category is ResourceWarning] == []


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


@pytest_asyncio.fixture
async def pools(tmp_path: Path) -> AsyncIterator[WorkerPools]:
    """Pools without pre-started workers: every run spawns its worker."""
    p = WorkerPools(config.load({}, data_dir=str(tmp_path), prewarm_per_runtime=0))
    await p.start()
    try:
        yield p
    finally:
        await p.close()


async def test_a_start_failing_after_the_fork_kills_and_reaps_its_child(
    started: list[subprocess.Popen[bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # What another thread's close(2) of a recycled descriptor did (uvloop closes a pipe
    # transport's descriptor twice): Popen's own close of /dev/null failed, after the fork.
    real_close_pipe_fds = subprocess.Popen._close_pipe_fds  # type: ignore[attr-defined]

    def closed_under_it(self: subprocess.Popen[bytes], *fds: int) -> None:
        started.append(self)  # it never comes back from Popen()
        real_close_pipe_fds(self, *fds)
        raise OSError(errno.EBADF, os.strerror(errno.EBADF))

    monkeypatch.setattr(spawn._Popen, "_close_pipe_fds", closed_under_it)
    with pytest.raises(OSError, match="Bad file descriptor"):
        await spawn.spawn(["/bin/sleep", "60"], env=ENV, cwd="/")
    assert len(started) == 1 and started[0].returncode == -signal.SIGKILL
    assert_all_reaped(started)


async def test_a_worker_whose_exit_cannot_be_watched_fails_to_start_and_is_reaped(
    pools: WorkerPools, started: list[subprocess.Popen[bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_pidfd(pid: int, flags: int = 0) -> int:
        raise OSError(errno.EMFILE, os.strerror(errno.EMFILE))

    monkeypatch.setattr(os, "pidfd_open", no_pidfd)
    async with asyncio.timeout(20):  # it waited for an exit nothing would ever report
        r = await pools.run(spec(), {}, ctx(), timeout_ms=5000)
    assert r.error is not None and r.error.type == "WorkerStartFailed", r.error
    assert len(started) == 1
    assert_all_reaped(started)


async def test_a_worker_closes_its_pipes_once_on_uvloop(
    pools: WorkerPools, started: list[subprocess.Popen[bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """uvloop closes a pipe transport's descriptor (libuv), then its file object. A thread
    opening a descriptor in between gets that number, and the file object closed it: this
    is that thread, made to open one at that very moment."""
    taken: dict[int, int] = {}  # descriptor → inode

    class Interleaved(io.FileIO):
        def close(self) -> None:
            fd = -1 if self.closed else self.fileno()
            if fd >= 0 and not _is_open(fd):  # the loop closed it: the number is free
                # Another thread's open, given that number; being the lowest free one,
                # it is often what memfd_create returns (dup3 onto itself is EINVAL).
                other = os.memfd_create("fngate-test-taken")
                if other != fd:
                    os.dup2(other, fd, inheritable=False)
                    os.close(other)
                taken[fd] = os.fstat(fd).st_ino
            super().close()

    def fdopen(fd: int, mode: str = "r", buffering: int = -1, closefd: bool = True) -> Any:
        return Interleaved(fd, mode.replace("b", ""), closefd=closefd)

    monkeypatch.setattr(os, "fdopen", fdopen)
    try:
        assert (await pools.run(spec(), {}, ctx(), timeout_ms=5000)).ok
        worker = next(iter(pools._all))
        worker.kill()
        await worker.wait_closed()
        assert taken, "the transports never closed their file objects"
        closed_under_it = [fd for fd, ino in taken.items()
                           if not _is_open(fd) or os.fstat(fd).st_ino != ino]
        assert closed_under_it == []
    finally:
        for fd in taken:
            with contextlib.suppress(OSError):
                os.close(fd)
    assert_all_reaped(started)


@types.coroutine
def cancelled_at(awaitable: Awaitable[Any], suspension: int) -> Generator[Any, Any, Any]:
    """Await ``awaitable``, cancelling the task at its ``suspension``-th await (counted
    from 0) just as a ``task.cancel()`` arriving then would: the awaited future is
    cancelled and CancelledError comes out of that await."""
    steps = awaitable.__await__()
    send: Any = None
    throw: BaseException | None = None
    for count in itertools.count():
        try:
            waiting_on = steps.throw(throw) if throw is not None else steps.send(send)
        except StopIteration as done:
            return done.value
        if count == suspension:
            task = asyncio.current_task()
            assert task is not None
            task.cancel()
        try:
            send, throw = (yield waiting_on), None
        except BaseException as exc:  # noqa: BLE001 - passed on into the awaitable
            send, throw = None, exc
    raise AssertionError("unreachable")


async def test_a_run_cancelled_at_any_await_of_its_cold_start_leaves_no_process(
    pools: WorkerPools, started: list[subprocess.Popen[bytes]]
) -> None:
    # Every await of run → spawn → Worker.spawn → _start → spawn.spawn, in turn: the fork
    # in its thread, the pipes being connected, the wait for the ready frame, the call.
    async def run_cancelled_at(suspension: int) -> Any:
        return await cancelled_at(pools.run(spec(), {}, ctx(), timeout_ms=5000), suspension)

    for suspension in itertools.count():
        call = asyncio.create_task(run_cancelled_at(suspension))
        try:
            await call
            break  # it got to the end before that await came
        except asyncio.CancelledError:
            assert call.cancelled()
        # Killed when cancelled; reaped once its exit watcher sees it go.
        await wait_for(lambda: all(p.returncode is not None for p in started))
    assert suspension > 3, "the cold start was not gone through"
    await pools.close()
    assert_all_reaped(started)


@pytest.mark.parametrize("after_s", [0.0, 0.05, 0.15, 0.3, 0.5])
async def test_pools_closed_while_a_prestart_spawns_leave_no_process(
    tmp_path: Path, started: list[subprocess.Popen[bytes]], after_s: float
) -> None:
    p = WorkerPools(config.load({}, data_dir=str(tmp_path), prewarm_per_runtime=1))
    await p.start()
    try:
        assert (await p.run(spec(), {}, ctx(), timeout_ms=5000)).ok  # a refill follows
        await asyncio.sleep(after_s)
    finally:
        await p.close()
    assert_all_reaped(started)  # at once: close() waited for every worker


def test_a_build_log_drain_that_fails_still_reaps_the_tool() -> None:
    proc = spawn.start(["/bin/sh", "-c", "echo started; exec sleep 60"], env=ENV, cwd="/",
                       stdout=spawn.PIPE, stderr=spawn.STDOUT)
    assert proc.stdout is not None
    output = proc.stdout
    r, w = os.pipe()
    os.close(r)
    proc.stdout = os.fdopen(w, "wb", buffering=0)  # reading it fails (EBADF)
    try:
        with pytest.raises(OSError):
            buildrun.drain_bounded(proc)
        assert proc.returncode == -signal.SIGKILL
    finally:
        output.close()
        if proc.returncode is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
