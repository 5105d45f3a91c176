"""Validation of session and invoke params against a function's ``schema.params``.

Schemas are the function author's input and the gateway must never fetch
anything on their behalf: a ``$ref`` that does not start with ``#`` is refused
when the function is saved (:func:`check_local_refs`), and validators resolve
against an empty registry, so even a schema stored before that check cannot
make the gateway open a URL.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from typing import Any

import orjson
import referencing
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012

from gateway.core.errors import InvalidParams, InvalidRequest

__all__ = ["check_local_refs", "validate_params"]

_VALIDATORS: OrderedDict[str, Draft202012Validator] = OrderedDict()
_MAX_VALIDATORS = 1024
_REF_KEYWORDS = ("$ref", "$dynamicRef")
_MAX_MESSAGE = 300
# The first errors of a mismatch are listed (``details.errors``), the rest counted as "more".
MAX_PARAM_ERRORS = 20
_JSON_TYPES: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (bool, "boolean"), ((int, float), "number"), (str, "string"), (list, "array"),
    (dict, "object"), (type(None), "null"),
)


def _subschemas(schema: Any) -> Iterator[dict[str, Any]]:
    """Every schema object in ``schema``, following keywords only (not ``enum``/``const`` data)."""
    pending = [schema]
    while pending:
        sub = pending.pop()
        if isinstance(sub, dict):
            yield sub
            pending.extend(DRAFT202012.subresources_of(sub))


def check_local_refs(schema: Any, where: str) -> None:
    """Raise 400 ``INVALID_REQUEST`` if ``schema`` has a ``$ref`` outside itself.

    Only references within the schema (``#``, ``#/$defs/…``) are allowed.
    """
    for sub in _subschemas(schema):
        for keyword in _REF_KEYWORDS:
            ref = sub.get(keyword)
            if isinstance(ref, str) and not ref.startswith("#"):
                raise InvalidRequest(
                    f"'schema.{where}' has {keyword} {ref[:200]!r}: only references within "
                    "the schema (starting with '#') are allowed",
                    details={"field": f"schema.{where}", "ref": ref[:200]},
                )


def _validator(schema: dict[str, Any]) -> Draft202012Validator:
    key = orjson.dumps(schema, option=orjson.OPT_SORT_KEYS).decode()
    validator = _VALIDATORS.get(key)
    if validator is None:
        # An empty registry: nothing is ever retrieved, an outside $ref is Unresolvable.
        validator = Draft202012Validator(schema, registry=referencing.Registry())
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


def _json_type(value: Any) -> str:
    for types, name in _JSON_TYPES:
        if isinstance(value, types):
            return name
    return type(value).__name__


def _message(error: ValidationError) -> str:
    # jsonschema's messages repeat the value as a Python repr (None, True, a 6 MiB
    # string): a type error names the JSON types instead, others are cut short.
    if error.validator == "type":
        expected = error.validator_value
        wanted = " or ".join(expected) if isinstance(expected, list) else str(expected)
        return f"expected {wanted}, got {_json_type(error.instance)}"
    message = str(error.message)
    return message if len(message) <= _MAX_MESSAGE else message[:_MAX_MESSAGE] + "…"


def validate_params(schema: dict[str, Any] | None, params: Any) -> None:
    """Raise 400 ``INVALID_PARAMS`` listing every ``{path, message}`` that fails.

    A schema that cannot be applied (a ``$ref`` that resolves nowhere, or only to
    itself) is 400 ``INVALID_REQUEST``.
    """
    if not schema or "params" not in schema:
        return
    validator = _validator(schema["params"])
    try:
        # Bounded: an 800 KB array of wrong items makes 200,000 errors (5 s on the loop).
        errors = sorted(itertools.islice(validator.iter_errors(params), MAX_PARAM_ERRORS),
                        key=lambda e: list(map(str, e.absolute_path)))
    except Unresolvable as exc:
        raise InvalidRequest(
            "the function's params schema has a $ref that resolves nowhere; "
            "update the function's schema",
            details={"field": "schema.params"},
        ) from exc
    except RecursionError as exc:
        raise InvalidRequest(
            "params could not be checked against the function's schema: a $ref that "
            "refers to itself, or params nested too deeply",
            details={"field": "schema.params"},
        ) from exc
    if errors:
        raise InvalidParams(
            f"params do not match the function's schema ({len(errors)} error(s)"
            + (" listed; there may be more" if len(errors) == MAX_PARAM_ERRORS else "") + ")",
            details={"errors": [
                {"path": _path(e.absolute_path), "message": _message(e)} for e in errors
            ]},
        )
