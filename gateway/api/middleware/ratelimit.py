"""Per-client rate limits by route class, checked after routing and before the endpoint.

The middleware matches the request against ``app.router.routes`` itself, as the
router will a moment later (``route.matches`` is a pure function of the scope), once,
through :func:`~gateway.api.route_groups.matched_route`, which keeps the match for the
metrics middleware: only a request that fully matches a route is limited, so an unknown path still
answers 404 and a wrong method 405 without being counted or having its token
looked at. Wrapping every endpoint instead would reach the same point but tie
the limiter to how each route module builds its routes.

A compatibility dialect's requests are classed by its own :class:`DialectClasses` (its
invoke paths are ``execute``, its health probes unlimited), so a dialect is limited exactly
as the native route that does the same work.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from auth import AuthError
from gateway.api.base_paths import BasePath
from gateway.api.errors import render_error
from gateway.api.route_groups import matched_route
from gateway.core.errors import RateLimited
from gateway.services.ratelimit import RateLimiter, rate_headers

__all__ = ["DialectClasses", "RateLimitMiddleware", "client_ip", "route_class"]

_UNLIMITED_PATHS = frozenset({"/health", "/ready", "/status", "/metrics", "/openapi.json"})
_API = "/api/v1/"
# API.md's execute class: /initialize, /execute/*, /sessions/*, …/invoke, …/invoke-async.
_EXECUTE_PATH = re.compile(
    r"/api/v1/(?:initialize|(?:execute|sessions)/[^/]+|functions/[^/]+/invoke(?:-async)?)"
)
_WRITE_METHODS = frozenset({"POST", "PUT", "DELETE", "PATCH"})

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def route_class(method: str, path: str) -> str | None:
    """``execute``, ``write`` or ``read`` (the first that matches), or ``None``: not limited.

    The execute paths are matched whole: a function named ``invoke`` is read and
    written like any other.
    """
    if method == "OPTIONS" or path in _UNLIMITED_PATHS:
        return None
    if path.startswith("/fn/"):
        return "execute"
    if not path.startswith(_API):
        return None
    if _EXECUTE_PATH.fullmatch(path):
        return "execute"
    if method in _WRITE_METHODS:
        return "write"
    return "read"


@dataclass(frozen=True, slots=True)
class DialectClasses:
    """The route classes of the requests under a dialect's ``base``: a path below it that
    ``execute`` matches whole is ``execute``, one in ``unlimited`` (its health probes) is not
    limited, the rest ``write`` or ``read`` by method, as on the native API."""

    base: BasePath
    execute: re.Pattern[str]
    unlimited: frozenset[str] = frozenset()

    def route_class(self, method: str, rest: str) -> str | None:
        """The class of ``method`` on ``rest``, the path below the base."""
        if method == "OPTIONS" or rest in self.unlimited:
            return None
        if self.execute.fullmatch(rest):
            return "execute"
        return "write" if method in _WRITE_METHODS else "read"


@functools.lru_cache(maxsize=8)
def _networks(trusted: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    nets = []
    for entry in trusted:
        try:
            nets.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            continue  # not an address: trusts nothing
    return tuple(nets)


def _trusted(address: str, nets: tuple[IPNetwork, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in nets)


def client_ip(scope: Scope, trusted_proxies: tuple[str, ...]) -> str:
    """The caller's address: the socket peer, or, when the peer is a trusted proxy,
    the right-most ``X-Forwarded-For`` address that is not itself a trusted proxy."""
    client = scope.get("client")
    peer = str(client[0]) if client else "unknown"
    nets = _networks(trusted_proxies)
    if not nets or not _trusted(peer, nets):
        return peer
    forwarded: list[str] = []
    for name, value in scope["headers"]:
        if name == b"x-forwarded-for":
            forwarded.extend(v.strip() for v in value.decode("latin-1").split(","))
    for address in reversed(forwarded):
        if not address:
            continue
        try:
            ipaddress.ip_address(address)
        except ValueError:
            return peer  # a garbled chain: trust none of it
        if not _trusted(address, nets):
            return address
    return peer


def _authorization(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            return str(value.decode("latin-1"))
    return None


class RateLimitMiddleware:
    """Count each routed API request against its caller's limit; 429 once it is used up.

    The caller is the verified token's principal, else the client IP (a missing
    or invalid token counts against the IP's unauthenticated limit; the route
    answers the 401 itself).
    """

    def __init__(self, app: ASGIApp, *, dialects: Sequence[DialectClasses] = ()) -> None:
        self.app = app
        self.dialects = tuple(dialects)
        self._heads = tuple(d.base.head for d in self.dialects)

    def route_class(self, method: str, path: str) -> str | None:
        """The class of a request: its dialect's when it is under one, else the native."""
        # One startswith on a tuple is all a native request pays for the dialects.
        if self._heads and path.startswith(self._heads):
            for dialect in self.dialects:
                rest = dialect.base.rest(path)
                if rest is not None:
                    return dialect.route_class(method, rest)
        return route_class(method, path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        klass = self.route_class(scope["method"], scope["path"])
        if klass is None or not matched_route(scope).full:
            await self.app(scope, receive, send)
            return
        services = scope["app"].state.services
        limiter: RateLimiter = services.limiter
        if not limiter.enabled:
            await self.app(scope, receive, send)
            return
        key, authenticated = await self._caller(scope, services)
        decision = await limiter.hit(klass, key, authenticated=authenticated)
        if decision is None:
            await self.app(scope, receive, send)
            return
        headers = rate_headers(decision)
        if not decision.allowed:
            exc = RateLimited(
                f"rate limit of {decision.limit} {klass} requests exceeded; "
                f"retry in {decision.retry_after} s",
                details={"limit": decision.limit, "route_class": klass,
                         "retry_after": decision.retry_after},
                headers=headers,
            )
            response = render_error(exc, scope)
            await response(scope, receive, send)
            return
        raw = [(name.lower().encode(), value.encode()) for name, value in headers.items()]

        async def send_with_limits(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                # A route's own limit (a function's rate_limit refusing) keeps its headers.
                message["headers"] = [*message.get("headers", []),
                                      *(h for h in raw if h[0] not in present)]
            await send(message)

        await self.app(scope, receive, send_with_limits)

    @staticmethod
    async def _caller(scope: Scope, services: Any) -> tuple[str, bool]:
        header = _authorization(scope)
        if header is not None:
            try:
                principal = await services.verifier.verify(header)
            except AuthError:
                pass
            else:
                return f"sub:{principal.key}", True
        return f"ip:{client_ip(scope, services.settings.trusted_proxies)}", False
