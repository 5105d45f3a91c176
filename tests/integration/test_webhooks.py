"""Webhooks and X-Callback-URL callbacks against real PostgreSQL and local receivers."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.conftest import IN_CI, auth, running_app, wait_for
from tests.integration.test_functions_api import WRITER, assert_error, create

ADMIN = auth("admin", sub="root")
SECRET = "whsec-test-0123456789"
CALLBACK_SECRET = "callback-secret-for-tests"
FAILS_ON_DEMAND = (
    "def handler(event):\n"
    "    if event.get('fail'):\n"
    "        raise ValueError('asked to fail')\n"
    "    return {'echo': event}\n"
)


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """A tiny HTTP/1.1 server on 127.0.0.1 answering from a script of status codes."""

    def __init__(self, statuses: list[int] | None = None, default: int = 200,
                 extra_headers: dict[str, str] | None = None) -> None:
        self.requests: list[Received] = []
        self.statuses = list(statuses or [])
        self.default = default
        self.extra_headers = extra_headers or {}
        self.port = 0
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def start(self) -> Receiver:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line.strip():
                    break
                method, path, _ = line.decode().split(" ", 2)
                headers: dict[str, str] = {}
                while True:
                    raw = await reader.readline()
                    if raw in (b"\r\n", b"\n", b""):
                        break
                    name, _, value = raw.decode().partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.requests.append(Received(method, path, headers, body))
                status = self.statuses.pop(0) if self.statuses else self.default
                extra = "".join(f"{k}: {v}\r\n" for k, v in self.extra_headers.items())
                writer.write(f"HTTP/1.1 {status} X\r\n{extra}Content-Length: 0\r\n\r\n".encode())
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


@contextlib.asynccontextmanager
async def receiving(**kwargs: Any) -> AsyncIterator[Receiver]:
    receiver = await Receiver(**kwargs).start()
    try:
        yield receiver
    finally:
        await receiver.stop()


def settings_for(settings_factory: Callable[..., Any], **overrides: Any) -> Any:
    values = {"allow_private_callbacks": True, "callback_secret": CALLBACK_SECRET,
              "webhook_retry_backoff_s": 0.05, "webhook_poll_s": 0.1}
    values.update(overrides)
    return settings_factory(**values)


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def add_webhook(client: httpx.AsyncClient, url: str, events: list[str],
                      secret: str = SECRET) -> dict[str, Any]:
    r = await client.post("/api/v1/webhooks", json={"url": url, "events": events,
                                                    "secret": secret}, headers=ADMIN)
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def delivery_row(client: httpx.AsyncClient, delivery_id: str) -> dict[str, Any]:
    store = client.app.state.services.webhooks.store  # type: ignore[attr-defined]
    row = await store.get_delivery(int(delivery_id))
    assert row is not None
    return dict(row)


async def finished_row(client: httpx.AsyncClient, delivery_id: str) -> dict[str, Any]:
    """The delivery's row once its outcome is recorded (delivered or failed)."""

    async def finished() -> dict[str, Any] | None:
        row = await delivery_row(client, delivery_id)
        return row if row["status"] in ("delivered", "failed") else None

    row: dict[str, Any] = await wait_for(finished)
    return row


# -- webhook CRUD -----------------------------------------------------------------------


@pytest.fixture
async def app(settings_factory: Callable[..., Any]) -> AsyncIterator[httpx.AsyncClient]:
    async with running_app(settings_for(settings_factory)) as c:
        yield c


@pytest.fixture
async def strict_app(settings_factory: Callable[..., Any]) -> AsyncIterator[httpx.AsyncClient]:
    """Private callback and webhook targets not allowed (the default)."""
    async with running_app(settings_for(settings_factory,
                                        allow_private_callbacks=False)) as c:
        yield c


async def test_create_list_delete_with_the_secret_masked(app: httpx.AsyncClient) -> None:
    created = await add_webhook(app, "http://127.0.0.1:9/hook",
                                ["job.failed", "function.created", "job.failed"])
    assert created["url"] == "http://127.0.0.1:9/hook"
    assert created["events"] == ["job.failed", "function.created"]
    assert created["secret"] == "***"
    assert isinstance(created["id"], int) and created["created_at"].endswith("Z")
    r = await app.get("/api/v1/webhooks", headers=ADMIN)
    assert r.status_code == 200
    assert r.json() == {"webhooks": [created]}
    assert SECRET not in r.text
    r = await app.delete(f"/api/v1/webhooks/{created['id']}", headers=ADMIN)
    assert r.status_code == 204 and r.content == b""
    assert (await app.get("/api/v1/webhooks", headers=ADMIN)).json() == {"webhooks": []}


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/api/v1/webhooks"), ("POST", "/api/v1/webhooks"), ("DELETE", "/api/v1/webhooks/1"),
])
async def test_every_webhook_route_needs_admin(app: httpx.AsyncClient, method: str,
                                               path: str) -> None:
    body = {"url": "http://127.0.0.1:9/", "events": ["job.failed"], "secret": "s"}
    kwargs: dict[str, Any] = {"json": body} if method == "POST" else {}
    r = await app.request(method, path, headers=WRITER, **kwargs)
    error = assert_error(r, 403, "FORBIDDEN")
    assert error["error"]["details"] == {"required_scope": "admin"}
    r = await app.request(method, path, **kwargs)
    assert_error(r, 401, "UNAUTHORIZED")


@pytest.mark.parametrize(("body", "field", "reason"), [
    ({"events": ["job.failed"], "secret": "s"}, "url", None),
    ({"url": 5, "events": ["job.failed"], "secret": "s"}, "url", None),
    ({"url": "ftp://example.com/x", "events": ["job.failed"], "secret": "s"}, "url", "scheme"),
    ({"url": "not a url", "events": ["job.failed"], "secret": "s"}, "url", "scheme"),
    ({"url": "http:///nohost", "events": ["job.failed"], "secret": "s"}, "url", "invalid"),
    ({"url": "http://127.0.0.1:9/", "events": [], "secret": "s"}, "events", None),
    ({"url": "http://127.0.0.1:9/", "events": "job.failed", "secret": "s"}, "events", None),
    ({"url": "http://127.0.0.1:9/", "events": ["job.exploded"], "secret": "s"}, "events", None),
    ({"url": "http://127.0.0.1:9/", "events": ["job.failed"]}, "secret", None),
    ({"url": "http://127.0.0.1:9/", "events": ["job.failed"], "secret": ""}, "secret", None),
    ({"url": "http://127.0.0.1:9/", "events": ["job.failed"], "secret": "x" * 1025},
     "secret", None),
])
async def test_invalid_webhook_bodies_are_400(app: httpx.AsyncClient, body: dict[str, Any],
                                              field: str, reason: str | None) -> None:
    r = await app.post("/api/v1/webhooks", json=body, headers=ADMIN)
    details = assert_error(r, 400, "INVALID_REQUEST")["error"]["details"]
    assert details["field"] == field
    if reason is not None:
        assert details["reason"] == reason
    if field == "events":
        assert "job.succeeded" in details["allowed"]
    assert (await app.get("/api/v1/webhooks", headers=ADMIN)).json() == {"webhooks": []}


async def test_a_body_that_is_not_an_object_is_400(app: httpx.AsyncClient) -> None:
    r = await app.post("/api/v1/webhooks", json=["http://x"], headers=ADMIN)
    assert_error(r, 400, "INVALID_REQUEST")
    r = await app.post("/api/v1/webhooks", content=b"{nope", headers=ADMIN)
    assert_error(r, 400, "INVALID_REQUEST")


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8080/hook", "http://localhost/hook", "http://10.1.2.3/",
    "https://192.168.0.10/x", "http://169.254.169.254/latest/meta-data/", "http://[::1]/",
    "http://[::ffff:127.0.0.1]/", "http://0.0.0.0/", "http://2130706433/",
])
async def test_private_webhook_urls_are_refused_unless_allowed(
    strict_app: httpx.AsyncClient, url: str,
) -> None:
    r = await strict_app.post("/api/v1/webhooks", json={
        "url": url, "events": ["job.failed"], "secret": "s"}, headers=ADMIN)
    details = assert_error(r, 400, "INVALID_REQUEST")["error"]["details"]
    assert details == {"field": "url", "reason": "private_address"}
    assert (await strict_app.get("/api/v1/webhooks", headers=ADMIN)).json() == {"webhooks": []}


async def test_a_host_that_does_not_resolve_is_refused(strict_app: httpx.AsyncClient) -> None:
    r = await strict_app.post("/api/v1/webhooks", json={
        "url": "http://no-such-host.invalid/hook", "events": ["job.failed"], "secret": "s",
    }, headers=ADMIN)
    details = assert_error(r, 400, "INVALID_REQUEST")["error"]["details"]
    assert details == {"field": "url", "reason": "unresolvable"}


@pytest.mark.parametrize("ident", ["999", "abc", "1" * 30])
async def test_deleting_an_unknown_webhook_is_404(app: httpx.AsyncClient, ident: str) -> None:
    r = await app.delete(f"/api/v1/webhooks/{ident}", headers=ADMIN)
    body = assert_error(r, 404, "NOT_FOUND")
    assert body["error"]["message"] == f"webhook '{ident}' does not exist"


# -- deliveries -------------------------------------------------------------------------


async def test_a_local_receiver_gets_a_correctly_signed_delivery(
    app: httpx.AsyncClient,
) -> None:
    async with receiving() as receiver:
        await add_webhook(app, receiver.url, ["job.succeeded"])
        assert (await create(app, name="calc", code=FAILS_ON_DEMAND)).status_code == 201
        r = await app.post("/api/v1/functions/calc/invoke", json={"n": 1}, headers=WRITER)
        assert r.status_code == 200, r.text
        job = r.json()
        await wait_for(lambda: receiver.requests)
        [got] = receiver.requests
    assert got.method == "POST" and got.path == "/hook"
    assert got.headers["content-type"] == "application/json"
    assert hmac.compare_digest(got.headers["x-fngate-signature"], signature(SECRET, got.body))
    assert got.headers["x-fngate-event"] == "job.succeeded"
    assert got.headers["user-agent"].startswith("fngate/")
    body = got.json()
    assert set(body) == {"event", "created_at", "data"}
    assert body["event"] == "job.succeeded" and body["created_at"].endswith("Z")
    assert body["data"] == job
    row = await finished_row(app, got.headers["x-fngate-delivery"])
    assert row["status"] == "delivered" and row["attempts"] == 1
    assert row["last_status_code"] == 200


async def test_only_subscribed_events_are_delivered(app: httpx.AsyncClient) -> None:
    async with receiving() as receiver:
        await add_webhook(app, receiver.url, ["job.failed"])
        assert (await create(app, name="calc", code=FAILS_ON_DEMAND)).status_code == 201
        ok = await app.post("/api/v1/functions/calc/invoke", json={}, headers=WRITER)
        failed = await app.post("/api/v1/functions/calc/invoke", json={"fail": True},
                                headers=WRITER)
        assert failed.json()["status"] == "failed"
        await wait_for(lambda: receiver.requests)
        await asyncio.sleep(0.3)
        assert [r.json()["data"]["id"] for r in receiver.requests] == [failed.json()["id"]]
        assert ok.json()["id"] != failed.json()["id"]
        assert receiver.requests[0].json()["data"]["error"]["code"] == "RUNTIME_ERROR"


async def test_a_receiver_failing_twice_gets_the_third_attempt(app: httpx.AsyncClient) -> None:
    async with receiving(statuses=[500, 503]) as receiver:
        await add_webhook(app, receiver.url, ["job.succeeded"])
        assert (await create(app, name="calc", code=FAILS_ON_DEMAND)).status_code == 201
        assert (await app.post("/api/v1/functions/calc/invoke", json={},
                               headers=WRITER)).status_code == 200
        await wait_for(lambda: len(receiver.requests) >= 3)
        await asyncio.sleep(0.3)
        requests = list(receiver.requests)
    assert len(requests) == 3
    assert len({r.body for r in requests}) == 1  # the same body every time
    assert len({r.headers["x-fngate-delivery"] for r in requests}) == 1
    for r in requests:
        assert r.headers["x-fngate-signature"] == signature(SECRET, r.body)
    row = await finished_row(app, requests[0].headers["x-fngate-delivery"])
    assert row["status"] == "delivered" and row["attempts"] == 3
    assert [a["status_code"] for a in row["attempt_log"]] == [500, 503, 200]
    assert row["attempt_log"][0]["error"] == "the receiver answered 500"


async def test_a_delivery_is_retried_five_times_then_recorded_as_failed(
    app: httpx.AsyncClient,
) -> None:
    async with receiving(default=500) as receiver:
        await add_webhook(app, receiver.url, ["function.created"])
        assert (await create(app, name="calc")).status_code == 201
        await wait_for(lambda: len(receiver.requests) >= 6, timeout_s=15)
        delivery = receiver.requests[0].headers["x-fngate-delivery"]

        async def failed() -> bool:
            return (await delivery_row(app, delivery))["status"] == "failed"

        await wait_for(failed)
        await asyncio.sleep(0.5)
        assert len(receiver.requests) == 6  # the first try and 5 retries
    row = await delivery_row(app, delivery)
    assert row["attempts"] == 6 and row["last_status_code"] == 500
    assert row["finished_at"] is not None and len(row["attempt_log"]) == 6


async def test_redirects_are_not_followed(app: httpx.AsyncClient) -> None:
    async with receiving() as target:
        async with receiving(default=302,
                             extra_headers={"Location": target.url}) as redirector:
            await add_webhook(app, redirector.url, ["function.created"])
            assert (await create(app, name="calc")).status_code == 201
            await wait_for(lambda: len(redirector.requests) >= 2)
            assert target.requests == []
            row = await delivery_row(app, redirector.requests[0].headers["x-fngate-delivery"])
    assert row["attempt_log"][0]["status_code"] == 302


async def test_function_events_carry_the_function_without_code_or_env_values(
    app: httpx.AsyncClient,
) -> None:
    events = ["function.created", "function.deployed", "function.deleted"]
    async with receiving() as receiver:
        await add_webhook(app, receiver.url, events)
        r = await create(app, name="calc", environment={"TOKEN": "hunter2"})
        assert r.status_code == 201
        await wait_for(lambda: len(receiver.requests) >= 2)
        r = await app.put("/api/v1/functions/calc", json={"code": "def handler(e):\n  return 2\n"},
                          headers=WRITER)
        assert r.status_code == 200, r.text
        await wait_for(lambda: len(receiver.requests) >= 3)
        assert (await app.delete("/api/v1/functions/calc", headers=WRITER)).status_code == 204
        await wait_for(lambda: len(receiver.requests) >= 4)
        bodies = [r.json() for r in receiver.requests]
    assert sorted(b["event"] for b in bodies[:2]) == ["function.created", "function.deployed"]
    assert [b["event"] for b in bodies[2:]] == ["function.deployed", "function.deleted"]
    for b in bodies:
        assert b["data"]["name"] == "calc"
        assert "code" not in b["data"]
        assert b["data"]["environment"] == {"TOKEN": "***"}
    assert bodies[2]["data"]["version"] == 2
    assert all(b"hunter2" not in r.body for r in receiver.requests)


async def test_a_build_failure_is_delivered_as_function_failed(app: httpx.AsyncClient) -> None:
    services = app.app.state.services  # type: ignore[attr-defined]
    async with receiving() as receiver:
        await add_webhook(app, receiver.url, ["function.failed", "function.deployed"])
        assert (await create(app, name="calc")).status_code == 201
        function = await services.functions.get("calc")
        # What the build manager tells its listeners when a build of version 2 fails.
        for listener in services.builds.on_finished:
            listener(function.id, 2, False, False)
        await wait_for(lambda: len(receiver.requests) >= 2)
        await asyncio.sleep(0.2)
        events = sorted(r.json()["event"] for r in receiver.requests)
    assert events == ["function.deployed", "function.failed"]
    failed = next(r.json() for r in receiver.requests if r.json()["event"] == "function.failed")
    assert failed["data"]["version"] == 2 and failed["data"]["name"] == "calc"


async def test_a_real_build_failure_is_delivered_as_function_failed(
    app: httpx.AsyncClient,
) -> None:
    from bench.scenarios.dependency_build import registries_reachable

    if not registries_reachable():
        if IN_CI:
            pytest.fail("package registries unreachable (CI=true)")
        pytest.skip("package registries unreachable")
    async with receiving() as receiver:
        assert (await create(app, name="steady")).status_code == 201
        await add_webhook(app, receiver.url, ["function.failed", "function.deployed"])
        r = await app.put("/api/v1/functions/steady", headers=WRITER, json={
            "code": "def handler(e):\n    return 'v2'\n",
            "dependencies": ["no-such-package-fngate-xyz==1.0"]})
        assert r.status_code == 200, r.text
        await wait_for(lambda: receiver.requests, timeout_s=180)
        await asyncio.sleep(0.3)
        bodies = [r.json() for r in receiver.requests]
    assert [b["event"] for b in bodies] == ["function.failed"]
    assert bodies[0]["data"]["version"] == 2 and bodies[0]["data"]["active_version"] == 1


async def test_a_deleted_webhook_gets_nothing_more(app: httpx.AsyncClient) -> None:
    async with receiving() as receiver:
        hook = await add_webhook(app, receiver.url, ["function.created"])
        assert (await app.delete(f"/api/v1/webhooks/{hook['id']}",
                                 headers=ADMIN)).status_code == 204
        assert (await create(app, name="calc")).status_code == 201
        await asyncio.sleep(0.4)
        assert receiver.requests == []


async def test_a_private_address_is_refused_again_at_delivery_time(
    strict_app: httpx.AsyncClient,
) -> None:
    services = strict_app.app.state.services  # type: ignore[attr-defined]
    async with receiving() as receiver:
        # As if the name had resolved to a public address when it was registered.
        await services.webhooks.store.create(url=receiver.url, events=["function.created"],
                                             secret=SECRET, created_by="root")
        await services.webhooks.refresh()
        assert (await create(strict_app, name="calc")).status_code == 201

        async def recorded() -> Any:
            return await services.pool.fetchrow(
                "SELECT * FROM webhook_deliveries WHERE status = 'failed'")

        row = await wait_for(recorded)
        assert receiver.requests == []
    assert row["attempts"] == 1  # not retried
    assert row["last_error"].startswith("refused: ")


async def test_an_accepted_delivery_survives_a_restart(
    settings_factory: Callable[..., Any],
) -> None:
    settings = settings_for(settings_factory, webhook_retry_backoff_s=1.0)
    async with receiving(statuses=[500]) as receiver:
        async with running_app(settings) as first:
            await add_webhook(first, receiver.url, ["function.created"])
            assert (await create(first, name="calc")).status_code == 201
            await wait_for(lambda: receiver.requests)
            delivery = receiver.requests[0].headers["x-fngate-delivery"]

            async def retry_scheduled() -> bool:
                row = await delivery_row(first, delivery)
                return row["status"] == "pending" and len(row["attempt_log"]) == 1

            await wait_for(retry_scheduled)
        # The retry was due after the first gateway stopped: the next one sends it.
        async with running_app(settings) as second:
            await wait_for(lambda: len(receiver.requests) >= 2)

            async def delivered() -> Any:
                row = await delivery_row(second, delivery)
                return row if row["status"] == "delivered" else None

            row = await wait_for(delivered)
        assert receiver.requests[1].headers["x-fngate-delivery"] == delivery
        assert receiver.requests[1].body == receiver.requests[0].body
    assert row["status"] == "delivered" and row["attempts"] == 2


# -- callbacks --------------------------------------------------------------------------


async def test_a_callback_url_receives_the_finished_sync_job(app: httpx.AsyncClient) -> None:
    async with receiving() as receiver:
        assert (await create(app, name="calc", code=FAILS_ON_DEMAND)).status_code == 201
        r = await app.post("/api/v1/functions/calc/invoke", json={"n": 7},
                           headers={**WRITER, "X-Callback-URL": receiver.url})
        assert r.status_code == 200, r.text
        await wait_for(lambda: receiver.requests)
        [got] = receiver.requests
    assert got.json() == r.json()
    assert got.json()["result"] == {"echo": {"n": 7}}
    assert got.headers["x-fngate-signature"] == signature(CALLBACK_SECRET, got.body)
    assert got.headers["x-fngate-event"] == "job.succeeded"


async def test_a_callback_url_receives_the_finished_async_job(app: httpx.AsyncClient) -> None:
    async with receiving() as receiver:
        assert (await create(app, name="calc", code=FAILS_ON_DEMAND)).status_code == 201
        r = await app.post("/api/v1/functions/calc/invoke-async", json={"fail": True},
                           headers={**WRITER, "X-Callback-URL": receiver.url})
        assert r.status_code == 202, r.text
        assert r.json()["status"] == "pending"
        await wait_for(lambda: receiver.requests)
        [got] = receiver.requests
        job = (await app.get(f"/api/v1/jobs/{r.json()['id']}", headers=WRITER)).json()
    body = got.json()
    assert body == job
    assert body["status"] == "failed" and body["error"]["code"] == "RUNTIME_ERROR"
    assert got.headers["x-fngate-signature"] == signature(CALLBACK_SECRET, got.body)
    assert got.headers["x-fngate-event"] == "job.failed"


async def test_an_idempotent_replay_does_not_call_back_twice(app: httpx.AsyncClient) -> None:
    async with receiving() as receiver:
        assert (await create(app, name="calc", code=FAILS_ON_DEMAND)).status_code == 201
        headers = {**WRITER, "X-Callback-URL": receiver.url, "Idempotency-Key": "k1"}
        first = await app.post("/api/v1/functions/calc/invoke", json={}, headers=headers)
        second = await app.post("/api/v1/functions/calc/invoke", json={}, headers=headers)
        assert first.json()["id"] == second.json()["id"]
        await wait_for(lambda: receiver.requests)
        await asyncio.sleep(0.3)
        assert len(receiver.requests) == 1


_FAIL_CALLBACKS = """
CREATE FUNCTION test_refuse_callbacks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'callback store down'; END $$;
CREATE TRIGGER test_refuse_callbacks BEFORE INSERT ON webhook_deliveries
FOR EACH ROW WHEN (NEW.kind = 'callback') EXECUTE FUNCTION test_refuse_callbacks();
"""


@pytest.mark.parametrize(("path", "key", "status"), [
    ("invoke-async", None, 202),
    ("invoke-async", "k-async", 202),
    ("invoke", None, 200),
    ("invoke", "k-sync", 200),
])
async def test_a_callback_that_cannot_be_queued_fails_the_call_and_records_no_job(
    app: httpx.AsyncClient, database_url: str, path: str, key: str | None, status: int,
) -> None:
    """The callback's row cannot be written (a fault of PostgreSQL's, injected with a
    trigger): the call answers our 500 body, and no job was accepted or run, instead of a
    202 whose callback never comes. Once the fault is gone the same call succeeds and its
    callback arrives."""
    import asyncpg

    conn = await asyncpg.connect(database_url)
    try:
        async with receiving() as receiver:
            assert (await create(app, name="calc", code=FAILS_ON_DEMAND)).status_code == 201
            headers = {**WRITER, "X-Callback-URL": receiver.url}
            if key is not None:
                headers["Idempotency-Key"] = key
            await conn.execute(_FAIL_CALLBACKS)
            # A 500 re-raises inside the app; this client reports it as the response only.
            transport = httpx.ASGITransport(app=app.app,  # type: ignore[attr-defined]
                                            raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as raw:
                r = await raw.post(f"/api/v1/functions/calc/{path}", json={"n": 1},
                                   headers=headers)
            assert_error(r, 500, "INTERNAL_ERROR")
            assert "callback store down" not in r.text
            assert await conn.fetchval("SELECT count(*) FROM jobs") == 0
            await conn.execute("DROP TRIGGER test_refuse_callbacks ON webhook_deliveries")
            r = await app.post(f"/api/v1/functions/calc/{path}", json={"n": 1},
                               headers=headers)
            assert r.status_code == status, r.text
            await wait_for(lambda: receiver.requests)
            [got] = receiver.requests
        assert got.json()["id"] == r.json()["id"]
        assert got.json()["result"] == {"echo": {"n": 1}}
    finally:
        await conn.close()


@pytest.mark.parametrize("path", ["invoke", "invoke-async"])
@pytest.mark.parametrize(("url", "reason"), [
    ("http://127.0.0.1:9/cb", "private_address"),
    ("http://localhost:9/cb", "private_address"),
    ("http://[fe80::1]/cb", "private_address"),
    ("ftp://example.com/cb", "scheme"),
    ("http://", "invalid"),
])
async def test_a_refused_callback_url_is_400_and_nothing_runs(
    strict_app: httpx.AsyncClient, path: str, url: str, reason: str,
) -> None:
    assert (await create(strict_app, name="calc")).status_code == 201
    r = await strict_app.post(f"/api/v1/functions/calc/{path}", json={},
                              headers={**WRITER, "X-Callback-URL": url})
    details = assert_error(r, 400, "INVALID_REQUEST")["error"]["details"]
    assert details == {"header": "X-Callback-URL", "reason": reason}
    jobs = (await strict_app.get("/api/v1/functions/calc/jobs", headers=WRITER)).json()
    assert jobs["jobs"] == []


# -- replicas ---------------------------------------------------------------------------


async def test_concurrent_claims_never_take_the_same_delivery(database_url: str) -> None:
    from gateway.store.pool import create_pool
    from gateway.store.webhooks import WebhookStore

    pool = await create_pool(database_url, min_size=4, max_size=8)
    try:
        store = WebhookStore(pool)
        await store.create(url="http://127.0.0.1:9/", events=["job.failed"], secret=SECRET,
                           created_by="root")
        for _ in range(20):
            assert await store.enqueue_event("job.failed", project=None, payload={"n": 1}) == 1
        rounds = await asyncio.gather(*(store.claim(8, lease_s=0.5) for _ in range(4)))
        ids = [d.id for claimed in rounds for d in claimed]
        assert len(ids) == len(set(ids)) == 20
        assert all(d.secret == SECRET and d.attempts == 1 for c in rounds for d in c)
        # Leased: nobody else gets them until the lease runs out (a replica died) ...
        assert await store.claim(20, lease_s=0.5) == []
        await asyncio.sleep(0.6)
        # ... then they are taken over, and an outcome under the old lease is not recorded.
        taken = await store.claim(20, lease_s=30)
        assert sorted(d.id for d in taken) == sorted(ids)
        old = next(d for claimed in rounds for d in claimed)  # any round may be empty
        assert not await store.record(old, "delivered", status_code=200, error=None,
                                      duration_ms=1.0)
    finally:
        await pool.close()


async def test_two_gateways_send_each_delivery_once(
    settings_factory: Callable[..., Any],
) -> None:
    settings = settings_for(settings_factory, webhook_poll_s=0.02)
    async with receiving() as receiver:
        async with running_app(settings) as first, running_app(settings) as second:
            await add_webhook(first, receiver.url, ["function.created"])
            for n in range(10):
                gateway = first if n % 2 else second
                assert (await create(gateway, name=f"fn-{n}")).status_code == 201
            await wait_for(lambda: len(receiver.requests) >= 10)
            await asyncio.sleep(0.5)
    names = sorted(r.json()["data"]["name"] for r in receiver.requests)
    assert names == sorted(f"fn-{n}" for n in range(10))
