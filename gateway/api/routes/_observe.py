"""Checks and query values shared by a function's metrics, logs and events routes, and
what their descriptions say of them."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

from starlette.requests import Request

from auth import Principal
from auth.scopes import READ_JOBS
from gateway.api.security import require_any
from gateway.core.errors import InvalidRequest

__all__ = ["READ_JOBS_NOTE", "query_bool", "query_time", "query_uuid", "require_read_jobs",
           "time_parameter"]

#: How the three routes check their caller, for their descriptions.
READ_JOBS_NOTE = ("Needs `read:jobs` or `admin` (over the function's project), else 403 "
                  "`FORBIDDEN` (`details.required_scope: \"read:jobs\"`), checked before the "
                  "function is looked up. ")

_RELATIVE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d)$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_TRUE = ("true", "1", "yes")
_FALSE = ("false", "0", "no", "")


def require_read_jobs(principal: Principal, what: str, project: str | None = None, *,
                      somewhere: bool = False) -> None:
    """403 unless the caller holds ``read:jobs`` (or ``admin``) over ``project`` (None:
    every project; ``somewhere``: some project, the check before any lookup)."""
    require_any(principal, (READ_JOBS,), project, somewhere=somewhere,
                message=f"reading a function's {what} needs the '{READ_JOBS}' scope")


def time_parameter(name: str, description: str) -> dict[str, Any]:
    """The document's query parameter ``name`` read by :func:`query_time`."""
    return {"name": name, "in": "query", "required": False, "schema": {"type": "string"},
            "description": description + " An RFC 3339 timestamp (`2024-05-01T12:00:00Z`; "
            "without an offset it is UTC) or a duration before now: a number and `ms`, `s`, "
            "`m`, `h` or `d` (`15m`, `24h`, `7d`). Anything else → 400 `INVALID_REQUEST` "
            "(`details.parameter`)."}


def query_time(request: Request, name: str) -> dt.datetime | None:
    """An RFC 3339 timestamp (``2024-05-01T12:00:00Z``; no offset means UTC) or a duration
    before now (``90s``, ``15m``, ``24h``, ``7d``); 400 naming the parameter otherwise."""
    raw = request.query_params.get(name)
    if raw is None or raw.strip() == "":
        return None
    text = raw.strip()
    relative = _RELATIVE.fullmatch(text)
    if relative is not None:
        seconds = float(relative.group(1)) * _UNIT_S[relative.group(2)]
        try:
            return dt.datetime.now(dt.UTC) - dt.timedelta(seconds=seconds)
        except OverflowError as exc:
            raise _bad_time(name) from exc
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise _bad_time(name) from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    try:
        return value.astimezone(dt.UTC)
    except OverflowError as exc:  # 0001-01-01T00:00:00+14:00 is before year 1 in UTC
        raise _bad_time(name) from exc


def _bad_time(name: str) -> InvalidRequest:
    return InvalidRequest(
        f"query parameter '{name}' must be an RFC 3339 timestamp (2024-05-01T12:00:00Z) or a "
        "duration before now (30s, 15m, 24h, 7d)", details={"parameter": name})


def query_uuid(request: Request, name: str) -> uuid.UUID | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        return uuid.UUID(raw)
    except ValueError as exc:
        raise InvalidRequest(f"query parameter '{name}' must be a job id (a UUID)",
                             details={"parameter": name}) from exc


def query_bool(request: Request, name: str) -> bool:
    raw = request.query_params.get(name, "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise InvalidRequest(f"query parameter '{name}' must be true or false",
                         details={"parameter": name})
