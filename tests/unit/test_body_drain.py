"""The body drain on ASGI messages (no server): a response starts only once the request
body has been received to its end, or says ``Connection: close`` when the rest is left
unread. tests/e2e/test_serve_keepalive.py shows what it is for against ``fngate serve``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from starlette.types import Message, Receive, Scope, Send

from gateway.api.middleware import BodyDrainMiddleware

LIMIT = 100
LINGER = 50  # read past the limit before a close, so the answer is not lost to a reset


def _scope(*headers: tuple[bytes, bytes], method: str = "POST",
           http_version: str = "1.1") -> Scope:
    return {"type": "http", "method": method, "path": "/x", "http_version": http_version,
            "headers": list(headers)}


class _Client:
    """The server's side of one request: body messages handed out in order, and a log of
    what happened when (``recv`` per body message, then ``start``/``body`` as sent)."""

    def __init__(self, *chunks: bytes, disconnect_after: bool = False) -> None:
        self.messages: list[Message] = [
            {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
            for i, c in enumerate(chunks)]
        if disconnect_after:
            self.messages[-1]["more_body"] = True
            self.messages.append({"type": "http.disconnect"})
        self.log: list[str] = []
        self.sent: list[Message] = []
        self.more = asyncio.Event()

    async def receive(self) -> Message:
        if not self.messages:
            await self.more.wait()  # the client is gone once the response has ended
            return {"type": "http.disconnect"}
        await asyncio.sleep(0)  # as a server's queue may: another task runs meanwhile
        message = self.messages.pop(0)
        self.log.append("recv")
        return message

    async def send(self, message: Message) -> None:
        self.log.append(message["type"].removeprefix("http.response."))
        self.sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            self.more.set()

    def headers(self) -> list[tuple[bytes, bytes]]:
        return list(self.sent[0]["headers"])


App = Callable[[Scope, Receive, Send], Awaitable[None]]


def _refusing(*, reads: int = 0, headers: list[tuple[bytes, bytes]] | None = None) -> App:
    """An app that reads ``reads`` messages, then answers 404."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        for _ in range(reads):
            await receive()
        await send({"type": "http.response.start", "status": 404, "headers": headers or []})
        await send({"type": "http.response.body", "body": b"{}"})

    return app


async def _run(app: App, scope: Scope, client: _Client, *, timeout_s: float = 5) -> None:
    middleware = BodyDrainMiddleware(app, max_body_bytes=LIMIT, timeout_s=timeout_s,
                                     linger_bytes=LINGER)
    await asyncio.wait_for(middleware(scope, client.receive, client.send), timeout=10)


async def test_a_body_answered_unread_is_received_to_its_end_before_the_response_starts(
        ) -> None:
    client = _Client(b"a" * 30, b"b" * 30, b"c" * 40)
    await _run(_refusing(reads=1), _scope((b"content-length", b"100")), client)
    assert client.log == ["recv", "recv", "recv", "start", "body"]
    assert client.headers() == []


async def test_a_chunked_body_is_drained_too() -> None:
    client = _Client(b"a" * 10, b"b" * 10, b"")
    await _run(_refusing(), _scope((b"transfer-encoding", b"chunked")), client)
    assert client.log == ["recv", "recv", "recv", "start", "body"]
    assert client.headers() == []


async def test_a_body_the_app_read_is_not_read_again() -> None:
    client = _Client(b"a" * 10, b"b" * 10)
    await _run(_refusing(reads=2), _scope((b"content-length", b"20")), client)
    assert client.log == ["recv", "recv", "start", "body"]
    assert client.headers() == []


async def test_a_body_declared_over_the_limit_and_the_linger_is_left_unread_then_close(
        ) -> None:
    client = _Client(b"a" * 80, b"b" * 80)
    app = _refusing(headers=[(b"connection", b"keep-alive"), (b"content-type", b"x")])
    await _run(app, _scope((b"content-length", b"160")), client)
    assert client.log == ["start", "body"]
    assert client.headers() == [(b"content-type", b"x"), (b"connection", b"close")]


async def test_a_body_declared_over_the_limit_within_the_linger_is_read_then_close() -> None:
    client = _Client(b"a" * 60, b"b" * 60)
    app = _refusing(headers=[(b"connection", b"keep-alive"), (b"content-type", b"x")])
    await _run(app, _scope((b"content-length", b"120")), client)
    # Read to its end, so closing leaves nothing unread (no reset over the answer).
    assert client.log == ["recv", "recv", "start", "body"]
    assert client.headers() == [(b"content-type", b"x"), (b"connection", b"close")]


async def test_a_chunked_body_is_read_no_further_than_past_limit_and_linger_then_close(
        ) -> None:
    client = _Client(*[b"x" * 40] * 6, b"")
    await _run(_refusing(reads=1), _scope((b"transfer-encoding", b"chunked")), client)
    # 40 read by the app, 120 by the drain: past 150, the last 80 bytes stay unread.
    assert client.log == ["recv", "recv", "recv", "recv", "start", "body"]
    assert client.headers() == [(b"connection", b"close")]


async def test_a_body_of_exactly_the_limit_is_drained() -> None:
    client = _Client(b"x" * 50, b"y" * 50, b"")
    await _run(_refusing(), _scope((b"transfer-encoding", b"chunked")), client)
    assert client.log == ["recv", "recv", "recv", "start", "body"]
    assert client.headers() == []


async def test_a_body_that_stops_coming_is_left_unread_after_the_timeout_then_close() -> None:
    client = _Client(b"a" * 10)
    client.messages[0]["more_body"] = True  # and then nothing more, until the response ends
    await _run(_refusing(), _scope((b"content-length", b"50")), client, timeout_s=0.05)
    assert client.log == ["recv", "start", "body"]
    assert client.headers() == [(b"connection", b"close")]


async def test_a_client_gone_while_drained_ends_the_drain_without_close() -> None:
    client = _Client(b"a" * 10, disconnect_after=True)
    await _run(_refusing(), _scope((b"content-length", b"50")), client)
    assert client.log == ["recv", "recv", "start", "body"]
    assert client.headers() == []


async def test_a_response_started_while_another_task_waits_on_receive_says_close() -> None:
    """A streaming response's disconnect listener waits on ``receive``: draining beside it
    could lose the body's end to it and wait forever, so the rest stays unread."""
    client = _Client(b"a" * 10, b"b" * 10)
    client.messages.clear()  # nothing arrives before the response ends

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        async def listen() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass

        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(listen())
            await asyncio.sleep(0)  # the listener is waiting now
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"", "more_body": False})

    await _run(app, _scope((b"content-length", b"20")), client)
    assert client.log == ["start", "body"]
    assert client.headers() == [(b"connection", b"close")]


async def test_the_app_reads_after_a_drain_only_what_follows_it() -> None:
    """A receive the app starts while the drain reads waits for it, then gets what comes
    next (here the client's going), never a message the drain has taken."""
    client = _Client(b"a" * 10, b"b" * 10)
    seen: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        async def reader() -> None:
            seen.append(await receive())

        async with asyncio.TaskGroup() as tasks:
            started = asyncio.create_task(send({"type": "http.response.start", "status": 404,
                                                "headers": []}))
            await asyncio.sleep(0)  # the drain holds the receive now
            tasks.create_task(reader())
            await started
            await send({"type": "http.response.body", "body": b"", "more_body": False})

    await _run(app, _scope((b"content-length", b"20")), client)
    assert client.log == ["recv", "recv", "start", "body"]
    assert seen == [{"type": "http.disconnect"}]


async def test_an_app_that_fails_before_answering_has_the_body_drained_first() -> None:
    """Starlette's outermost layer answers the 500 beyond this middleware."""
    client = _Client(b"a" * 10, b"b" * 10)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await _run(app, _scope((b"content-length", b"20")), client)
    assert client.log == ["recv", "recv"]


@pytest.mark.parametrize("scope", [
    _scope(method="GET"),
    _scope((b"content-length", b"0")),
    _scope((b"content-length", b"20"), (b"connection", b"Close")),
    _scope((b"content-length", b"20"), http_version="2"),
    {"type": "lifespan"},
], ids=["no body", "empty body", "client closes anyway", "http/2", "lifespan"])
async def test_requests_with_nothing_to_drain_reach_the_app_untouched(scope: Scope) -> None:
    got: dict[str, Any] = {}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        got["receive"], got["send"] = receive, send

    client = _Client(b"a")
    await _run(app, scope, client)
    assert got == {"receive": client.receive, "send": client.send}
