"""Authentication and scope checks for routes."""

from __future__ import annotations

from starlette.requests import Request

from auth import AuthError, Principal, can_execute, can_manage, has_scope
from auth.scopes import READ_FUNCTIONS
from gateway.api.context import services_of
from gateway.core.errors import Forbidden, Unauthorized

__all__ = ["authenticate", "require_catalog_read", "require_execute", "require_scope"]


async def authenticate(request: Request) -> Principal:
    """The verified caller, or 401 ``UNAUTHORIZED``."""
    verifier = services_of(request).verifier
    try:
        principal = await verifier.verify(request.headers.get("authorization"))
    except AuthError as exc:
        raise Unauthorized(str(exc)) from exc
    request.scope["fngate.principal"] = principal
    return principal


def require_scope(principal: Principal, scope: str) -> None:
    """403 ``FORBIDDEN`` naming the missing scope."""
    if not has_scope(principal, scope):
        raise Forbidden(f"this needs the '{scope}' scope", details={"required_scope": scope})


def require_catalog_read(principal: Principal) -> None:
    """403 unless the caller may read the catalog: ``read:functions``, or a scope that
    manages it (``write:functions``, ``admin``)."""
    if not (has_scope(principal, READ_FUNCTIONS) or can_manage(principal)):
        raise Forbidden("this needs the 'read:functions' scope",
                        details={"required_scope": READ_FUNCTIONS})


def require_execute(principal: Principal, language: str) -> None:
    """403 unless the caller may run functions of ``language``."""
    if not can_execute(principal, language):
        raise Forbidden(
            f"invoking {language} functions needs 'execute:all' or 'execute:{language}'",
            details={"required_scope": f"execute:{language}"},
        )
