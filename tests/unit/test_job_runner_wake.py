"""JobRunner's wake-up: a job announced while the runner is claiming is claimed next,
not after the poll interval (the wake is cleared before the claim, not after it)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from gateway.services.concurrency import ConcurrencyGates
from gateway.services.job_runner import JobRunner
from tests.conftest import wait_for


class _Listener:
    async def run(self) -> None:
        await asyncio.Event().wait()


class _Leases:
    heartbeat_s = 3600.0
    lease_s = 60.0


class _Dispatcher:
    def __init__(self) -> None:
        self.gates = ConcurrencyGates()


class _Jobs:
    """Claims nothing; the first claim is where a notification arrives."""

    def __init__(self) -> None:
        self.claims = 0
        self.runner: JobRunner | None = None

    async def claim(self, limit: int, lease_s: float, in_use: Any = None) -> list[Any]:
        self.claims += 1
        if self.claims == 1:
            assert self.runner is not None
            self.runner.wake()  # a job committed while this claim's query ran
        return []

    async def release_expired(self) -> int:
        return 0


def _runner(jobs: Any, dispatcher: _Dispatcher) -> JobRunner:
    """A runner that polls only once an hour: every claim after the first is a wake's."""
    return JobRunner(dsn="", jobs=jobs, functions=None,  # type: ignore[arg-type]
                     dispatcher=dispatcher,  # type: ignore[arg-type]
                     leases=_Leases(), capacity=4, poll_s=3600.0,  # type: ignore[arg-type]
                     listener=_Listener())  # type: ignore[arg-type]


async def test_a_job_announced_during_a_claim_is_claimed_without_waiting_for_the_poll(
) -> None:
    jobs = _Jobs()
    runner = _runner(jobs, _Dispatcher())
    jobs.runner = runner
    running = asyncio.create_task(runner.run())
    try:
        await wait_for(lambda: jobs.claims >= 2, timeout_s=10)
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running


class _BusyJobs:
    """Every pending job's function is at its limit here: claims take nothing."""

    def __init__(self) -> None:
        self.claims = 0
        self.in_use: Any = None

    async def claim(self, limit: int, lease_s: float, in_use: Any = None) -> list[Any]:
        self.claims += 1
        self.in_use = in_use
        return []

    async def release_expired(self) -> int:
        return 0


async def test_busy_functions_do_not_make_the_runner_spin_and_a_freed_slot_wakes_it(
) -> None:
    jobs = _BusyJobs()
    dispatcher = _Dispatcher()
    gate = dispatcher.gates.gate(5, 1)
    await gate.acquire()  # function 5's one slot is taken (a sync call, say)
    runner = _runner(jobs, dispatcher)
    running = asyncio.create_task(runner.run())
    try:
        await wait_for(lambda: jobs.claims == 1, timeout_s=10)
        assert jobs.in_use == {5: 1}
        for _ in range(50):  # the runner waits for a wake or the poll, not claims again
            await asyncio.sleep(0)
        assert jobs.claims == 1
        gate.release()
        await wait_for(lambda: jobs.claims == 2, timeout_s=10)
        assert jobs.in_use == {}
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running


async def test_a_slot_freed_below_the_limit_leaves_the_runner_asleep() -> None:
    """A sync call ending on a function with slots to spare unblocks no claim: the runner
    does not run one beside the call's answer."""
    jobs = _BusyJobs()
    dispatcher = _Dispatcher()
    spare = dispatcher.gates.gate(7, 3)
    await spare.acquire()
    await spare.acquire()  # two of three slots taken: a claim was not held back by them
    project = dispatcher.gates.project_gate("p", 1)
    await project.acquire()  # project quotas are not claims' business
    runner = _runner(jobs, dispatcher)
    running = asyncio.create_task(runner.run())
    try:
        await wait_for(lambda: jobs.claims == 1, timeout_s=10)
        spare.release()
        project.release()
        for _ in range(50):
            await asyncio.sleep(0)
        assert jobs.claims == 1
        await spare.acquire()
        await spare.acquire()  # all three taken now
        spare.release()
        await wait_for(lambda: jobs.claims == 2, timeout_s=10)
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
