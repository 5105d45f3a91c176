"""Outgoing HTTP for webhooks and callbacks, safe against server-side request forgery.

A URL is checked when it is registered (:func:`check_url`) and again on every
connection: :class:`GuardedTransport` resolves the host itself, refuses the
connection if any address it resolved to is loopback, private, link-local or
otherwise not global (unless private targets are allowed), and connects to
the address it checked. TLS still verifies and sends SNI for the URL's host
name, since the URL is unchanged. Proxies from the environment are ignored
and redirects are never followed.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import ipaddress
import socket
import ssl
import typing
from collections.abc import Iterable

import httpcore
import httpx

from gateway.core.errors import InvalidRequest
from gateway.core.version import VERSION

__all__ = [
    "BlockedAddress",
    "GuardedTransport",
    "UrlRefused",
    "address_allowed",
    "check_url",
    "outbound_client",
    "sign",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL_LENGTH = 2048
_RESOLVE_TIMEOUT_S = 5.0


class UrlRefused(ValueError):
    """A callback or webhook URL this gateway will not send to; ``reason`` says why."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason

    def invalid_request(self, **where: str) -> InvalidRequest:
        """The 400 saying so; ``where`` names what held the URL (``field="url"``…)."""
        return InvalidRequest(str(self), details={**where, "reason": self.reason})


class BlockedAddress(Exception):
    """A connection refused because the host resolved to a non-public address."""


# IPv6 prefixes that carry an IPv4 address in their low 32 bits (NAT64, SIIT,
# IPv4-compatible): judged by that IPv4 address.
_EMBEDDING_V4 = tuple(ipaddress.IPv6Network(n) for n in (
    "64:ff9b::/96", "64:ff9b:1::/48", "::ffff:0:0:0/96", "::/96"))


def address_allowed(address: IPAddress) -> bool:
    """True for a globally routable unicast address; an IPv6 address that embeds an IPv4
    one (mapped, NAT64, 6to4, SIIT, compatible) is judged as that IPv4 address too."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and any(address in net for net in _EMBEDDING_V4):
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None and not address_allowed(embedded):
            return False
    return address.is_global and not address.is_multicast


def sign(secret: str, body: bytes) -> str:
    """The ``X-Fngate-Signature`` value: ``sha256=<hex HMAC-SHA256 of body>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(_RESOLVE_TIMEOUT_S):
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise OSError(f"{host} has no address")
    return addresses


def _parse(url: str) -> httpx.URL:
    if not isinstance(url, str) or not url.strip():
        raise UrlRefused("the URL is empty", reason="invalid")
    if len(url) > MAX_URL_LENGTH:
        raise UrlRefused(f"the URL is longer than {MAX_URL_LENGTH} characters", reason="invalid")
    try:
        parsed = httpx.URL(url.strip())
    except (httpx.InvalidURL, ValueError) as exc:
        raise UrlRefused(f"the URL is not valid: {exc}", reason="invalid") from exc
    if parsed.scheme not in ("http", "https"):
        raise UrlRefused("the URL must be http or https", reason="scheme")
    if not parsed.host:
        raise UrlRefused("the URL has no host", reason="invalid")
    return parsed


async def check_url(url: str, *, allow_private: bool) -> str:
    """``url`` normalized, or :class:`UrlRefused`.

    Unless ``allow_private``, the host must resolve, and only to public addresses.
    """
    parsed = _parse(url)
    if not allow_private:
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        try:
            addresses = await _resolve(parsed.host, port)
        except (OSError, TimeoutError, UnicodeError) as exc:
            raise UrlRefused(f"the URL's host '{parsed.host}' does not resolve",
                             reason="unresolvable") from exc
        blocked = [a for a in addresses if not address_allowed(a)]
        if blocked:
            raise UrlRefused(
                f"the URL's host '{parsed.host}' resolves to a loopback, private or "
                "link-local address", reason="private_address")
    return str(parsed)


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves, checks and connects to the checked address (no second lookup)."""

    def __init__(self, *, allow_private: bool) -> None:
        from httpcore._backends.auto import AutoBackend

        self._inner: httpcore.AsyncNetworkBackend = AutoBackend()
        self._allow_private = allow_private

    async def connect_tcp(
        self, host: str, port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await _resolve(host, port)
        except (OSError, TimeoutError, UnicodeError) as exc:
            raise httpcore.ConnectError(f"{host} does not resolve") from exc
        if not self._allow_private:
            blocked = [a for a in addresses if not address_allowed(a)]
            if blocked:
                raise BlockedAddress(f"{host} resolves to a non-public address ({blocked[0]})")
        error: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address), port, timeout=timeout, local_address=local_address,
                    socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None
        raise error

    async def connect_unix_socket(
        self, path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise BlockedAddress("unix sockets are not a valid target")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process: loading the CA bundle costs tens of ms, and
    a context is meant to be shared by every connection."""
    return httpx.create_ssl_context(trust_env=False)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """An httpx transport whose every new connection goes through the address check."""

    def __init__(self, *, allow_private: bool, max_connections: int = 50) -> None:
        super().__init__(verify=_tls_context(), trust_env=False)
        # httpx takes no network backend, so the pool is built here with one; the
        # transport only ever reads it as ``_pool``.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=_tls_context(),
            max_connections=max_connections,
            max_keepalive_connections=10,
            keepalive_expiry=5.0,
            network_backend=_GuardedBackend(allow_private=allow_private),
        )


def outbound_client(*, allow_private: bool, timeout_s: float) -> httpx.AsyncClient:
    """The client deliveries use: guarded connections, no redirects, no proxies."""
    headers: typing.Mapping[str, str] = {"User-Agent": f"fngate/{VERSION}"}
    return httpx.AsyncClient(
        transport=GuardedTransport(allow_private=allow_private),
        follow_redirects=False,
        trust_env=False,
        timeout=httpx.Timeout(timeout_s),
        headers=headers,
    )
