"""Read to its end a request body the app answered without reading, so the connection lives.

Hypercorn 0.18 (HTTP/1.1) keeps a connection only when the request has been received to
its end by the time the response ends; otherwise it closes the connection without saying
so (no ``Connection: close``). A 401, 403, 404 or 429 answered before the body arrived
therefore closed the connection now and then, and a pooled client's next request on it
failed ("Server disconnected"). So when a response starts while part of the request body
is still to come, the rest is read here first and dropped — for at most ``timeout_s`` (a
client that stops sending holds no request open longer). A body over ``max_body_bytes``
(declared, or counted while reading) is answered with ``Connection: close``, so a client
opens a new connection for its next request instead of losing it; it is still read and
dropped up to :data:`LINGER_BYTES` past the limit first, because closing a socket with
unread bytes in it resets the connection, and the reset can destroy the answer (413)
before the client has read it. A body larger still, or not in within ``timeout_s``, is
left unread. HTTP/2 streams end on their own.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BodyDrainMiddleware"]

_HTTP1 = frozenset({"1.0", "1.1"})
_CHUNKED = -1
_CLOSE = (b"connection", b"close")
DRAIN_TIMEOUT_S = 10.0
LINGER_BYTES = 1 << 20  # read past the limit so a refused upload gets its answer, not a reset


def _expected_body(headers: list[tuple[bytes, bytes]]) -> int | None:
    """The declared body size (:data:`_CHUNKED` when unknown), or None: nothing to drain
    (no body, or the client closes the connection after this request anyway)."""
    expected: int | None = None
    for name, value in headers:
        if name == b"content-length":
            try:
                declared = int(value)
            except ValueError:
                declared = 0  # Hypercorn refuses it before the app sees it
            expected = declared if declared > 0 else expected
        elif name == b"transfer-encoding":
            expected = _CHUNKED
        elif name == b"connection" and b"close" in value.lower():
            return None
    return expected


class _Body:
    """One request's body as the app reads it, and the rest read by :meth:`drain`."""

    __slots__ = ("_receive", "_draining", "_readers", "ended", "expected", "limit", "linger",
                 "seen", "timeout_s")

    def __init__(self, receive: Receive, *, expected: int, limit: int, linger: int,
                 timeout_s: float) -> None:
        self._receive = receive
        self._draining: asyncio.Event | None = None
        self._readers = 0
        self.ended = False
        self.expected = expected
        self.limit = limit
        self.linger = linger
        self.seen = 0
        self.timeout_s = timeout_s

    def _note(self, message: Message) -> None:
        if message["type"] == "http.request":
            self.seen += len(message.get("body", b""))
            if not message.get("more_body", False):
                self.ended = True
        else:  # http.disconnect: nothing more will come
            self.ended = True

    async def receive(self) -> Message:
        """The app's ``receive``; while :meth:`drain` reads, a caller waits until it is done."""
        if self._draining is not None:
            await self._draining.wait()
        self._readers += 1
        try:
            message = await self._receive()
        finally:
            self._readers -= 1
        self._note(message)
        return message

    async def drain(self) -> bool:
        """Read and drop the rest of the body; True when the connection may serve another
        request: the body was received to its end within the limit. A body over the limit
        is still read up to ``linger`` bytes past it (False). Nothing is read when
        another task of the app is waiting on ``receive`` (a streaming response's disconnect
        listener, which would take messages from under the drain) or past ``timeout_s``."""
        ceiling = self.limit + self.linger
        if not self.ended and not self._readers and self.expected <= ceiling:
            self._draining = asyncio.Event()
            try:
                async with asyncio.timeout(self.timeout_s):
                    while not self.ended and self.seen <= ceiling:
                        self._note(await self._receive())
            except TimeoutError:
                pass
            finally:
                self._draining.set()
        return self.ended and self.seen <= self.limit and self.expected <= self.limit


class BodyDrainMiddleware:
    """Pure ASGI: an HTTP/1 response starts only once its request body has been received
    to the end, or says ``Connection: close`` when the body is over ``max_body_bytes`` or
    not in within ``timeout_s``."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int,
                 timeout_s: float = DRAIN_TIMEOUT_S, linger_bytes: int = LINGER_BYTES) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.timeout_s = timeout_s
        self.linger_bytes = linger_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("http_version") not in _HTTP1:
            await self.app(scope, receive, send)
            return
        expected = _expected_body(scope["headers"])
        if expected is None:
            await self.app(scope, receive, send)
            return
        body = _Body(receive, expected=expected, limit=self.max_body_bytes,
                     linger=self.linger_bytes, timeout_s=self.timeout_s)
        started = False

        async def send_after_body(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if not await body.drain():
                    kept = [h for h in message.get("headers", []) if h[0].lower() != b"connection"]
                    message["headers"] = [*kept, _CLOSE]
            await send(message)

        try:
            await self.app(scope, body.receive, send_after_body)
        except Exception:
            # Starlette's outermost layer answers 500 past this middleware: read the body first.
            if not started:
                await body.drain()
            raise
