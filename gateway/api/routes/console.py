"""``/console``: the web console — static files shipped in this package, served with a
strict Content-Security-Policy.

The console is a client of the public API like any other: the page holds no privilege,
asks its user for a token and calls ``/api/v1`` from the browser. These routes only hand
out files (``FNGATE_CONSOLE=off``: none, so ``/console`` answers 404). No build step: the
folder holds plain ES modules and the vendored libraries (``deploy/vendor-console.py``).
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from config import Settings

__all__ = ["ASSETS", "content_security_policy", "routes"]

#: The console's files (package data of ``gateway.api``).
ASSETS = Path(__file__).resolve().parent.parent / "console"

_INLINE_SCRIPT = re.compile(r"<script\b[^>]*>(.*?)</script>", re.S)


def content_security_policy(index_html: str) -> str:
    """The policy of every console response: the page's own files only, no inline code or
    style, no framing, API calls to this origin only. The page's import map (the one inline
    script, data rather than code) is allowed by its hash."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
        for body in _INLINE_SCRIPT.findall(index_html) if body.strip())
    return "; ".join([
        "default-src 'none'",
        f"script-src 'self' {hashes}".rstrip(),
        # The editor's styles go in constructed style sheets of its shadow root, which a
        # policy does not govern: no 'unsafe-inline' needed.
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
        "require-trusted-types-for 'script'",
        "trusted-types 'none'",
    ])


class _SecurityHeaders:
    """Pure ASGI: the wrapped app's responses, with the console's headers added."""

    def __init__(self, app: ASGIApp, *, headers: list[tuple[bytes, bytes]]) -> None:
        self.app = app
        self.headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *self.headers]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _to_folder(request: Request) -> Response:
    # Relative, so it stays right behind a proxy that serves the gateway under a prefix.
    return RedirectResponse("console/", status_code=308)


def routes(settings: Settings) -> list[BaseRoute]:
    """The console's routes, or none when ``settings.console`` is off."""
    if not settings.console:
        return []
    policy = content_security_policy((ASSETS / "index.html").read_text(encoding="utf-8"))
    headers = [
        (b"content-security-policy", policy.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
        (b"cross-origin-opener-policy", b"same-origin"),
        # Revalidated on each load (ETag): a new gateway's files are used at once.
        (b"cache-control", b"no-cache"),
    ]
    files = StaticFiles(directory=ASSETS, html=True, follow_symlink=False)
    return [
        Route("/console", _to_folder, methods=["GET", "HEAD"]),
        Mount("/console", app=_SecurityHeaders(files, headers=headers), name="console"),
    ]
