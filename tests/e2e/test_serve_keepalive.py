"""Keep-alive connections of ``fngate serve`` survive requests refused before their body is
read: one pooled httpx client alternates such POSTs (401, 403, 404, a 404 of a dialect) with
GETs, and every request succeeds on the one connection it opened. Before, Hypercorn closed
the connection (without ``Connection: close``) whenever the refusal was sent before the body
had arrived: hundreds of new connections in 300 rounds, and now and then a request lost
("Server disconnected without sending a response").

A body over ``FNGATE_MAX_BODY_BYTES`` is not read to its end: the answer (413, or the early
refusal) says ``Connection: close``, and the same client's next request goes out on a new
connection and succeeds.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.e2e.serve import Gateway

MAX_BODY = 65_536
ROUNDS = 300


@pytest.fixture(scope="module")
def server_env() -> dict[str, str]:
    return {"FNGATE_MAX_BODY_BYTES": str(MAX_BODY), "FNGATE_RATE_LIMITS": "off"}


class _Connections:
    """A pooled client, and how many TCP connections it opened (httpcore's trace)."""

    def __init__(self, server: Gateway) -> None:
        self.opened = 0
        self.client = httpx.AsyncClient(base_url=server.url, timeout=30,
                                        event_hooks={"request": [self._traced]})

    async def _traced(self, request: httpx.Request) -> None:
        request.extensions["trace"] = self._trace

    async def _trace(self, event: str, info: dict[str, Any]) -> None:
        if event == "connection.connect_tcp.complete":
            self.opened += 1


def _assert_refused(r: httpx.Response, status: int, code: str) -> None:
    """The API's error (or a dialect's, which nests it the same way) and the connection kept."""
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code, r.text


async def test_pooled_client_keeps_its_connection_across_early_refused_posts(
        server: Gateway) -> None:
    reader = server.mint("read:functions")
    caller = server.mint("execute:all")
    refusals: list[tuple[str, dict[str, str], int, str]] = [
        ("/api/v1/functions/nope/invoke", {}, 401, "UNAUTHORIZED"),
        ("/api/v1/functions", reader, 403, "FORBIDDEN"),
        ("/api/v1/functions/nope/invoke", caller, 404, "FUNCTION_NOT_FOUND"),
        ("/compat/function-api/functions/nope/invoke", caller, 404, "FUNCTION_NOT_FOUND"),
    ]
    pooled = _Connections(server)
    async with pooled.client as client:
        for i in range(ROUNDS):
            path, headers, status, code = refusals[i % len(refusals)]
            # Small and larger bodies: either could be refused before it had arrived.
            body = b"{" + b" " * (10 if i % 3 else 40_000) + b"}"
            r = await client.post(path, content=body,
                                  headers={**headers, "Content-Type": "application/json"})
            _assert_refused(r, status, code)
            assert "connection" not in r.headers
            assert (await client.get("/health")).status_code == 200
    assert pooled.opened == 1


async def test_body_over_the_limit_is_left_unread_and_its_answer_says_connection_close(
        server: Gateway) -> None:
    caller = server.mint("execute:all")
    writer = server.mint("write:functions")

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(2 * MAX_BODY // 8192):
            yield b" " * 8192

    unread = "/api/v1/functions/nope/invoke"  # refused before its body is read
    cases: list[tuple[str, dict[str, str], Any, int, str]] = [
        (unread, caller, b" " * (MAX_BODY + 1), 413, "PAYLOAD_TOO_LARGE"),  # declared
        ("/api/v1/functions", writer, chunks(), 413, "PAYLOAD_TOO_LARGE"),  # counted
        (unread, caller, chunks(), 404, "FUNCTION_NOT_FOUND"),  # drained up to the limit
    ]
    pooled = _Connections(server)
    async with pooled.client as client:
        assert (await client.get("/health")).status_code == 200
        for path, headers, content, status, code in cases:
            r = await client.post(path, headers=headers, content=content)
            _assert_refused(r, status, code)
            assert r.headers["connection"] == "close"
            assert (await client.get("/health")).status_code == 200
        # A body of exactly the limit is read to its end: its refusal keeps the connection.
        r = await client.post(unread, headers=caller, content=b" " * MAX_BODY)
        _assert_refused(r, 404, "FUNCTION_NOT_FOUND")
        assert "connection" not in r.headers
        assert (await client.get("/health")).status_code == 200
    assert pooled.opened == 1 + 3
