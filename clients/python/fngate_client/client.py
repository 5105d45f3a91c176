""":class:`Client`, blocking, on ``httpx.Client``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from types import TracebackType
from typing import Any, TypeVar, overload

import httpx

from fngate_client._api import Api
from fngate_client._calls import Call, SyncSender
from fngate_client._ops_runs import JobId, Ref, TimeArg
from fngate_client._protocol import (
    Sleep,
    SseDecoder,
    Steps,
    advance,
    follow_request,
    send_call,
    wait_for_job,
)
from fngate_client._settings import http_options
from fngate_client.errors import ConnectionFailed, error_from_response
from fngate_client.models import Job, LogLine

__all__ = ["Client"]

T = TypeVar("T")


class Client(SyncSender, Api):
    """A blocking client of one gateway: ``Client("http://127.0.0.1:8080", token=…)``.

    Every route is a method (``create_function``, ``get_function``,
    ``invoke_function(function_id, data)``, ``list_jobs``, ``initialize``, …) that returns
    the API's model and raises :class:`~fngate_client.ApiError` (with ``code``,
    ``status``, ``details``) for the API's errors; a 503 is tried again after its
    ``Retry-After`` up to ``max_retries`` times. Use it as a context manager, or
    :meth:`close` it.
    """

    def __init__(self, base_url: str, token: str | None = None, *, timeout: float = 60.0,
                 max_retries: int = 3, headers: dict[str, str] | None = None,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.max_retries = max_retries
        self._http = httpx.Client(transport=transport,
                                  **http_options(base_url, token, timeout, headers))

    def _send(self, call: Call[T]) -> T:
        return self._drive(send_call(call, self._build, self.max_retries))

    def _build(self, call: Call[Any]) -> httpx.Request:
        return call.request(self._http)

    @overload
    def _exchange(self, step: httpx.Request, stream: bool = False) -> httpx.Response: ...

    @overload
    def _exchange(self, step: Sleep) -> None: ...

    def _exchange(self, step: httpx.Request | Sleep,
                  stream: bool = False) -> httpx.Response | None:
        if isinstance(step, Sleep):
            time.sleep(step.seconds)
            return None
        try:
            return self._http.send(step, stream=stream)
        except httpx.TransportError as exc:
            raise ConnectionFailed(f"{step.url}: {exc}") from None

    def _drive(self, steps: Steps[T]) -> T:
        reply: httpx.Response | None = None
        while True:
            finished, step = advance(steps, reply)
            if finished:
                return step  # type: ignore[no-any-return]
            reply = self._exchange(step)

    def wait_job(self, job_id: JobId, *, timeout_s: float = 300.0,
                 interval_s: float = 0.5) -> Job:
        """The job once finished (``success`` or ``failed``); ``WaitTimeout`` after
        ``timeout_s``."""
        return self._drive(wait_for_job(job_id, self._build, self.max_retries,
                                        timeout_s=timeout_s, interval_s=interval_s))

    def follow_logs(self, function_id: Ref, *, since: TimeArg = None,
                    job_id: JobId | None = None, limit: int | None = None) -> Iterator[LogLine]:
        """The function's log lines as they are printed (the newest ``limit`` first), until
        the stream ends (with ``job_id``: once that job has finished) or you stop."""
        decoder = SseDecoder()
        response = self._exchange(follow_request(self._build, function_id, since=since,
                                                  job_id=job_id, limit=limit), stream=True)
        try:
            if response.status_code >= 400:
                response.read()
                raise error_from_response(response)
            for text in response.iter_lines():
                if (line := decoder.line(text)) is not None:
                    yield line
        finally:
            response.close()

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
