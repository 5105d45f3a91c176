"""Authentication and scope checks for routes (and the dialects, which call the same).

Every check names the project of what it guards: a scope holds there when granted
unqualified or as ``<scope>@<project>`` (:meth:`auth.Principal.can`). ``project`` None asks
for every project at once, which only an unqualified scope grants: what is system-wide,
and what a caller that does not say the project checks. ``somewhere=True`` asks whether
the caller holds the scope in at least one project: the check made before a lookup, so a
caller without the scope cannot probe names (403 before 404).
"""

from __future__ import annotations

from starlette.requests import Request

from auth import AuthError, Principal
from auth.principal import qualified
from auth.scopes import EXECUTE_ALL, READ_FUNCTIONS, WRITE_FUNCTIONS, execute_scope_for
from gateway.api.context import services_of
from gateway.core.errors import Forbidden, Unauthorized

__all__ = ["CATALOG_READERS", "authenticate", "holds", "require_any", "require_catalog_read",
           "require_execute", "require_scope"]

#: The scopes that read the catalog (``admin`` counts for every scope).
CATALOG_READERS = (READ_FUNCTIONS, WRITE_FUNCTIONS)


async def authenticate(request: Request) -> Principal:
    """The verified caller, or 401 ``UNAUTHORIZED``."""
    verifier = services_of(request).verifier
    try:
        principal = await verifier.verify(request.headers.get("authorization"))
    except AuthError as exc:
        raise Unauthorized(str(exc)) from exc
    request.scope["fngate.principal"] = principal
    return principal


def holds(principal: Principal, scopes: tuple[str, ...], project: str | None = None, *,
          somewhere: bool = False) -> bool:
    """Whether the caller holds one of ``scopes`` over ``project`` (or, ``somewhere``, in
    at least one project)."""
    if somewhere:
        return principal.projects_for(*scopes) != frozenset()
    return any(principal.can(scope, project) for scope in scopes)


def require_any(principal: Principal, scopes: tuple[str, ...], project: str | None = None,
                *, somewhere: bool = False, message: str | None = None) -> None:
    """403 ``FORBIDDEN`` unless :func:`holds`; ``details.required_scope`` names the first
    scope (unqualified, as the operator's token would hold it)."""
    if holds(principal, scopes, project, somewhere=somewhere):
        return
    wanted = " or ".join(f"'{qualified(s, project)}'" for s in scopes)
    raise Forbidden(message or f"this needs the {wanted} scope",
                    details={"required_scope": scopes[0]})


def require_scope(principal: Principal, scope: str, project: str | None = None, *,
                  somewhere: bool = False) -> None:
    """403 ``FORBIDDEN`` naming the missing scope."""
    require_any(principal, (scope,), project, somewhere=somewhere)


def require_catalog_read(principal: Principal, project: str | None = None, *,
                         somewhere: bool = False) -> None:
    """403 unless the caller may read the catalog of ``project``: ``read:functions``, or
    a scope that manages it (``write:functions``, ``admin``)."""
    require_any(principal, CATALOG_READERS, project, somewhere=somewhere,
                message="this needs the 'read:functions' scope")


def require_execute(principal: Principal, language: str, project: str | None = None) -> None:
    """403 unless the caller may run functions of ``language`` in ``project``."""
    require_any(principal, (execute_scope_for(language), EXECUTE_ALL), project,
                message=f"invoking {language} functions needs 'execute:all' or "
                        f"'execute:{language}'")
