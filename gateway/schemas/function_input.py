"""What a function's other input values may be: its name and runtime, its environment and
labels, its params and result schemas and examples, and the triggers a create nests.
Its code is :mod:`gateway.schemas.function_code`, its resources
:mod:`gateway.schemas.function_limits`; the wire models of functions
(:mod:`gateway.schemas.functions`) are built from the three.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BeforeValidator, ConfigDict, Field
from typing_extensions import TypedDict

from config import Settings
from gateway.core.errors import InvalidRequest, InvalidRuntime
from gateway.core.identifiers import ENV_NAME_PATTERN, ENV_NAME_RE
from gateway.schemas.params import check_local_refs
from gateway.schemas.trigger_input import TriggerInput, parse_trigger
from gateway.schemas.validation import bad_value, bad_value_at

__all__ = [
    "MAX_TRIGGERS_ON_CREATE", "NAME_PATTERN", "RUNTIMES", "Environment", "Examples",
    "FunctionExample", "FunctionSchemas", "Labels", "Name", "NestedTriggers", "Runtime",
    "Schemas", "normalize_runtime", "parse_triggers",
]

#: A function's name: Lambda's set, as the seeds write them (``myFunction``); unique
#: case-insensitively (0011_function_names.sql).
NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_-]{0,63}$"

RUNTIMES = ("python", "nodejs", "go", "rust")
_PY_ALIAS = re.compile(r"^(python|py)(\d+(\.\d+)*)?$")
_NODE_ALIAS = re.compile(r"^(nodejs|node)(\d+(\.\d+)*(\.x)?)?$")
# go, go119, go1.19, go1.21, golang, golang1.21, go1.x …
_GO_ALIAS = re.compile(r"^(go|golang)(\d+(\.\d+)*(\.x)?)?$")
# rust, rust1, rust1.63, rustlang …
_RUST_ALIAS = re.compile(r"^(rust|rustlang)(\d+(\.\d+)*)?$")
MAX_TRIGGERS_ON_CREATE = 20

#: A function's name as a body sends it.
Name = Annotated[str, Field(
    pattern=NAME_PATTERN, examples=["myFunction", "my-function", "image_resize"],
    description="Lambda's set: a letter, then letters, digits, `_` and `-` (64 at most). "
                "Unique case-insensitively (`myFunction` and `MyFunction` are one name → 409 "
                "`CONFLICT`); the case sent is kept (`title`, `language_title` = "
                "`python-myFunction`). On update, a different name renames the function (a "
                "change of case too). A name equal to another function's `language_title`, "
                "case-insensitively, → 409 `CONFLICT`.",
)]


# -- runtime ------------------------------------------------------------------------------

def _family(text: str) -> str | None:
    lowered = text.strip().lower()
    if _PY_ALIAS.fullmatch(lowered):
        return "python"
    if _NODE_ALIAS.fullmatch(lowered):
        return "nodejs"
    if _GO_ALIAS.fullmatch(lowered):
        return "go"
    if _RUST_ALIAS.fullmatch(lowered):
        return "rust"
    return None


def _unsupported(value: str) -> str:
    return f"unknown runtime '{value}'"


def normalize_runtime(value: Any) -> str:
    """Map an accepted alias (``python3.11``, ``node``, ``nodejs18`` …) to its family, or
    400 ``INVALID_RUNTIME`` (a query parameter's check; bodies use :data:`Runtime`)."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest("'runtime' must be a non-empty string", details={"field": "runtime"})
    family = _family(value)
    if family is None:
        raise InvalidRuntime(_unsupported(value), details={"supported": list(RUNTIMES)})
    return family


def _runtime(value: Any) -> Any:
    if not isinstance(value, str) or not value.strip():
        raise bad_value("runtime", "must be a non-empty string")
    family = _family(value)
    if family is None:
        raise bad_value("invalid_runtime", _unsupported(value), supported=list(RUNTIMES))
    return family


#: A runtime as sent (an alias), stored as its family; unknown → ``INVALID_RUNTIME``.
Runtime = Annotated[str, BeforeValidator(_runtime), Field(
    examples=["python", "python3.11", "nodejs", "node", "nodejs18", "go", "go119", "rust"],
    description="`python`, `nodejs`, `go` or `rust`, case-insensitive. Aliases (`py`, "
                "`python3`, `python3.11`, `python39`, `node`, `nodejs18`, `nodejs18.x`, "
                "`go119`, `go1.19`, `go1.21`, `golang`, `rust1`, …) are normalized to the "
                "family. Anything else → 400 `INVALID_RUNTIME` (`details.supported`). Go and "
                "Rust are compiled at deploy (the version is `building` until then). On "
                "update, a change creates a new version.",
)]


# -- maps ---------------------------------------------------------------------------------

def _string_map(key_re: re.Pattern[str] | None) -> Callable[[Any], Any]:
    """A JSON object of strings, each problem reported on the field as a whole."""

    def check(value: Any) -> Any:
        if not isinstance(value, dict):
            raise bad_value("string_map", "must be an object of strings")
        for key, item in value.items():
            if not isinstance(item, str):
                raise bad_value("string_map", f"value of '{key}' must be a string")
            if key_re is not None and not key_re.fullmatch(key):
                raise bad_value("string_map", f"contains an invalid name '{key}'")
        return value

    return check


# The key pattern is checked by the validator (pydantic would say ``patternProperties``,
# which lets other keys through).
Environment = Annotated[dict[str, str], BeforeValidator(_string_map(ENV_NAME_RE)),
                        Field(json_schema_extra={"propertyNames": {"pattern": ENV_NAME_PATTERN}})]
Labels = Annotated[dict[str, str], BeforeValidator(_string_map(None))]


# -- schema and examples ------------------------------------------------------------------

class FunctionSchemas(TypedDict, total=False):
    """JSON Schemas (draft 2020-12) of the params and the result; each is checked to be a
    valid schema on input, with references within itself only."""

    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]

    params: dict[str, Any] | bool
    result: dict[str, Any] | bool


def _without_field(message: str, field: str) -> str:
    """``'config.path' must be …`` or ``'config.schedule': invalid …`` → the message alone:
    the error's path names the field."""
    return message.removeprefix(f"'{field}': ").removeprefix(f"'{field}' ")


def _schemas(value: Any) -> Any:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    if value is None:
        return None
    if not isinstance(value, dict) or not set(value) <= {"params", "result"}:
        raise bad_value("schema", "must be an object with optional 'params' and 'result' "
                                  "JSON Schemas")
    for part, sub in value.items():
        if not isinstance(sub, (dict, bool)):
            raise bad_value("schema", f"'{part}' must be a JSON Schema object")
        try:
            Draft202012Validator.check_schema(sub)
            check_local_refs(sub, part)
        except SchemaError as exc:
            raise bad_value("schema", f"'{part}' is not a valid JSON Schema: "
                                      f"{exc.message}") from None
        except RecursionError:  # under the body's depth bound, deeper than it can check
            raise bad_value("schema", f"'{part}' nests too deeply to be checked") from None
        except InvalidRequest as exc:  # a reference outside the schema
            details = {k: v for k, v in exc.details.items() if k != "field"}
            raise bad_value_at((part,), sub, "schema_ref",
                               _without_field(exc.message, f"schema.{part}"),
                               **details) from None
    return value


Schemas = Annotated[FunctionSchemas | None, BeforeValidator(_schemas)]


class FunctionExampleRequest(TypedDict, total=False):
    """What a caller sends."""

    __pydantic_config__ = ConfigDict(extra="allow")  # type: ignore[misc]

    params: Any


class FunctionExampleResponse(TypedDict, total=False):
    """What the function answers."""

    __pydantic_config__ = ConfigDict(extra="allow")  # type: ignore[misc]

    result: Any


class FunctionExample(TypedDict, total=False):
    """`{"description", "request": {"params"}, "response": {"result"}}`, each part optional."""

    __pydantic_config__ = ConfigDict(extra="allow")  # type: ignore[misc]

    description: str
    request: FunctionExampleRequest
    response: FunctionExampleResponse


def _example_list(value: Any) -> Any:
    if not isinstance(value, list) or not all(isinstance(e, dict) for e in value):
        raise bad_value("examples", "must be an array of objects")
    return value


Examples = Annotated[list[FunctionExample], BeforeValidator(_example_list)]


# -- triggers -----------------------------------------------------------------------------

#: The ``triggers`` of a create body as sent (each a ``TriggerCreate``); read with
#: :func:`parse_triggers`.
NestedTriggers = Annotated[list[dict[str, Any]], Field(
    max_length=MAX_TRIGGERS_ON_CREATE,
    json_schema_extra={"items": {"$ref": "#/components/schemas/TriggerCreate"}})] | None


def parse_triggers(triggers: list[dict[str, Any]] | None, settings: Settings
                   ) -> list[TriggerInput]:
    """Each trigger as ``POST …/triggers`` takes it
    (:func:`gateway.schemas.trigger_input.parse_trigger`), their HTTP paths distinct;
    raised from a validator of the body, errors name ``triggers[i].<field>``."""
    parsed: list[TriggerInput] = []
    paths: set[str] = set()
    for index, item in enumerate(triggers or ()):
        try:
            trigger = parse_trigger(item, settings)
        except InvalidRequest as exc:
            inner = str(exc.details.get("field") or "")
            details = {k: v for k, v in exc.details.items() if k != "field"}
            loc = ("triggers", index, *(inner.split(".") if inner else ()))
            raise bad_value_at(loc, item, "trigger", _without_field(exc.message, inner),
                               **details) from None
        if trigger.http_path is not None:
            if trigger.http_path in paths:
                raise bad_value_at(("triggers", index), item, "trigger",
                                   f"repeats the path '{trigger.http_path}' of another "
                                   "trigger")
            paths.add(trigger.http_path)
        parsed.append(trigger)
    return parsed
