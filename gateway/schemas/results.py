"""Rendering a model that carries a function's result (its return value: any JSON, typed
``Any`` and never validated)."""

from __future__ import annotations

import functools
from typing import Any

from gateway.schemas.base import ResponseModel

__all__ = ["render_with_result"]

_RESULT = {"result"}


def render_with_result(model: ResponseModel) -> dict[str, Any]:
    """``render(model)`` with ``model.result`` put in as it is, in its place. In JSON mode
    pydantic rebuilds every dict and list of an ``Any`` value (a result may be megabytes:
    ~8x orjson's own time on 1 MB), only for orjson to walk it again when the body is
    encoded; the bytes come out the same."""
    body = model.model_dump(by_alias=True, exclude=_RESULT)
    result = model.result  # type: ignore[attr-defined]
    return {key: result if key == "result" else body[key] for key in _keys(type(model))}


@functools.cache
def _keys(model: type[ResponseModel]) -> tuple[str, ...]:
    """The body's keys in the order ``render`` writes them."""
    return tuple(field.serialization_alias or field.alias or name
                 for name, field in model.model_fields.items())
