"""Project quotas: what the operator allows a project, and the error for going over one.

A quota left unset (None) is unlimited. They are checked where the thing they count is
decided: the number of functions and a function's memory in the transaction that creates
or changes the function (``gateway/store/functions.py``), concurrent executions at the
project's gate in the execution pipeline (``gateway/services/execution.py``) and in the
job runner's claim.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from gateway.core.errors import QuotaExceeded

__all__ = ["Quota", "Quotas", "quota_exceeded"]

Quota = Literal["max_functions", "max_concurrency", "max_memory_mb"]

_WHAT: dict[Quota, str] = {
    "max_functions": "functions",
    "max_concurrency": "concurrent executions",
    "max_memory_mb": "MB of memory per function",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Quotas:
    """A project's quotas; None is unlimited."""

    max_functions: int | None = None
    max_concurrency: int | None = None
    max_memory_mb: int | None = None


def quota_exceeded(project: str, quota: Quota, limit: int, current: int, *,
                   action: str) -> QuotaExceeded:
    """The 429 ``QUOTA_EXCEEDED`` for ``action`` in ``project``: ``current`` is the use it
    would have taken past ``limit`` (the functions it has, the executions running, the
    memory asked for)."""
    used = "asks for" if quota == "max_memory_mb" else "has"
    return QuotaExceeded(
        f"project '{project}' allows {limit} {_WHAT[quota]} ({quota}) and {used} {current}:"
        f" {action} would go over its quota",
        details={"project": project, "quota": quota, "limit": limit, "current": current},
        headers={"Retry-After": "1"} if quota == "max_concurrency" else None,
    )
