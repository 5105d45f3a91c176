"""Trigger CRUD and HTTP triggers served under /fn/."""

from __future__ import annotations

import base64

import httpx

from tests.conftest import auth
from tests.integration.test_functions_api import READER, WRITER, assert_error, create

ECHO_EVENT = "def handler(event):\n    return event\n"
RUNNER = auth("execute:all")


async def add_trigger(client: httpx.AsyncClient, fn: str, body: dict) -> httpx.Response:
    return await client.post(f"/api/v1/functions/{fn}/triggers", json=body, headers=WRITER)


async def test_trigger_crud(client: httpx.AsyncClient) -> None:
    await create(client, name="t", code=ECHO_EVENT)
    r = await add_trigger(client, "t", {"type": "http", "name": "hello",
                                        "config": {"path": "/hello", "method": "post"}})
    assert r.status_code == 201, r.text
    t = r.json()
    assert t["type"] == "http" and t["enabled"] is True and t["name"] == "hello"
    assert t["config"] == {"path": "/hello", "methods": ["POST"], "public": False}
    listing = (await client.get("/api/v1/functions/t/triggers", headers=READER)).json()
    assert [x["id"] for x in listing["triggers"]] == [t["id"]]
    r = await client.put(f"/api/v1/functions/t/triggers/{t['id']}", headers=WRITER,
                         json={"enabled": False})
    assert r.status_code == 200 and r.json()["enabled"] is False
    assert r.json()["config"]["path"] == "/hello"
    r = await client.delete(f"/api/v1/functions/t/triggers/{t['id']}", headers=WRITER)
    assert r.status_code == 204
    assert_error(await client.delete(f"/api/v1/functions/t/triggers/{t['id']}", headers=WRITER),
                 404, "TRIGGER_NOT_FOUND")
    assert_error(await client.get("/api/v1/functions/t/triggers/abc", headers=READER), 404,
                 "TRIGGER_NOT_FOUND")


async def test_trigger_validation(client: httpx.AsyncClient) -> None:
    await create(client, name="v", code=ECHO_EVENT)
    await create(client, name="w", code=ECHO_EVENT)
    for body in ({"type": "smtp"}, {"type": "http", "config": {"path": "nope"}},
                 {"type": "http", "config": {"path": "/x", "methods": ["TRACE"]}},
                 {"type": "http", "config": {"path": "/x", "public": "yes"}},
                 {"type": "http", "enabled": "no", "config": {"path": "/x"}},
                 {"type": "http", "config": []}):
        assert_error(await add_trigger(client, "v", body), 400, "INVALID_REQUEST")
    r = await add_trigger(client, "v", {"type": "queue", "config": {"queue": "orders"}})
    body = assert_error(r, 400, "INVALID_REQUEST")
    assert "FNGATE_AMQP_URL" in body["error"]["message"]
    assert (await add_trigger(client, "v", {"type": "http", "config": {"path": "/dup"}})) \
        .status_code == 201
    assert_error(await add_trigger(client, "w", {"type": "http", "config": {"path": "/dup/"}}),
                 409, "CONFLICT")
    assert_error(await add_trigger(client, "nope", {"type": "http", "config": {"path": "/z"}}),
                 404, "FUNCTION_NOT_FOUND")
    r = await client.post("/api/v1/functions/v/triggers", headers=RUNNER,
                          json={"type": "http", "config": {"path": "/q"}})
    assert_error(r, 403, "FORBIDDEN")


async def test_http_trigger_event_and_auth(client: httpx.AsyncClient) -> None:
    await create(client, name="ev", code=ECHO_EVENT)
    await add_trigger(client, "ev", {"type": "http",
                                     "config": {"path": "/echo", "methods": ["GET", "POST"]}})
    assert_error(await client.post("/fn/echo", json={}), 401, "UNAUTHORIZED")
    r = await client.post("/fn/echo?a=1&a=2&b=x", json={"k": "v"},
                          headers={**RUNNER, "X-Custom": "Yes"})
    assert r.status_code == 200, r.text
    event = r.json()
    assert event["method"] == "POST" and event["path"] == "/echo"
    assert event["query"] == {"a": "2", "b": "x"} and event["body"] == {"k": "v"}
    assert event["headers"]["x-custom"] == "Yes" and "authorization" not in event["headers"]
    assert event["isBase64Encoded"] is False
    r = await client.post("/fn/echo", content=b"plain words",
                          headers={**RUNNER, "content-type": "text/plain"})
    assert r.json()["body"] == "plain words"
    r = await client.post("/fn/echo", content=b"\xff\x00\x01",
                          headers={**RUNNER, "content-type": "application/octet-stream"})
    assert r.json()["isBase64Encoded"] is True
    assert base64.b64decode(r.json()["body"]) == b"\xff\x00\x01"
    r = await client.put("/fn/echo", headers=RUNNER)
    assert r.status_code == 405 and "GET" in r.headers["allow"]
    assert_error(await client.get("/fn/nothing"), 404, "NOT_FOUND")
    r = await client.get("/fn/echo", headers=auth("execute:nodejs"))
    assert_error(r, 403, "FORBIDDEN")


async def test_public_trigger_and_status_code_mapping(client: httpx.AsyncClient) -> None:
    code = ("import base64\n"
            "def handler(event):\n"
            "    q = event['query']\n"
            "    if q.get('raw'):\n"
            "        return {'statusCode': 201, 'headers': {'X-Fn': '1'}, 'body': 'made'}\n"
            "    if q.get('bin'):\n"
            "        return {'statusCode': 200, 'isBase64Encoded': True,\n"
            "                'body': base64.b64encode(b'\\x00\\x01').decode()}\n"
            "    if q.get('json'):\n"
            "        return {'statusCode': 418, 'body': {'tea': True}}\n"
            "    if q.get('boom'):\n"
            "        raise RuntimeError('no')\n"
            "    return [1, 2]\n")
    await create(client, name="pub", code=code)
    await add_trigger(client, "pub", {"type": "http",
                                      "config": {"path": "/pub", "method": "GET", "public": True}})
    r = await client.get("/fn/pub")
    assert r.status_code == 200 and r.json() == [1, 2] and r.headers["x-job-id"]
    r = await client.get("/fn/pub?raw=1")
    assert r.status_code == 201 and r.text == "made" and r.headers["x-fn"] == "1"
    r = await client.get("/fn/pub?bin=1")
    assert r.content == b"\x00\x01"
    r = await client.get("/fn/pub?json=1")
    assert r.status_code == 418 and r.json() == {"tea": True}
    r = await client.get("/fn/pub?boom=1")
    body = assert_error(r, 500, "RUNTIME_ERROR")
    assert body["error"]["details"]["type"] == "RuntimeError"


async def test_http_trigger_timeout_is_504_and_disabled_is_404(client: httpx.AsyncClient) -> None:
    await create(client, name="slowfn", timeout_ms=300,
                 code="import time\ndef handler(e):\n    time.sleep(3)\n")
    t = (await add_trigger(client, "slowfn", {"type": "http",
                                              "config": {"path": "/slow", "public": True}})).json()
    assert_error(await client.get("/fn/slow"), 504, "TIMEOUT")
    await client.put(f"/api/v1/functions/slowfn/triggers/{t['id']}", headers=WRITER,
                     json={"enabled": False})
    assert_error(await client.get("/fn/slow"), 404, "NOT_FOUND")
    await client.delete("/api/v1/functions/slowfn", headers=WRITER)
    r = await add_trigger(client, "pub2", {"type": "http", "config": {"path": "/slow"}})
    assert r.status_code == 404


async def test_triggers_array_on_create_is_all_or_nothing(client: httpx.AsyncClient) -> None:
    r = await create(client, name="with-triggers", code=ECHO_EVENT, triggers=[
        {"type": "http", "config": {"path": "/made", "methods": ["GET"], "public": True}},
        {"type": "schedule", "config": {"cron": "0 3 * * *"}, "enabled": False},
    ])
    assert r.status_code == 201, r.text
    made = r.json()["triggers"]
    assert [t["type"] for t in made] == ["http", "cron"]
    assert made[1]["enabled"] is False and made[1]["next_run_at"] is None
    listing = (await client.get("/api/v1/functions/with-triggers/triggers",
                                headers=READER)).json()
    assert [t["id"] for t in listing["triggers"]] == [t["id"] for t in made]
    served = await client.get("/fn/made?x=1")
    assert served.status_code == 200 and served.json()["query"] == {"x": "1"}

    # A path another function already serves: 409, and neither function nor trigger exists.
    r = await create(client, name="second", code=ECHO_EVENT, triggers=[
        {"type": "cron", "config": {"schedule": "* * * * *"}},
        {"type": "http", "config": {"path": "/made"}},
    ])
    assert_error(r, 409, "CONFLICT")
    assert_error(await client.get("/api/v1/functions/second", headers=READER), 404,
                 "FUNCTION_NOT_FOUND")

    # Invalid entries: 400 naming the entry, nothing created.
    cases = [
        ("not-a-list", "triggers"),
        ([{"type": "http", "config": {"path": "no-slash"}}], "triggers[0].config.path"),
        ([{"type": "cron", "config": {"schedule": "61 * * * *"}}], "triggers[0].config.schedule"),
        ([{"type": "http", "config": {"path": "/a"}}, {"type": "http", "config": {"path": "/a"}}],
         "triggers[1]"),
        ([{"type": "queue", "config": {"queue": "q"}}], "triggers[0].type"),
        ([{"type": "mail"}], "triggers[0].type"),
    ]
    for triggers, field in cases:
        r = await create(client, name="third", code=ECHO_EVENT, triggers=triggers)
        assert_error(r, 400, "INVALID_REQUEST")
        assert r.json()["error"]["details"]["field"] == field, (triggers, r.json())
    assert_error(await client.get("/api/v1/functions/third", headers=READER), 404,
                 "FUNCTION_NOT_FOUND")

    # Not on update: triggers have their own routes once the function exists.
    r = await client.put("/api/v1/functions/with-triggers", headers=WRITER,
                         json={"triggers": [{"type": "http", "config": {"path": "/b"}}]})
    assert_error(r, 400, "INVALID_REQUEST")
