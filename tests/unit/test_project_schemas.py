"""The project wire models: a create body, the environment and dependency layers."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.core.errors import InvalidRequest
from gateway.core.identifiers import ENV_NAME_PATTERN
from gateway.schemas.projects import (
    MAX_DEPENDENCIES,
    DependenciesData,
    EnvironmentData,
    Project,
    ProjectCreate,
)
from gateway.schemas.validation import parse


def _field(model: Any, body: Any) -> str:
    with pytest.raises(InvalidRequest) as info:
        parse(model, body)
    return str((info.value.details or {}).get("field", ""))


def test_null_description_environment_and_dependencies_are_their_defaults() -> None:
    body = parse(ProjectCreate, {"name": "shop", "description": None, "environment": None,
                                 "dependencies": None})
    assert (body.description, body.environment, body.dependencies) == ("", {}, [])
    again = parse(ProjectCreate, {"name": "other"})
    assert again.environment == {} and again.environment is not body.environment


@pytest.mark.parametrize(("key", "reason"), [
    ("status", "/start or /stop"), ("id", "set by the gateway"),
    ("functions", "set by the gateway"),
])
def test_fields_of_a_project_a_create_cannot_set_are_named_with_the_reason(
        key: str, reason: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        parse(ProjectCreate, {"name": "shop", key: 1})
    assert (info.value.details or {})["field"] == key
    assert reason in info.value.message


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "Shop"}, "name"),
    ({}, "name"),
    ({"name": "shop", "evil": 1}, "evil"),
    ({"name": "shop", "description": "x" * 4097}, "description"),
    ({"name": "shop", "environment": {"-": "x"}}, "environment"),
    ({"name": "shop", "environment": {"A": 1}}, "environment.A"),
    ({"name": "shop", "dependencies": ["six", "-e ."]}, "dependencies[1]"),
    ({"name": "shop", "dependencies": [1]}, "dependencies[0]"),
    ({"name": "shop", "dependencies": "six"}, "dependencies"),
    ({"name": "shop", "dependencies": ["six"] * (MAX_DEPENDENCIES + 1)}, "dependencies"),
])
def test_a_bad_create_body_is_400_naming_the_field(body: dict[str, Any], field: str) -> None:
    assert _field(ProjectCreate, body) == field


def test_dependencies_are_stripped_and_unique_for_either_runtime() -> None:
    layer = parse(DependenciesData, {"data": [" requests>=2 ", "lodash@^4", "requests>=2"]})
    assert layer.data == ["requests>=2", "lodash@^4"]


@pytest.mark.parametrize("body", [{}, {"data": []}, {"data": {"A": 1}}, {"data": {"-": "x"}},
                                  ["x"], {"data": {}, "evil": 1}])
def test_an_environment_layer_is_an_object_of_named_strings(body: Any) -> None:
    with pytest.raises(InvalidRequest):
        parse(EnvironmentData, body)


def test_environment_names_are_documented_as_property_names() -> None:
    data = EnvironmentData.model_json_schema()["properties"]["data"]
    assert data["propertyNames"] == {"pattern": ENV_NAME_PATTERN}
    assert "patternProperties" not in data  # it would let other names through
    assert Project.model_json_schema(mode="serialization")["properties"]["environment"][
        "propertyNames"] == {"pattern": ENV_NAME_PATTERN}
