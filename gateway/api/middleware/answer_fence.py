"""Hold each response's start until the writes it names are committed.

Every HTTP request gets an :class:`~gateway.core.answer_fence.AnswerFence`; a sync
call's job record is handed to it instead of being waited for, and this middleware joins
the fence when the response starts. A write that failed replaces the response with the
error its exception maps to (the app's own handlers: 503 when the database is
unreachable), as if the route had raised it; nothing of the first response is sent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.core.answer_fence import AnswerFence

__all__ = ["AnswerFenceMiddleware"]


class AnswerFenceMiddleware:
    """Pure ASGI: innermost of the gateway's own middlewares, so an error answer passes
    through the others (request id, metrics, CORS) like any response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        fence = AnswerFence()
        replaced = False

        async def send_after_writes(message: Message) -> None:
            nonlocal replaced
            if replaced:
                return  # the rest of the response the failed write replaced
            if message["type"] == "http.response.start":
                try:
                    await fence.join()
                except Exception as exc:
                    replaced = True
                    response = await _handler_for(scope, exc)(Request(scope), exc)
                    await response(scope, receive, send)
                    return
            await send(message)

        fence.open()
        try:
            await self.app(scope, receive, send_after_writes)
        finally:
            fence.close()


def _handler_for(scope: Scope,
                 exc: Exception) -> Callable[[Request, Exception], Awaitable[Response]]:
    """The app's exception handler for ``exc`` (by its class's MRO, as Starlette's)."""
    handlers = scope["app"].exception_handlers
    for cls in type(exc).__mro__:
        if cls in handlers:
            handler: Callable[[Request, Exception], Awaitable[Response]] = handlers[cls]
            return handler
    raise exc
