"""CORS as API.md describes it: configured origins only, fixed methods and headers.

A preflight (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``)
is answered here, before routing, authentication and rate limits: 200 with the
CORS headers for an allowed origin on any path, 400 with the error body and no
CORS headers for any other origin. Other requests from an allowed origin get
``Access-Control-Allow-Origin`` and the exposed headers; a disallowed origin
gets no CORS headers at all.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.api.errors import render_error
from gateway.core.errors import InvalidRequest

__all__ = ["ALLOW_HEADERS", "ALLOW_METHODS", "CORSMiddleware", "EXPOSE_HEADERS", "MAX_AGE_S"]

ALLOW_METHODS = ("GET", "POST", "PUT", "DELETE", "OPTIONS")
ALLOW_HEADERS = (
    "Content-Type", "Authorization", "Language-Title", "X-Request-ID", "X-Cache-Control",
    "Idempotency-Key", "Prefer", "X-Callback-URL",
)
EXPOSE_HEADERS = (
    "X-Request-ID", "X-Job-ID", "X-Cache", "Age", "X-Function-Duration", "X-Cold-Start",
    "X-Function-Error", "Location", "Retry-After",
    "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset",
)
MAX_AGE_S = 86400


class CORSMiddleware:
    """Pure ASGI CORS for the configured ``origins`` (``*`` allows any, without credentials)."""

    def __init__(self, app: ASGIApp, *, origins: Iterable[str] = ()) -> None:
        self.app = app
        listed = tuple(o.strip().rstrip("/") for o in origins if o.strip())
        self.any_origin = "*" in listed
        self.origins = frozenset(o for o in listed if o != "*")
        self.enabled = self.any_origin or bool(self.origins)
        common: list[tuple[bytes, bytes]] = []
        if not self.any_origin:
            common.append((b"access-control-allow-credentials", b"true"))
        self._preflight = [
            *common,
            (b"access-control-allow-methods", ", ".join(ALLOW_METHODS).encode()),
            (b"access-control-allow-headers", ", ".join(ALLOW_HEADERS).encode()),
            (b"access-control-max-age", str(MAX_AGE_S).encode()),
        ]
        self._simple = [
            *common,
            (b"access-control-expose-headers", ", ".join(EXPOSE_HEADERS).encode()),
        ]

    def _allowed(self, origin: str) -> bool:
        return self.any_origin or origin in self.origins

    def _allow_origin(self, origin: str) -> list[tuple[bytes, bytes]]:
        if self.any_origin:
            return [(b"access-control-allow-origin", b"*")]
        return [(b"access-control-allow-origin", origin.encode("latin-1")),
                (b"vary", b"Origin")]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        origin: str | None = None
        requested_method = False
        for name, value in scope["headers"]:  # raw: this runs on every request
            if name == b"origin" and origin is None:
                origin = value.decode("latin-1")
            elif name == b"access-control-request-method":
                requested_method = True
        is_preflight = scope["method"] == "OPTIONS" and origin is not None and requested_method
        if is_preflight:
            assert origin is not None
            await self._answer_preflight(scope, receive, send, origin)
            return
        if origin is None or not self.enabled or not self._allowed(origin):
            await self.app(scope, receive, send)
            return
        extra = [*self._allow_origin(origin), *self._simple]

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", [])
                        if not k.lower().startswith(b"access-control-")]
                message["headers"] = [*kept, *extra]
            await send(message)

        await self.app(scope, receive, send_with_cors)

    async def _answer_preflight(
        self, scope: Scope, receive: Receive, send: Send, origin: str
    ) -> None:
        response: Response
        if self.enabled and self._allowed(origin):
            response = Response(status_code=200)
            response.raw_headers.extend([*self._allow_origin(origin), *self._preflight])
        else:
            exc = InvalidRequest(
                "CORS preflight from an origin that is not allowed",
                details={"origin": origin},
            )
            response = render_error(exc, scope)
        await response(scope, receive, send)
