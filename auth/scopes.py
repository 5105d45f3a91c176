"""Scope names and the checks the routes make against a :class:`Principal`."""

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


def has_scope(principal: Principal, scope: str) -> bool:
    """True if the principal holds ``scope``; ``admin`` grants every scope."""
    return scope in principal.scopes or ADMIN in principal.scopes


def execute_scope_for(language: str) -> str:
    """The scope that allows invoking functions of ``language`` (``execute:python``)."""
    return f"{EXECUTE_PREFIX}{language}"


def can_execute(principal: Principal, language: str) -> bool:
    """True if the principal may invoke, or open sessions on, functions of ``language``."""
    granted = principal.scopes
    return ADMIN in granted or EXECUTE_ALL in granted or execute_scope_for(language) in granted


def can_manage(principal: Principal) -> bool:
    """True if the principal may create, change and delete functions and triggers."""
    return has_scope(principal, WRITE_FUNCTIONS)


def can_read_all_jobs(principal: Principal) -> bool:
    """True if the principal may see every caller's jobs, logs and metrics."""
    return has_scope(principal, READ_JOBS)
