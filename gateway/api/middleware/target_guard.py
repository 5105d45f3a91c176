"""Refuse a request target (path or query) holding control characters or invalid UTF-8.

A NUL that reaches PostgreSQL (``text`` and ``jsonb`` cannot store it) fails the
query; other control characters are never part of a name, id or filter the API
knows. So before routing, authentication and rate limits, a request whose
percent-decoded path or any percent-decoded query parameter holds a character of
Unicode category ``Cc`` (U+0000–U+001F, U+007F–U+009F) or bytes that are not
UTF-8 answers 400 ``INVALID_REQUEST`` — on every path, routed or not, so the
answer says nothing about which routes exist.

One exception: the query of an HTTP-trigger route (``/fn/…``) is the function's
own input, passed on as its event's ``query`` like its body, so only NUL and
invalid UTF-8 are refused there (a form's text area sends ``%0D%0A``).
"""

from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.api.errors import render_error
from gateway.core.errors import InvalidRequest

__all__ = ["TargetGuardMiddleware", "target_problem"]

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_NUL = re.compile(r"\x00")
_TRIGGER_PREFIX = "/fn/"


def _decode(raw: bytes) -> str | None:
    """``raw`` percent-decoded as strict UTF-8, or None when it is not UTF-8."""
    try:
        return unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        return None


def _path_problem(scope: Scope) -> InvalidRequest | None:
    raw = scope.get("raw_path")
    # The server decoded ``path`` leniently (invalid UTF-8 became U+FFFD): judge the bytes.
    text = _decode(raw) if isinstance(raw, bytes) else scope["path"]
    if text is None:
        return InvalidRequest("the request path is not valid UTF-8 once percent-decoded",
                              details={"in": "path"})
    found = _CONTROL.search(text) or _CONTROL.search(scope["path"])
    if found is not None:
        return InvalidRequest(
            f"the request path contains the control character U+{ord(found.group()):04X}",
            details={"in": "path"})
    return None


def _query_problem(query: bytes, refused: re.Pattern[str]) -> InvalidRequest | None:
    for pair in query.split(b"&"):
        raw_name, _, raw_value = pair.partition(b"=")
        name = _decode(raw_name.replace(b"+", b" "))
        value = _decode(raw_value.replace(b"+", b" "))
        shown = name if name is not None else raw_name.decode("utf-8", "replace")
        if name is None or value is None:
            return InvalidRequest(
                f"query parameter '{shown}' is not valid UTF-8 once percent-decoded",
                details={"in": "query", "parameter": shown})
        found = refused.search(name) or refused.search(value)
        if found is not None:
            return InvalidRequest(
                f"query parameter '{name}' contains the control character "
                f"U+{ord(found.group()):04X}",
                details={"in": "query", "parameter": name})
    return None


def target_problem(scope: Scope) -> InvalidRequest | None:
    """Why this HTTP scope's path or query is refused, or None when it is acceptable."""
    problem = _path_problem(scope)
    if problem is not None:
        return problem
    query = scope.get("query_string") or b""
    if not query:
        return None
    refused = _NUL if scope["path"].startswith(_TRIGGER_PREFIX) else _CONTROL
    return _query_problem(query, refused)


class TargetGuardMiddleware:
    """Pure ASGI: 400 ``INVALID_REQUEST`` for a path or query :func:`target_problem` refuses."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            problem = target_problem(scope)
            if problem is not None:
                response = render_error(problem, scope)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
