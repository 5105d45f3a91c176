"""Trigger bodies through the API, property style: each field of a valid http, cron and
queue trigger replaced by ``{}``, ``[]``, ``1``, ``true``, ``null`` and ``"x"`` — on the
``triggers`` of a function create, on ``POST …/triggers`` and on ``PUT …/triggers/{id}``
— never answers 500 (schemathesis found ``"type": {}`` answering 500)."""

from __future__ import annotations

import contextlib
import copy
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import aio_pika
import httpx

from tests.conftest import need_service, running_app
from tests.integration.queue_support import AMQP_URL
from tests.integration.test_functions_api import WRITER, assert_error, create

ODD_VALUES: list[Any] = [{}, [], 1, True, None, "x"]
_TYPE_RULE = "must be one of http, cron (alias schedule), queue"


def _valid(queue: str) -> dict[str, dict[str, Any]]:
    return {
        "http": {"type": "http", "name": "t", "enabled": True,
                 "config": {"path": "/hello", "methods": ["GET"], "public": False}},
        "cron": {"type": "cron", "name": "c", "enabled": True,
                 "config": {"schedule": "0 3 * * *", "timezone": "UTC", "payload": {},
                            "misfire": "run_once"}},
        # Disabled, and on this test's own queue, so no replaced value starts a consumer
        # anywhere else; "enabled": true consumes this queue, deleted afterwards.
        "queue": {"type": "queue", "name": "q", "enabled": False,
                  "config": {"queue": queue, "exchange": "", "routing_key": "",
                             "prefetch": 10, "dead_letter": True}},
    }


def _mutations(body: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for key in body:
        for value in ODD_VALUES:
            yield key, {**copy.deepcopy(body), key: value}
    for key in body["config"]:
        for value in ODD_VALUES:
            changed = copy.deepcopy(body)
            changed["config"][key] = value
            yield f"config.{key}", changed


async def _check_every_mutation(client: httpx.AsyncClient, kind: str,
                                body: dict[str, Any]) -> list[Any]:
    """The requests that answered something other than 2xx/400/409 with our error body."""
    await create(client, name=f"base-{kind}")
    r = await client.post(f"/api/v1/functions/base-{kind}/triggers", headers=WRITER,
                          json={**body, "config": {**body["config"], "path": f"/{kind}"}}
                          if kind == "http" else body)
    assert r.status_code == 201, r.text
    trigger_id = r.json()["id"]
    wrong = []
    for index, (field, changed) in enumerate(_mutations(body)):
        attempts: list[tuple[str, str, Callable[[], Any]]] = [
            ("create", f"triggers[0].{field}", lambda c=changed, i=index: client.post(
                "/api/v1/functions", headers=WRITER,
                json={"name": f"{kind}-{i}", "runtime": "python",
                      "code": "def handler(e):\n    return e\n", "triggers": [c]})),
            ("add", field, lambda c=changed: client.post(
                f"/api/v1/functions/base-{kind}/triggers", headers=WRITER, json=c)),
            ("update", field, lambda c=changed, f=field: client.put(
                f"/api/v1/functions/base-{kind}/triggers/{trigger_id}", headers=WRITER,
                json={k: v for k, v in c.items() if k != "type" or f == "type"})),
        ]
        for what, expected_field, send in attempts:
            response = await send()
            status = response.status_code
            if status in (200, 201, 409):
                continue
            if status != 400:
                wrong.append((what, field, changed, status, response.text[:200]))
                continue
            error = assert_error(response, 400, "INVALID_REQUEST")["error"]
            named = error["details"].get("field", "")
            if not (named.startswith(expected_field) or field == "type"
                    or f"'{field}'" in error["message"]):
                wrong.append((what, field, changed, named, error["message"]))
    return wrong


async def test_http_and_cron_trigger_fields_of_any_type_never_answer_500(
        client: httpx.AsyncClient) -> None:
    for kind in ("http", "cron"):
        assert await _check_every_mutation(client, kind, _valid("unused")[kind]) == []


async def test_queue_trigger_fields_of_any_type_never_answer_500(
        settings_factory: Callable[..., Any]) -> None:
    need_service("RabbitMQ", "127.0.0.1", 5672)
    queue = f"fngate-test-{uuid.uuid4().hex[:10]}"
    try:
        async with running_app(settings_factory(amqp_url=AMQP_URL)) as client:
            assert await _check_every_mutation(client, "queue", _valid(queue)["queue"]) == []
    finally:
        connection = await aio_pika.connect(AMQP_URL)
        async with connection:
            channel = await connection.channel()
            for name in (queue, queue + ".dlq", queue + ".fngate.retry"):
                with contextlib.suppress(Exception):
                    await channel.queue_delete(name)


async def test_a_trigger_type_that_is_an_object_is_400_naming_it(
        client: httpx.AsyncClient) -> None:
    r = await client.post("/api/v1/functions", headers=WRITER, json={
        "name": "typed", "runtime": "python", "code": "def handler(e):\n    return e\n",
        "triggers": [{"type": {}, "config": {"path": "/"}}]})
    assert assert_error(r, 400, "INVALID_REQUEST")["error"]["details"] == {
        "field": "triggers[0].type", "errors": [{
            "path": "triggers[0].type",
            "message": "must be one of http, cron (alias schedule), queue"}]}
    await create(client, name="typed")
    r = await client.post("/api/v1/functions/typed/triggers", headers=WRITER,
                          json={"type": [], "config": {"path": "/"}})
    assert assert_error(r, 400, "INVALID_REQUEST")["error"]["details"] == {
        "field": "type", "errors": [{"path": "type", "message": _TYPE_RULE}]}
    r = await client.post("/api/v1/functions/typed/triggers", headers=WRITER,
                          json={"type": "http", "config": {"path": "/typed"}})
    assert r.status_code == 201, r.text
    r = await client.put(f"/api/v1/functions/typed/triggers/{r.json()['id']}", headers=WRITER,
                         json={"type": {"http": 1}})
    assert assert_error(r, 400, "INVALID_REQUEST")["error"]["details"] == {
        "field": "type", "errors": [{"path": "type", "message": _TYPE_RULE}]}


async def test_unknown_trigger_fields_are_400_naming_the_field(
        client: httpx.AsyncClient) -> None:
    await create(client, name="strict")
    http = {"type": "http", "config": {"path": "/strict"}}
    cases = [
        ({**http, "evil": 1}, "evil"),
        ({**http, "config": {"path": "/strict", "verbs": ["GET"]}}, "config.verbs"),
        ({"type": "cron", "config": {"schedule": "0 3 * * *", "tz": "UTC"}}, "config"),
    ]
    for body, field in cases:
        r = await client.post("/api/v1/functions/strict/triggers", headers=WRITER, json=body)
        named = assert_error(r, 400, "INVALID_REQUEST")["error"]["details"]["field"]
        assert named.startswith(field), (body, r.text)
        r = await client.post("/api/v1/functions", headers=WRITER, json={
            "name": "strict2", "runtime": "python", "code": "def handler(e):\n    return e\n",
            "triggers": [body]})
        named = assert_error(r, 400, "INVALID_REQUEST")["error"]["details"]["field"]
        assert named.startswith(f"triggers[0].{field}"), (body, r.text)
    r = await client.post("/api/v1/functions/strict/triggers", headers=WRITER, json=http)
    assert r.status_code == 201, r.text
    r = await client.put(f"/api/v1/functions/strict/triggers/{r.json()['id']}",
                         headers=WRITER, json={"enabled": False, "evil": 1})
    assert assert_error(r, 400, "INVALID_REQUEST")["error"]["details"] == {
        "field": "evil", "errors": [{"path": "evil", "message": "is not a known field"}]}
    r = await client.get("/api/v1/functions/strict/triggers", headers=WRITER)
    assert [t["enabled"] for t in r.json()["triggers"]] == [True]
