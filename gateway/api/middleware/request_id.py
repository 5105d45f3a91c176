"""``X-Request-ID`` on every response: the client's when valid, else a new UUID."""

from __future__ import annotations

import re
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["REQUEST_ID_PATTERN", "RequestIdMiddleware", "valid_request_id"]

#: A client's ``X-Request-ID`` that is kept (anything else is replaced, not refused).
REQUEST_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"
_VALID = re.compile(REQUEST_ID_PATTERN)
# API.md: on /execute/{request_id} and /sessions/{request_id} an error body's request_id
# is the session id from the path, whichever layer answers (rate limit, body limit, 405…).
_SESSION_PATH = re.compile(r"/api/v1/(?:execute|sessions)/([^/]+)")


def valid_request_id(value: str | None) -> bool:
    return value is not None and _VALID.fullmatch(value) is not None


class RequestIdMiddleware:
    """Choose the request id, put it in ``scope["fngate.request_id"]`` and the response.

    On the session routes it also sets ``scope["fngate.error_request_id"]``, the id
    every error body on them carries (see :func:`gateway.api.errors.error_request_id`).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid: str | None = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                candidate = value.decode("latin-1")
                if valid_request_id(candidate):
                    rid = candidate
                break
        if rid is None:
            rid = str(uuid.uuid4())
        scope["fngate.request_id"] = rid
        session = _SESSION_PATH.fullmatch(scope["path"])
        if session is not None:
            scope["fngate.error_request_id"] = session.group(1)
        header = (b"x-request-id", rid.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0].lower() != b"x-request-id"]
                headers.append(header)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_id)
