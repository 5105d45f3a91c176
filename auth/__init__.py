"""Authentication: bearer JWT verification, principals and scopes."""

from auth.jwt import AuthError, TokenVerifier
from auth.keys import KeyConfigError, KeyResolver
from auth.principal import Principal
from auth.scopes import (
    ADMIN,
    EXECUTE_ALL,
    READ_FUNCTIONS,
    READ_JOBS,
    WRITE_FUNCTIONS,
    can_execute,
    can_manage,
    can_read_all_jobs,
    execute_scope_for,
    has_scope,
)
from auth.tokens import mint_token

__all__ = [
    "ADMIN",
    "EXECUTE_ALL",
    "READ_FUNCTIONS",
    "READ_JOBS",
    "WRITE_FUNCTIONS",
    "AuthError",
    "KeyConfigError",
    "KeyResolver",
    "Principal",
    "TokenVerifier",
    "can_execute",
    "can_manage",
    "can_read_all_jobs",
    "execute_scope_for",
    "has_scope",
    "mint_token",
]
