"""Reading request bodies and query values with the API's 400s."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request

from gateway.core.errors import InvalidRequest
from gateway.schemas.json_depth import loads_bounded

__all__ = ["has_nul", "read_json", "refuse_nul", "query_int"]

_EMPTY = object()


async def read_json(request: Request, *, empty: Any = _EMPTY) -> Any:
    """The body as JSON; an empty body gives ``empty`` (or a 400 when none is allowed)."""
    raw = await request.body()
    if not raw.strip():
        if empty is _EMPTY:
            raise InvalidRequest("the request body must be JSON")
        return empty
    try:
        value = loads_bounded(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"the request body is not valid JSON: {exc}") from exc
    if b"\\u0000" in raw:
        refuse_nul(value, "the request body")
    return value


def refuse_nul(value: Any, where: str, details: dict[str, Any] | None = None) -> None:
    """400 when a string (or key) anywhere in a JSON ``value`` holds a NUL, which
    PostgreSQL ``text`` and ``jsonb`` cannot store; ``where`` names it in the message."""
    if _has_nul(value):
        raise InvalidRequest(f"{where} contains a NUL character (\\u0000), which cannot be "
                             "stored", details=details)


def has_nul(text: str) -> bool:
    """True if ``text`` holds a NUL, which PostgreSQL text and jsonb cannot store."""
    return "\x00" in text


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return has_nul(value)
    if isinstance(value, dict):
        return any(has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def query_int(request: Request, name: str, default: int, lo: int, hi: int) -> int:
    """An integer query parameter within ``[lo, hi]``."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise InvalidRequest(f"query parameter '{name}' must be an integer",
                             details={"parameter": name}) from exc
    if not lo <= value <= hi:
        raise InvalidRequest(f"query parameter '{name}' must be between {lo} and {hi}",
                             details={"parameter": name})
    return value
