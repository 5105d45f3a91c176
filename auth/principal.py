"""The authenticated caller, as established from a verified token, and what its scopes
grant where.

Any scope may name a project, ``<scope>@<project>`` (``write:functions@billing``); an
unqualified scope holds in every project (the operator's). ``admin`` grants every scope
where it holds. Every check of a scope against a project is :meth:`Principal.can`;
what a caller may list is :meth:`Principal.projects_for`.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Principal", "qualified", "split_scope"]

_ADMIN = "admin"


def split_scope(scope: str) -> tuple[str, str | None]:
    """``("write:functions", "billing")`` for ``write:functions@billing``; an unqualified
    scope has project None (``admin@`` names no project and grants nothing)."""
    name, sep, project = scope.partition("@")
    if not sep:
        return scope, None
    if not name or not project:
        return "", None  # malformed: grants nothing
    return name, project


def qualified(scope: str, project: str | None) -> str:
    """``scope`` as it would be granted for ``project`` alone (unqualified for None)."""
    return scope if project is None else f"{scope}@{project}"


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

    def projects_for(self, *scopes: str) -> frozenset[str] | None:
        """Where the caller holds one of ``scopes`` (``admin`` counts for each): None for
        every project (an unqualified grant), else the projects named (maybe none)."""
        wanted = {*scopes, _ADMIN}
        named: set[str] = set()
        for granted in self.scopes:
            name, project = split_scope(granted)
            if name in wanted:
                if project is None:
                    return None
                named.add(project)
        return frozenset(named)

    def can(self, scope: str, project: str | None = None) -> bool:
        """Whether the caller holds ``scope`` (or ``admin``) over ``project``. ``project``
        None asks for every project at once (what is system-wide, or not tied to one
        project): only an unqualified grant answers yes."""
        where = self.projects_for(scope)
        return where is None or (project is not None and project in where)

    def sees(self, project: str) -> bool:
        """Whether anything of ``project`` exists for the caller: it holds some scope
        there (or an unqualified one). Everything of a project it does not see is 404."""
        for granted in self.scopes:
            name, named = split_scope(granted)
            if name and (named is None or named == project):
                return True
        return False
