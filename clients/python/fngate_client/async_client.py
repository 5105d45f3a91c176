""":class:`AsyncClient`, for asyncio, on ``httpx.AsyncClient``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any, TypeVar, overload

import httpx

from fngate_client._api import Api
from fngate_client._calls import AsyncSender, Call
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

__all__ = ["AsyncClient"]

T = TypeVar("T")


class AsyncClient(AsyncSender, Api):
    """The asyncio twin of :class:`~fngate_client.Client`: the same methods, awaited.

    ``async with AsyncClient(url, token=…) as fn: job = await fn.invoke_function("calc",
    {"x": 1})``. Pass ``transport=httpx.ASGITransport(app)`` to talk to an app in-process.
    """

    def __init__(self, base_url: str, token: str | None = None, *, timeout: float = 60.0,
                 max_retries: int = 3, headers: dict[str, str] | None = None,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.max_retries = max_retries
        self._http = httpx.AsyncClient(transport=transport,
                                       **http_options(base_url, token, timeout, headers))

    async def _send(self, call: Call[T]) -> T:
        return await self._drive(send_call(call, self._build, self.max_retries))

    def _build(self, call: Call[Any]) -> httpx.Request:
        return call.request(self._http)

    @overload
    async def _exchange(self, step: httpx.Request, stream: bool = False) -> httpx.Response: ...

    @overload
    async def _exchange(self, step: Sleep) -> None: ...

    async def _exchange(self, step: httpx.Request | Sleep,
                        stream: bool = False) -> httpx.Response | None:
        if isinstance(step, Sleep):
            await asyncio.sleep(step.seconds)
            return None
        try:
            return await self._http.send(step, stream=stream)
        except httpx.TransportError as exc:
            raise ConnectionFailed(f"{step.url}: {exc}") from None

    async def _drive(self, steps: Steps[T]) -> T:
        reply: httpx.Response | None = None
        while True:
            finished, step = advance(steps, reply)
            if finished:
                return step  # type: ignore[no-any-return]
            reply = await self._exchange(step)

    async def wait_job(self, job_id: JobId, *, timeout_s: float = 300.0,
                       interval_s: float = 0.5) -> Job:
        """The job once finished (``success`` or ``failed``); ``WaitTimeout`` after
        ``timeout_s``."""
        return await self._drive(wait_for_job(job_id, self._build, self.max_retries,
                                              timeout_s=timeout_s, interval_s=interval_s))

    async def follow_logs(self, function_id: Ref, *, since: TimeArg = None,
                          job_id: JobId | None = None,
                          limit: int | None = None) -> AsyncIterator[LogLine]:
        """The function's log lines as they are printed (the newest ``limit`` first), until
        the stream ends (with ``job_id``: once that job has finished) or you stop."""
        decoder = SseDecoder()
        response = await self._exchange(follow_request(self._build, function_id, since=since,
                                                  job_id=job_id, limit=limit), stream=True)
        try:
            if response.status_code >= 400:
                await response.aread()
                raise error_from_response(response)
            async for text in response.aiter_lines():
                if (line := decoder.line(text)) is not None:
                    yield line
        finally:
            await response.aclose()

    async def aclose(self) -> None:
        """Close the connections."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()
