"""The base classes of the wire models: one pydantic model per request and response shape,
the single source of validation, the OpenAPI document's schemas and the clients' types."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, PlainSerializer, WithJsonSchema

from gateway.core.jsoncodec import isoformat

__all__ = ["RequestModel", "ResponseModel", "Timestamp", "render"]

#: A moment, rendered as RFC 3339 in UTC with millisecond precision and a ``Z``.
Timestamp = Annotated[
    dt.datetime,
    PlainSerializer(isoformat, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time",
                    "description": "RFC 3339 in UTC with a `Z` suffix, millisecond precision."}),
]


class RequestModel(BaseModel):
    """A request body: unknown fields are refused and JSON types are not coerced
    (``"5"`` is not an integer, ``1`` is not a string)."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)


class ResponseModel(BaseModel):
    """A response body, built by the gateway from its records and rendered by alias."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True,
                              json_schema_serialization_defaults_required=True)


R = TypeVar("R", bound=ResponseModel)


def render(model: BaseModel) -> Any:
    """The JSON-ready value of a response model, or of a request model a reply echoes
    (datetimes as RFC 3339 strings)."""
    return model.model_dump(mode="json", by_alias=True)
