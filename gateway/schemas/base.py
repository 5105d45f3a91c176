"""The base classes of the wire models: one pydantic model per request and response shape,
the single source of validation, the OpenAPI document's schemas and the clients' types."""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from typing import Annotated, Any, Self, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, WithJsonSchema
from pydantic_core import PydanticUndefined

from gateway.core.jsoncodec import isoformat

__all__ = ["RequestModel", "ResponseModel", "Timestamp", "UuidText", "render"]


def _rfc3339(value: Any) -> Any:
    return isoformat(value) if isinstance(value, dt.datetime) else value


#: A moment, rendered as RFC 3339 in UTC with millisecond precision and a ``Z``. Given as a
#: datetime, it is held as that text from the start: a serializer run at render time costs
#: a Python call per field per response from Rust (3x the formatting itself), and would
#: keep ``render`` from leaving the rest to pydantic-core and orjson.
Timestamp = Annotated[
    str,
    BeforeValidator(_rfc3339),
    WithJsonSchema({"type": "string", "format": "date-time",
                    "description": "RFC 3339 in UTC with a `Z` suffix, millisecond precision."}),
]


def _uuid_text(value: Any) -> Any:
    return str(value) if isinstance(value, uuid.UUID) else value


#: A UUID the gateway holds as text in its own records (a job's or a session's id):
#: rendered as it is rather than parsed into a ``uuid.UUID`` and printed again (one read
#: from a ``uuid`` column becomes its text).
UuidText = Annotated[str, BeforeValidator(_uuid_text),
                     WithJsonSchema({"type": "string", "format": "uuid"})]


class RequestModel(BaseModel):
    """A request body: unknown fields are refused and JSON types are not coerced
    (``"5"`` is not an integer, ``1`` is not a string)."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)


class ResponseModel(BaseModel):
    """A response body, built by the gateway from its records and rendered by alias."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True,
                              json_schema_serialization_defaults_required=True)

    @classmethod
    def trusted(cls, **values: Any) -> Self:
        """The model of values the gateway holds itself (its records, checked when they
        came in), by field name, not checked again: a stored row an older version wrote
        renders as it is rather than failing every read of it, and a page of 100
        functions skips 100 validations (they cost more than the rest of the rendering).
        Timestamps are passed as their text (``isoformat``). A field left out takes its
        default; one with none, or a name the model does not have, is a TypeError (a
        defect of the view, which its unit test catches); ``tests/unit/test_views.py``
        checks that what each view renders validates against its model."""
        names, plan = _plan(cls)
        # Every field, in order (how the views call it): the arguments are the fields.
        fields = values if tuple(values) == names else _filled(cls, plan, values)
        model = cls.__new__(cls)
        _setattr(model, "__dict__", fields)
        _setattr(model, "__pydantic_fields_set__", set(values))
        _setattr(model, "__pydantic_extra__", None)
        _setattr(model, "__pydantic_private__", None)
        return model


_setattr = object.__setattr__


@functools.cache
def _plan(model: type[BaseModel]) -> tuple[tuple[str, ...], tuple[tuple[str, Any, Any], ...]]:
    """The fields' names, and each one's name, default and default factory, in the order
    they are rendered (the serializer writes a model's ``__dict__`` in its order)."""
    fields = model.model_fields
    return tuple(fields), tuple((name, field.default, field.default_factory)
                                for name, field in fields.items())


def _filled(model: type[BaseModel], plan: tuple[tuple[str, Any, Any], ...],
            values: dict[str, Any]) -> dict[str, Any]:
    """``values`` in the fields' order, with the defaults of those left out."""
    fields: dict[str, Any] = {}
    for name, default, factory in plan:
        if name in values:
            fields[name] = values[name]
        elif factory is not None:
            fields[name] = factory()
        elif default is PydanticUndefined:
            raise TypeError(f"{model.__name__}.trusted() needs {name!r}")
        else:
            fields[name] = default
    if not values.keys() <= fields.keys():
        raise TypeError(f"{model.__name__} has no field "
                        f"{sorted(values.keys() - fields.keys())[0]!r}")
    return fields


R = TypeVar("R", bound=ResponseModel)


def render(model: BaseModel) -> Any:
    """The JSON-ready value of a response model, or of a request model a reply echoes, by
    alias (the models hold only JSON types: timestamps and UUIDs as their text). A route
    answers with the model itself, which ``JSONResponse`` encodes in one pass."""
    return model.model_dump(by_alias=True)
