"""Writes an answer must not overtake: :class:`AnswerFence`.

A sync call's job record is committed while its answer is being prepared (the route's
rendering, the middlewares), and the answer's first byte waits for that commit: API.md
promises a job is readable as soon as the response that names it has been sent, and the
commit no longer sits on the call's path before the rendering.

The HTTP layer opens a fence per request (``gateway.api.middleware.answer_fence``) and
joins it before the response starts; a writer that finds no open fence (no request, or
one whose response has already started) waits for its own write.
"""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any

__all__ = ["AnswerFence", "current_fence"]

_current: contextvars.ContextVar[AnswerFence | None] = contextvars.ContextVar(
    "fngate_answer_fence", default=None)


def current_fence() -> AnswerFence | None:
    """The open fence of the request being handled, if any."""
    fence = _current.get()
    return fence if fence is not None and not fence.closed else None


def _consume(write: asyncio.Future[Any]) -> None:
    # A write nobody joined (the request was cancelled) still reports its own failure
    # where it is logged (the store); this only keeps asyncio from warning about it.
    if not write.cancelled():
        write.exception()


class AnswerFence:
    """The writes one request's answer waits for."""

    __slots__ = ("closed", "_token", "_writes")

    def __init__(self) -> None:
        self.closed = False
        self._writes: list[asyncio.Future[Any]] = []
        self._token: contextvars.Token[AnswerFence | None] | None = None

    def open(self) -> None:
        """Make this the fence of the current context (the request's task)."""
        self._token = _current.set(self)

    def add(self, write: asyncio.Future[Any]) -> None:
        """A write the answer must wait for (only on an open fence)."""
        assert not self.closed, "the answer has started: wait for the write instead"
        write.add_done_callback(_consume)
        self._writes.append(write)

    async def join(self) -> None:
        """Close the fence and wait for its writes; raise the first one's failure once
        every write has ended (nothing is left running behind an error answer)."""
        self.closed = True
        writes, self._writes = self._writes, []
        if not writes:
            return
        # Shielded: a cancelled request stops waiting, never a write.
        if len(writes) == 1:  # the usual case, without gather's extra loop turn
            await asyncio.shield(writes[0])
            return
        outcomes = await asyncio.shield(asyncio.gather(*writes, return_exceptions=True))
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    def close(self) -> None:
        """The request is over: writes not joined go on unwatched."""
        self.closed = True
        self._writes.clear()
        if self._token is not None:
            _current.reset(self._token)
            self._token = None
