"""Scope names and the checks the routes make against a :class:`Principal`.

Each check takes the project of what it guards; ``project`` None asks for every project
at once, which only an unqualified scope grants (see :meth:`Principal.can`).
"""

from __future__ import annotations

from auth.principal import Principal

__all__ = [
    "ADMIN",
    "EXECUTE_ALL",
    "EXECUTE_PREFIX",
    "READ_FUNCTIONS",
    "READ_JOBS",
    "WRITE_FUNCTIONS",
    "can_execute",
    "can_manage",
    "can_read_all_jobs",
    "execute_scope_for",
    "has_scope",
]

READ_FUNCTIONS = "read:functions"
READ_JOBS = "read:jobs"
WRITE_FUNCTIONS = "write:functions"
EXECUTE_ALL = "execute:all"
EXECUTE_PREFIX = "execute:"
ADMIN = "admin"


def has_scope(principal: Principal, scope: str, project: str | None = None) -> bool:
    """True if the principal holds ``scope`` over ``project``; ``admin`` grants every
    scope."""
    return principal.can(scope, project)


def execute_scope_for(language: str) -> str:
    """The scope that allows invoking functions of ``language`` (``execute:python``)."""
    return f"{EXECUTE_PREFIX}{language}"


def can_execute(principal: Principal, language: str, project: str | None = None) -> bool:
    """True if the principal may invoke, or open sessions on, functions of ``language``
    in ``project``."""
    return (principal.can(EXECUTE_ALL, project)
            or principal.can(execute_scope_for(language), project))


def can_manage(principal: Principal, project: str | None = None) -> bool:
    """True if the principal may create, change and delete functions and triggers of
    ``project``."""
    return principal.can(WRITE_FUNCTIONS, project)


def can_read_all_jobs(principal: Principal, project: str | None = None) -> bool:
    """True if the principal may see every caller's jobs, logs and metrics of
    ``project``."""
    return principal.can(READ_JOBS, project)
