"""What a function's code may be: its source (as text or base64), its entry point and its
dependencies, as a create, an update and a new version send them
(:mod:`gateway.schemas.functions`, :mod:`gateway.schemas.versions`)."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Annotated, Any, Self

from pydantic import AfterValidator, BeforeValidator, Field, ValidationInfo

from gateway.core.projects import COMPILED, dependency_pattern
from gateway.schemas.base import RequestModel
from gateway.schemas.validation import bad_value, bad_value_at

__all__ = ["HANDLER_PATTERN", "MAX_DEPENDENCIES", "Dependencies", "Handler", "SourceCode",
           "SourceInput"]

#: ``handler``, ``index.handler``, ``main.handler``: the part after the last dot names the
#: function (``[\s\S]`` rather than ``.``: a newline before that dot is not the name's).
HANDLER_PATTERN = r"^(?:[\s\S]*\.)?[A-Za-z_$][A-Za-z0-9_$]*$"
MAX_DEPENDENCIES = 100


def _decode(raw: str | None) -> str | None:
    if raw is None:
        return None
    try:
        return base64.b64decode(raw, validate=True).decode("utf-8")
    # binascii.Error and UnicodeDecodeError are ValueErrors, and so is base64's own
    # refusal of a str with a non-ASCII character in it.
    except ValueError:
        raise bad_value("base64", "is not valid base64 of UTF-8 text") from None


#: Base64 of UTF-8 source on the wire; the decoded text once validated.
SourceCode = Annotated[str | None, AfterValidator(_decode),
                       Field(json_schema_extra={"contentEncoding": "base64"})]

#: An entry point, stored as the part after its last dot (``main.handler`` → ``handler``).
Handler = Annotated[str, Field(min_length=1, pattern=HANDLER_PATTERN),
                    AfterValidator(lambda name: name.rsplit(".", 1)[-1])]


def _dependencies(value: Any, info: ValidationInfo) -> Any:
    """Each specifier stripped and checked against the runtime's syntax: the body's own
    ``runtime`` when it sends one (validated before), else the function's (context)."""
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise bad_value("string_array", "must be an array of strings")
    runtime = info.data.get("runtime") or (info.context or {}).get("runtime")
    if runtime in COMPILED and value:
        raise bad_value("dependency", f"{runtime} functions take no dependencies: Go builds with "
                                      "its standard library, Rust with serde_json, only")
    pattern = dependency_pattern(runtime)
    for spec in value:
        if not pattern.fullmatch(spec.strip()):
            raise bad_value("dependency", f"contains '{spec}': only package names and "
                                          "version ranges are accepted (no options, URLs or "
                                          "paths)")
    return [spec.strip() for spec in value]


#: pip requirement specifiers or npm ``name@range``; null is "not given".
Dependencies = Annotated[Annotated[list[str], Field(max_length=MAX_DEPENDENCIES)] | None,
                         BeforeValidator(_dependencies)]


class SourceInput(RequestModel):
    """A body that sends its source as ``code`` or as base64 ``source_code``, never both.

    Each body declares the two fields (with its own descriptions) and registers
    :meth:`_check_one_source` as an ``after`` validator where its order puts the check,
    as in ``_one_source = model_validator(mode="after")(SourceInput._check_one_source)``.
    """

    if TYPE_CHECKING:
        code: str | None
        source_code: str | None

    def _check_one_source(self) -> Self:
        if self.code is not None and self.source_code is not None:
            raise bad_value_at(("source_code",), None, "source",
                               "must not be given together with 'code'")
        return self

    @property
    def source(self) -> str | None:
        """The source text sent, as ``code`` or decoded from ``source_code``."""
        return self.code if self.code is not None else self.source_code
