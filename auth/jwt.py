"""Bearer token verification: ``Authorization`` header → :class:`Principal`."""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

import jwt
from jwt import exceptions as jwt_errors

from auth.keys import KeyLookupError, KeyResolver
from auth.principal import Principal
from config.settings import Settings

__all__ = ["AuthError", "TokenVerifier"]

DEFAULT_LEEWAY_S = 5.0
DEFAULT_CACHE_SIZE = 10_000
# Far above any real token; bounds the work an oversized header can cause.
_MAX_TOKEN_CHARS = 16 * 1024


class AuthError(Exception):
    """A request is not authenticated. The message is a short reason safe to show
    the client; it never contains the token."""


def _parse_bearer(authorization_header: str | None) -> str:
    if authorization_header is None or not authorization_header.strip():
        raise AuthError("missing bearer token")
    parts = authorization_header.split()
    if len(parts) != 2 or parts[0].lower() != "bearer":
        raise AuthError("malformed authorization header")
    token = parts[1]
    if len(token) > _MAX_TOKEN_CHARS:
        raise AuthError("token too large")
    if token.count(".") != 2:
        raise AuthError("malformed token")
    return token


def _reason(exc: jwt_errors.PyJWTError) -> str:
    # Subclasses before their bases: InvalidSignatureError is a DecodeError.
    if isinstance(exc, jwt_errors.ExpiredSignatureError):
        return "token expired"
    if isinstance(exc, jwt_errors.ImmatureSignatureError):
        return "token not yet valid"
    if isinstance(exc, jwt_errors.InvalidSignatureError):
        return "invalid signature"
    if isinstance(exc, jwt_errors.InvalidIssuerError):
        return "invalid issuer"
    if isinstance(exc, jwt_errors.InvalidAudienceError):
        return "invalid audience"
    if isinstance(exc, jwt_errors.MissingRequiredClaimError):
        return f"token missing required claim '{exc.claim}'"
    if isinstance(exc, jwt_errors.InvalidSubjectError):
        return "invalid subject"
    if isinstance(exc, jwt_errors.InvalidAlgorithmError):
        return "algorithm not allowed"
    if isinstance(exc, jwt_errors.InvalidKeyError):
        return "token cannot be verified with the configured key"
    if isinstance(exc, jwt_errors.DecodeError):
        return "malformed token"
    return "invalid token"


_TIME_CLAIMS = ("exp", "nbf", "iat")


def _check_time_claims(claims: Mapping[str, Any]) -> None:
    """RFC 7519's NumericDate is a JSON number. PyJWT reads these claims with ``int()``,
    which takes ``"9999999999"`` and ``true``; a number too large for a float would fail
    later. Refuse all of them."""
    for name in _TIME_CLAIMS:
        if name not in claims:
            continue
        value = claims[name]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise AuthError(f"invalid claim '{name}': must be a number")
        try:
            finite = math.isfinite(value)  # an int too large for a float overflows here
        except OverflowError:
            finite = False
        if not finite:
            raise AuthError(f"invalid claim '{name}': must be a number")


def _scopes(claims: Mapping[str, Any]) -> frozenset[str]:
    found: set[str] = set()
    for name in ("scope", "scopes", "scp"):
        value = claims.get(name)
        if value is None:
            continue
        if isinstance(value, str):
            found.update(value.split())
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            found.update(v.strip() for v in value if v.strip())
        else:
            raise AuthError(f"invalid claim '{name}'")
    return frozenset(found)


class TokenVerifier:
    """Verifies bearer JWTs against the configured keys and pinned algorithms.

    Verified tokens are cached (keyed by the whole token) until their ``exp``,
    at most ``cache_size`` of them, oldest evicted first, so a repeated token
    costs a dictionary lookup. ``clock`` gives epoch seconds; expiry is checked
    against it as well as by PyJWT, so a test can move time forward.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        secret: str | None = None,
        leeway_s: float = DEFAULT_LEEWAY_S,
        cache_size: int = DEFAULT_CACHE_SIZE,
        clock: Callable[[], float] = time.time,
        keys: KeyResolver | None = None,
    ) -> None:
        """Raises :class:`auth.keys.KeyConfigError` if the key material does not fit
        the pinned algorithms. ``secret`` overrides ``settings.jwt_secret``."""
        self._algorithms = frozenset(
            a for a in settings.effective_algorithms() if a.lower() != "none"
        )
        if keys is None:
            keys = KeyResolver.from_settings(settings, secret=secret)
        self._keys = keys
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience
        self._leeway_s = leeway_s
        self._cache_size = max(0, cache_size)
        self._clock = clock
        self._cache: OrderedDict[str, Principal] = OrderedDict()

    async def verify(self, authorization_header: str | None) -> Principal:
        """Return the principal of a valid ``Bearer`` token; raise :class:`AuthError` else."""
        token = _parse_bearer(authorization_header)
        now = self._clock()
        cached = self._cache.get(token)
        if cached is not None:
            if self._expired(cached.expires_at, now):
                del self._cache[token]
                raise AuthError("token expired")
            return cached
        principal = await self._verify_token(token)
        if self._expired(principal.expires_at, self._clock()):
            raise AuthError("token expired")
        self._remember(token, principal)
        return principal

    def _expired(self, expires_at: float, now: float) -> bool:
        return expires_at <= now - self._leeway_s

    def _remember(self, token: str, principal: Principal) -> None:
        if self._cache_size == 0:
            return
        while len(self._cache) >= self._cache_size:
            self._cache.popitem(last=False)
        self._cache[token] = principal

    async def _verify_token(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt_errors.PyJWTError as exc:
            raise AuthError("malformed token") from exc
        alg = header.get("alg")
        # Pinned by configuration, never taken from the token: rejects "none"
        # and an HS256 token aimed at an RS256 public key.
        if not isinstance(alg, str) or alg not in self._algorithms:
            raise AuthError("algorithm not allowed")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise AuthError("malformed token")
        try:
            key = await self._keys.resolve(alg, kid)
        except KeyLookupError as exc:
            raise AuthError(str(exc)) from exc
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[alg],
                options={
                    "require": ["exp", "sub"],
                    "verify_aud": self._audience is not None,
                },
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway_s,
            )
        except jwt_errors.PyJWTError as exc:
            raise AuthError(_reason(exc)) from exc
        _check_time_claims(claims)
        return self._principal(claims)

    @staticmethod
    def _principal(claims: Mapping[str, Any]) -> Principal:
        subject = claims["sub"]
        if not isinstance(subject, str) or not subject:
            raise AuthError("invalid subject")
        issuer = claims.get("iss")
        # "|" separates issuer from subject in Principal.key; refusing it keeps keys unique.
        if issuer is not None and (not isinstance(issuer, str) or "|" in issuer):
            raise AuthError("invalid issuer")
        return Principal(
            subject=subject,
            issuer=issuer,
            scopes=_scopes(claims),
            expires_at=float(claims["exp"]),
        )
