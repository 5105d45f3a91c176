"""Validation of session and invoke params against a function's ``schema.params``."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from jsonschema import Draft202012Validator

from gateway.errors import InvalidParams

__all__ = ["validate_params"]

_VALIDATORS: OrderedDict[str, Draft202012Validator] = OrderedDict()
_MAX_VALIDATORS = 1024


def _validator(schema: dict[str, Any]) -> Draft202012Validator:
    import orjson

    key = orjson.dumps(schema, option=orjson.OPT_SORT_KEYS).decode()
    validator = _VALIDATORS.get(key)
    if validator is None:
        validator = Draft202012Validator(schema)
        _VALIDATORS[key] = validator
        if len(_VALIDATORS) > _MAX_VALIDATORS:
            _VALIDATORS.popitem(last=False)
    else:
        _VALIDATORS.move_to_end(key)
    return validator


def _path(parts: Iterable[Any]) -> str:
    out = "$"
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def validate_params(schema: dict[str, Any] | None, params: Any) -> None:
    """Raise 400 ``INVALID_PARAMS`` listing every ``{path, message}`` that fails."""
    if not schema or "params" not in schema:
        return
    validator = _validator(schema["params"])
    errors = sorted(validator.iter_errors(params), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        raise InvalidParams(
            f"params do not match the function's schema ({len(errors)} error(s))",
            details={"errors": [
                {"path": _path(e.absolute_path), "message": e.message} for e in errors
            ]},
        )
