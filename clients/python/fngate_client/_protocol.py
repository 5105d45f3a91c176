"""What the clients do, written once without I/O: a generator yields the requests to send
(and :class:`Sleep` between tries) and receives the responses; each client drives it with
its own kind of I/O. Also the Server-Sent Events decoder of the log stream."""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from fngate_client._calls import Call, retry_delay
from fngate_client._ops_runs import JobId, Ref, TimeArg, function_logs, get_job
from fngate_client.errors import WaitTimeout
from fngate_client.models import Job, LogLine

__all__ = ["FINISHED", "SseDecoder", "Sleep", "Steps", "advance", "follow_request", "send_call",
           "wait_for_job"]

T = TypeVar("T")
BuildRequest = Callable[[Call[Any]], httpx.Request]

#: The job states after which nothing changes.
FINISHED = frozenset({"success", "failed"})


@dataclass(frozen=True, slots=True)
class Sleep:
    """Wait this long, then go on."""

    seconds: float


#: A conversation: requests and sleeps out, responses (or None after a sleep) in, ``T`` last.
Steps = Generator[httpx.Request | Sleep, httpx.Response | None, T]


def advance(steps: Steps[T], reply: httpx.Response | None) -> tuple[bool, Any]:
    """Give ``reply`` to ``steps``: ``(False, next step)``, or ``(True, result)`` at its
    end."""
    try:
        return False, steps.send(reply)
    except StopIteration as done:
        return True, done.value


def send_call(call: Call[T], build: BuildRequest, max_retries: int) -> Steps[T]:
    """Send ``call``, again after a 503 while the retry policy allows, and read the answer."""
    attempt = 0
    while True:
        response = yield build(call)
        assert response is not None
        delay = retry_delay(response, attempt, max_retries)
        if delay is None:
            return call.read(response)
        attempt += 1
        yield Sleep(delay)


def wait_for_job(job_id: JobId, build: BuildRequest, max_retries: int, *,
                 timeout_s: float, interval_s: float) -> Steps[Job]:
    """Poll the job until it has finished (``success`` or ``failed``); :class:`WaitTimeout`
    after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        job = yield from send_call(get_job(job_id), build, max_retries)
        left = deadline - time.monotonic()
        if job.status in FINISHED:
            return job
        if left <= 0:
            raise WaitTimeout(f"job {job_id} still {job.status} after {timeout_s:g} s")
        yield Sleep(min(interval_s, left))


def follow_request(build: BuildRequest, function_id: Ref, *, since: TimeArg,
                   job_id: JobId | None, limit: int | None) -> httpx.Request:
    """The request of a function's live log stream (``follow=true``)."""
    request = build(function_logs(function_id, since=since, limit=limit, job_id=job_id))
    request.url = request.url.copy_merge_params({"follow": "true"})
    return request


class SseDecoder:
    """Server-Sent Events, a line at a time: :meth:`feed` returns an event's data once its
    blank line arrives; comments (``: keep-alive``) and other fields are skipped."""

    def __init__(self) -> None:
        self._data: list[str] = []

    def line(self, text: str) -> LogLine | None:
        """The log line whose event ``text`` completes, if it does."""
        data = self.feed(text)
        return None if data is None else LogLine.model_validate_json(data)

    def feed(self, line: str) -> str | None:
        line = line.rstrip("\r\n")
        if not line:
            data, self._data = self._data, []
            return "\n".join(data) if data else None
        if line.startswith("data:"):
            value = line[5:]
            self._data.append(value[1:] if value.startswith(" ") else value)
        return None
