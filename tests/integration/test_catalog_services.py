"""The trigger, project and webhook services (gateway/services/) called directly, against a
real PostgreSQL: what the routes cannot reach (a trigger gone between its read and its
update, a change subscriber told at once, who registered a webhook)."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest

from gateway.core.errors import Conflict, InvalidRequest, NotFound
from gateway.core.models import FunctionRecord
from gateway.schemas.projects import ProjectCreate
from gateway.schemas.triggers import TriggerCreate, TriggerUpdate
from gateway.schemas.validation import parse
from gateway.schemas.webhooks import WebhookCreate
from gateway.services.projects import ProjectService
from gateway.services.triggers import TriggerService
from gateway.services.webhooks import WebhookService
from tests.integration.test_functions_api import create

ECHO_EVENT = "def handler(event):\n    return event\n"


def _services(client: httpx.AsyncClient) -> Any:
    return client.app.state.services  # type: ignore[attr-defined]


async def _function(client: httpx.AsyncClient, name: str) -> FunctionRecord:
    assert (await create(client, name=name, code=ECHO_EVENT)).status_code == 201
    function: FunctionRecord | None = await _services(client).functions.get(name)
    assert function is not None
    return function


def _http_trigger(path: str) -> TriggerCreate:
    return parse(TriggerCreate, {"type": "http", "config": {"path": path}})


# -- triggers ---------------------------------------------------------------------------------

async def test_a_trigger_deleted_between_its_read_and_its_update_is_not_found(
    client: httpx.AsyncClient,
) -> None:
    service: TriggerService = _services(client).trigger_service
    function = await _function(client, "t")
    created = await service.create(function, _http_trigger("/t"), actor="carol")
    current = await service.get(function, created.id)
    body = parse(TriggerUpdate, {"enabled": False}, context={"current": current})
    await service.delete(function, created.id, actor="carol")
    with pytest.raises(NotFound) as caught:
        await service.update(current, body)
    assert caught.value.code == "TRIGGER_NOT_FOUND"
    assert caught.value.message == f"trigger '{created.id}' does not exist"


async def test_a_trigger_is_found_only_through_its_own_function(
    client: httpx.AsyncClient,
) -> None:
    service: TriggerService = _services(client).trigger_service
    owner, other = await _function(client, "owner"), await _function(client, "other")
    trigger = await service.create(owner, _http_trigger("/mine"), actor="carol")
    assert [t.id for t in await service.for_function(owner)] == [trigger.id]
    assert await service.for_function(other) == []
    for call in (service.get(other, trigger.id), service.delete(other, trigger.id, actor="x")):
        with pytest.raises(NotFound) as caught:
            await call
        assert caught.value.code == "TRIGGER_NOT_FOUND"
    assert (await service.get(owner, trigger.id)).id == trigger.id  # not deleted


async def test_trigger_changes_are_audited_with_their_actor(
    client: httpx.AsyncClient, database_url: str,
) -> None:
    service: TriggerService = _services(client).trigger_service
    function = await _function(client, "audited")
    trigger = await service.create(function, _http_trigger("/audited"), actor="carol")
    with pytest.raises(Conflict):  # the path is taken: nothing stored, nothing audited
        await service.create(function, _http_trigger("/audited"), actor="mallory")
    await service.delete(function, trigger.id, actor="dave")
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT type, actor FROM function_events WHERE function_id = $1"
            " AND type LIKE 'trigger_%' ORDER BY id", function.id)
    finally:
        await conn.close()
    assert [(r["type"], r["actor"]) for r in rows] == [("trigger_added", "carol"),
                                                       ("trigger_removed", "dave")]


# -- projects ---------------------------------------------------------------------------------

def _recording_projects(client: httpx.AsyncClient) -> tuple[ProjectService, list[Any]]:
    """The app's project service over the same stores, with a change subscriber that
    records what it is told."""
    services = _services(client)
    told: list[Any] = []
    service = ProjectService(store=services.projects, functions=services.functions,
                             builds=services.builds, pools=services.pools,
                             changed=lambda kind, ident, _sender=None: told.append((kind, ident)))
    return service, told


async def test_a_project_change_tells_the_subscriber_at_once(
    client: httpx.AsyncClient,
) -> None:
    service, told = _recording_projects(client)
    project = await service.create(parse(ProjectCreate, {"name": "shop"}), actor="carol")
    assert told == []  # a new project has no functions or consumers to tell
    assert (await service.stop("shop", actor="carol")).status == "stopped"
    assert (await service.start("shop", actor="carol")).status == "running"
    changed = await service.set_environment("shop", {"A": "1"}, actor="carol")
    assert changed.environment == {"A": "1"}
    assert (await service.set_dependencies("shop", [], actor="carol")).dependencies == []
    assert told == [("project", project.id)] * 4
    await service.set_system_environment({"S": "1"})
    assert told == [("project", project.id)] * 4  # the system layer is no project's
    assert await service.system_environment() == {"S": "1"}


@pytest.mark.parametrize("name", ["nope", "NOT A NAME", ""])
async def test_every_project_method_says_an_unknown_project_is_not_found(
    client: httpx.AsyncClient, name: str,
) -> None:
    service, told = _recording_projects(client)
    calls = [service.get(name), service.delete(name, actor="carol"),
             service.start(name, actor="carol"), service.stop(name, actor="carol"),
             service.set_environment(name, {}, actor="carol"),
             service.set_dependencies(name, [], actor="carol")]
    for call in calls:
        with pytest.raises(NotFound) as caught:
            await call
        assert caught.value.code == "PROJECT_NOT_FOUND"
        assert caught.value.message == f"project '{name}' does not exist"
    assert told == []


# -- webhooks ---------------------------------------------------------------------------------

async def test_register_records_who_registered_and_remove_forgets_it(
    client: httpx.AsyncClient, database_url: str,
) -> None:
    service: WebhookService = _services(client).webhooks
    body = parse(WebhookCreate, {"url": "https://93.184.216.34/hook", "secret": "s",
                                 "events": ["job.failed", "job.failed"]})
    webhook = await service.register(body, actor="root")
    assert webhook.url == "https://93.184.216.34/hook" and list(webhook.events) == ["job.failed"]
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT created_by FROM webhooks WHERE id = $1",
                                   webhook.id) == "root"
    finally:
        await conn.close()
    assert [w.id for w in await service.registered()] == [webhook.id]
    await service.remove(webhook.id)
    assert await service.registered() == []
    with pytest.raises(NotFound) as caught:
        await service.remove(webhook.id)
    assert caught.value.message == f"webhook '{webhook.id}' does not exist"


async def test_register_refuses_a_url_naming_the_field_and_the_reason(
    client: httpx.AsyncClient,
) -> None:
    service: WebhookService = _services(client).webhooks
    body = parse(WebhookCreate, {"url": "ftp://example.com/hook", "secret": "s",
                                 "events": ["job.failed"]})
    with pytest.raises(InvalidRequest) as caught:
        await service.register(body, actor="root")
    assert caught.value.details == {"field": "url", "reason": "scheme"}
    assert await service.registered() == []
