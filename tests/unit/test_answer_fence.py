"""The answer fence: a sync call's record is committed while its answer is prepared, and
the answer waits for it (gateway/core/answer_fence.py, SyncRecord)."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any

import pytest

from executors.models import ExecutionResult
from gateway.core.answer_fence import AnswerFence, current_fence
from gateway.core.models import Job
from gateway.services.settlement import SyncRecord
from gateway.store.jobs import NewJob, Outcome


class _Jobs:
    """The two writes SyncRecord uses: one it waits for, one it hands to the fence."""

    def __init__(self) -> None:
        self.waited: list[Outcome] = []
        self.submitted: list[asyncio.Future[None]] = []

    async def insert_finished(self, job: NewJob, outcome: Outcome, logs: Any) -> None:
        self.waited.append(outcome)

    def submit_finished(self, job: NewJob, outcome: Outcome, logs: Any) -> asyncio.Future[None]:
        write: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.submitted.append(write)
        return write


def _job() -> NewJob:
    return NewJob(id=uuid.uuid4(), function_id=1, function_name="f", version=1,
                  trigger="invoke", owner="o", subject=None, event={}, context={})


def _outcome(result: Any) -> Outcome:
    at = dt.datetime.now(dt.UTC)
    return Outcome(status="success", result=result, error=None, started_at=at,
                   finished_at=at, duration=1.0, cold_start=False)


async def _settle(fenced: bool, result: Any) -> tuple[_Jobs, list[Job], AnswerFence]:
    jobs, finished = _Jobs(), []
    record = SyncRecord(jobs, finished.append)  # type: ignore[arg-type]
    fence = AnswerFence()
    if fenced:
        fence.open()
    try:
        done = await record.settle(_job(), ExecutionResult(result=result), _outcome(result))
    finally:
        if not fenced:
            fence.close()
    assert done.result == result and done.status == "success"
    return jobs, finished, fence


async def test_inside_a_request_the_record_commits_behind_the_answer() -> None:
    jobs, finished, fence = await _settle(True, {"a": [1, "two"]})
    try:
        assert len(jobs.submitted) == 1 and not jobs.waited
        assert not finished, "listeners heard of a job before its commit"
        join = asyncio.create_task(fence.join())
        await asyncio.sleep(0)
        assert not join.done(), "the answer went out before the commit"
        jobs.submitted[0].set_result(None)
        await join
        assert [job.result for job in finished] == [{"a": [1, "two"]}]
    finally:
        fence.close()
    assert current_fence() is None


async def test_outside_a_request_the_record_is_waited_for() -> None:
    jobs, finished, _ = await _settle(False, {"a": 1})
    assert len(jobs.waited) == 1 and not jobs.submitted and len(finished) == 1


@pytest.mark.parametrize("result", [
    "x\x00y", {"k\x00": 1}, [[{"deep": ["\x00"]}]], list(range(5000)),
])
async def test_a_result_that_may_not_be_storable_is_waited_for(result: Any) -> None:
    """A NUL fails the run when the write refuses it (the old path decides), and a result
    too large to look through cheaply is not guessed at."""
    jobs, finished, fence = await _settle(True, result)
    fence.close()
    assert len(jobs.waited) == 1 and not jobs.submitted and len(finished) == 1


async def test_join_raises_the_first_failure_after_every_write_ended() -> None:
    loop = asyncio.get_running_loop()
    fence = AnswerFence()
    fence.open()
    first, second = loop.create_future(), loop.create_future()
    fence.add(first)
    fence.add(second)
    assert current_fence() is fence
    join = asyncio.create_task(fence.join())
    first.set_exception(RuntimeError("refused"))
    await asyncio.sleep(0)
    assert not join.done(), "the error answer would leave a write running behind it"
    assert current_fence() is None, "a joined fence takes no more writes"
    second.set_result(None)
    with pytest.raises(RuntimeError, match="refused"):
        await join
    fence.close()
    assert current_fence() is None


async def test_a_cancelled_request_does_not_cancel_its_writes() -> None:
    write: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    fence = AnswerFence()
    fence.add(write)
    join = asyncio.create_task(fence.join())
    await asyncio.sleep(0)
    join.cancel()
    with pytest.raises(asyncio.CancelledError):
        await join
    assert not write.cancelled()
    write.set_exception(RuntimeError("late"))  # retrieved by the fence: no warning
    fence.close()


async def test_join_of_one_write_waits_for_it_and_raises_its_failure() -> None:
    loop = asyncio.get_running_loop()
    for outcome in (None, RuntimeError("refused")):
        write: asyncio.Future[None] = loop.create_future()
        fence = AnswerFence()
        fence.add(write)
        join = asyncio.create_task(fence.join())
        await asyncio.sleep(0)
        assert not join.done()
        if outcome is None:
            write.set_result(None)
            await join
        else:
            write.set_exception(outcome)
            with pytest.raises(RuntimeError, match="refused"):
                await join
        fence.close()
