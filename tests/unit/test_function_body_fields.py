"""Create/update bodies: unknown fields are refused by name, the seeds' spellings are not."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from config import Settings
from gateway.api.openapi import build_openapi
from gateway.api.routes import all_routes
from gateway.core.errors import InvalidRequest
from gateway.schemas.functions import REFUSED_FIELDS, FunctionCreate, FunctionUpdate
from gateway.schemas.validation import parse

SETTINGS = Settings()
PY = "def handler(event):\n    return event\n"
#: Every field a create or update body may send: API.md's Function table and the input
#: aliases the seed documents use (``source_code``, ``resources``, ``minReplicas``,
#: ``maxReplicas``).
FUNCTION_FIELDS = frozenset({
    "name", "runtime", "code", "source_code", "handler", "dependencies", "triggers",
    "project", "execution_type", "description", "environment", "secrets", "labels", "timeout_ms",
    "memory_mb", "network", "ephemeral_storage_mb", "cpu_millis", "resources",
    "max_concurrency", "min_warm", "cache_ttl", "cache_scope", "max_retries", "rate_limit",
    "schema", "examples", "maxReplicas", "minReplicas",
})


def parse_function(body: Any, *, creating: bool) -> FunctionCreate | FunctionUpdate:
    model = FunctionCreate if creating else FunctionUpdate
    return parse(model, body, context={"settings": SETTINGS})


def _refused(body: dict[str, Any], *, creating: bool = True) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        parse_function(body, creating=creating)
    return caught.value


def _only(field: str, message: str) -> dict[str, Any]:
    """The details of a 400 about one field."""
    return {"field": field, "errors": [{"path": field, "message": message}]}


@pytest.mark.parametrize("creating", [True, False])
def test_an_unknown_field_is_a_400_naming_it(creating: bool) -> None:
    error = _refused({"name": "f", "runtime": "python", "code": PY, "evil": 1},
                     creating=creating)
    assert error.message == "'evil' is not a known field"
    assert error.details == _only("evil", "is not a known field")


def test_an_unknown_field_is_named_even_when_falsy() -> None:
    assert _refused({"name": "f", "runtime": "python", "code": PY,
                     "timeout": None}).details == _only("timeout", "is not a known field")


def test_image_is_refused_saying_custom_images_are_not_supported() -> None:
    error = _refused({"name": "f", "runtime": "python", "code": PY,
                      "image": "myregistry/my-function:v2"})
    assert "custom images are not supported" in error.message
    assert error.details == _only("image", REFUSED_FIELDS["image"])


@pytest.mark.parametrize("field", ["id", "language_title", "status", "created_at"])
def test_response_only_fields_cannot_be_sent(field: str) -> None:
    error = _refused({"handler": "main", field: "x"}, creating=False)
    assert error.message.startswith(f"'{field}' ") and "set by the gateway" in error.message
    assert error.details == _only(field, REFUSED_FIELDS[field])


def test_an_unknown_key_inside_resources_is_refused() -> None:
    error = _refused({"resources": {"memory": "256Mi", "gpu": "1"}}, creating=False)
    assert error.details == _only("resources.gpu",
                                  "is not a resource: only 'cpu' and 'memory' are")


def test_an_alias_that_disagrees_with_its_field_is_refused() -> None:
    error = _refused({"maxReplicas": 5, "max_concurrency": 10}, creating=False)
    assert error.details == _only("maxReplicas",
                                  "is 5, which disagrees with 'max_concurrency' (10)")
    agreed = parse_function({"maxReplicas": 5, "max_concurrency": 5}, creating=False)
    assert agreed.columns()["max_concurrency"] == 5


@pytest.mark.parametrize("creating", [True, False])
def test_a_long_unknown_name_is_cut_short_in_the_error(creating: bool) -> None:
    error = _refused({"name": "f", "runtime": "python", "code": PY, "x" * 10_000: 1},
                     creating=creating)
    assert len(error.message) < 200 and len(error.details["field"]) < 200
    assert error.details["field"] == "x" * 100 + "…"
    nested = _refused({"resources": {"y" * 10_000: 1}}, creating=False)
    assert len(nested.message) < 200
    assert nested.details["field"] == "resources." + "y" * 100 + "…"


# The create and update examples of the seed documents, as they print them.
_SEED_BODIES: list[tuple[str, dict[str, Any], bool]] = [
    ("000 create", {"name": "myFunction", "runtime": "python",
                    "code": "def handler(event): return event", "execution_type": "sync"},
     True),
    ("000 update", {"name": "myUpdatedFunction", "runtime": "nodejs",
                    "code": "function handler(event) { return event }",
                    "execution_type": "async"}, False),
    ("002 create", {"name": "my-function", "runtime": "nodejs18", "handler": "index.handler",
                    "code": "module.exports.handler = async (event) => ({});",
                    "environment": {"VAR1": "value1"}, "minReplicas": 0, "maxReplicas": 10,
                    "triggers": [{"type": "http", "config": {"path": "/my-function"}}]},
     True),
    ("004 create", {"name": "my-function", "runtime": "python3.9", "handler": "main.handler",
                    "source_code": base64.b64encode(PY.encode()).decode(),
                    "environment": {"API_KEY": "secret-key", "POOL_SIZE": "3"},
                    "resources": {"memory": "256Mi", "cpu": "100m"},
                    "labels": {"team": "backend", "env": "production"}}, True),
    ("004 update", {"name": "updated-function", "handler": "main.new_handler",
                    "environment": {"NEW_VAR": "value"},
                    "resources": {"memory": "512Mi", "cpu": "200m"}}, False),
]


@pytest.mark.parametrize(("body", "creating"), [(b, c) for _, b, c in _SEED_BODIES],
                         ids=[i for i, _, _ in _SEED_BODIES])
def test_the_seed_documents_bodies_are_accepted(body: dict[str, Any], creating: bool) -> None:
    parsed = parse_function(body, creating=creating)
    assert parsed.name == body["name"]


def test_the_004_resources_map_onto_the_sandbox_fields() -> None:
    body = next(b for i, b, _ in _SEED_BODIES if i == "004 create")
    columns = parse_function(body, creating=True).columns()
    assert columns["memory_mb"] == 256 and columns["cpu_millis"] == 100


def test_openapi_bodies_list_exactly_the_known_fields_and_refuse_others() -> None:
    schemas = build_openapi("0", all_routes())["components"]["schemas"]
    for name in ("FunctionCreate", "FunctionUpdate"):
        assert set(schemas[name]["properties"]) == FUNCTION_FIELDS, name
        assert schemas[name]["additionalProperties"] is False, name
    assert set(schemas["FunctionForm"]["properties"]) == FUNCTION_FIELDS | {"requirements"}
    assert schemas["FunctionForm"]["additionalProperties"] is False
    assert not FUNCTION_FIELDS & set(REFUSED_FIELDS)
    for name in ("VersionCreate", "ProjectCreate", "EnvironmentData", "DependenciesData"):
        assert schemas[name]["additionalProperties"] is False, name
