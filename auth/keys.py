"""Key material for verifying tokens, chosen by configuration.

HS* algorithms verify with the shared secret only; RS*/PS*/ES*/EdDSA verify
with the configured PEM public key or a key from the JWKS URL only. A token's
``alg`` therefore never decides how a key is interpreted, which is what
defeats HS/RS algorithm confusion.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import TypeAlias

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from jwt import PyJWK, PyJWKClient
from jwt.exceptions import PyJWKClientConnectionError, PyJWTError

from config.settings import Settings

__all__ = [
    "JWKS_LIFESPAN_S",
    "KeyConfigError",
    "KeyLookupError",
    "KeyResolver",
    "VerificationKey",
    "load_public_key",
]

JWKS_LIFESPAN_S = 300
_JWKS_TIMEOUT_S = 5.0

_PublicKey: TypeAlias = (
    rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | ed448.Ed448PublicKey
)
VerificationKey: TypeAlias = str | PyJWK | _PublicKey
"""What :func:`jwt.decode` is given as ``key``."""

_HMAC = frozenset({"HS256", "HS384", "HS512"})
_RSA = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
_EC_CURVES: dict[str, type[ec.EllipticCurve]] = {
    "ES256": ec.SECP256R1,
    "ES384": ec.SECP384R1,
    "ES512": ec.SECP521R1,
}
_OKP = frozenset({"EdDSA"})


class KeyConfigError(ValueError):
    """The configured key material cannot verify the configured algorithms."""


class KeyLookupError(Exception):
    """No key could be found for a token; the message is safe to show the client."""


def load_public_key(value: str) -> _PublicKey:
    """Parse a PEM public key or certificate, given as PEM text or a path to a PEM file."""
    if "-----BEGIN" in value:
        pem = value.strip().encode()
    else:
        try:
            pem = Path(value).expanduser().read_bytes()
        except OSError as exc:
            raise KeyConfigError(f"cannot read the JWT public key file: {exc.strerror}") from exc
    key: object
    try:
        if b"-----BEGIN CERTIFICATE" in pem:
            key = x509.load_pem_x509_certificate(pem).public_key()
        else:
            key = serialization.load_pem_public_key(pem)
    except ValueError as exc:
        # Never echo the content: a private key pasted here by mistake must not reach a log.
        raise KeyConfigError("the JWT public key is not a PEM public key or certificate") from exc
    if not isinstance(
        key,
        rsa.RSAPublicKey
        | ec.EllipticCurvePublicKey
        | ed25519.Ed25519PublicKey
        | ed448.Ed448PublicKey,
    ):
        raise KeyConfigError(f"unsupported JWT public key type {type(key).__name__}")
    return key


def _check_pem_fits(key: _PublicKey, algorithm: str) -> None:
    if algorithm in _RSA:
        ok = isinstance(key, rsa.RSAPublicKey)
    elif algorithm in _EC_CURVES:
        ok = isinstance(key, ec.EllipticCurvePublicKey) and isinstance(
            key.curve, _EC_CURVES[algorithm]
        )
    else:
        ok = isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey)
    if not ok:
        raise KeyConfigError(
            f"the JWT public key ({type(key).__name__}) cannot verify {algorithm}; "
            "set FNGATE_JWT_ALGORITHMS to match the key"
        )


class KeyResolver:
    """Finds the key that verifies a token, from the secret, a PEM key or a JWKS URL.

    Construction checks that every pinned algorithm has usable key material and
    raises :class:`KeyConfigError` otherwise, so a misconfiguration fails at startup.
    """

    def __init__(
        self,
        *,
        algorithms: Sequence[str],
        secret: str | None = None,
        public_key: str | None = None,
        jwks_url: str | None = None,
    ) -> None:
        self._secret = secret
        self._public_key = load_public_key(public_key) if public_key else None
        self._jwks: PyJWKClient | None = None
        if jwks_url:
            try:
                # cache_keys stays off: its per-kid LRU never expires, so a key
                # withdrawn from the JWKS would stay trusted. The JWK set cache
                # (lifespan) plus PyJWKClient's refresh cooldown bound fetches.
                self._jwks = PyJWKClient(
                    jwks_url,
                    cache_jwk_set=True,
                    lifespan=JWKS_LIFESPAN_S,
                    timeout=_JWKS_TIMEOUT_S,
                )
            except PyJWTError as exc:
                raise KeyConfigError(f"FNGATE_JWKS_URL: {exc}") from exc
        for alg in algorithms:
            if alg in _HMAC:
                if not secret:
                    raise KeyConfigError(f"{alg} needs a JWT secret (FNGATE_JWT_SECRET)")
            elif alg in _RSA or alg in _EC_CURVES or alg in _OKP:
                if self._public_key is None and self._jwks is None:
                    raise KeyConfigError(f"{alg} needs FNGATE_JWT_PUBLIC_KEY or FNGATE_JWKS_URL")
                if self._public_key is not None and self._jwks is None:
                    _check_pem_fits(self._public_key, alg)
            else:
                raise KeyConfigError(f"unsupported JWT algorithm {alg!r}")

    @classmethod
    def from_settings(cls, settings: Settings, *, secret: str | None = None) -> KeyResolver:
        """Build from settings; ``secret`` overrides ``settings.jwt_secret``."""
        return cls(
            algorithms=settings.effective_algorithms(),
            secret=secret if secret is not None else settings.jwt_secret,
            public_key=settings.jwt_public_key,
            jwks_url=settings.jwks_url,
        )

    async def resolve(self, algorithm: str, kid: str | None) -> VerificationKey:
        """Return the key for a token signed with ``algorithm`` (already pinned) and ``kid``.

        With both a PEM key and a JWKS URL configured, a token carrying a ``kid``
        is looked up in the JWKS and any other uses the PEM key.
        """
        if algorithm in _HMAC:
            if not self._secret:
                raise KeyLookupError("algorithm not allowed")
            return self._secret
        if self._jwks is not None and (kid is not None or self._public_key is None):
            if kid is None:
                raise KeyLookupError("token missing key id")
            return await self._from_jwks(self._jwks, kid)
        if self._public_key is not None:
            return self._public_key
        raise KeyLookupError("algorithm not allowed")

    @staticmethod
    async def _from_jwks(client: PyJWKClient, kid: str) -> PyJWK:
        # PyJWKClient fetches with blocking urllib; keep it off the event loop.
        try:
            return await asyncio.to_thread(client.get_signing_key, kid)
        except PyJWKClientConnectionError as exc:
            raise KeyLookupError("signing keys unavailable") from exc
        except PyJWTError as exc:
            raise KeyLookupError("unknown signing key") from exc
