"""Secrets at rest: a layer's secrets (name → value) sealed as one Fernet token.

The key is ``FNGATE_SECRET_KEY`` or, in development, one generated once in the data
directory (as the JWT secret is). Any key text is stretched with HKDF-SHA256 into the
Fernet key, so an operator may paste ``openssl rand -base64 32``. ``FNGATE_SECRET_KEY_PREVIOUS``
is still accepted for opening while every stored token is re-sealed with the current key
(:meth:`SecretBox.reseal`), which is how a key is rotated.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping

import orjson
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from config import Settings, load_or_create_secret

__all__ = ["SECRET_KEY_FILE", "SecretBox", "SecretsUnreadable", "fingerprint", "secret_box_for"]

SECRET_KEY_FILE = "secret_key"
_HKDF_INFO = b"fngate secrets at rest v1"


class SecretsUnreadable(Exception):
    """A stored token opens with none of the configured keys. The message names no value."""


def _fernet(key_text: str) -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                   info=_HKDF_INFO).derive(key_text.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


class SecretBox:
    """Seals and opens secret maps; ``previous`` keys open tokens but never seal them."""

    def __init__(self, current: str, *previous: str) -> None:
        self._current = _fernet(current)
        self._all = MultiFernet([self._current, *(_fernet(k) for k in previous)])

    def seal(self, values: Mapping[str, str]) -> bytes | None:
        """The token of ``values`` (None for no secrets: nothing is stored)."""
        if not values:
            return None
        return self._current.encrypt(orjson.dumps(dict(values), option=orjson.OPT_SORT_KEYS))

    def open(self, token: bytes | None) -> dict[str, str]:
        """The secrets ``token`` holds ({} for None); :class:`SecretsUnreadable` when no
        configured key opens it."""
        if token is None:
            return {}
        try:
            values: dict[str, str] = orjson.loads(self._all.decrypt(bytes(token)))
        except InvalidToken:
            raise SecretsUnreadable(
                "stored secrets open with neither FNGATE_SECRET_KEY nor "
                "FNGATE_SECRET_KEY_PREVIOUS") from None
        return values

    def reseal(self, token: bytes) -> bytes | None:
        """``token`` sealed with the current key, or None when it already is."""
        try:
            self._current.decrypt(bytes(token))
            return None
        except InvalidToken:
            pass
        try:
            return self._all.rotate(bytes(token))
        except InvalidToken:
            raise SecretsUnreadable(
                "stored secrets open with neither FNGATE_SECRET_KEY nor "
                "FNGATE_SECRET_KEY_PREVIOUS") from None


def fingerprint(*tokens: bytes | None) -> str:
    """A digest that changes whenever a layer's sealed secrets do, derived from the tokens
    (never from the values, so it tells nothing of them)."""
    digest = hashlib.sha256()
    for token in tokens:
        digest.update(b"-" if token is None else hashlib.sha256(bytes(token)).digest())
    return digest.hexdigest()


def secret_box_for(settings: Settings) -> SecretBox:
    """The box as configured: ``FNGATE_SECRET_KEY`` (production requires it) or the key
    generated in the data directory, with ``FNGATE_SECRET_KEY_PREVIOUS`` for opening."""
    current = settings.secret_key or load_or_create_secret(settings, SECRET_KEY_FILE)
    previous = [settings.secret_key_previous] if settings.secret_key_previous else []
    return SecretBox(current, *previous)
