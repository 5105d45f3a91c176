"""The trigger wire models: normalization, the union on ``type``, the update merged over
the stored trigger, and errors named as the body names them."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from config.settings import Settings
from gateway.core.errors import InvalidRequest
from gateway.schemas.trigger_configs import CronTriggerConfig, QueueTriggerConfig
from gateway.schemas.triggers import TriggerCreate, TriggerInput, TriggerUpdate
from gateway.schemas.validation import parse
from gateway.store.triggers import TriggerRecord
from triggers.cron_schedule import MISFIRE_POLICIES
from triggers.queue_config import DEFAULT_PREFETCH, MAX_PREFETCH, NAME_PATTERN

BROKER = {"settings": Settings(amqp_url="amqp://guest:guest@127.0.0.1:5672/")}
NO_BROKER = {"settings": Settings(amqp_url=None)}


def _create(body: Any, context: dict[str, Any] = BROKER) -> TriggerInput:
    return parse(TriggerCreate, body, context=context).root.stored()


def _stored(kind: str, config: dict[str, Any], **fields: Any) -> TriggerRecord:
    now = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    return TriggerRecord(id=1, function_id=1, name=fields.get("name", "t"), type=kind,
                         enabled=fields.get("enabled", True), config=config,
                         created_at=now, updated_at=now)


def _update(current: TriggerRecord, body: Any) -> TriggerInput:
    return parse(TriggerUpdate, body, context={"current": current}).root.stored()


def _refusal(call: Any) -> dict[str, Any]:
    with pytest.raises(InvalidRequest) as info:
        call()
    return info.value.details or {}


@pytest.mark.parametrize(("config", "methods"), [
    ({"path": "/a"}, ["GET", "POST"]),
    ({"path": "/a", "method": "delete"}, ["DELETE"]),
    ({"path": "/a", "methods": "put"}, ["PUT"]),
    ({"path": "/a", "methods": ["post", "GET", "get", "patch"]}, ["GET", "POST", "PATCH"]),
    # `method` beside `methods` has always been ignored, never refused.
    ({"path": "/a", "methods": ["PUT"], "method": 5}, ["PUT"]),
])
def test_http_methods_are_upper_case_unique_and_in_a_fixed_order(
        config: dict[str, Any], methods: list[str]) -> None:
    trigger = _create({"type": "http", "config": config})
    assert trigger.config == {"path": "/a", "methods": methods, "public": False}
    assert trigger.http_path == "/a"


def test_an_http_path_loses_its_trailing_slash_but_not_the_root() -> None:
    assert _create({"type": "http", "config": {"path": "/a/b/"}}).http_path == "/a/b"
    assert _create({"type": "http", "config": {"path": "/"}}).http_path == "/"


@pytest.mark.parametrize(("config", "field"), [
    ({"path": "/a//b"}, "config.path"),
    ({"path": "/a\nb"}, "config.path"),
    ({"path": "/a", "method": "TRACE"}, "config.method"),
    ({"path": "/a", "methods": []}, "config.methods"),
    ({"path": "/a", "methods": ["GET", 1]}, "config.methods"),
    ({"path": "/a", "public": "yes"}, "config.public"),
    ({"path": "/a", "verbs": ["GET"]}, "config.verbs"),
])
def test_http_config_errors_name_the_field_without_the_union_tag(
        config: dict[str, Any], field: str) -> None:
    details = _refusal(lambda: _create({"type": "http", "config": config}))
    assert details["field"] == field
    assert [e["path"] for e in details["errors"]] == [field]


def test_schedule_is_stored_as_cron_and_cron_as_schedule() -> None:
    trigger = _create({"type": "schedule", "config": {"cron": "0  9 * * mon-fri"}})
    assert trigger.type == "cron" and trigger.http_path is None
    assert trigger.config == {"schedule": "0 9 * * mon-fri", "timezone": "UTC", "payload": {},
                              "misfire": "run_once"}


@pytest.mark.parametrize(("config", "field", "message"), [
    ({"schedule": "61 * * * *"}, "config.schedule", "minute must be 0-59"),
    ({"cron": "61 * * * *"}, "config.cron", "minute must be 0-59"),
    ({"schedule": "* * * * *", "cron": "0 * * * *"}, "config.cron", "not both"),
    ({"schedule": "* * * * *", "timezone": "Mars/Olympus"}, "config.timezone", "Mars"),
    ({"schedule": "* * * * *", "misfire": "later"}, "config.misfire", "run_once, skip"),
    ({"schedule": "* * * * *", "tz": "UTC"}, "config", "unknown cron config field(s): tz"),
])
def test_cron_configs_are_checked_by_the_schedulers_rules(
        config: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        _create({"type": "cron", "config": config})
    assert info.value.details is not None and info.value.details["field"] == field
    assert message in info.value.message


@pytest.mark.parametrize(("config", "field", "message"), [
    ({"queue": "x", "prefetch": MAX_PREFETCH + 1}, "config.prefetch",
     "'config.prefetch' must be an integer from 1 to 1000"),
    ({"queue": "x", "routing_key": "k"}, "config.routing_key",
     "'config.routing_key' needs 'config.exchange' to bind to"),
    ({"queue": "amq.x"}, "config.queue", "reserved"),
    ({"queue": "x", "colour": 1}, "config", "unknown queue config field(s): colour"),
])
def test_queue_configs_are_checked_by_the_consumers_rules(
        config: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        _create({"type": "queue", "config": config})
    assert info.value.details is not None and info.value.details["field"] == field
    assert message in info.value.message


def test_a_queue_trigger_needs_a_broker_to_be_created_not_to_be_changed() -> None:
    body = {"type": "queue", "config": {"queue": "orders"}}
    details = _refusal(lambda: _create(body, NO_BROKER))
    assert details["field"] == "type"
    details = _refusal(lambda: _create(body, {}))  # no settings: no broker known
    assert details["field"] == "type"
    current = _stored("queue", _create(body).config)
    changed = _update(current, {"enabled": False})
    assert changed.enabled is False and changed.config["prefetch"] == DEFAULT_PREFETCH


def test_an_update_keeps_what_it_omits_and_replaces_a_config_whole() -> None:
    current = _stored("http", {"path": "/a", "methods": ["PUT"], "public": True},
                      name="kept", enabled=False)
    assert _update(current, {}) == TriggerInput(
        type="http", name="kept", enabled=False,
        config={"path": "/a", "methods": ["PUT"], "public": True}, http_path="/a")
    changed = _update(current, {"name": None, "config": {"path": "/b"}})
    assert changed.name is None
    assert changed.config == {"path": "/b", "methods": ["GET", "POST"], "public": False}


def test_an_update_cannot_change_the_type_but_may_name_its_own() -> None:
    cron = _stored("cron", {"schedule": "* * * * *"})
    assert _update(cron, {"type": "schedule"}).type == "cron"
    assert _update(cron, {"type": "cron"}).type == "cron"
    details = _refusal(lambda: _update(cron, {"type": "http", "config": {"path": "/x"}}))
    assert details["field"] == "type"
    assert [e["path"] for e in details["errors"]] == ["type"]
    details = _refusal(lambda: _update(cron, {"type": "smtp"}))
    assert details["field"] == "type"


def test_a_missing_config_is_named() -> None:
    assert _refusal(lambda: _create({"type": "http"}))["field"] == "config"


class _Nested(BaseModel):
    triggers: list[TriggerCreate]


def test_errors_of_a_nested_trigger_are_named_from_the_outer_body() -> None:
    with pytest.raises(ValidationError) as info:
        _Nested.model_validate(
            {"triggers": [{"type": "http", "config": {"path": "/a"}},
                          {"type": "http", "config": {"path": "x"}},
                          {"type": "mail"}]}, context=BROKER)
    assert [e["loc"] for e in info.value.errors()] == [
        ("triggers", 1, "config", "path"), ("triggers", 2, "type")]


def test_config_fields_document_the_checkers_limits() -> None:
    queue = QueueTriggerConfig.model_json_schema()["properties"]
    assert queue["queue"]["pattern"] == NAME_PATTERN
    assert (queue["prefetch"]["minimum"], queue["prefetch"]["maximum"]) == (1, MAX_PREFETCH)
    assert queue["prefetch"]["default"] == DEFAULT_PREFETCH
    cron = CronTriggerConfig.model_json_schema()["properties"]
    assert tuple(cron["misfire"]["enum"]) == MISFIRE_POLICIES


def test_the_update_schema_requires_nothing_and_matches_any_variant() -> None:
    schema = TriggerUpdate.model_json_schema()
    assert "anyOf" in schema and "oneOf" not in schema and "discriminator" not in schema
    for variant in schema["$defs"].values():
        if variant.get("title", "").endswith("TriggerUpdate"):
            assert "required" not in variant
            assert all("default" not in p for p in variant["properties"].values())
