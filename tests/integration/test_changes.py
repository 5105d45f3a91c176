"""NOTIFY fngate_changes: a change made through one replica reaches the others' caches."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import asyncpg

from gateway.services.changes import EVERYTHING, ChangeListener, parse_change
from gateway.store.functions import CHANGES_CHANNEL
from tests.conftest import running_app, wait_for
from tests.integration.test_functions_api import WRITER, create


def test_parse_change() -> None:
    assert parse_change("function:12") == ("function", 12)
    assert parse_change("trigger:7") == ("trigger", 7)
    assert parse_change("") == (EVERYTHING, None)
    assert parse_change("function:x") == (EVERYTHING, None)


async def test_a_function_changed_on_one_replica_is_seen_by_the_other(
    settings_factory: Callable[..., Any]
) -> None:
    async with running_app(settings_factory()) as one, running_app(settings_factory()) as two:
        # Only the change listener can refresh the second replica's cache now.
        two.app.state.services.functions._cache_ttl_s = 3600  # type: ignore[attr-defined]
        r = await create(one, name="moving", code="def handler(e):\n    return 1\n")
        assert r.status_code == 201
        r = await two.post("/api/v1/functions/moving/invoke", headers=WRITER, json={})
        assert r.json()["result"] == 1
        r = await one.put("/api/v1/functions/moving", headers=WRITER,
                          json={"code": "def handler(e):\n    return 2\n"})
        assert r.status_code == 200

        async def sees_new_code() -> bool:
            r = await two.post("/api/v1/functions/moving/invoke", headers=WRITER, json={})
            return bool(r.json()["result"] == 2)

        await wait_for(sees_new_code, timeout_s=5)
        assert (await one.delete("/api/v1/functions/moving", headers=WRITER)).status_code == 204

        async def sees_it_gone() -> bool:
            r = await two.post("/api/v1/functions/moving/invoke", headers=WRITER, json={})
            return r.status_code == 404

        await wait_for(sees_it_gone, timeout_s=5)


async def test_the_listener_says_it_is_alive_only_after_telling_earlier_changes(
    database_url: str,
) -> None:
    told: list[tuple[str, int | None]] = []
    alive: list[tuple[float, int]] = []  # (since, changes told by then)
    listener = ChangeListener(database_url,
                              [lambda kind, ident, _sender: told.append((kind, ident))],
                              on_alive=lambda since: alive.append((since, len(told))),
                              ping_s=0.05)
    task = asyncio.create_task(listener.run())
    try:
        await wait_for(lambda: alive)
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute("SELECT pg_notify($1, 'function:7')", CHANGES_CHANNEL)
        finally:
            await conn.close()
        committed = time.monotonic()
        since, count = await wait_for(
            lambda: next((a for a in alive if a[0] > committed), None))
        assert ("function", 7) in told[:count]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_function_just_created_is_invoked_without_reading_it_again(
    client: Any,
) -> None:
    store = client.app.state.services.functions
    assert (await create(client, name="fresh-cached")).status_code == 201
    await wait_for(lambda: not store._own_changes)  # its own notification came back
    mark = time.monotonic()
    await wait_for(lambda: store._alive_at > mark)
    reads: list[str] = []
    read = store._read

    async def counted(ref: str) -> Any:
        reads.append(ref)
        return await read(ref)

    store._read = counted
    r = await client.post("/api/v1/functions/fresh-cached/invoke", headers=WRITER, json={})
    assert r.status_code == 200, r.text
    assert reads == []
