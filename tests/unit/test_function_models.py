"""The wire models of functions and versions: what the hand validation did, now on the
models (limits from the settings in the context, aliases, nulls, the form's field kinds),
and the shapes the views render; no I/O."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from config import Settings
from gateway.core.errors import FngateError, InvalidRequest, InvalidRuntime
from gateway.core.models import FunctionRecord
from gateway.schemas.base import render
from gateway.schemas.function_view import FunctionCreated, function_view
from gateway.schemas.functions import (
    FORM_INTEGER_FIELDS,
    FORM_JSON_FIELDS,
    FunctionCreate,
    FunctionUpdate,
)
from gateway.schemas.validation import parse
from gateway.schemas.versions import VersionCreate

SETTINGS = Settings()
BASE = {"name": "f", "runtime": "python", "code": "def handler(e):\n    return e\n"}
NOW = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def _error(model: type[Any], body: Any, **context: Any) -> FngateError:
    with pytest.raises(FngateError) as caught:
        parse(model, body, context={"settings": SETTINGS, **context})
    return caught.value


def test_the_form_sends_exactly_these_fields_as_json_and_as_integers() -> None:
    assert set(FORM_JSON_FIELDS) == {"environment", "secrets", "labels", "schema", "examples",
                                     "dependencies", "triggers", "resources"}
    assert set(FORM_INTEGER_FIELDS) == {
        "timeout_ms", "memory_mb", "ephemeral_storage_mb", "cpu_millis", "max_concurrency",
        "min_warm", "cache_ttl", "max_retries", "maxReplicas", "minReplicas"}


@pytest.mark.parametrize(("field", "setting", "value"), [
    ("timeout_ms", "max_timeout_ms", 400_000),
    ("memory_mb", "max_memory_mb", 4096),
    ("ephemeral_storage_mb", "max_ephemeral_storage_mb", 20_000),
])
def test_caps_come_from_the_settings_in_the_context(field: str, setting: str,
                                                    value: int) -> None:
    error = _error(FunctionCreate, {**BASE, field: value})
    assert error.details["field"] == field and "must be between" in error.message
    roomy = Settings(**{setting: value})
    body = parse(FunctionCreate, {**BASE, field: value}, context={"settings": roomy})
    assert body.columns()[field] == value


def test_resources_memory_follows_the_memory_cap_of_the_settings() -> None:
    assert _error(FunctionUpdate, {"resources": {"memory": "4Gi"}}).details["field"] == (
        "resources.memory")
    roomy = parse(FunctionUpdate, {"resources": {"memory": "4Gi"}},
                  context={"settings": Settings(max_memory_mb=4096)})
    assert roomy.columns() == {"memory_mb": 4096}


@pytest.mark.parametrize(("runtime", "words"), [
    ("cobol", "unknown runtime 'cobol'"), ("ruby", "unknown runtime"), ("gopher", "unknown"),
])
def test_an_unsupported_runtime_is_invalid_runtime_naming_the_supported_ones(
        runtime: str, words: str) -> None:
    error = _error(FunctionCreate, {**BASE, "runtime": runtime})
    assert isinstance(error, InvalidRuntime) and words in error.message
    assert error.details["field"] == "runtime"
    assert error.details["supported"] == ["python", "nodejs", "go", "rust"]


@pytest.mark.parametrize("runtime", [5, "", "  ", None])
def test_a_runtime_that_is_not_a_string_is_invalid_request(runtime: Any) -> None:
    error = _error(FunctionCreate, {**BASE, "runtime": runtime})
    assert type(error) is InvalidRequest and error.details["field"] == "runtime"


@pytest.mark.parametrize("field", ["name", "runtime", "handler", "project", "network",
                                   "environment", "timeout_ms", "maxReplicas", "examples"])
def test_null_is_refused_where_a_field_cannot_be_empty(field: str) -> None:
    assert _error(FunctionUpdate, {field: None}).details["field"] == field


@pytest.mark.parametrize("field", ["code", "source_code", "dependencies", "resources",
                                   "triggers"])
def test_null_is_not_given_for_the_optional_parts(field: str) -> None:
    body = parse(FunctionUpdate, {field: None}, context={"settings": SETTINGS})
    assert body.columns() == {} and not body.changes_code


def test_rate_limit_and_schema_may_be_cleared_with_null() -> None:
    body = parse(FunctionUpdate, {"rate_limit": None, "schema": None},
                 context={"settings": SETTINGS})
    assert body.columns() == {"rate_limit": None, "schema": None}


@pytest.mark.parametrize("field", ["json_schema", "max_replicas", "min_replicas"])
def test_attribute_names_are_not_wire_names(field: str) -> None:
    assert _error(FunctionUpdate, {field: 1}).details["field"] == field


def test_the_create_requires_a_source_and_the_update_takes_one_at_most() -> None:
    body = {"name": "f", "runtime": "python"}
    assert _error(FunctionCreate, body).details["field"] == "code"
    both = {"code": "x", "source_code": "eA=="}
    assert _error(FunctionUpdate, both).details["field"] == "source_code"
    assert _error(VersionCreate, both, runtime="python").details["field"] == "source_code"
    decoded = parse(FunctionCreate, {**body, "source_code": "eA=="},
                    context={"settings": SETTINGS})
    assert decoded.source == "x"


def test_min_warm_over_max_concurrency_is_checked_with_aliases_and_defaults() -> None:
    assert _error(FunctionCreate, {**BASE, "min_warm": 11}).details["field"] == "min_warm"
    assert _error(FunctionCreate, {**BASE, "minReplicas": 5, "maxReplicas": 4}).details[
        "field"] == "min_warm"
    # An update sending one of them is checked against the stored other (by the store).
    assert parse(FunctionUpdate, {"min_warm": 50}, context={"settings": SETTINGS}).columns() == {
        "min_warm": 50}


def test_triggers_on_an_update_are_refused_even_empty() -> None:
    error = _error(FunctionUpdate, {"triggers": []})
    assert error.details["field"] == "triggers"
    assert "/api/v1/functions/{ref}/triggers" in error.message  # braces shown as they are


def test_nested_triggers_are_parsed_and_their_paths_distinct() -> None:
    trigger = {"type": "http", "config": {"path": "/hi/", "method": "get"}}
    body = parse(FunctionCreate, {**BASE, "triggers": [trigger]},
                 context={"settings": SETTINGS})
    (parsed,) = body.nested_triggers
    assert parsed.http_path == "/hi" and parsed.config["methods"] == ["GET"]
    error = _error(FunctionCreate, {**BASE, "triggers": [trigger, trigger]})
    assert error.details["field"] == "triggers[1]" and "repeats the path" in error.message
    assert _error(FunctionCreate, {**BASE, "triggers": [trigger] * 21}).details[
        "field"] == "triggers"


def test_a_queue_trigger_needs_the_broker_of_the_context_settings() -> None:
    queue = {"type": "queue", "config": {"queue": "orders"}}
    assert _error(FunctionCreate, {**BASE, "triggers": [queue]}).details["field"] == (
        "triggers[0].type")
    body = parse(FunctionCreate, {**BASE, "triggers": [queue]},
                 context={"settings": Settings(amqp_url="amqp://localhost/")})
    assert body.nested_triggers[0].type == "queue"


def test_version_dependencies_follow_the_runtime_of_the_context() -> None:
    npm = {"dependencies": ["lodash@^4"]}
    assert _error(VersionCreate, npm, runtime="python").details["field"] == "dependencies"
    body = parse(VersionCreate, npm, context={"settings": SETTINGS, "runtime": "nodejs"})
    assert body.dependencies == ["lodash@^4"]


def test_an_update_changing_the_runtime_checks_dependencies_against_the_new_one() -> None:
    body = parse(FunctionUpdate, {"runtime": "node", "dependencies": [" lodash@^4 "]},
                 context={"settings": SETTINGS, "runtime": "python"})
    assert body.columns() == {"runtime": "nodejs"} and body.dependencies == ["lodash@^4"]
    assert body.sent() == {"runtime", "dependencies"}


@pytest.mark.parametrize(("body", "field"), [
    ({"runtime": "nodejs"}, "runtime"), ({"image": "x"}, "image"), ({"handler": None}, "handler"),
    ({"evil": 1}, "evil"),
])
def test_version_bodies_refuse_what_a_version_cannot_set(body: dict[str, Any],
                                                         field: str) -> None:
    assert _error(VersionCreate, body, runtime="python").details["field"] == field


def test_examples_keep_their_other_keys_and_leave_out_the_absent_parts() -> None:
    examples = [{"request": {"params": 1, "extra": True}, "note": "kept"}, {}]
    body = parse(FunctionCreate, {**BASE, "examples": examples}, context={"settings": SETTINGS})
    assert body.columns()["examples"] == examples


def _record(**extra: Any) -> FunctionRecord:
    return FunctionRecord(
        id=1, name="calc", project="default", runtime="python", execution_type="sync",
        description="", environment={"KEY": "secret"}, timeout_ms=30000, memory_mb=256,
        max_concurrency=10, min_warm=0, cache_ttl=3600, cache_scope="caller", max_retries=0,
        rate_limit=None, schema={"params": True}, examples=[{"response": [None]}], labels={},
        active_version=1, created_at=NOW, updated_at=NOW, code="print(1)", **extra)


def test_the_view_masks_the_environment_and_leaves_code_out_of_lists() -> None:
    shown = render(function_view(_record(), reveal_environment=False, include_code=False))
    assert shown["environment"] == {"KEY": "***"} and "code" not in shown
    # Examples are shown as stored, even one stored before their shape was checked.
    assert shown["examples"] == [{"response": [None]}] and shown["schema"] == {"params": True}
    full = render(function_view(_record(), reveal_environment=True))
    assert full["environment"] == {"KEY": "secret"} and full["code"] == "print(1)"
    assert list(full)[-1] == "code" and full["created_at"] == "2024-01-01T00:00:00.000Z"


def test_the_created_function_lists_triggers_only_when_the_body_had_some() -> None:
    shown = function_view(_record(), reveal_environment=True)
    assert "triggers" not in render(FunctionCreated(**dict(shown)))
    with_triggers = render(FunctionCreated(**dict(shown), triggers=[{"id": 1}]))
    assert with_triggers["triggers"] == [{"id": 1}]
    assert {k: v for k, v in with_triggers.items() if k != "triggers"} == render(shown)
