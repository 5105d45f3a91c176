"""The API's JSON response class (orjson, or pydantic-core for a response model)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from starlette.responses import Response

from gateway.core.jsoncodec import dumps

__all__ = ["JSONResponse"]


class JSONResponse(Response):
    """A JSON response: a response model is encoded by pydantic-core in one pass (by alias,
    as ``render`` would give it), any other JSON value by orjson."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        if isinstance(content, BaseModel):
            return content.__pydantic_serializer__.to_json(content, by_alias=True)
        return dumps(content)
