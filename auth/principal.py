"""The authenticated caller, as established from a verified token."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Principal"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Principal:
    """Who is calling: a verified token's subject, issuer, scopes and expiry.

    ``expires_at`` is the token's ``exp`` in epoch seconds.
    """

    subject: str
    issuer: str | None
    scopes: frozenset[str]
    expires_at: float

    @property
    def key(self) -> str:
        """A stable identity string: owns jobs and sessions, keys rate limits.

        The verifier rejects issuers containing ``|``, so the first ``|``
        always separates issuer from subject and two principals never share a key.
        """
        return f"{self.issuer or ''}|{self.subject}"
