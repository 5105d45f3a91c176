"""Trigger bodies: every field, replaced by a value of every JSON type, gives a trigger or a
400 naming that field — never another exception (a 500)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from config.settings import Settings
from gateway.core.errors import InvalidRequest
from gateway.schemas.functions import FunctionCreate
from gateway.schemas.trigger_input import TriggerInput, parse_trigger
from gateway.schemas.triggers import TriggerUpdate
from gateway.schemas.validation import parse

SETTINGS = Settings(amqp_url="amqp://guest:guest@127.0.0.1:5672/")


def create_function(body: Any) -> FunctionCreate:
    return parse(FunctionCreate, body, context={"settings": SETTINGS})


VALID: dict[str, dict[str, Any]] = {
    "http": {"type": "http", "name": "t", "enabled": True,
             "config": {"path": "/hello", "methods": ["GET", "POST"], "public": False}},
    "http-method": {"type": "http", "config": {"path": "/hello", "method": "GET"}},
    "cron": {"type": "cron", "name": "c", "enabled": True,
             "config": {"schedule": "*/5 * * * *", "timezone": "UTC", "payload": {},
                        "misfire": "run_once"}},
    "schedule-cron": {"type": "schedule", "config": {"cron": "0 9 * * mon-fri"}},
    "queue": {"type": "queue", "name": "q", "enabled": True,
              "config": {"queue": "orders", "exchange": "ex", "routing_key": "rk",
                         "prefetch": 10, "dead_letter": True}},
}
ODD_VALUES: list[Any] = [{}, [], 1, True, None, "x", -1, 1.5, "", [{}], {"x": []}]


def _mutations(body: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(field, body)`` with one field (top level or ``config.<key>``) replaced."""
    for key in body:
        for value in ODD_VALUES:
            changed = copy.deepcopy(body)
            changed[key] = value
            yield key, changed
    for key in body["config"]:
        for value in ODD_VALUES:
            changed = copy.deepcopy(body)
            changed["config"][key] = value
            yield f"config.{key}", changed


def _outcome(call: Any, field: str, prefix: str = "") -> None:
    try:
        result = call()
    except InvalidRequest as exc:
        named = str((exc.details or {}).get("field", ""))
        expected = prefix + field
        # The replaced field, or one inside it (``config`` → ``config.path``); another
        # ``type`` judges the config by that type's rules instead; a rule on two fields
        # (a routing key needs an exchange) names the other in its message.
        assert (named == expected or named.startswith(expected + ".")
                or (field == "type" and named.startswith(prefix + "config"))
                or f"'{field}'" in exc.message), (expected, named, exc.message)
    else:
        assert result is not None


@pytest.mark.parametrize("kind", sorted(VALID))
def test_each_valid_body_parses(kind: str) -> None:
    assert isinstance(parse_trigger(VALID[kind], SETTINGS), TriggerInput)


@pytest.mark.parametrize("kind", sorted(VALID))
def test_any_field_of_any_type_is_a_trigger_or_a_400_naming_the_field(kind: str) -> None:
    for field, body in _mutations(VALID[kind]):
        _outcome(lambda b=body: parse_trigger(b, SETTINGS), field)


@pytest.mark.parametrize("kind", sorted(VALID))
def test_the_same_on_an_update_merged_over_the_current_trigger(kind: str) -> None:
    current = parse_trigger(VALID[kind], SETTINGS)
    for field, body in _mutations(VALID[kind]):
        _outcome(lambda b=body: parse(TriggerUpdate, b, context={"current": current}), field)


@pytest.mark.parametrize("kind", sorted(VALID))
def test_the_same_in_the_triggers_of_a_function_create(kind: str) -> None:
    base = {"name": "f", "runtime": "python", "code": "def handler(e):\n    return e\n"}
    for field, body in _mutations(VALID[kind]):
        _outcome(lambda b=body: create_function({**base, "triggers": [b]}), field,
                 "triggers[0].")


@pytest.mark.parametrize("value", [{}, [], 1, True, None, 1.5, "smtp", ""])
def test_a_trigger_type_that_is_not_a_known_string_is_400_on_type(value: Any) -> None:
    with pytest.raises(InvalidRequest) as info:
        parse_trigger({"type": value, "config": {"path": "/"}}, SETTINGS)
    assert info.value.details == {"field": "type", "errors": [
        {"path": "type", "message": "must be one of http, cron (alias schedule), queue"}]}
    with pytest.raises(InvalidRequest) as info:
        create_function({"name": "f", "runtime": "python", "code": "x",
                         "triggers": [{"type": value, "config": {"path": "/"}}]})
    assert info.value.details == {"field": "triggers[0].type", "errors": [
        {"path": "triggers[0].type",
         "message": "must be one of http, cron (alias schedule), queue"}]}


@pytest.mark.parametrize("value", [[], 1, True, None, "x"])
def test_a_trigger_that_is_not_an_object_is_400_naming_it(value: Any) -> None:
    with pytest.raises(InvalidRequest) as info:
        create_function({"name": "f", "runtime": "python", "code": "x", "triggers": [value]})
    assert info.value.details == {"field": "triggers[0]", "errors": [
        {"path": "triggers[0]", "message": "must be a JSON object"}]}
