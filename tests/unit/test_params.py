"""Params against a function's JSON Schema: local refs only, and clean 400s."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from config import load
from gateway.core.errors import InvalidParams, InvalidRequest
from gateway.schemas.functions import FunctionCreate
from gateway.schemas.params import check_local_refs, validate_params
from gateway.schemas.validation import parse

OBJECT = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}


def _function(tmp_path: Path, params_schema: Any) -> Any:
    settings = load({}, toml_path=tmp_path / "none.toml", data_dir=str(tmp_path))
    body = {"name": "f", "runtime": "python", "code": "def handler(e):\n    return e\n",
            "schema": {"params": params_schema}}
    return parse(FunctionCreate, body, context={"settings": settings})


def test_a_local_ref_is_followed() -> None:
    schema = {"params": {"$defs": {"n": {"type": "integer"}},
                         "type": "object", "properties": {"n": {"$ref": "#/$defs/n"}}}}
    validate_params(schema, {"n": 1})
    with pytest.raises(InvalidParams) as info:
        validate_params(schema, {"n": "x"})
    assert info.value.details["errors"] == [
        {"path": "$.n", "message": "expected integer, got string"}]


@pytest.mark.parametrize("ref", [
    "http://169.254.169.254/latest/meta-data", "https://example.com/s.json", "other.json",
    "file:///etc/passwd", "urn:x:y",
])
def test_saving_a_schema_with_a_ref_outside_itself_is_refused(tmp_path: Path, ref: str) -> None:
    nested = {"type": "object", "properties": {"a": {"anyOf": [{"$ref": ref}]}}}
    with pytest.raises(InvalidRequest) as info:
        _function(tmp_path, nested)
    assert info.value.status == 400 and info.value.code == "INVALID_REQUEST"
    assert "only references within the schema" in info.value.message
    assert info.value.details == {"field": "schema.params", "ref": ref, "errors": [
        {"path": "schema.params", "message": f"has $ref {ref!r}: only references within the "
                                             "schema (starting with '#') are allowed"}]}


def test_a_dynamic_ref_outside_the_schema_is_refused_too() -> None:
    with pytest.raises(InvalidRequest):
        check_local_refs({"$dynamicRef": "https://example.com/s.json#meta"}, "params")


def test_local_refs_and_ref_shaped_data_are_accepted(tmp_path: Path) -> None:
    schema = {"$defs": {"n": {"type": "integer"}}, "$ref": "#/$defs/n",
              "enum": [{"$ref": "http://example.com/"}],
              "properties": {"$ref": {"const": {"$ref": "x.json"}}}}
    parsed = _function(tmp_path, schema)
    assert parsed.columns()["schema"] == {"params": schema}


@pytest.mark.parametrize("schema", [
    {"$ref": "#/$defs/missing"},
    {"$ref": "https://example.com/s.json"},  # stored before saving refused it
])
def test_a_ref_that_resolves_nowhere_is_400_not_500(schema: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest) as info:
        validate_params({"params": schema}, {"n": 1})
    assert info.value.status == 400 and info.value.code == "INVALID_REQUEST"
    assert "resolves nowhere" in info.value.message
    assert info.value.details == {"field": "schema.params"}


def test_a_ref_to_itself_is_400_not_500() -> None:
    schema = {"$defs": {"a": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"}
    with pytest.raises(InvalidRequest) as info:
        validate_params({"params": schema}, {})
    assert info.value.status == 400 and "refers to itself" in info.value.message


@pytest.mark.parametrize(("params", "got"), [
    (None, "null"), (True, "boolean"), (5, "number"), ("abc", "string"), ([1, 2], "array"),
])
def test_params_that_are_not_an_object_get_a_clean_invalid_params(params: Any, got: str) -> None:
    with pytest.raises(InvalidParams) as info:
        validate_params({"params": OBJECT}, params)
    assert info.value.status == 400 and info.value.code == "INVALID_PARAMS"
    assert info.value.details == {
        "errors": [{"path": "$", "message": f"expected object, got {got}"}]}


def test_messages_do_not_repeat_a_huge_value() -> None:
    schema = {"params": {"type": "object", "properties": {"s": {"maxLength": 3}}}}
    with pytest.raises(InvalidParams) as info:
        validate_params(schema, {"s": "x" * 100_000})
    message = info.value.details["errors"][0]["message"]
    assert len(message) <= 301 and message.endswith("…")
