"""The API's response classes: JSON (orjson, or pydantic-core for a response model), and
a stream that closes its source however the response ends."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from pydantic import BaseModel
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from gateway.core.jsoncodec import dumps

__all__ = ["ClosingStreamingResponse", "JSONResponse"]


class JSONResponse(Response):
    """A JSON response: a response model is encoded by pydantic-core in one pass (by alias,
    as ``render`` would give it), any other JSON value by orjson."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        if isinstance(content, BaseModel):
            return content.__pydantic_serializer__.to_json(content, by_alias=True)
        return dumps(content)


class ClosingStreamingResponse(StreamingResponse):
    """A streaming response whose body generator is closed however the response ends:
    streamed to the end, the client gone before the first chunk (the body never
    iterated), or cancelled. Starlette leaves a generator it stopped iterating to the
    garbage collector, and what the body holds (a subscription) with it."""

    def __init__(self, content: AsyncGenerator[bytes, None], **kwargs: Any) -> None:
        super().__init__(content, **kwargs)
        self._source = content

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._source.aclose()
