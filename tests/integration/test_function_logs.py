"""``GET /api/v1/functions/{ref}/logs``: filters, following with SSE, retention, errors."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from gateway.services.maintenance import LogRetention, prune_once
from gateway.store.pool import create_pool
from tests.conftest import auth, running_app
from tests.integration.test_functions_api import WRITER, assert_error, create

OPS = auth("read:jobs", sub="ops")
PRINTS = (
    "import sys\n"
    "def handler(event):\n"
    "    for i in range(event.get('n', 1)):\n"
    "        print(f\"{event['tag']} line {i}\")\n"
    "    print(f\"{event['tag']} oops\", file=sys.stderr)\n"
    "    return event['tag']\n"
)
PRINT_SLEEP_PRINT = (
    "import time\n"
    "def handler(event):\n"
    "    print('first')\n"
    "    time.sleep(1)\n"
    "    print('second')\n"
    "    return 'done'\n"
)


async def _invoke(client: httpx.AsyncClient, name: str, body: Any) -> dict:
    r = await client.post(f"/api/v1/functions/{name}/invoke", json=body, headers=WRITER)
    assert r.status_code == 200, r.text
    job: dict = r.json()
    return job


async def _logs(client: httpx.AsyncClient, name: str, **params: Any) -> list[dict]:
    r = await client.get(f"/api/v1/functions/{name}/logs", params=params, headers=OPS)
    assert r.status_code == 200, r.text
    lines: list[dict] = r.json()["logs"]
    return lines


def _messages(lines: list[dict]) -> list[str]:
    return [line["message"] for line in lines]


async def test_lines_come_oldest_first_with_every_field(client: httpx.AsyncClient) -> None:
    await create(client, name="printer", code=PRINTS)
    job = await _invoke(client, "printer", {"tag": "a", "n": 2})
    lines = await _logs(client, "printer")
    assert _messages(lines) == ["a line 0", "a line 1", "a oops"]
    assert [line["stream"] for line in lines] == ["stdout", "stdout", "stderr"]
    assert {line["job_id"] for line in lines} == {job["id"]}
    assert all(line["timestamp"].endswith("Z") for line in lines)
    assert set(lines[0]) == {"timestamp", "job_id", "stream", "message"}


async def test_limit_job_id_since_and_until_filter_the_lines(client: httpx.AsyncClient) -> None:
    await create(client, name="printer", code=PRINTS)
    first = await _invoke(client, "printer", {"tag": "a", "n": 2})
    await asyncio.sleep(0.05)
    middle = dt.datetime.now(dt.UTC)
    await asyncio.sleep(0.05)
    second = await _invoke(client, "printer", {"tag": "b", "n": 2})
    await _invoke(client, "printer", {"tag": "c", "n": 1})

    everything = await _logs(client, "printer")
    assert _messages(everything) == ["a line 0", "a line 1", "a oops", "b line 0", "b line 1",
                                     "b oops", "c line 0", "c oops"]
    # limit keeps the newest lines, still oldest first (like tail).
    assert _messages(await _logs(client, "printer", limit=3)) == ["b oops", "c line 0",
                                                                  "c oops"]
    only_b = await _logs(client, "printer", job_id=second["id"])
    assert _messages(only_b) == ["b line 0", "b line 1", "b oops"]
    assert _messages(await _logs(client, "printer", job_id=first["id"], limit=1)) == ["a oops"]
    assert _messages(await _logs(client, "printer", until=middle.isoformat())) == [
        "a line 0", "a line 1", "a oops"]
    after = await _logs(client, "printer", since=middle.isoformat().replace("+00:00", "Z"))
    assert _messages(after)[0] == "b line 0" and len(after) == 5
    window = await _logs(client, "printer", since=middle.isoformat(),
                         until=everything[-2]["timestamp"])
    assert _messages(window) == ["b line 0", "b line 1", "b oops"]
    assert _messages(await _logs(client, "printer", since="1h")) == _messages(everything)
    assert await _logs(client, "printer", job_id=str(uuid.uuid4())) == []


@pytest.mark.parametrize(("params", "parameter"), [
    ({"since": "last tuesday"}, "since"),
    ({"until": "2024-02-30T00:00:00Z"}, "until"),
    ({"since": "2024-05-02T00:00:00Z", "until": "2024-05-01T00:00:00Z"}, "until"),
    ({"since": "2024-05-01T00:00:00Z", "until": "2024-05-01T00:00:00Z"}, "until"),
    ({"limit": "0"}, "limit"),
    ({"limit": "1001"}, "limit"),
    ({"limit": "ten"}, "limit"),
    ({"job_id": "not-a-uuid"}, "job_id"),
    ({"follow": "maybe"}, "follow"),
    ({"since": "0001-01-01T00:00:00+14:00"}, "since"),
    ({"until": "9999-12-31T23:59:59-10:00"}, "until"),
])
async def test_bad_query_values_are_400s(client: httpx.AsyncClient, params: dict,
                                         parameter: str) -> None:
    await create(client, name="printer", code=PRINTS)
    r = await client.get("/api/v1/functions/printer/logs", params=params, headers=OPS)
    body = assert_error(r, 400, "INVALID_REQUEST")
    assert body["error"]["details"] == {"parameter": parameter}


async def test_unknown_function_is_a_404_and_scope_a_403(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/functions/nope/logs", headers=OPS)
    body = assert_error(r, 404, "FUNCTION_NOT_FOUND")
    assert body["error"]["details"] == {}
    await create(client, name="printer", code=PRINTS)
    for headers in (WRITER, auth("read:functions execute:all")):
        r = await client.get("/api/v1/functions/printer/logs", headers=headers)
        body = assert_error(r, 403, "FORBIDDEN")
        assert body["error"]["details"] == {"required_scope": "read:jobs"}
    r = await client.get("/api/v1/functions/printer/logs?follow=true", headers=WRITER)
    assert_error(r, 403, "FORBIDDEN")
    assert_error(await client.get("/api/v1/functions/printer/logs"), 401, "UNAUTHORIZED")


async def test_too_many_followers_is_a_429(client: httpx.AsyncClient,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway.services import logs

    await create(client, name="printer", code=PRINTS)
    monkeypatch.setattr(logs, "MAX_FOLLOWERS", 0)
    r = await client.get("/api/v1/functions/printer/logs?follow=true", headers=OPS)
    body = assert_error(r, 429, "RATE_LIMITED")
    assert body["error"]["details"] == {"max_followers": 0}
    assert r.headers["retry-after"] == "5"


# -- following --------------------------------------------------------------------------


class _EventStream:
    """Drives the ASGI app directly: httpx's ASGITransport buffers a whole response, so
    it cannot read a stream that never ends. Disconnects like a client closing."""

    def __init__(self, app: Any, path: str, headers: dict[str, str]) -> None:
        path, _, query = path.partition("?")
        self._scope = {
            "type": "http", "asgi": {"version": "3.0", "spec_version": "2.1"},
            "http_version": "1.1", "method": "GET", "scheme": "http", "path": path,
            "raw_path": path.encode(), "query_string": query.encode(), "root_path": "",
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
            "client": ("127.0.0.1", 5000), "server": ("fngate.test", 80),
            "state": {},
        }
        self._app = app
        self._gone = asyncio.Event()
        self._sent_body = False
        self.status = 0
        self.headers: dict[str, str] = {}
        self._chunks: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._buffer = b""
        self.task: asyncio.Task[None] | None = None

    async def _receive(self) -> dict[str, Any]:
        if not self._sent_body:
            self._sent_body = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await self._gone.wait()
        return {"type": "http.disconnect"}

    async def _send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = {k.decode().lower(): v.decode() for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            self._chunks.put_nowait(message.get("body", b""))
            if not message.get("more_body", False):
                self._chunks.put_nowait(None)

    async def start(self) -> None:
        self.task = asyncio.create_task(self._app(self._scope, self._receive, self._send))
        await self._read_chunk(10)  # the first chunk carries the response start

    async def _read_chunk(self, timeout_s: float) -> bool:
        async with asyncio.timeout(timeout_s):
            chunk = await self._chunks.get()
        if chunk is None:
            return False
        self._buffer += chunk
        return True

    async def events(self, count: int, timeout_s: float = 10) -> list[dict]:
        """The next ``count`` data events (keep-alive comments skipped)."""
        out: list[dict] = []
        while len(out) < count:
            while b"\n\n" not in self._buffer:
                if not await self._read_chunk(timeout_s):
                    raise AssertionError(f"stream ended after {out}")
            block, self._buffer = self._buffer.split(b"\n\n", 1)
            if block.startswith(b"data: "):
                out.append(json.loads(block[len(b"data: "):]))
        return out

    async def ended(self, timeout_s: float = 10) -> bytes:
        """Everything left until the server ends the stream by itself."""
        while await self._read_chunk(timeout_s):
            pass
        assert self.task is not None
        await asyncio.wait_for(self.task, timeout_s)
        return self._buffer

    async def disconnect(self, timeout_s: float = 5) -> None:
        self._gone.set()
        assert self.task is not None
        await asyncio.wait_for(self.task, timeout_s)


@contextlib.asynccontextmanager
async def _follow(client: httpx.AsyncClient, query: str) -> AsyncIterator[_EventStream]:
    app = client.app  # type: ignore[attr-defined]
    stream = _EventStream(app, f"/api/v1/functions/{query}", OPS)
    await stream.start()
    try:
        yield stream
    finally:
        if stream.task is not None and not stream.task.done():
            await stream.disconnect()


async def test_a_follower_gets_lines_while_the_function_still_runs(
    client: httpx.AsyncClient,
) -> None:
    await create(client, name="pacer", code=PRINT_SLEEP_PRINT)
    hub = client.app.state.services.dispatcher.live_logs  # type: ignore[attr-defined]
    function_id = (await client.get("/api/v1/functions/pacer", headers=WRITER)).json()["id"]
    async with _follow(client, "pacer/logs?follow=true") as stream:
        assert stream.status == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        assert stream.headers["cache-control"] == "no-cache"
        assert hub.subscribers(function_id) == 1
        run = asyncio.create_task(_invoke(client, "pacer", {}))
        (first,) = await stream.events(1)
        assert first["message"] == "first" and first["stream"] == "stdout"
        assert not run.done(), "the line must arrive while the function runs"
        (second,) = await stream.events(1)
        assert second["message"] == "second" and second["job_id"] == first["job_id"]
        job = await run
        assert job["id"] == first["job_id"]
        # The stored copy of those lines is not sent again.
        await asyncio.sleep(1.5)
        await _invoke(client, "pacer", {})
        third = await stream.events(2)
        assert _messages(third) == ["first", "second"] and third[0]["job_id"] != job["id"]
        await stream.disconnect()
    assert stream.task is not None and stream.task.done() and stream.task.exception() is None
    assert hub.subscribers(function_id) == 0


@pytest.mark.parametrize("spec_version", ["2.1", "2.4"])
async def test_a_follower_gone_before_the_first_chunk_leaves_no_subscription(
    client: httpx.AsyncClient, spec_version: str,
) -> None:
    """The client disconnects before the response starts: with ASGI 2.1 Starlette sees the
    disconnect first and cancels the stream before it is iterated; with 2.4 sending the
    response start fails. Either way the follow's subscription is let go."""
    created = await create(client, name="printer", code=PRINTS)
    function_id = created.json()["id"]
    hub = client.app.state.services.dispatcher.live_logs  # type: ignore[attr-defined]
    app = client.app  # type: ignore[attr-defined]
    stream = _EventStream(app, "/api/v1/functions/printer/logs?follow=true", OPS)
    stream._scope["asgi"]["spec_version"] = spec_version
    stream._gone.set()  # every receive after the request says the client is gone
    started: list[int] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            started.append(message["status"])
            raise OSError("connection reset by peer")

    with contextlib.suppress(Exception):
        await asyncio.wait_for(app(stream._scope, stream._receive, send), 10)
    if spec_version == "2.4":
        assert started == [200]
    assert hub.subscribers(function_id) == 0


async def test_a_follower_gone_after_the_first_chunk_leaves_no_subscription(
    client: httpx.AsyncClient,
) -> None:
    """Sending the first chunk fails (ASGI 2.4: the client is gone): the follow, paused at
    that chunk, is closed with the response, not whenever it is garbage collected."""
    created = await create(client, name="printer", code=PRINTS)
    function_id = created.json()["id"]
    hub = client.app.state.services.dispatcher.live_logs  # type: ignore[attr-defined]
    app = client.app  # type: ignore[attr-defined]
    stream = _EventStream(app, "/api/v1/functions/printer/logs?follow=true", OPS)
    stream._scope["asgi"]["spec_version"] = "2.4"
    subscribed: list[int] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            subscribed.append(hub.subscribers(function_id))
            raise OSError("connection reset by peer")

    with contextlib.suppress(Exception):
        await asyncio.wait_for(app(stream._scope, stream._receive, send), 10)
    assert subscribed == [1]
    assert hub.subscribers(function_id) == 0


async def test_a_follower_first_gets_the_backlog_then_lines_of_other_replicas(
    client: httpx.AsyncClient, database_url: str,
) -> None:
    created = await create(client, name="printer", code=PRINTS)
    function_id = created.json()["id"]
    await _invoke(client, "printer", {"tag": "a", "n": 3})
    async with _follow(client, "printer/logs?follow=true&limit=2") as stream:
        backlog = await stream.events(2)
        assert _messages(backlog) == ["a line 2", "a oops"]
        # Another replica's finished run: its lines appear in job_logs only.
        other_job = uuid.uuid4()
        conn = await asyncpg.connect(database_url)
        try:
            now = dt.datetime.now(dt.UTC)
            await conn.executemany(
                "INSERT INTO job_logs (job_id, function_id, timestamp, stream, message)"
                " VALUES ($1, $2, $3, 'stdout', $4)",
                [(other_job, function_id, now, "elsewhere 0"),
                 (other_job, function_id, now, "elsewhere 1")])
        finally:
            await conn.close()
        remote = await stream.events(2, timeout_s=5)
        assert _messages(remote) == ["elsewhere 0", "elsewhere 1"]
        assert {line["job_id"] for line in remote} == {str(other_job)}


async def test_following_a_finished_job_ends_the_stream(client: httpx.AsyncClient) -> None:
    await create(client, name="printer", code=PRINTS)
    job = await _invoke(client, "printer", {"tag": "z", "n": 1})
    async with _follow(client, f"printer/logs?follow=true&job_id={job['id']}") as stream:
        assert _messages(await stream.events(2)) == ["z line 0", "z oops"]
        rest = await stream.ended(timeout_s=10)
        assert b"data:" not in rest


async def test_a_follower_with_until_in_the_past_ends_after_the_backlog(
    client: httpx.AsyncClient,
) -> None:
    await create(client, name="printer", code=PRINTS)
    await _invoke(client, "printer", {"tag": "p", "n": 1})
    until = dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")
    async with _follow(client, f"printer/logs?follow=1&until={until}") as stream:
        assert _messages(await stream.events(2)) == ["p line 0", "p oops"]
        await stream.ended(timeout_s=5)


async def test_follow_answers_errors_as_json_before_streaming(
    client: httpx.AsyncClient,
) -> None:
    r = await client.get("/api/v1/functions/nope/logs?follow=true", headers=OPS)
    assert_error(r, 404, "FUNCTION_NOT_FOUND")
    await create(client, name="printer", code=PRINTS)
    r = await client.get("/api/v1/functions/printer/logs?follow=true&since=soon", headers=OPS)
    assert_error(r, 400, "INVALID_REQUEST")


# -- retention --------------------------------------------------------------------------


async def test_retention_prunes_by_age_and_by_count_per_function(database_url: str) -> None:
    pool = await create_pool(database_url, min_size=1, max_size=2)
    try:
        now = dt.datetime.now(dt.UTC)
        rows = []
        for function_id, count in ((1, 10), (2, 3)):
            for i in range(count):
                rows.append((uuid.uuid4(), function_id, now - dt.timedelta(minutes=count - i),
                             "stdout", f"f{function_id} {i}"))
        rows.append((uuid.uuid4(), 3, now - dt.timedelta(days=8), "stdout", "ancient"))
        async with pool.acquire() as conn:
            await conn.executemany(
                "INSERT INTO job_logs (job_id, function_id, timestamp, stream, message)"
                " VALUES ($1, $2, $3, $4, $5)", rows)
        counts = await prune_once(pool, LogRetention(max_age_days=7, max_lines=4))
        assert counts["log_lines_by_age"] == 1 and counts["log_lines_by_count"] == 6
        left = await pool.fetch("SELECT function_id, message FROM job_logs ORDER BY id")
        assert [r["message"] for r in left if r["function_id"] == 1] == [
            "f1 6", "f1 7", "f1 8", "f1 9"]
        assert [r["message"] for r in left if r["function_id"] == 2] == ["f2 0", "f2 1", "f2 2"]
        assert not [r for r in left if r["function_id"] == 3]
        # Limits at 0 are off.
        assert (await prune_once(pool, LogRetention()))["sessions"] == 0
        assert await pool.fetchval("SELECT count(*) FROM job_logs") == 7
    finally:
        await pool.close()


async def test_retention_settings_reach_the_maintenance_loop(
    tmp_path: Any, database_url: str,
) -> None:
    from tests.conftest import make_settings

    settings = make_settings(tmp_path, database_url, log_retention_days=0.5,
                             log_retention_max_lines=10)
    assert settings.log_retention_days == 0.5 and settings.log_retention_max_lines == 10
    async with running_app(settings) as client:
        names = {t.get_name() for t in asyncio.all_tasks()}
        assert "maintenance" in names
        assert (await client.get("/ready")).status_code == 200
