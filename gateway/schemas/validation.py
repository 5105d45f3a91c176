"""Request bodies checked against their model, with the API's one 400 for every failure:
``details.errors`` lists ``{"path", "message"}`` per problem (at most ``MAX_ERRORS``),
``details.field`` names the first one's path."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError

from gateway.core.errors import FngateError, InvalidRequest, InvalidRuntime

__all__ = ["MAX_ERRORS", "bad_value", "bad_value_at", "invalid", "parse", "refuse"]

MAX_ERRORS = 20
_MAX_KEY = 100

M = TypeVar("M", bound=BaseModel)

# Error types of custom validators that answer with their own code rather than
# INVALID_REQUEST (the status stays 400).
_OWN_CODE: dict[str, type[FngateError]] = {"invalid_runtime": InvalidRuntime}


def parse(model: type[M], data: Any, *, context: Mapping[str, Any] | None = None) -> M:
    """``data`` (decoded JSON) as ``model``, or the API's 400. ``context`` is what the
    model's validators need beyond the body (``info.context``), by name: ``settings`` (the
    gateway's :class:`config.Settings`), ``current`` (the stored value an update merges
    over)."""
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        raise invalid(exc.errors(include_url=False)) from None


def bad_value(kind: str, message: str, **details: Any) -> PydanticCustomError:
    """An error for a custom validator to raise: ``kind`` becomes the pydantic error type
    (``invalid_runtime`` answers ``INVALID_RUNTIME``); ``details`` are added to the error
    body's ``details`` (e.g. ``allowed=[…]``)."""
    # pydantic-core fills ``{key}`` for the keys of the context only, and never unescapes
    # ``{{``: the message goes as it is (a ``{ref}`` in it stays).
    return PydanticCustomError(kind, message, {"details": details} if details else None)


def bad_value_at(loc: tuple[int | str, ...], value: Any, kind: str, message: str,
                 **details: Any) -> ValidationError:
    """Like :func:`bad_value`, for a validator to raise about a part of its value:
    ``loc`` is appended to the validated value's own path (``("params",)`` raised by the
    validator of ``schema`` reports ``schema.params``)."""
    return ValidationError.from_exception_data("request body", [InitErrorDetails(
        type=bad_value(kind, message, **details), loc=loc, input=value)])


def refuse(data: Any, refused: Mapping[str, str]) -> Any:
    """400 naming the first key of ``data`` that ``refused`` holds, with its reason: a
    field the API knows but a body cannot set (for a ``before`` model validator, so it is
    checked before anything else)."""
    if isinstance(data, dict):
        for key in data:
            if key in refused:
                raise bad_value_at((key,), data[key], "refused_field", refused[key])
    return data


def invalid(errors: Sequence[ErrorDetails]) -> FngateError:
    """One 400 for pydantic's errors, in their order."""
    listed = [{"path": _path(e["loc"]), "message": _message(e)} for e in errors[:MAX_ERRORS]]
    first = errors[0]
    details: dict[str, Any] = {}
    if listed[0]["path"]:
        details["field"] = listed[0]["path"]
    details.update((first.get("ctx") or {}).get("details") or {})
    details["errors"] = listed
    message = _sentence(listed[0]["path"], listed[0]["message"])
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem(s), in details.errors)"
    error = _OWN_CODE.get(first["type"], InvalidRequest)
    return error(message, details=details)


def _sentence(path: str, message: str) -> str:
    """``'url' must be a string``, ``'events': unknown event 'x'``, ``the request body …``."""
    if not path:
        return f"the request body {message}"
    joined = message.split(" ", 1)[0] in ("is", "must", "contains", "should", "cannot", "needs")
    return f"'{path}' {message}" if joined else f"'{path}': {message}"


def _path(loc: tuple[int | str, ...]) -> str:
    """``("triggers", 0, "config", "path")`` → ``triggers[0].config.path``; a key longer
    than ``_MAX_KEY`` is cut short (an unknown key is echoed: a 1 MiB one would be too)."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            if len(part) > _MAX_KEY:
                part = part[:_MAX_KEY] + "…"
            out += f".{part}" if out else str(part)
    return out


_MESSAGES = {
    "missing": "is required",
    "extra_forbidden": "is not a known field",
    "model_type": "must be a JSON object",
    "model_attributes_type": "must be a JSON object",
    "dict_type": "must be a JSON object",
    "list_type": "must be an array",
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "bool_type": "must be a boolean",
    "float_type": "must be a number",
}


def _message(error: ErrorDetails) -> str:
    if error["type"] in _MESSAGES:
        return _MESSAGES[error["type"]]
    message = error["msg"]
    # pydantic's own messages start with a capital ("Input should be …"); ours follow
    # the field name in a sentence.
    return message[:1].lower() + message[1:] if message[:2] != message[:2].upper() else message
