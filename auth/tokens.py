"""Minting tokens, for ``fngate token`` and for tests."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import jwt

__all__ = ["mint_token"]


def mint_token(
    *,
    secret: str,
    subject: str,
    scopes: Iterable[str] | str,
    ttl_s: int = 3600,
    issuer: str | None = None,
    audience: str | None = None,
    algorithm: str = "HS256",
    key_id: str | None = None,
) -> str:
    """Return a signed JWT with ``sub``, ``scope`` (space-separated), ``iat`` and ``exp``.

    ``secret`` is the shared secret for HS* algorithms, or the PEM private key
    for RS*/ES*. ``key_id`` sets the ``kid`` header (for JWKS). A negative
    ``ttl_s`` gives an already expired token.
    """
    if algorithm.lower() == "none":
        raise ValueError("JWT algorithm 'none' is never allowed")
    scope = scopes if isinstance(scopes, str) else " ".join(scopes)
    now = int(time.time())
    claims: dict[str, Any] = {"sub": subject, "scope": scope, "iat": now, "exp": now + ttl_s}
    if issuer is not None:
        claims["iss"] = issuer
    if audience is not None:
        claims["aud"] = audience
    headers = {"kid": key_id} if key_id is not None else None
    return jwt.encode(claims, secret, algorithm=algorithm, headers=headers)
