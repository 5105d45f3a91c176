"""The API's JSON response class (orjson)."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from gateway.core.jsoncodec import dumps

__all__ = ["JSONResponse"]


class JSONResponse(Response):
    """A JSON response encoded with orjson."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumps(content)
